//! Shell-style globs with Go's `path.Match` semantics, as fleet uses them for `Conflicts=` and
//! `Replaces=` patterns and for refusing a `MachineOf=` its own patterns match.
//!
//! Owns [`glob_match`] and [`literal_prefix`]. Syntax: `*` matches any run of non-`/` characters, `?` one non-`/`
//! character, `[...]`/`[^...]` one character in (or not in) a non-empty set of characters and
//! `lo-hi` ranges (a class may match `/`, as in Go), and `\` makes the next character literal,
//! inside a class too. A class may not start with `]` or `-`, nor end in `-`.
//!
//! Invariants: a malformed pattern matches nothing (fleet ignores `path.Match`'s error, and
//! Go reports a malformed pattern even after a failed match, so `false` is what fleet saw);
//! the work is bounded by O(pattern length × name length): after a `*`, each chunk is
//! committed at its first fitting offset and never revisited. That is Go's own algorithm, so
//! the answers are Go's, down to skipping a star's bytes one at a time (a `?` can then match
//! a lone UTF-8 continuation byte, as in Go). Depends on `std` only.

/// The pattern is malformed (Go's `ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BadPattern;

/// Whether `name` as a whole matches `pattern` (Go `path.Match`, error read as `false`).
#[must_use]
pub fn glob_match(pattern: &str, name: &str) -> bool {
    match_all(pattern.as_bytes(), name.as_bytes()) == Ok(true)
}

/// The literal text `pattern` starts with (up to its first `*`, `?`, `[` or `\`), and whether
/// that is the whole pattern: every name the pattern matches starts with the prefix, and a
/// whole-literal pattern matches only itself.
#[must_use]
pub fn literal_prefix(pattern: &str) -> (&str, bool) {
    match pattern.find(['*', '?', '[', '\\']) {
        Some(end) => (&pattern[..end], false),
        None => (pattern, true),
    }
}

/// Go's `path.Match`: chunks of single-character operators, each possibly after a star.
fn match_all(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'chunks: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing star takes the rest of the name unless it holds a `/`.
            return Ok(!name.contains(&b'/'));
        }
        let is_last = pattern.is_empty();
        match match_chunk(chunk, name)? {
            Some(after) if after.is_empty() || !is_last => {
                name = after;
                continue 'chunks;
            }
            _ => {}
        }
        if star {
            // Skip 1, 2, ... characters of the name (never a `/`) and retry the chunk.
            let mut skipped = 0;
            while skipped < name.len() && name[skipped] != b'/' {
                skipped += 1;
                if let Some(after) = match_chunk(chunk, &name[skipped..])? {
                    if is_last && !after.is_empty() {
                        continue;
                    }
                    name = after;
                    continue 'chunks;
                }
            }
        }
        // No match; a malformed remainder still makes the pattern malformed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Splits off the leading stars (`star` says whether there were any) and the chunk up to the
/// next star outside a class.
fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let stars = pattern.iter().take_while(|byte| **byte == b'*').count();
    let pattern = &pattern[stars..];
    let mut in_class = false;
    let mut index = 0;
    while index < pattern.len() {
        match pattern[index] {
            b'\\' if index + 1 < pattern.len() => index += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'*' if !in_class => return (stars > 0, &pattern[..index], &pattern[index..]),
            _ => {}
        }
        index += 1;
    }
    (stars > 0, pattern, &[])
}

/// Matches `chunk` (no stars) against the start of `text`: `Some(rest of text)` on a match.
/// After a mismatch the chunk is still read to the end, so a malformed chunk is always
/// reported.
fn match_chunk<'t>(mut chunk: &[u8], mut text: &'t [u8]) -> Result<Option<&'t [u8]>, BadPattern> {
    let mut failed = false;
    while let Some(&operator) = chunk.first() {
        if text.is_empty() {
            failed = true;
        }
        match operator {
            b'[' => {
                let mut character = None;
                if !failed {
                    let (decoded, width) = decode_character(text);
                    character = Some(decoded);
                    text = &text[width..];
                }
                let (matched, rest) = match_class(&chunk[1..], character)?;
                chunk = rest;
                failed |= !matched;
            }
            b'?' => {
                if !failed {
                    failed = text[0] == b'/';
                    text = &text[decode_character(text).1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if operator == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    failed = chunk[0] != text[0];
                    text = &text[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(text) })
}

/// Reads a class after its `[` and says whether `character` (none after a failed match) is
/// in it; returns the chunk after the closing `]`.
fn match_class(mut chunk: &[u8], character: Option<char>) -> Result<(bool, &[u8]), BadPattern> {
    let negated = chunk.first() == Some(&b'^');
    if negated {
        chunk = &chunk[1..];
    }
    let mut in_class = false;
    let mut ranges = 0;
    loop {
        if ranges > 0 && chunk.first() == Some(&b']') {
            chunk = &chunk[1..];
            break;
        }
        let (low, rest) = class_character(chunk)?;
        chunk = rest;
        let mut high = low;
        // class_character guarantees something follows.
        if chunk[0] == b'-' {
            let (upper, rest) = class_character(&chunk[1..])?;
            high = upper;
            chunk = rest;
        }
        if character.is_some_and(|character| low <= character && character <= high) {
            in_class = true;
        }
        ranges += 1;
    }
    Ok((character.is_some() && in_class != negated, chunk))
}

/// One possibly escaped class character (Go `getEsc`): never an unescaped `-` or `]`, and the
/// class must go on after it.
fn class_character(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => &chunk[1..],
        Some(_) => chunk,
    };
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    let (character, width) = decode_character(chunk);
    if character == char::REPLACEMENT_CHARACTER && width == 1 {
        return Err(BadPattern);
    }
    chunk = &chunk[width..];
    if chunk.is_empty() {
        return Err(BadPattern);
    }
    Ok((character, chunk))
}

/// Decodes the first character of non-empty `bytes` and its width, as Go's
/// `utf8.DecodeRune` does (U+FFFD and width 1 for an invalid sequence).
fn decode_character(bytes: &[u8]) -> (char, usize) {
    let width = match bytes.first() {
        Some(0xf0..) => 4,
        Some(0xe0..) => 3,
        Some(0xc0..) => 2,
        _ => 1,
    };
    bytes
        .get(..width)
        .and_then(|prefix| std::str::from_utf8(prefix).ok())
        .and_then(|text| text.chars().next())
        .map_or((char::REPLACEMENT_CHARACTER, 1), |character| {
            (character, width)
        })
}

#[cfg(test)]
#[path = "glob_tests.rs"]
mod tests;
