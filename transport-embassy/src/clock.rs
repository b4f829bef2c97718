//! Wall-clock time on a device that boots without it.
//!
//! Token verification needs Unix time; a microcontroller knows only its monotonic
//! [`Instant`] since boot until the application learns the date (SNTP, a GNSS fix, a
//! battery-backed RTC). A [`Clock`] keeps the offset between the two once it is set, and
//! says so ([`ClockNotSet`]) when asked before.

use core::cell::Cell;

use embassy_sync::blocking_mutex::CriticalSectionMutex;
use embassy_time::Instant;

use crate::error::ClockNotSet;

/// Unix time derived from [`Instant`] and an offset the application sets.
///
/// `const`-constructible for a `static`, shared by every connection and by the task that
/// sets it (through a critical section, so setting it from an interrupt is fine too).
/// Setting it again (a later SNTP answer) moves every reading; the expiry timer of a
/// connection picks the new offset up at its next receive.
///
/// ```
/// use embassy_time::Instant;
/// use tollgate_embassy::{Clock, ClockNotSet};
///
/// static CLOCK: Clock = Clock::new();
/// # fn main() {
/// assert_eq!(CLOCK.unix_time(), Err(ClockNotSet));
/// CLOCK.set_unix_time(1_700_000_000);
/// assert!(CLOCK.unix_time().unwrap() >= 1_700_000_000);
/// # }
/// ```
#[derive(Debug)]
pub struct Clock {
    /// Unix milliseconds at `Instant` zero (boot), once known.
    epoch_ms: CriticalSectionMutex<Cell<Option<u64>>>,
}

impl Clock {
    /// A clock that was never set.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            epoch_ms: CriticalSectionMutex::new(Cell::new(None)),
        }
    }

    /// Sets the time: it is now `unix_secs` (seconds since 1970-01-01 UTC).
    pub fn set_unix_time(&self, unix_secs: u64) {
        self.set_unix_time_ms_at(unix_secs.saturating_mul(1000), Instant::now());
    }

    /// Sets the time from a reading taken earlier: it was `unix_ms` (milliseconds since
    /// the Unix epoch) at `at`, for instance when an SNTP answer arrived.
    pub fn set_unix_time_ms_at(&self, unix_ms: u64, at: Instant) {
        let epoch = unix_ms.saturating_sub(at.as_millis());
        self.epoch_ms.lock(|cell| cell.set(Some(epoch)));
    }

    /// Whether the time was set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.epoch_ms().is_ok()
    }

    /// The Unix time now, in whole seconds.
    ///
    /// # Errors
    /// [`ClockNotSet`] before the first [`set_unix_time`](Self::set_unix_time).
    pub fn unix_time(&self) -> Result<u64, ClockNotSet> {
        self.unix_time_at(Instant::now())
    }

    /// The Unix time at `at`, in whole seconds.
    ///
    /// # Errors
    /// [`ClockNotSet`] before the first [`set_unix_time`](Self::set_unix_time).
    pub fn unix_time_at(&self, at: Instant) -> Result<u64, ClockNotSet> {
        Ok(self.epoch_ms()?.saturating_add(at.as_millis()) / 1000)
    }

    /// The instant at which the Unix time reaches `unix_secs` (a token's expiry deadline):
    /// [`Instant::MIN`] for a time before boot, [`Instant::MAX`] beyond what an `Instant`
    /// can hold.
    ///
    /// # Errors
    /// [`ClockNotSet`] before the first [`set_unix_time`](Self::set_unix_time).
    pub fn instant_at(&self, unix_secs: u64) -> Result<Instant, ClockNotSet> {
        let epoch = self.epoch_ms()?;
        Ok(unix_secs
            .checked_mul(1000)
            .map(|ms| ms.saturating_sub(epoch))
            .and_then(Instant::try_from_millis)
            .unwrap_or(Instant::MAX))
    }

    fn epoch_ms(&self) -> Result<u64, ClockNotSet> {
        self.epoch_ms.lock(Cell::get).ok_or(ClockNotSet)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_clock_refuses_every_reading() {
        let clock = Clock::new();
        assert!(!clock.is_set());
        assert_eq!(clock.unix_time(), Err(ClockNotSet));
        assert_eq!(clock.unix_time_at(Instant::from_secs(5)), Err(ClockNotSet));
        assert_eq!(clock.instant_at(1_700_000_000), Err(ClockNotSet));
    }

    #[test]
    fn reading_taken_earlier_counts_from_its_instant() {
        let clock = Clock::new();
        clock.set_unix_time_ms_at(1_700_000_000_500, Instant::from_millis(2_000));
        assert_eq!(
            clock.unix_time_at(Instant::from_millis(2_000)),
            Ok(1_700_000_000)
        );
        assert_eq!(
            clock.unix_time_at(Instant::from_millis(2_500)),
            Ok(1_700_000_001)
        );
        assert_eq!(
            clock.unix_time_at(Instant::from_secs(12)),
            Ok(1_700_000_010)
        );
    }

    #[test]
    fn instant_at_inverts_unix_time_at() {
        let clock = Clock::new();
        clock.set_unix_time_ms_at(1_700_000_000_000, Instant::from_secs(100));
        assert_eq!(clock.instant_at(1_700_000_060), Ok(Instant::from_secs(160)));
        assert_eq!(clock.instant_at(1_000), Ok(Instant::from_millis(0)));
        assert_eq!(clock.instant_at(u64::MAX), Ok(Instant::MAX));
    }

    #[test]
    fn setting_again_moves_the_readings() {
        let clock = Clock::new();
        clock.set_unix_time_ms_at(1_000_000, Instant::from_secs(0));
        clock.set_unix_time_ms_at(2_000_000, Instant::from_secs(0));
        assert_eq!(clock.unix_time_at(Instant::from_secs(0)), Ok(2_000));
    }

    #[test]
    fn set_unix_time_reads_back_now() {
        let clock = Clock::new();
        clock.set_unix_time(1_700_000_000);
        let now = clock.unix_time().unwrap();
        assert!((1_700_000_000..1_700_000_002).contains(&now));
    }
}
