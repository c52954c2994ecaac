//! Unit files: parsing systemd-style text the way fleet does (through its vendored
//! go-systemd `unit.Deserialize`), fleet's canonical text (go-systemd `unit.Serialize`) and
//! the unit hash, SHA-1 of that text.
//!
//! Owns [`UnitOption`], [`UnitFile`], [`UnitHash`] and their errors.
//!
//! Invariants:
//! - a [`UnitFile`] keeps its options in canonical order: sections in order of first
//!   appearance, options of a section in their original order. That is the order fleet hands
//!   back, since its registry stores the canonical text and parses it again on read;
//! - its hash is SHA-1 of [`UnitFile::canonical_text`], computed once;
//! - an option list accepted by [`UnitFile::from_options`] parses back from its canonical
//!   text to exactly itself.
//!
//! Depends on `sha1` and `std` only; no I/O.

use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A line of this many bytes or more is refused (go-systemd's `SYSTEMD_LINE_MAX`, because
/// systemd silently truncates longer lines).
pub const LINE_LENGTH_MAX: usize = 2048;

/// One `Name=Value` line (possibly continued) of a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitOption {
    /// The section header's text between `[` and `]`, untrimmed (`Unit`, `X-Fleet`).
    pub section: String,
    /// The option name, trimmed.
    pub name: String,
    /// The value, trimmed; continuation lines keep their backslash and line break.
    pub value: String,
}

/// Why a unit file text does not parse. Lines count from 1. The texts follow go-systemd's
/// (which fleet shows users) with the line added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitFileError {
    /// A line has [`LINE_LENGTH_MAX`] or more bytes before its line break.
    #[error("line {line}: line too long (max {} bytes)", LINE_LENGTH_MAX)]
    LineTooLong {
        /// The line.
        line: usize,
    },
    /// A `[` opens a section header and no `]` follows anywhere.
    #[error("line {line}: unable to find end of section")]
    SectionUnterminated {
        /// The line of the `[`.
        line: usize,
    },
    /// Something other than whitespace follows a section header's `]` on its line.
    #[error("line {line}: found garbage after section name {section:?}: {garbage:?}")]
    GarbageAfterSection {
        /// The line of the `]`.
        line: usize,
        /// The section's name.
        section: String,
        /// The trimmed text after the `]`.
        garbage: String,
    },
    /// A line inside a section is neither blank, a comment nor a header, and has no `=`
    /// (go-systemd: "unexpected newline encountered while parsing option name", or `EOF` on
    /// the last line).
    #[error("line {line}: option name not followed by \"=\"")]
    OptionWithoutEquals {
        /// The line.
        line: usize,
    },
    /// An option given as data cannot be stored as text and read back unchanged.
    #[error("option {index} ([{section}] {name:?}) cannot be stored: {defect}")]
    OptionNotRepresentable {
        /// Its position in the given list, from 0.
        index: usize,
        /// Its section.
        section: String,
        /// Its name.
        name: String,
        /// What goes wrong.
        defect: OptionDefect,
    },
}

/// What goes wrong when an option given as data is written as canonical text and parsed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OptionDefect {
    /// Its `Name=Value` line (or one of its continuation lines) is too long.
    #[error("its line would be {} bytes or longer", LINE_LENGTH_MAX)]
    LineTooLong,
    /// Its section name holds a `]`, which ends the header early.
    #[error("its section name holds \"]\"")]
    SectionNameHoldsBracket,
    /// A line break in its name, or in its value without a backslash before it.
    #[error("a line break in its name or value would start a new line")]
    LineBreak,
    /// It parses, but into something else: whitespace around the name or value, a `=` in
    /// the name, a name starting with `#`, `;` or `[`, or a value ending in a backslash.
    #[error("it reads back differently from its canonical text")]
    ReadsBackDifferently,
}

/// A parsed unit file: its options, in canonical order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitFile {
    options: Vec<UnitOption>,
    hash: UnitHash,
}

impl UnitFile {
    /// Parses unit file text by go-systemd's rules as vendored by fleet: text before the first
    /// section header is skipped; `#` and `;` start comments (a comment line ending in `\`,
    /// after dropping one trailing space, continues onto the next line); blank lines are
    /// skipped; `Name=Value` is split at the first `=`; a value line ending in `\` continues
    /// on the next line, backslash and line break kept, until a line without a trailing `\`
    /// or a blank line; name and value are trimmed, except that a value whose last
    /// continuation met a blank line keeps its final line break.
    ///
    /// # Errors
    /// [`UnitFileError`] for a line too long, an unterminated header, text after a header,
    /// or a line without `=` inside a section.
    pub fn parse(text: &str) -> Result<UnitFile, UnitFileError> {
        Ok(UnitFile::from_canonical_order(group_by_section(lex(text)?)))
    }

