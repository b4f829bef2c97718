//! `tollgate serve --config FILE`: the same settings as the options, from a TOML file.
//!
//! Precedence, per setting: command line, then `TOLLGATE_…` environment variable, then the
//! file, then the built-in default. Key names are the long option names with `_` for `-`.
//! The key options are one setting: a key option from the command line or the environment
//! replaces the file's key, and the file may name at most one. Secrets are never in the file
//! itself, only where to find them (`secret_file`, `secret_env`); a `secret` key is refused.
//! Relative paths in the file are relative to the file's directory, so a file and the keys
//! beside it can move together.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::ServeArgs;
use crate::cli::UsageError;
use crate::cli::keys::read_key_file;

/// Where tokens may come from (`token_from`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TokenSource {
    Query,
    Header,
    Subprotocol,
    Cookie,
}

impl TokenSource {
    /// The option value naming this source.
    const fn name(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Header => "header",
            Self::Subprotocol => "subprotocol",
            Self::Cookie => "cookie",
        }
    }
}

/// The contents of a configuration file: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    iss: Option<Vec<String>>,
    aud: Option<Vec<String>>,
    leeway: Option<u64>,
    token_from: Option<Vec<TokenSource>>,
    first_message: Option<u64>,
    max_message_size: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_user: Option<usize>,
    rate_limit: Option<u32>,
    allowed_origin: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    echo: Option<bool>,
    login_token_secs: Option<u64>,
    secret_env: Option<String>,
    secret_file: Option<PathBuf>,
    key: Option<PathBuf>,
    jwk: Option<PathBuf>,
    jwks: Option<PathBuf>,
    jwks_url: Option<String>,
    oidc_issuer: Option<String>,
    /// Accepted only to refuse it with a message saying where secrets go instead.
    secret: Option<IgnoredAny>,
}

/// The option ids of the key options, as clap knows them.
const KEY_IDS: [&str; 7] = [
    "secret_env",
    "secret_file",
    "key",
    "jwk",
    "jwks",
    "jwks_url",
    "oidc_issuer",
];

/// `args` with the settings of its `--config` file (if any) filled in wherever neither the
/// command line nor the environment gave one.
///
/// # Errors
/// A [`UsageError`] naming the file when it cannot be read, is not TOML, has an unknown key
/// or a value of the wrong type, holds a secret, or names more than one key.
pub fn resolve(args: &ServeArgs, matches: &ArgMatches) -> Result<ServeArgs, UsageError> {
    let mut args = args.clone();
    let Some(path) = args.config.clone() else {
        return Ok(args);
    };
    let file = load(&path)?;
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    let relative = |p: PathBuf| dir.join(p);
    let given = |id: &str| {
        matches
            .value_source(id)
            .is_some_and(|source| source != ValueSource::DefaultValue)
    };
    fn fill<T>(slot: &mut T, given: bool, value: Option<T>) {
        if let (false, Some(value)) = (given, value) {
            *slot = value;
        }
    }
    fn fill_opt<T>(slot: &mut Option<T>, given: bool, value: Option<T>) {
        if !given && value.is_some() {
            *slot = value;
        }
    }

    fill(&mut args.listen, given("listen"), file.listen);
    fill(&mut args.iss, given("iss"), file.iss);
    fill(&mut args.aud, given("aud"), file.aud);
    fill_opt(&mut args.leeway, given("leeway"), file.leeway);
    let token_from = file
        .token_from
        .map(|list| list.iter().map(|s| s.name().to_owned()).collect());
    fill(&mut args.token_from, given("token_from"), token_from);
    fill_opt(
        &mut args.first_message,
        given("first_message"),
        file.first_message,
    );
    fill_opt(
        &mut args.max_message_size,
        given("max_message_size"),
        file.max_message_size,
    );
    fill_opt(
        &mut args.max_connections,
        given("max_connections"),
        file.max_connections,
    );
    fill_opt(
        &mut args.max_connections_per_user,
        given("max_connections_per_user"),
        file.max_connections_per_user,
    );
    fill_opt(&mut args.rate_limit, given("rate_limit"), file.rate_limit);
    fill(
        &mut args.allowed_origin,
        given("allowed_origin"),
        file.allowed_origin,
    );
    fill(&mut args.echo, given("echo"), file.echo);
    if let Some(secs) = file.login_token_secs
        && !(1..=86_400).contains(&secs)
    {
        return Err(UsageError(format!(
            "config file {}: login_token_secs = {secs} is outside 1..=86400",
            path.display()
        )));
    }
    fill(
        &mut args.login_token_secs,
        given("login_token_secs"),
        file.login_token_secs,
    );
    tls(
        &mut args,
        &given,
        file.tls_cert.map(relative),
        file.tls_key.map(relative),
        &path,
    )?;

    if !KEY_IDS.iter().any(|id| given(id)) {
        let keys = &mut args.keys;
        keys.secret_env = file.secret_env;
        keys.secret_file = file.secret_file.map(relative);
        keys.key = file.key.map(relative);
        keys.jwk = file.jwk.map(relative);
        keys.jwks = file.jwks.map(relative);
        keys.jwks_url = file.jwks_url;
        keys.oidc_issuer = file.oidc_issuer;
        let named = [
            keys.secret_env.is_some(),
            keys.secret_file.is_some(),
            keys.key.is_some(),
            keys.jwk.is_some(),
            keys.jwks.is_some(),
            keys.jwks_url.is_some(),
            keys.oidc_issuer.is_some(),
        ];
        if named.iter().filter(|&&set| set).count() > 1 {
            return Err(UsageError(format!(
                "config file {}: at most one of {} may be set",
                path.display(),
                KEY_IDS.join(", ")
            )));
        }
    }
    Ok(args)
}

