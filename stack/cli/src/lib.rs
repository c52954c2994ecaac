//! What every Keel binary shares on its command line, so that each daemon and tool behaves
//! the same way where users expect it to:
//!
//! - [`LogFormat`] and [`init_logs`]: structured logs through `tracing` on stderr, as text
//!   (coloured only on a terminal) or as one JSON object per line when asked
//!   (`--log-format json`); `RUST_LOG` overrides the binary's default filter.
//! - [`write_completion`]: a shell completion script generated from the binary's own clap
//!   definition, so the script cannot drift from the flags.
//!
//! - [`progress`]: the rate cap and the plain lines of long work's progress output.
//!
//! No workspace crate: any binary may depend on it without widening the crate graph.

use std::io::{IsTerminal, Write};

pub mod progress;

pub use clap_complete::Shell;

/// How a binary writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for log shippers.
    Json,
}

impl LogFormat {
    /// The flag's spelling of the format (`text`, `json`), as the programs read it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Installs the process's log subscriber on stderr: `RUST_LOG` when set and valid, else
/// `default_filter` (an `EnvFilter` directive such as `"info,raft=warn"`).
///
/// Calling it twice in one process keeps the first subscriber (the second call does nothing).
pub fn init_logs(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second subscriber is refused by tracing; the first one stays, which is what a
    // caller that initialises twice (a test, say) wants.
    let _already = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Writes `shell`'s completion script for the command `C`, invoked as `name`, to `out`.
pub fn write_completion<C: clap::CommandFactory>(shell: Shell, name: &str, out: &mut dyn Write) {
    let mut command = C::command();
    clap_complete::generate(shell, &mut command, name, out);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    /// A command line shaped like the daemons': flags and a log format.
    #[derive(Debug, Parser)]
    #[command(name = "demo")]
    struct Demo {
        /// A flag the completion must offer.
        #[arg(long)]
        listen_address: Option<String>,
        /// The log format.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    }

    // Goal: the completion script is generated from the clap definition, so every flag and
    // every value of --log-format appears in it, for each shell users have.
    // Method: generate bash, zsh and fish scripts and look for the flag and the values.
    #[test]
    fn completion_offers_every_flag_and_value() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            write_completion::<Demo>(shell, "demo", &mut out);
            let script = String::from_utf8(out).unwrap();
            assert!(script.contains("listen-address"), "{shell}: {script}");
            assert!(script.contains("json"), "{shell}: {script}");
            assert!(script.contains("demo"), "{shell}: {script}");
        }
    }

    // Goal: --log-format takes text and json, defaults to text, and names the choices when
    // given anything else (a clear error, not a panic).
    // Method: parse the three cases.
    #[test]
    fn log_format_parses_and_refuses() {
        assert_eq!(Demo::parse_from(["demo"]).log_format, LogFormat::Text);
        let json = Demo::parse_from(["demo", "--log-format", "json"]);
        assert_eq!(json.log_format, LogFormat::Json);
        for format in [LogFormat::Text, LogFormat::Json] {
            let spelled = Demo::parse_from(["demo", "--log-format", format.as_str()]);
            assert_eq!(spelled.log_format, format);
        }
        let error = Demo::try_parse_from(["demo", "--log-format", "xml"]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("text") && text.contains("json"), "{text}");
    }

    // Goal: a second initialisation keeps the first subscriber instead of panicking.
    // Method: initialise twice and log.
    #[test]
    fn init_twice_is_harmless() {
        init_logs(LogFormat::Json, "info");
        init_logs(LogFormat::Text, "info");
        tracing::info!("still logging");
    }
}
