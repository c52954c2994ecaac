//! Unit names: fleet's API validation, the anatomy used by templates and specifiers, and
//! fleetctl's argument mangling.
//!
//! Owns [`UnitName`], [`NameError`] and [`mangle`], plus the Go-style quoting that fleet's
//! error texts use (`%q`), shared with [`crate::options`].
//!
//! Invariants: a [`UnitName`] always passed [`UnitName::parse`], so it is 1..=256 bytes, has a
//! known suffix after its last `.`, holds only `[A-Za-z0-9:_.@\-\\]` before that dot and does
//! not start with `@`; in particular it never contains `%`, `/` or whitespace. Depends on
//! `std` only.

use std::fmt;
use std::str::FromStr;

/// Longest accepted name in bytes (fleet's `unitNameMax`, from systemd's `UNIT_NAME_MAX`).
pub const UNIT_NAME_LENGTH_MAX: usize = 256;

/// Longest unit name systemd itself accepts: its `UNIT_NAME_MAX` (256) counts the
/// terminating NUL, one more byte than fleet's API allows.
pub const SYSTEMD_NAME_LENGTH_MAX: usize = 255;

/// Whether a name may go to systemd (every implementation of the agent's `Systemd` port
/// checks it): fleet's API rules ([`UnitName::parse`]), systemd's length limit and no
/// leading `.` (systemd refuses an empty prefix, and dot-files are the units directory's
/// own).
#[must_use]
pub fn systemd_accepts(name: &str) -> bool {
    UnitName::parse(name).is_ok() && name.len() <= SYSTEMD_NAME_LENGTH_MAX && !name.starts_with('.')
}

/// Suffixes the API accepts (fleet `api/units.go`, `validUnitTypes`).
const UNIT_TYPES: [&str; 13] = [
    "automount",
    "busname",
    "device",
    "mount",
    "path",
    "scope",
    "service",
    "slice",
    "snapshot",
    "socket",
    "swap",
    "target",
    "timer",
];

/// Suffixes the API accepts for a name containing `@` (fleet `validTemplateTypes`).
const TEMPLATE_TYPES: [&str; 5] = ["path", "service", "socket", "target", "timer"];

/// Suffixes fleetctl recognises and so does not append `.service` to (fleet
/// `unit.RecognizedUnitType`); `target` is missing, which is fleet's quirk.
const RECOGNIZED_TYPES: [&str; 7] = [
    "service",
    "socket",
    "timer",
    "path",
    "device",
    "mount",
    "automount",
];

/// Why a text is not a unit name. The variants are checked in this order and the first
/// failure wins, as in fleet's `api.ValidateName`. The texts are fleet's own (copied as a
/// fact so fleetctl and the API print what fleet printed), hence the quoting style.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is the empty string.
    #[error("unit name cannot be empty")]
    Empty,
    /// The name is longer than [`UNIT_NAME_LENGTH_MAX`] bytes.
    #[error("unit name exceeds maximum length ({})", UNIT_NAME_LENGTH_MAX)]
    TooLong {
        /// Its length in bytes.
        length: usize,
    },
    /// The name has no `.`.
    #[error("unit name must contain \".\"")]
    NoDot,
    /// The name's last character is `.`.
    #[error("unit name cannot end in \".\"")]
    EndsInDot,
    /// The text after the last `.` is not a known unit type.
    #[error("invalid unit type: {}", go_quote(.suffix))]
    UnknownType {
        /// The text after the last `.`.
        suffix: String,
    },
    /// The name has an `@` but its type cannot be templated.
    #[error("invalid unit type for template: {}", go_quote(.suffix))]
    UnknownTemplateType {
        /// The text after the last `.`.
        suffix: String,
    },
    /// A character before the last `.` is outside `[A-Za-z0-9:_.@\-\\]`.
    #[error("invalid character {} in unit name", go_quote_char(*.character))]
    InvalidCharacter {
        /// The first such character.
        character: char,
    },
    /// The name starts with `@` (a template or instance with no prefix).
    #[error("unit name cannot start in \"@\"")]
    StartsWithAt,
}

/// A valid unit name, such as `web.service`, `web@.service` (a template) or
/// `web@1.service` (an instance of it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitName(String);

