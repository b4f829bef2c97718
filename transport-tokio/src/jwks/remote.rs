//! A provider's JWK Set fetched over HTTP(S), cached, refreshed and rotated.

use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use reqwest::header::{CACHE_CONTROL, HeaderMap};
use reqwest::redirect;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tollgate::jwt::{Algorithm, JwkSet, JwtError};

use super::error::JwksError;

/// Most usable keys kept from one remote document; providers publish two or three.
pub const REMOTE_JWKS_CAPACITY: usize = 16;

/// Least time between two scheduled refreshes, whatever the ttl (a `min_ttl` of zero
/// and `max-age=0` must not make the refresher spin).
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// The key set a [`RemoteJwks`] serves (shared, replaced whole on every fetch).
pub type RemoteKeySet = JwkSet<REMOTE_JWKS_CAPACITY>;

/// How a [`RemoteJwks`] caches, refreshes and gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksConfig {
    /// Shortest time a fetched set is considered fresh, whatever `max-age` says
    /// (`no-cache`, `max-age=0`). Default 60 s.
    pub min_ttl: Duration,
    /// Longest time a fetched set is considered fresh, whatever `max-age` says.
    /// Default 24 h.
    pub max_ttl: Duration,
    /// Freshness when the response has no `max-age` (then clamped too). Default 10 min.
    pub default_ttl: Duration,
    /// Least time between two fetches triggered by tokens (unknown `kid`, retries after
    /// a failure). Default 30 s.
    pub cooldown: Duration,
    /// How long past its freshness the last good set keeps verifying tokens while
    /// fetches fail. Default 24 h.
    pub max_staleness: Duration,
    /// Limit on one request, connection included. Default 10 s.
    pub timeout: Duration,
    /// Largest accepted document. Default 1 MiB.
    pub max_document_bytes: usize,
}

impl Default for JwksConfig {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(600),
            cooldown: Duration::from_secs(30),
            max_staleness: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            max_document_bytes: 1 << 20,
        }
    }
}

impl JwksConfig {
    /// The freshness of a response with these headers: `max-age` (or zero for
    /// `no-cache`/`no-store`), else [`default_ttl`](Self::default_ttl), clamped to
    /// [`min_ttl`](Self::min_ttl)..=[`max_ttl`](Self::max_ttl).
    #[must_use]
    pub fn ttl_for(&self, headers: &HeaderMap) -> Duration {
        let ttl = max_age(headers).unwrap_or(self.default_ttl);
        ttl.clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }
}

/// The `max-age` of `Cache-Control`, zero for `no-cache`/`no-store`; `None` without one.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let (name, argument) = directive
                .split_once('=')
                .map_or((directive, None), |(n, a)| (n.trim(), Some(a.trim())));
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = argument
                    .map(|a| a.trim_matches('"'))
                    .and_then(|a| a.parse::<u64>().ok())
            {
                found = Some(Duration::from_secs(secs));
            }
        }
    }
    found
}

/// Parses `url` and checks it is `https://`, or `http://` to a loopback host.
pub(super) fn checked_url(url: &str) -> Result<reqwest::Url, JwksError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| JwksError::InvalidUrl(format!("{url}: {e}")))?;
    if is_acceptable(&parsed) {
        Ok(parsed)
    } else {
        Err(JwksError::InvalidUrl(format!(
            "{url}: only https:// (or http:// to a loopback address) is accepted"
        )))
    }
}

fn is_acceptable(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// An HTTP client for key documents at `url`: the request timeout, at most five
/// redirects and none that leaves the acceptable schemes (no downgrade to plain HTTP).
/// Proxies from the environment apply, except to a loopback `url`.
pub(super) fn client(
    config: &JwksConfig,
    url: &reqwest::Url,
) -> Result<reqwest::Client, JwksError> {
    let builder = if is_loopback(url) {
        reqwest::Client::builder().no_proxy()
    } else {
        reqwest::Client::builder()
    };
    builder
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .redirect(redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if is_acceptable(attempt.url()) {
                attempt.follow()
            } else {
                attempt.error("redirect to an insecure URL")
            }
        }))
        .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| JwksError::Client(e.to_string()))
}

