//! Go's command-line flag spellings for locksmith's binaries: Go's `flag` package reads
//! `-endpoint x`, `-endpoint=x` and `--endpoint x` alike; clap reads long flags with two
//! dashes, so the arguments are respelled before parsing.

use std::ffi::OsString;

/// The arguments with Go's single-dash long flags (`-endpoint`) spelled as clap reads them
/// (`--endpoint`); short flags, negative numbers and everything after `--` are left alone.
#[must_use]
pub fn go_style(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut rest = false;
    args.into_iter()
        .enumerate()
        .map(|(position, arg)| {
            let Some(text) = arg.to_str().filter(|_| position > 0 && !rest) else {
                return arg;
            };
            if text == "--" {
                rest = true;
                return arg;
            }
            let mut chars = text.chars();
            let single_dash_word = chars.next() == Some('-')
                && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.next().is_some();
            if single_dash_word && !text.starts_with("--") {
                OsString::from(format!("-{text}"))
            } else {
                arg
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: Go's flag spellings reach clap as long flags, nothing else changes. Method: a
    // table of arguments.
    #[test]
    fn go_flags_become_long_flags() {
        let args = [
            "locksmithctl",
            "-endpoint=http://a:1",
            "-group",
            "lb",
            "set-max",
            "-1",
            "-h",
            "--json",
            "--",
            "-x",
        ];
        let spelled = go_style(args.iter().map(OsString::from));
        let spelled: Vec<&str> = spelled.iter().filter_map(|arg| arg.to_str()).collect();
        assert_eq!(
            spelled,
            [
                "locksmithctl",
                "--endpoint=http://a:1",
                "--group",
                "lb",
                "set-max",
                "-1",
                "-h",
                "--json",
                "--",
                "-x"
            ]
        );
    }
}
