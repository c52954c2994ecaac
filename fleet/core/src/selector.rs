//! Metadata expressions beyond fleet's equality (fleet#1143), written as `MachineMetadata=`
//! items, and how a machine's metadata is read against them.
//!
//! Owns [`MetadataItem`], [`Selector`], [`parse_item`] and [`host_values`].
//!
//! The forms, one per `MachineMetadata=` item (quote an item with spaces inside a quoted
//! multi-item value as fleet's value splitting requires):
//! - `key=value`: fleet's equality; items of one key are ORed ([`MetadataItem::Equal`]);
//! - `key!=value`: no value of `key` is `value` (a machine without `key` passes);
//! - `key in (a,b)`, `key notin (a,b)`: some value / no value of `key` is in the set;
//! - `key` / `!key`: `key` is present / absent;
//! - `key>n`, `key>=n`, `key<n`, `key<=n`: some value of `key` is a number that compares so.
//!
//! Every expression other than equality is ANDed with the rest. A machine's metadata value
//! holds several values separated by commas (`disk=ssd,nvme` after a PATCH, or repeated keys
//! in the `metadata` configuration), so repeated keys no longer collapse (fleet#1255).
//!
//! Invariants: parsing is total (every item gives an item or a [`SelectorError`]); matching
//! allocates nothing. Depends on `std` only.

use std::collections::BTreeMap;
use std::fmt;

/// One parsed `MachineMetadata=` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataItem {
    /// `key=value`.
    Equal {
        /// The key.
        key: String,
        /// The accepted value.
        value: String,
    },
    /// Any other form.
    Expression(Selector),
}

/// A metadata expression other than equality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `key!=value`.
    NotEqual {
        /// The key.
        key: String,
        /// The refused value.
        value: String,
    },
    /// `key in (values)`.
    In {
        /// The key.
        key: String,
        /// The accepted values.
        values: Vec<String>,
    },
    /// `key notin (values)`.
    NotIn {
        /// The key.
        key: String,
        /// The refused values.
        values: Vec<String>,
    },
    /// `key`.
    Present {
        /// The key.
        key: String,
    },
    /// `!key`.
    Absent {
        /// The key.
        key: String,
    },
    /// `key<op>number`.
    Compare {
        /// The key.
        key: String,
        /// The comparison.
        operator: Comparison,
        /// The number, as written.
        number: Number,
    },
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
}

/// A finite number with the text it was written as (compared by that text).
#[derive(Debug, Clone)]
pub struct Number {
    text: String,
    value: f64,
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.text == other.text
    }
}

impl Eq for Number {}

/// An item that is not a metadata expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MachineMetadata expression {item:?}: {reason}")]
pub struct SelectorError {
    /// The item as written.
    pub item: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses one `MachineMetadata=` item.
///
/// # Errors
/// [`SelectorError`] when it is none of the module's forms.
pub fn parse_item(item: &str) -> Result<MetadataItem, SelectorError> {
    let fail = |reason| SelectorError {
        item: item.to_owned(),
        reason,
    };
    let text = item.trim();
    if let Some(rest) = text.strip_prefix('!') {
        let key = rest.trim();
        if !is_key(key) {
            return Err(fail("`!` must be followed by a key alone"));
        }
        return Ok(MetadataItem::Expression(Selector::Absent {
            key: key.to_owned(),
        }));
    }
    let split = text.find(|c: char| !is_key_char(c)).unwrap_or(text.len());
    let (key, rest) = text.split_at(split);
    if key.is_empty() {
        return Err(fail("it must start with a key"));
    }
    let key = key.to_owned();
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Ok(MetadataItem::Expression(Selector::Present { key }));
    }
    parse_operator(key, rest).ok_or_else(|| fail(OPERATOR_HELP))
}

const OPERATOR_HELP: &str =
    "expected key=value, key!=value, key in (a,b), key notin (a,b), key, !key or key>=number";