/// The TLS pair: both from the command line and environment, or both from the file.
#[cfg(feature = "tls")]
fn tls(
    args: &mut ServeArgs,
    given: &impl Fn(&str) -> bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    path: &Path,
) -> Result<(), UsageError> {
    if given("tls_cert") || given("tls_key") {
        return Ok(());
    }
    if cert.is_some() != key.is_some() {
        return Err(UsageError(format!(
            "config file {}: tls_cert and tls_key go together",
            path.display()
        )));
    }
    args.tls_cert = cert;
    args.tls_key = key;
    Ok(())
}

/// Without the `tls` feature a file naming a certificate is an error, not plain HTTP.
#[cfg(not(feature = "tls"))]
fn tls(
    _args: &mut ServeArgs,
    _given: &impl Fn(&str) -> bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    path: &Path,
) -> Result<(), UsageError> {
    if cert.is_some() || key.is_some() {
        return Err(UsageError(format!(
            "config file {}: tls_cert and tls_key need the `tls` feature",
            path.display()
        )));
    }
    Ok(())
}

/// Reads and parses the file.
fn load(path: &Path) -> Result<ConfigFile, UsageError> {
    let bytes = read_key_file(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| UsageError(format!("config file {}: not UTF-8", path.display())))?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| parse_error(path, &text, &e))?;
    if file.secret.is_some() {
        return Err(UsageError(format!(
            "config file {}: `secret` is refused: a secret never goes in the config file; \
             name the file holding it (secret_file) or its environment variable (secret_env)",
            path.display()
        )));
    }
    Ok(file)
}