    /// Builds a unit file from options given as data (the API's create path), refusing any
    /// option that would not parse back unchanged from the canonical text, so that the hash
    /// always names a text that means these options. fleet itself only refuses options whose
    /// canonical text fails to parse.
    ///
    /// # Errors
    /// [`UnitFileError::OptionNotRepresentable`] for the first such option.
    pub fn from_options(options: Vec<UnitOption>) -> Result<UnitFile, UnitFileError> {
        for (index, option) in options.iter().enumerate() {
            if let Err(defect) = check_representable(option) {
                return Err(UnitFileError::OptionNotRepresentable {
                    index,
                    section: option.section.clone(),
                    name: option.name.clone(),
                    defect,
                });
            }
        }
        Ok(UnitFile::from_canonical_order(group_by_section(options)))
    }

    fn from_canonical_order(options: Vec<UnitOption>) -> UnitFile {
        let hash = UnitHash::of_text(&serialize(&options));
        UnitFile { options, hash }
    }

    /// The options in canonical order.
    #[must_use]
    pub fn options(&self) -> &[UnitOption] {
        &self.options
    }

    /// fleet's canonical text: per section, `[Name]\n` then `Key=Value\n` lines, one empty
    /// line between sections and none at the end; empty for a file without options.
    #[must_use]
    pub fn canonical_text(&self) -> String {
        serialize(&self.options)
    }

    /// SHA-1 of [`UnitFile::canonical_text`]: fleet's unit hash.
    #[must_use]
    pub fn hash(&self) -> UnitHash {
        self.hash
    }

    /// Every value of `name` in `section`, in order.
    #[must_use]
    pub fn values(&self, section: &str, name: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|option| option.section == section && option.name == name)
            .map(|option| option.value.as_str())
            .collect()
    }

    /// The last value of `name` in `section`, trimmed (the one systemd applies); `None`
    /// when there is none.
    #[must_use]
    pub fn last_value(&self, section: &str, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|option| option.section == section && option.name == name)
            .map(|option| option.value.trim())
    }

    /// The first `[Unit]` `Description=` value, as fleet's `UnitFile.Description` (systemd
    /// itself would take the last).
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.values("Unit", "Description").first().copied()
    }

    /// Whether there is an `[Install]` section with at least one option (the agent then
    /// enables the unit, as fleet's `systemd/manager.go`).
    #[must_use]
    pub fn has_install_section(&self) -> bool {
        self.options
            .iter()
            .any(|option| option.section == "Install")
    }
}

/// Writes `[section]\nName=Value\n` for `option` alone, parses it back and compares.
fn check_representable(option: &UnitOption) -> Result<(), OptionDefect> {
    // One option is enough: in the full text an option's lines end at a line without a
    // trailing backslash or at a blank line, and its own text already provides both.
    let text = format!("[{}]\n{}={}\n", option.section, option.name, option.value);
    match lex(&text) {
        Ok(parsed) if parsed.len() == 1 && parsed[0] == *option => Ok(()),
        Ok(_) => Err(OptionDefect::ReadsBackDifferently),
        Err(UnitFileError::LineTooLong { .. }) => Err(OptionDefect::LineTooLong),
        Err(UnitFileError::SectionUnterminated { .. })
        | Err(UnitFileError::GarbageAfterSection { .. }) => {
            Err(OptionDefect::SectionNameHoldsBracket)
        }
        Err(_) => Err(OptionDefect::LineBreak),
    }
}

/// Stable grouping by section, sections in order of first appearance (go-systemd
/// `Serialize`).
fn group_by_section(options: Vec<UnitOption>) -> Vec<UnitOption> {
    let mut section_order: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<UnitOption>> = Vec::new();
    for option in options {
        let next = groups.len();
        let group = *section_order.entry(option.section.clone()).or_insert(next);
        if group == next {
            groups.push(Vec::new());
        }
        groups[group].push(option);
    }
    groups.into_iter().flatten().collect()
}