fn parse_operator(key: String, rest: &str) -> Option<MetadataItem> {
    const COMPARISONS: [(&str, Comparison); 4] = [
        (">=", Comparison::GreaterOrEqual),
        ("<=", Comparison::LessOrEqual),
        (">", Comparison::Greater),
        ("<", Comparison::Less),
    ];
    if let Some(value) = rest.strip_prefix("!=") {
        let value = nonempty(value)?;
        return Some(MetadataItem::Expression(Selector::NotEqual { key, value }));
    }
    for (symbol, operator) in COMPARISONS {
        if let Some(number) = rest.strip_prefix(symbol) {
            let text = number.trim();
            let value: f64 = text.parse().ok().filter(|value: &f64| value.is_finite())?;
            let number = Number {
                text: text.to_owned(),
                value,
            };
            return Some(MetadataItem::Expression(Selector::Compare {
                key,
                operator,
                number,
            }));
        }
    }
    if let Some(value) = rest.strip_prefix('=') {
        // fleet ignored `a=b=c`; a value holding `=` is refused rather than guessed at.
        let value = nonempty(value).filter(|value| !value.contains('='))?;
        return Some(MetadataItem::Equal { key, value });
    }
    if let Some(list) = rest.strip_prefix("notin") {
        let values = parse_set(list)?;
        return Some(MetadataItem::Expression(Selector::NotIn { key, values }));
    }
    let values = parse_set(rest.strip_prefix("in")?)?;
    Some(MetadataItem::Expression(Selector::In { key, values }))
}

/// ` (a, b)` into its non-empty, trimmed values.
fn parse_set(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    let values: Vec<String> = inner
        .split(',')
        .map(|value| value.trim().to_owned())
        .collect();
    if values.iter().any(String::is_empty) {
        return None;
    }
    Some(values)
}

fn nonempty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn is_key_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.' | '/')
}

fn is_key(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_key_char)
}

/// The values a machine holds for `key`: its metadata value split at commas, trimmed, empty
/// parts dropped.
pub fn host_values<'a>(
    metadata: &'a BTreeMap<String, String>,
    key: &str,
) -> impl Iterator<Item = &'a str> + Clone {
    metadata
        .get(key)
        .map_or("", String::as_str)
        .split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

impl Selector {
    /// The key it reads.
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            Selector::NotEqual { key, .. }
            | Selector::In { key, .. }
            | Selector::NotIn { key, .. }
            | Selector::Present { key }
            | Selector::Absent { key }
            | Selector::Compare { key, .. } => key,
        }
    }

    /// Whether a machine with `metadata` passes.
    #[must_use]
    pub fn matches(&self, metadata: &BTreeMap<String, String>) -> bool {
        let mut values = host_values(metadata, self.key());
        match self {
            Selector::NotEqual { value, .. } => !values.any(|held| held == value),
            Selector::In { values: set, .. } => values.any(|held| set.iter().any(|v| v == held)),
            Selector::NotIn { values: set, .. } => {
                !values.any(|held| set.iter().any(|v| v == held))
            }
            Selector::Present { .. } => values.next().is_some(),
            Selector::Absent { .. } => values.next().is_none(),
            Selector::Compare {
                operator, number, ..
            } => values.any(|held| {
                held.parse::<f64>()
                    .is_ok_and(|held| operator.holds(held, number.value))
            }),
        }
    }
}

impl Comparison {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Greater => left > right,
            Comparison::GreaterOrEqual => left >= right,
            Comparison::Less => left < right,
            Comparison::LessOrEqual => left <= right,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::NotEqual { key, value } => write!(formatter, "{key}!={value}"),
            Selector::In { key, values } => write!(formatter, "{key} in ({})", values.join(",")),
            Selector::NotIn { key, values } => {
                write!(formatter, "{key} notin ({})", values.join(","))
            }
            Selector::Present { key } => formatter.write_str(key),
            Selector::Absent { key } => write!(formatter, "!{key}"),
            Selector::Compare {
                key,
                operator,
                number,
            } => write!(formatter, "{key}{}{}", operator.symbol(), number.text),
        }
    }
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