impl UnitName {
    /// Validates `text` exactly as fleet's API does.
    ///
    /// # Errors
    /// The first [`NameError`] that applies, in the order of its variants.
    pub fn parse(text: &str) -> Result<UnitName, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.len() > UNIT_NAME_LENGTH_MAX {
            return Err(NameError::TooLong { length: text.len() });
        }
        let Some(dot) = text.rfind('.') else {
            return Err(NameError::NoDot);
        };
        let suffix = &text[dot + 1..];
        if suffix.is_empty() {
            return Err(NameError::EndsInDot);
        }
        if !UNIT_TYPES.contains(&suffix) {
            return Err(NameError::UnknownType {
                suffix: suffix.to_owned(),
            });
        }
        if text.contains('@') && !TEMPLATE_TYPES.contains(&suffix) {
            return Err(NameError::UnknownTemplateType {
                suffix: suffix.to_owned(),
            });
        }
        if let Some(character) = text[..dot].chars().find(|c| !is_name_character(*c)) {
            return Err(NameError::InvalidCharacter { character });
        }
        if text.starts_with('@') {
            return Err(NameError::StartsWithAt);
        }
        Ok(UnitName(text.to_owned()))
    }

    /// The full name (`%n`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position of the last `.`; present by the type's invariant.
    fn dot(&self) -> usize {
        self.0
            .rfind('.')
            .expect("a parsed unit name always contains a dot")
    }

    /// The unit type: the text after the last `.` (`service` for `web@1.service`).
    #[must_use]
    pub fn suffix(&self) -> &str {
        &self.0[self.dot() + 1..]
    }

    /// The name without `.` and suffix (`%N`: `web@1` for `web@1.service`).
    #[must_use]
    pub fn without_suffix(&self) -> &str {
        &self.0[..self.dot()]
    }

    /// The text before the first `@`, or the whole name without its suffix when there is no
    /// `@` (`%p`: `web` for `web@1.service` and for `web.service`).
    #[must_use]
    pub fn prefix(&self) -> &str {
        let stem = self.without_suffix();
        stem.find('@').map_or(stem, |at| &stem[..at])
    }

    /// The text between the first `@` and the last `.`: `None` without an `@`, `Some("")`
    /// for a template, `Some("1")` for `web@1.service` (`%i`, which is `""` when `None`).
    #[must_use]
    pub fn instance(&self) -> Option<&str> {
        let stem = self.without_suffix();
        stem.find('@').map(|at| &stem[at + 1..])
    }

    /// Whether this is a template: an `@` with nothing between it and the suffix.
    #[must_use]
    pub fn is_template(&self) -> bool {
        self.instance() == Some("")
    }

    /// Whether this is an instance of a template: a non-empty text after the `@`.
    #[must_use]
    pub fn is_instance(&self) -> bool {
        self.instance().is_some_and(|instance| !instance.is_empty())
    }

    /// The template `prefix@.suffix` for a name with an `@` (a template is its own
    /// template, as fleet's `UnitNameInfo.Template`); `None` for a plain name.
    #[must_use]
    pub fn template(&self) -> Option<UnitName> {
        self.instance()?;
        // Still valid: the prefix is a non-empty part of a valid name, the suffix is a
        // template type, and the result is no longer than the original.
        Some(UnitName(format!("{}@.{}", self.prefix(), self.suffix())))
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl FromStr for UnitName {
    type Err = NameError;

    fn from_str(text: &str) -> Result<UnitName, NameError> {
        UnitName::parse(text)
    }
}

impl AsRef<str> for UnitName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// fleet's `validChars`: alphanumerics plus `:-_.\@`.
fn is_name_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || ":-_.\\@".contains(character)
}

/// fleetctl's `unitNameMangle`: the argument's basename (Go `path.Base`), with
/// `.service` appended unless it already ends in `.service`, `.socket`, `.timer`, `.path`,
/// `.device`, `.mount` or `.automount`. Kept quirk: `x.target` becomes `x.target.service`.
/// The result is not validated.
#[must_use]
pub fn mangle(argument: &str) -> String {
    let base = go_path_base(argument);
    let recognized = RECOGNIZED_TYPES.iter().any(|unit_type| {
        base.strip_suffix(unit_type)
            .is_some_and(|stem| stem.ends_with('.'))
    });
    if recognized {
        base.to_owned()
    } else {
        format!("{base}.service")
    }
}

/// Go's `path.Base`: the last `/`-separated element after dropping trailing slashes; `.`
/// for the empty string and `/` for a path of slashes only.
fn go_path_base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed
        .rfind('/')
        .map_or(trimmed, |slash| &trimmed[slash + 1..])
}

/// Go's `%q` of a string (`strconv.Quote`), which fleet's error texts use. Go's notion of a
/// printable rune is approximated: control characters and whitespace other than the space
/// are escaped, everything else is kept.
pub(crate) fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        push_go_escaped(&mut quoted, character, '"');
    }
    quoted.push('"');
    quoted
}

/// Go's `%q` of a rune (`strconv.QuoteRune`), with the approximation of [`go_quote`].
pub(crate) fn go_quote_char(character: char) -> String {
    let mut quoted = String::from("'");
    push_go_escaped(&mut quoted, character, '\'');
    quoted.push('\'');
    quoted
}

fn push_go_escaped(out: &mut String, character: char, quote: char) {
    use std::fmt::Write as _;
    let escape = match character {
        '\\' => "\\\\",
        '\u{7}' => "\\a",
        '\u{8}' => "\\b",
        '\u{c}' => "\\f",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '\u{b}' => "\\v",
        _ => "",
    };
    if !escape.is_empty() {
        out.push_str(escape);
    } else if character == quote {
        out.push('\\');
        out.push(character);
    } else if !(character.is_control() || (character.is_whitespace() && character != ' ')) {
        out.push(character);
    } else {
        // Writing to a String cannot fail.
        let code = u32::from(character);
        let _ = if code < 0x80 {
            write!(out, "\\x{code:02x}")
        } else if code < 0x1_0000 {
            write!(out, "\\u{code:04x}")
        } else {
            write!(out, "\\U{code:08x}")
        };
    }
}

#[cfg(test)]
#[path = "name_tests.rs"]
mod tests;