/// The canonical text of options already in canonical order.
fn serialize(options: &[UnitOption]) -> String {
    let mut text = String::new();
    let mut previous: Option<&str> = None;
    for option in options {
        if previous != Some(option.section.as_str()) {
            if previous.is_some() {
                text.push('\n');
            }
            text.push('[');
            text.push_str(&option.section);
            text.push_str("]\n");
            previous = Some(&option.section);
        }
        text.push_str(&option.name);
        text.push('=');
        text.push_str(&option.value);
        text.push('\n');
    }
    text
}

/// go-systemd's lexer, one loop turn per lexer step of the original, so that the line
/// length check runs at the same positions: every character outside options, each option's
/// name and value lines, but not the continuation lines of a comment, which go-systemd skips
/// in one step.
fn lex(text: &str) -> Result<Vec<UnitOption>, UnitFileError> {
    let mut lexer = Lexer::new(text);
    let mut options = Vec::new();
    let mut section: Option<&str> = None;
    loop {
        lexer.check_line_length()?;
        let Some(character) = lexer.next_character() else {
            return Ok(options);
        };
        match (character, section) {
            ('[', _) => section = Some(lexer.section_header()?),
            ('#' | ';', _) => lexer.skip_comment()?,
            // Before the first header anything else is skipped, one character at a time.
            (_, None) => {}
            (other, Some(_)) if other.is_whitespace() => {}
            (other, Some(section)) => {
                lexer.position -= other.len_utf8();
                options.push(lexer.option(section)?);
            }
        }
    }
}

/// A cursor over the text.
struct Lexer<'t> {
    text: &'t str,
    /// Byte offset of the next character; always on a character boundary.
    position: usize,
    /// Offset of the first `\r` or `\n` at or after some earlier position (or the text's
    /// length); valid for `position` while `position <= next_break`.
    next_break: usize,
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str) -> Lexer<'t> {
        let mut lexer = Lexer {
            text,
            position: 0,
            next_break: 0,
        };
        lexer.next_break = lexer.find_break();
        lexer
    }

    fn find_break(&self) -> usize {
        self.text[self.position..]
            .find(['\r', '\n'])
            .map_or(self.text.len(), |offset| self.position + offset)
    }

    /// go-systemd peeks [`LINE_LENGTH_MAX`] bytes before each lexer step and refuses them
    /// when they hold no `\r` or `\n`. (Its check only sees what its 4096-byte read buffer
    /// holds, so it lets some long lines through; this one sees them all.)
    fn check_line_length(&mut self) -> Result<(), UnitFileError> {
        if self.next_break < self.position {
            self.next_break = self.find_break();
        }
        if self.next_break - self.position >= LINE_LENGTH_MAX {
            return Err(UnitFileError::LineTooLong {
                line: self.line_at(self.position),
            });
        }
        Ok(())
    }

    /// The line number, from 1, of the byte at `offset`; linear, so only used for errors.
    fn line_at(&self, offset: usize) -> usize {
        1 + self.text.as_bytes()[..offset]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count()
    }

    fn next_character(&mut self) -> Option<char> {
        let character = self.text[self.position..].chars().next()?;
        self.position += character.len_utf8();
        Some(character)
    }

    /// Reads through the next `\n` (or to the end) and returns the line without it, and
    /// whether the end was reached without one. As go-systemd's `toEOL`, a `\r` is dropped
    /// only when it is the very last byte of the text, so `\r\n` leaves the `\r` in place.
    fn read_line(&mut self) -> (&'t str, bool) {
        let rest = &self.text[self.position..];
        let (line, at_end) = match rest.find('\n') {
            Some(newline) => (&rest[..newline], false),
            None => (rest.strip_suffix('\r').unwrap_or(rest), true),
        };
        self.position += rest.find('\n').map_or(rest.len(), |newline| newline + 1);
        (line, at_end)
    }

    /// After a `[`: the name up to the next `]` (line breaks included, untrimmed), then
    /// nothing but whitespace up to the end of that line.
    fn section_header(&mut self) -> Result<&'t str, UnitFileError> {
        let opening = self.position - 1;
        self.check_line_length()?;
        let rest = &self.text[self.position..];
        let Some(closing) = rest.find(']') else {
            return Err(UnitFileError::SectionUnterminated {
                line: self.line_at(opening),
            });
        };
        let name = &rest[..closing];
        let closing = self.position + closing;
        self.position = closing + 1;
        self.check_line_length()?;
        let (garbage, _) = self.read_line();
        let garbage = garbage.trim();
        if !garbage.is_empty() {
            return Err(UnitFileError::GarbageAfterSection {
                line: self.line_at(closing),
                section: name.to_owned(),
                garbage: garbage.to_owned(),
            });
        }
        Ok(name)
    }

    /// After a `#` or `;`: skips the line, and the next ones while a line ends in `\` once a
    /// single trailing space is dropped (go-systemd `ignoreLineFunc`).
    fn skip_comment(&mut self) -> Result<(), UnitFileError> {
        self.check_line_length()?;
        loop {
            let (line, _) = self.read_line();
            if !line.strip_suffix(' ').unwrap_or(line).ends_with('\\') {
                return Ok(());
            }
        }
    }

    /// At an option's first character: the name up to `=`, then the value lines.
    fn option(&mut self, section: &str) -> Result<UnitOption, UnitFileError> {
        let name_start = self.position;
        loop {
            match self.next_character() {
                Some('=') => break,
                None | Some('\n' | '\r') => {
                    return Err(UnitFileError::OptionWithoutEquals {
                        line: self.line_at(name_start),
                    })
                }
                Some(_) => {}
            }
        }
        let name = self.text[name_start..self.position - 1].trim();
        let mut value = String::new();
        loop {
            self.check_line_length()?;
            let (line, at_end) = self.read_line();
            if line.trim().is_empty() {
                break;
            }
            value.push_str(line);
            if !line.ends_with('\\') {
                break;
            }
            if !at_end {
                value.push('\n');
            }
        }
        let value = if value.ends_with('\n') {
            format!("{}\n", value.trim())
        } else {
            value.trim().to_owned()
        };
        Ok(UnitOption {
            section: section.to_owned(),
            name: name.to_owned(),
            value,
        })
    }
}