/// GETs `url` and returns the response headers and body (200 only, size-limited).
pub(super) async fn get(
    client: &reqwest::Client,
    url: &reqwest::Url,
    max_bytes: usize,
) -> Result<(HeaderMap, Vec<u8>), JwksError> {
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(JwksError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(JwksError::TooLarge);
    }
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max_bytes {
            return Err(JwksError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok((headers, body))
}

/// Parses a remote document with the core's parser and applies the remote rules.
fn parse_remote(body: &[u8]) -> Result<RemoteKeySet, JwksError> {
    let set = RemoteKeySet::from_json(body).map_err(JwksError::Document)?;
    if set.iter().any(|jwk| jwk.algorithm() == Algorithm::HS256) {
        return Err(JwksError::SymmetricKey);
    }
    if set.is_empty() {
        return Err(JwksError::NoUsableKey {
            skipped: set.skipped(),
        });
    }
    Ok(set)
}

/// What the last fetches left behind.
#[derive(Debug)]
struct State {
    keys: Option<Arc<RemoteKeySet>>,
    ttl: Duration,
    fetched_at: Instant,
    fresh_until: Instant,
    usable_until: Instant,
    last_attempt: Option<Instant>,
    last_error: Option<JwksError>,
    fetches: u64,
}

#[derive(Debug)]
struct Inner {
    url: reqwest::Url,
    client: reqwest::Client,
    config: JwksConfig,
    state: RwLock<State>,
    /// Held for the whole of a fetch: one request in flight at a time.
    fetch_lock: Arc<Mutex<()>>,
}

/// A remote JWK Set: fetched, cached, refreshed, rotated. Cheap to clone (shared).
///
/// Build it with [`connect`](Self::connect) (first fetch, then the background
/// refresher) or [`new`](Self::new) (no I/O until [`refresh`](Self::refresh) or the
/// first token).
///
/// Three timestamps drive it, all set by the last successful fetch: the set is *fresh*
/// until `fetched + ttl` (ttl from `Cache-Control: max-age`, clamped), refreshed in the
/// background from three quarters of the ttl on, and *usable* until
/// `fresh + max_staleness`; past that, without a newer fetch, tokens are refused with
/// `keys_unavailable`. Every fetch goes through one lock (single flight), and fetches
/// triggered by tokens (an unknown `kid`, a set past its freshness) wait for
/// [`JwksConfig::cooldown`] since the previous attempt, so a flood of bad tokens costs
/// the provider at most one request per cooldown.
#[derive(Debug, Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

impl RemoteJwks {
    /// A source for the JWK Set at `url`; nothing is fetched yet.
    ///
    /// # Errors
    /// [`JwksError::InvalidUrl`] unless `url` is `https://`, or `http://` to a loopback
    /// host; [`JwksError::Client`] when TLS cannot be set up.
    pub fn new(url: &str, config: JwksConfig) -> Result<Self, JwksError> {
        let url = checked_url(url)?;
        let client = client(&config, &url)?;
        let now = Instant::now();
        Ok(Self {
            inner: Arc::new(Inner {
                url,
                client,
                config,
                state: RwLock::new(State {
                    keys: None,
                    ttl: Duration::ZERO,
                    fetched_at: now,
                    fresh_until: now,
                    usable_until: now,
                    last_attempt: None,
                    last_error: None,
                    fetches: 0,
                }),
                fetch_lock: Arc::new(Mutex::new(())),
            }),
        })
    }

    /// [`new`](Self::new), the first fetch, and the background refresher
    /// ([`spawn_refresher`](Self::spawn_refresher)). Must run inside a tokio runtime.
    ///
    /// # Errors
    /// As [`new`](Self::new), then the first fetch's error.
    pub async fn connect(url: &str, config: JwksConfig) -> Result<Self, JwksError> {
        let jwks = Self::new(url, config)?;
        jwks.refresh().await?;
        drop(jwks.spawn_refresher());
        Ok(jwks)
    }

    /// The URL the set is fetched from.
    #[must_use]
    pub fn url(&self) -> &str {
        self.inner.url.as_str()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &JwksConfig {
        &self.inner.config
    }

    /// How many fetches were attempted so far.
    #[must_use]
    pub fn fetch_count(&self) -> u64 {
        self.read().fetches
    }

    /// Why the last fetch failed, if it did.
    #[must_use]
    pub fn last_error(&self) -> Option<JwksError> {
        self.read().last_error.clone()
    }

    /// Fetches the set now (waiting for a fetch already in flight, then fetching
    /// again), ignoring the cooldown. On failure the previous set stays in use.
    ///
    /// # Errors
    /// The fetch's [`JwksError`].
    pub async fn refresh(&self) -> Result<(), JwksError> {
        let _flight = self.inner.fetch_lock.lock().await;
        self.fetch_locked().await
    }

    /// Starts a task that fetches the set again from three quarters of its freshness
    /// on, and after a failure once per cooldown (never more often than once a second). It stops by itself once every clone
    /// of this source is dropped; aborting the returned handle stops it earlier.
    #[must_use = "dropping the handle detaches the task, which then runs until the source is dropped"]
    pub fn spawn_refresher(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(refresh_loop(weak))
    }

    /// The set to verify with now.
    ///
    /// A fresh set is returned at once. A set past its freshness but within the
    /// staleness limit is returned too, and a background fetch is started (at most one
    /// per cooldown). Without a usable set, one fetch is tried (unless one failed within
    /// the cooldown).
    ///
    /// # Errors
    /// [`JwtError::KeysUnavailable`] when no usable set exists and none could be fetched.
    pub async fn keys(&self) -> Result<Arc<RemoteKeySet>, JwtError> {
        let now = Instant::now();
        let (current, usable, stale) = {
            let state = self.read();
            (
                state.keys.clone(),
                now < state.usable_until,
                now >= state.fresh_until,
            )
        };
        if let (Some(keys), true) = (current.clone(), usable) {
            if stale {
                self.refresh_in_background();
            }
            return Ok(keys);
        }
        let _flight = self.inner.fetch_lock.lock().await;
        if let Some(keys) = self.usable_if_changed(current.as_ref()) {
            return Ok(keys);
        }
        if self.cooling_down() {
            return Err(JwtError::KeysUnavailable);
        }
        // The error is kept in `last_error`; the client is only told the keys are gone.
        let _ = self.fetch_locked().await;
        self.usable_if_changed(current.as_ref())
            .ok_or(JwtError::KeysUnavailable)
    }

    /// After a token named a key that `seen` does not hold: a newer set if one was
    /// fetched meanwhile, else a fetch unless the cooldown forbids it. `None` when no
    /// newer usable set came of it.
    pub async fn keys_after_unknown_key(
        &self,
        seen: &Arc<RemoteKeySet>,
    ) -> Option<Arc<RemoteKeySet>> {
        let _flight = self.inner.fetch_lock.lock().await;
        if let Some(keys) = self.usable_if_changed(Some(seen)) {
            return Some(keys);
        }
        if self.cooling_down() {
            return None;
        }
        let _ = self.fetch_locked().await;
        self.usable_if_changed(Some(seen))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current set if it is usable and not `seen`.
    fn usable_if_changed(&self, seen: Option<&Arc<RemoteKeySet>>) -> Option<Arc<RemoteKeySet>> {
        let state = self.read();
        let keys = state.keys.as_ref()?;
        let changed = seen.is_none_or(|seen| !Arc::ptr_eq(seen, keys));
        (changed && Instant::now() < state.usable_until).then(|| Arc::clone(keys))
    }

    /// Whether a token-triggered fetch must wait: one was attempted within the cooldown.
    fn cooling_down(&self) -> bool {
        self.read()
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.inner.config.cooldown)
    }

    /// Starts one background fetch unless one is in flight or the cooldown forbids it.
    fn refresh_in_background(&self) {
        if self.cooling_down() {
            return;
        }
        let Ok(flight) = Arc::clone(&self.inner.fetch_lock).try_lock_owned() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _flight = flight;
            if !this.cooling_down() {
                let _ = this.fetch_locked().await;
            }
        });
    }

    /// One fetch; the caller holds the fetch lock.
    async fn fetch_locked(&self) -> Result<(), JwksError> {
        let started = Instant::now();
        {
            let mut state = self.write();
            state.last_attempt = Some(started);
            state.fetches += 1;
        }
        let config = &self.inner.config;
        let result = get(
            &self.inner.client,
            &self.inner.url,
            config.max_document_bytes,
        )
        .await
        .and_then(|(headers, body)| Ok((config.ttl_for(&headers), parse_remote(&body)?)));
        let mut state = self.write();
        match result {
            Ok((ttl, keys)) => {
                let now = Instant::now();
                state.keys = Some(Arc::new(keys));
                state.ttl = ttl;
                state.fetched_at = now;
                state.fresh_until = now + ttl;
                state.usable_until = now + ttl + config.max_staleness;
                state.last_error = None;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(url = %self.inner.url, %error, "JWKS fetch failed");
                state.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    /// When the refresher should fetch next.
    fn next_refresh(&self) -> Instant {
        let state = self.read();
        let retry = state.last_attempt.map_or_else(Instant::now, |at| {
            at + self.inner.config.cooldown.max(MIN_REFRESH_INTERVAL)
        });
        match (&state.keys, &state.last_error) {
            (Some(_), None) => state.fetched_at + (state.ttl * 3 / 4).max(MIN_REFRESH_INTERVAL),
            _ => retry,
        }
    }
}

/// The refresher: sleeps until the next refresh is due, fetches, and ends once the
/// source is gone.
async fn refresh_loop(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let jwks = RemoteJwks { inner };
        let due = jwks.next_refresh();
        drop(jwks);
        tokio::time::sleep_until(due).await;
        let Some(inner) = weak.upgrade() else { return };
        let jwks = RemoteJwks { inner };
        let _flight = jwks.inner.fetch_lock.lock().await;
        // Someone else may have fetched while this task slept or waited.
        if Instant::now() >= jwks.next_refresh() {
            let _ = jwks.fetch_locked().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn max_age_is_read_and_clamped() {
        let config = JwksConfig {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            default_ttl: Duration::from_secs(600),
            ..JwksConfig::default()
        };
        let secs = |values: &[&str]| config.ttl_for(&headers(values)).as_secs();
        assert_eq!(secs(&["public, max-age=300"]), 300);
        assert_eq!(secs(&["Max-Age=\"120\", must-revalidate"]), 120);
        assert_eq!(secs(&["max-age=5"]), 60);
        assert_eq!(secs(&["max-age=999999"]), 3600);
        assert_eq!(secs(&["no-cache"]), 60);
        assert_eq!(secs(&["public", "max-age=200"]), 200);
        assert_eq!(secs(&[]), 600);
        assert_eq!(secs(&["max-age=soon"]), 600);
    }

    #[test]
    fn only_https_or_loopback_http_is_accepted() {
        for good in [
            "https://login.example.com/.well-known/jwks.json",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/jwks",
        ] {
            assert!(checked_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://login.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://127.0.0.1/jwks",
            "file:///etc/jwks.json",
            "not a url",
        ] {
            assert!(
                matches!(checked_url(bad), Err(JwksError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn remote_documents_with_secrets_or_without_signing_keys_are_refused() {
        let oct = br#"{"keys":[{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}]}"#;
        assert_eq!(parse_remote(oct).unwrap_err(), JwksError::SymmetricKey);
        let enc_only = br#"{"keys":[{"kty":"EC","crv":"P-256","use":"enc","x":"AA","y":"AA"}]}"#;
        assert_eq!(
            parse_remote(enc_only).unwrap_err(),
            JwksError::NoUsableKey { skipped: 1 }
        );
        assert!(matches!(
            parse_remote(b"[]").unwrap_err(),
            JwksError::Document(_)
        ));
    }
}
