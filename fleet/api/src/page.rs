//! Pagination of the v1 API's lists: the page token and which slice of a sorted list a
//! request gets.
//!
//! The token is URL-safe base64, with `=` padding, of four bytes: the page size (`limit`) and
//! the 1-based page number, each a little-endian u16. A request without a token asks for the
//! first page. A page whose end does not pass the total carries a token for the next page, so
//! a total that is an exact multiple of the limit ends with one empty page, as fleet's does;
//! clients (the python `fleet` client, fleetctl) stop on the page without a token.
//!
//! Invariants: `decode(encode(t)) == t`; a decoded token's page is ≥ 1 and its limit equals
//! the server's; [`slice`] never panics whatever the token says.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;

/// A position in a list: page `page` (1-based) of pages of `limit` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    /// Items per page.
    pub limit: u16,
    /// The 1-based page number.
    pub page: u16,
}

/// Why a page token was refused; each becomes a 400 with fleet's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    /// Not base64 of four bytes.
    #[error("invalid page token")]
    Undecodable,
    /// Made for another page size. fleet's wording.
    #[error("token limit must be {expected}")]
    WrongLimit {
        /// The server's page size.
        expected: u16,
    },
    /// Page 0. fleet's wording.
    #[error("token page must be greater than zero")]
    PageZero,
}

impl PageToken {
    /// The token text.
    #[must_use]
    pub fn encode(self) -> String {
        let limit = self.limit.to_le_bytes();
        let page = self.page.to_le_bytes();
        URL_SAFE.encode([limit[0], limit[1], page[0], page[1]])
    }

    /// Reads a token for a server whose page size is `limit`.
    ///
    /// # Errors
    /// [`PageTokenError`] for text that is not four bytes of URL-safe base64, another limit or
    /// page 0.
    pub fn decode(text: &str, limit: u16) -> Result<PageToken, PageTokenError> {
        let bytes = URL_SAFE
            .decode(text)
            .map_err(|_| PageTokenError::Undecodable)?;
        let [limit_low, limit_high, page_low, page_high] = bytes[..] else {
            return Err(PageTokenError::Undecodable);
        };
        let token = PageToken {
            limit: u16::from_le_bytes([limit_low, limit_high]),
            page: u16::from_le_bytes([page_low, page_high]),
        };
        if token.limit != limit {
            return Err(PageTokenError::WrongLimit { expected: limit });
        }
        if token.page == 0 {
            return Err(PageTokenError::PageZero);
        }
        Ok(token)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The token of the next page, when there may be one.
    pub next: Option<PageToken>,
}

/// Page `token` (page 1 of `limit` when `None`) of `items`, which the caller has sorted.
#[must_use]
pub fn slice<T>(items: Vec<T>, token: Option<PageToken>, limit: u16) -> Page<T> {
    let token = token.unwrap_or(PageToken { limit, page: 1 });
    let size = usize::from(token.limit.max(1));
    let start = usize::from(token.page.saturating_sub(1)).saturating_mul(size);
    let end = start.saturating_add(size);
    let next = (end <= items.len())
        .then(|| token.page.checked_add(1))
        .flatten()
        .map(|page| PageToken {
            limit: token.limit,
            page,
        });
    let items = items.into_iter().skip(start).take(size).collect();
    Page { items, next }
}

#[cfg(test)]
mod tests {
    //! Page tokens: fleet's bytes, the refusals, and the slicing quirk. Method: literal
    //! tokens and small lists.

    use super::*;

    #[test]
    fn tokens_are_fleets_bytes() {
        // Goal: limit 100, page 2 is `ZAACAA==`, and round trips.
        let token = PageToken {
            limit: 100,
            page: 2,
        };
        assert_eq!(token.encode(), "ZAACAA==");
        assert_eq!(PageToken::decode("ZAACAA==", 100), Ok(token));
    }

    #[test]
    fn bad_tokens_are_refused_with_fleets_messages() {
        // Goal: undecodable, another limit, page 0: each refused, with the text the API sends.
        assert_eq!(
            PageToken::decode("!!!", 100),
            Err(PageTokenError::Undecodable)
        );
        assert_eq!(
            PageToken::decode(&URL_SAFE.encode([1, 2, 3]), 100),
            Err(PageTokenError::Undecodable)
        );
        let other = PageToken { limit: 5, page: 2 }.encode();
        let error = PageToken::decode(&other, 100).expect_err("another limit");
        assert_eq!(error.to_string(), "token limit must be 100");
        let zero = PageToken {
            limit: 100,
            page: 0,
        }
        .encode();
        assert_eq!(PageToken::decode(&zero, 100), Err(PageTokenError::PageZero));
    }

    #[test]
    fn slices_follow_fleets_boundaries() {
        // Goal: pages of 2 over 5 items, and the trailing empty page when the total is a
        // multiple of the limit (fleet's quirk, kept: clients handle it).
        let first = slice((1..=5).collect(), None, 2);
        assert_eq!(first.items, vec![1, 2]);
        let third = slice(
            (1..=5).collect(),
            first.next.map(|t| PageToken { page: 3, ..t }),
            2,
        );
        assert_eq!(third.items, vec![5]);
        assert_eq!(third.next, None);
        let exact = slice((1..=4).collect(), Some(PageToken { limit: 2, page: 2 }), 2);
        assert_eq!(exact.items, vec![3, 4]);
        let trailing = slice((1..=4).collect::<Vec<i32>>(), exact.next, 2);
        assert!(trailing.items.is_empty());
        assert_eq!(trailing.next, None);
        let far = slice(
            (1..=4).collect::<Vec<i32>>(),
            Some(PageToken {
                limit: 2,
                page: 900,
            }),
            2,
        );
        assert!(far.items.is_empty());
    }
}
