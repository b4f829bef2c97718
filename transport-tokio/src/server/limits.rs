//! Connection caps (global and per user) and the per-connection message token bucket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

use super::config::RateLimit;

/// Live connection counts, shared by every connection of a server.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    global: AtomicUsize,
    per_user: Mutex<HashMap<Arc<str>, usize>>,
}

impl Limits {
    /// Counts one more connection unless `max` are open; the permit uncounts it on drop.
    pub(crate) fn try_global(self: &Arc<Self>, max: Option<usize>) -> Option<GlobalPermit> {
        let max = max.unwrap_or(usize::MAX);
        self.global
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .ok()?;
        Some(GlobalPermit {
            limits: Arc::clone(self),
        })
    }

    /// Counts one more connection of `sub` unless `max` are open.
    pub(crate) fn try_user(self: &Arc<Self>, sub: Arc<str>, max: usize) -> Option<UserPermit> {
        let mut users = self.per_user.lock().unwrap_or_else(PoisonError::into_inner);
        let open = users.entry(Arc::clone(&sub)).or_insert(0);
        if *open >= max {
            return None;
        }
        *open += 1;
        Some(UserPermit {
            limits: Arc::clone(self),
            sub,
        })
    }

    /// The number of connections open (handshakes included).
    pub(crate) fn open(&self) -> usize {
        self.global.load(Ordering::Acquire)
    }
}

/// One counted connection; uncounted on drop.
#[derive(Debug)]
pub(crate) struct GlobalPermit {
    limits: Arc<Limits>,
}

impl Drop for GlobalPermit {
    fn drop(&mut self) {
        self.limits.global.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One counted connection of a user; uncounted on drop.
#[derive(Debug)]
pub(crate) struct UserPermit {
    limits: Arc<Limits>,
    sub: Arc<str>,
}

impl Drop for UserPermit {
    fn drop(&mut self) {
        let mut users = self
            .limits
            .per_user
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = users.get_mut(&self.sub) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                users.remove(&self.sub);
            }
        }
    }
}

/// A token bucket: `rate` tokens per second up to `burst`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            tokens: limit.burst(),
            updated: Instant::now(),
        }
    }

    /// Takes one token; `false` when the bucket is empty.
    pub(crate) fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> bool {
        let elapsed = now.duration_since(self.updated).as_secs_f64();
        self.updated = now;
        self.tokens = (self.tokens + elapsed * self.limit.rate()).min(self.limit.burst());
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_cap_counts_open_permits_and_releases_on_drop() {
        let limits = Arc::new(Limits::default());
        let first = limits.try_global(Some(2));
        let second = limits.try_global(Some(2));
        assert!(first.is_some() && second.is_some());
        assert!(limits.try_global(Some(2)).is_none());
        drop(first);
        assert!(limits.try_global(Some(2)).is_some());
    }

    #[test]
    fn per_user_cap_is_counted_per_subject() {
        let limits = Arc::new(Limits::default());
        let alice = limits.try_user("alice".into(), 1);
        assert!(alice.is_some());
        assert!(limits.try_user("alice".into(), 1).is_none());
        assert!(limits.try_user("bob".into(), 1).is_some());
        drop(alice);
        assert!(limits.try_user("alice".into(), 1).is_some());
    }

    #[test]
    fn bucket_allows_the_burst_then_refills_at_the_rate() {
        let mut bucket = TokenBucket::new(RateLimit::per_second(2).with_burst(3));
        let start = bucket.updated;
        assert!((0..3).all(|_| bucket.take_at(start)));
        assert!(!bucket.take_at(start));
        let later = start + std::time::Duration::from_millis(500);
        assert!(bucket.take_at(later));
        assert!(!bucket.take_at(later));
        let much_later = later + std::time::Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.take_at(much_later)).count(), 3);
    }
}