/// One line naming the file, the line and its text (which holds the key), and the problem.
fn parse_error(path: &Path, text: &str, error: &toml::de::Error) -> UsageError {
    let message = error.message().trim();
    let Some(start) = error.span().map(|span| span.start) else {
        return UsageError(format!("config file {}: {message}", path.display()));
    };
    let before = text.get(..start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_text = text
        .get(line_start..)
        .and_then(|rest| rest.lines().next())
        .unwrap_or("")
        .trim();
    UsageError(format!(
        "config file {}, line {line} (`{line_text}`): {message}",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    /// A config file in a fresh directory, removed on drop.
    struct TempConfig {
        dir: PathBuf,
        path: PathBuf,
    }

    impl TempConfig {
        fn new(name: &str, text: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("tollgate-config-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("tollgate.toml");
            std::fs::write(&path, text).unwrap();
            Self { dir, path }
        }
    }

    impl Drop for TempConfig {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Parses `tollgate serve ARGS --config FILE` (no environment involved) and resolves it.
    fn resolved(file: &TempConfig, args: &[&str]) -> Result<ServeArgs, UsageError> {
        let config = file.path.display().to_string();
        let argv = ["tollgate", "serve", "--config", config.as_str()]
            .into_iter()
            .chain(args.iter().copied());
        let matches = Cli::command().try_get_matches_from(argv).unwrap();
        let Command::Serve(serve) = Cli::from_arg_matches(&matches).unwrap().command else {
            panic!("not serve");
        };
        resolve(&serve, matches.subcommand_matches("serve").unwrap())
    }

    #[test]
    fn file_values_fill_unset_options() {
        let file = TempConfig::new(
            "fill",
            r#"
            listen = "127.0.0.1:4000"
            iss = ["a", "b"]
            leeway = 5
            token_from = ["header", "cookie"]
            max_message_size = 16777216
            echo = true
            login_token_secs = 30
            secret_file = "secret.txt"
            "#,
        );
        let args = resolved(&file, &[]).unwrap();
        assert_eq!(args.login_token_secs, 30);
        assert_eq!(args.listen, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(args.iss, ["a", "b"]);
        assert_eq!(args.leeway, Some(5));
        assert_eq!(args.token_from, ["header", "cookie"]);
        assert_eq!(args.max_message_size, Some(16 << 20));
        assert!(args.echo);
        assert_eq!(args.keys.secret_file, Some(file.dir.join("secret.txt")));
    }

    #[test]
    fn login_token_secs_outside_its_range_is_refused() {
        let file = TempConfig::new("login-range", "login_token_secs = 0\n");
        let error = resolved(&file, &[]).unwrap_err();
        assert!(error.0.contains("login_token_secs = 0"), "{}", error.0);
    }

    #[test]
    fn command_line_beats_the_file() {
        let file = TempConfig::new(
            "precedence",
            "listen = \"127.0.0.1:4000\"\nleeway = 5\naud = [\"file\"]\njwks = \"keys.json\"\n",
        );
        let args = resolved(
            &file,
            &[
                "--listen",
                "127.0.0.1:3000",
                "--aud",
                "cli",
                "--secret-file",
                "/s",
            ],
        )
        .unwrap();
        assert_eq!(args.listen, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(args.aud, ["cli"]);
        assert_eq!(args.leeway, Some(5));
        assert_eq!(args.keys.secret_file, Some(PathBuf::from("/s")));
        assert_eq!(args.keys.jwks, None, "the key is one setting");
    }

    #[test]
    fn unknown_key_is_an_error_naming_key_file_and_line() {
        let file = TempConfig::new("unknown", "leeway = 5\nlisten_addr = \"x\"\n");
        let error = resolved(&file, &[]).unwrap_err().0;
        assert!(error.contains("listen_addr"), "{error}");
        assert!(error.contains(&file.path.display().to_string()), "{error}");
        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn wrong_type_is_an_error_naming_the_key() {
        let file = TempConfig::new("type", "leeway = \"soon\"\n");
        let error = resolved(&file, &[]).unwrap_err().0;
        assert!(error.contains("leeway"), "{error}");
        assert!(error.contains("line 1"), "{error}");
        let file = TempConfig::new("source", "token_from = [\"url\"]\n");
        let error = resolved(&file, &[]).unwrap_err().0;
        assert!(error.contains("token_from"), "{error}");
        assert!(error.contains("query"), "{error}");
    }

    #[test]
    fn a_secret_in_the_file_is_refused() {
        let file = TempConfig::new("secret", "secret = \"hunter2hunter2hunter2\"\n");
        let error = resolved(&file, &[]).unwrap_err().0;
        assert!(error.contains("secret_file"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn two_keys_in_the_file_are_refused() {
        let file = TempConfig::new("two-keys", "secret_env = \"S\"\njwks = \"k.json\"\n");
        let error = resolved(&file, &[]).unwrap_err().0;
        assert!(error.contains("at most one"), "{error}");
    }

    #[test]
    fn half_a_tls_pair_is_refused() {
        let file = TempConfig::new("tls", "tls_cert = \"cert.pem\"\n");
        assert!(resolved(&file, &[]).is_err());
    }

    #[test]
    fn absolute_paths_stay_as_written() {
        let file = TempConfig::new("absolute", "jwks = \"/etc/tollgate/jwks.json\"\n");
        let args = resolved(&file, &[]).unwrap();
        assert_eq!(
            args.keys.jwks,
            Some(PathBuf::from("/etc/tollgate/jwks.json"))
        );
    }

    #[test]
    fn every_setting_checked_for_precedence_is_a_serve_option() {
        let matches = Cli::command()
            .try_get_matches_from(["tollgate", "serve"])
            .unwrap();
        let serve = matches.subcommand_matches("serve").unwrap();
        let ids = [
            "listen",
            "iss",
            "aud",
            "leeway",
            "token_from",
            "first_message",
            "max_message_size",
            "max_connections",
            "max_connections_per_user",
            "rate_limit",
            "allowed_origin",
            "tls_cert",
            "tls_key",
            "echo",
            "login_token_secs",
        ];
        for id in ids.iter().chain(KEY_IDS.iter()) {
            // `try_` reports an unknown id instead of panicking in debug builds.
            assert!(serve.try_contains_id(id).is_ok(), "{id}");
        }
    }
}
