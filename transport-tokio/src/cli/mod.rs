//! The `tollgate` command-line program: `tollgate token`, `tollgate verify` and (feature
//! `axum`, on by default) `tollgate serve`.
//!
//! Exit codes are part of the interface (DESIGN §4): 0 when the command succeeded (a token
//! was printed, or the token verified), 1 when `verify` rejected the token, and 2 for usage
//! errors and unusable keys. Only `verify`'s verdicts go to stdout as JSON; usage and key
//! errors leave stdout empty and print one line on stderr, so that a script reading stdout
//! never mistakes a broken invocation for a verdict about the token.

mod keys;
#[cfg(feature = "axum")]
mod serve;
mod token;
mod verify;

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use keys::{SigningKey, SigningKeyArgs, VerifyingKeyArgs};
#[cfg(feature = "axum")]
pub use serve::ServeArgs;
pub use token::TokenArgs;
pub use verify::{VerifyArgs, VerifyingKeys, drop_final_newline, token_verifier};

const EXIT_INVALID: u8 = 1;
const EXIT_USAGE: u8 = 2;

const AFTER_HELP: &str = "\
Exit status: 0 success (token printed, or token valid); 1 token invalid (verify);
2 usage error, unreadable file, or unusable key (message on stderr, nothing on stdout).";

/// The `tollgate` command line.
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Mint and verify JWTs (HS256, ES256, RS256) the way a tollgate server checks them",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a signed JWT (a development and testing aid).
    Token(TokenArgs),
    /// Verify a JWT (or, with --jws, only a JWS signature) and print the verdict as JSON.
    Verify(VerifyArgs),
    /// Run the authenticated WebSocket server (development mode without key options).
    #[cfg(feature = "axum")]
    Serve(ServeArgs),
}

/// A usage or key error: reported on stderr with exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// An error from any displayable cause, prefixed with what was being done.
    pub fn context(what: impl fmt::Display, cause: impl fmt::Display) -> Self {
        Self(format!("{what}: {cause}"))
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// What a command produced: text for stdout and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Printed on stdout followed by a newline.
    pub stdout: String,
    /// The process exit status (0 or 1; usage errors are [`UsageError`]s).
    pub status: u8,
}

/// Runs `tollgate` with the process arguments, stdin, stdout and stderr.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs `tollgate` with explicit arguments (the first one is the program name).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // The matches are kept: `serve` asks them where each setting came from.
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        // clap prints help and version on stdout with status 0 and usage errors on stderr with 2.
        Err(err) => err.exit(),
    };
    // Only `serve` (feature `axum`) reads them.
    #[cfg(not(feature = "axum"))]
    let _ = &matches;
    let result = match cli.command {
        Command::Token(args) => token::run(&args),
        Command::Verify(args) => verify::run(&args),
        #[cfg(feature = "axum")]
        Command::Serve(args) => match matches.subcommand_matches("serve") {
            Some(serve_matches) => serve::run(&args, serve_matches),
            None => Err(UsageError("serve: no parsed options".into())),
        },
    };
    match result {
        Ok(outcome) => {
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{}", outcome.stdout)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(EXIT_USAGE);
            }
            ExitCode::from(outcome.status)
        }
        Err(err) => {
            eprintln!("tollgate: error: {err}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Current Unix time in seconds, or the `--now` override.
fn now_or(now: Option<u64>) -> Result<u64, UsageError> {
    match now {
        Some(now) => Ok(now),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|e| UsageError::context("system clock is before 1970", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