/// SHA-1 of a unit file's canonical text: fleet's unit hash, the `unit/<hash>` registry key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitHash([u8; 20]);

/// Why a text is not a unit hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitHashError {
    /// Not 40 bytes long.
    #[error("unit hash has {length} bytes, expected 40 hexadecimal digits")]
    WrongLength {
        /// Its length in bytes.
        length: usize,
    },
    /// A character is not a hexadecimal digit.
    #[error("unit hash has {character:?} at position {position}, expected a hexadecimal digit")]
    InvalidDigit {
        /// The character.
        character: char,
        /// Its position, from 0.
        position: usize,
    },
}

impl UnitHash {
    /// SHA-1 of `text`.
    #[must_use]
    pub fn of_text(text: &str) -> UnitHash {
        UnitHash(Sha1::digest(text.as_bytes()).into())
    }

    /// Wraps 20 raw bytes (as fleet's JSON stores them).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 20]) -> UnitHash {
        UnitHash(bytes)
    }

    /// The 20 raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// 40 lowercase hexadecimal digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(40);
        for byte in self.0 {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        hex
    }

    /// The first 7 hexadecimal digits, as fleetctl shows a hash.
    #[must_use]
    pub fn short(&self) -> String {
        let mut hex = self.to_hex();
        hex.truncate(7);
        hex
    }

    /// Parses 40 hexadecimal digits, either case (as Go's `hex.DecodeString`).
    ///
    /// # Errors
    /// [`UnitHashError`] for another length or a non-hexadecimal character.
    pub fn from_hex(text: &str) -> Result<UnitHash, UnitHashError> {
        if text.len() != 40 {
            return Err(UnitHashError::WrongLength { length: text.len() });
        }
        let mut bytes = [0_u8; 20];
        // 40 bytes hold at most 40 characters, so `position / 2` stays below 20.
        for (position, character) in text.chars().enumerate() {
            let digit = character
                .to_digit(16)
                .and_then(|digit| u8::try_from(digit).ok())
                .ok_or(UnitHashError::InvalidDigit {
                    character,
                    position,
                })?;
            bytes[position / 2] |= if position % 2 == 0 { digit << 4 } else { digit };
        }
        Ok(UnitHash(bytes))
    }
}

impl fmt::Display for UnitHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for UnitHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "UnitHash({})", self.to_hex())
    }
}

impl FromStr for UnitHash {
    type Err = UnitHashError;

    fn from_str(text: &str) -> Result<UnitHash, UnitHashError> {
        UnitHash::from_hex(text)
    }
}

#[cfg(test)]
#[path = "unit_file_tests.rs"]
mod tests;
