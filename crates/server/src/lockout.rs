//! Slowing down password guessing, before any password hash is computed: failed sign-ins are
//! counted per user name (whether or not such a user exists, so the answer tells nothing) and
//! per client address. Past a threshold the key is locked for a while that doubles with each
//! further failure, up to a cap, so a lockout always ends. Counters are per process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When and for how long keys lock.
#[derive(Debug, Clone, Copy)]
pub struct LockoutSettings {
    /// Failures of one user name before it locks (Microsoft's smart lockout default is 10).
    pub user_threshold: u32,
    /// Failures from one client address before it locks.
    pub address_threshold: u32,
    /// The first lockout's length; each further failure doubles it.
    pub base: Duration,
    /// The longest lockout.
    pub max: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        LockoutSettings {
            user_threshold: 10,
            address_threshold: 30,
            base: Duration::from_secs(60),
            max: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// The counters of one process.
#[derive(Debug, Default)]
pub struct Lockout {
    settings: Mutex<LockoutSettings>,
    entries: Mutex<HashMap<String, Entry>>,
}

/// How many keys are kept before expired ones are swept.
const SWEEP_AT: usize = 50_000;

impl Lockout {
    pub fn new(settings: LockoutSettings) -> Lockout {
        Lockout { settings: Mutex::new(settings), entries: Mutex::default() }
    }

    pub fn set_settings(&self, settings: LockoutSettings) {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
    }

    fn settings(&self) -> LockoutSettings {
        *self.settings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keys(user: &str, address: Option<&str>) -> [Option<String>; 2] {
        [Some(format!("user:{}", user.to_lowercase())), address.map(|a| format!("addr:{a}"))]
    }

    /// How long until a sign-in for `user` from `address` may be tried; `None` when it may now.
    pub fn locked(&self, user: &str, address: Option<&str>) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(user, address)
            .iter()
            .flatten()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, user: &str, address: Option<&str>) {
        let s = self.settings();
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, e| {
                now.duration_since(e.last_failure) < s.window || e.locked_until.is_some_and(|u| u > now)
            });
        }
        for (key, threshold) in Self::keys(user, address).into_iter().zip([s.user_threshold, s.address_threshold]) {
            let Some(key) = key else { continue };
            let e = entries.entry(key).or_insert(Entry { failures: 0, last_failure: now, locked_until: None });
            if now.duration_since(e.last_failure) >= s.window && e.locked_until.is_none_or(|u| u <= now) {
                e.failures = 0;
            }
            e.failures += 1;
            e.last_failure = now;
            if e.failures >= threshold {
                let doublings = (e.failures - threshold).min(16);
                let lock = s.base.saturating_mul(1 << doublings).min(s.max);
                e.locked_until = Some(now + lock);
            }
        }
    }

    /// A successful sign-in clears the user's count (not the address's: one right password
    /// among many wrong ones from an address does not excuse the others).
    pub fn succeeded(&self, user: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&format!("user:{}", user.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Lockout {
        Lockout::new(LockoutSettings {
            user_threshold: 3,
            address_threshold: 5,
            base: Duration::from_secs(60),
            max: Duration::from_secs(240),
            window: Duration::from_secs(900),
        })
    }

    #[test]
    fn a_user_locks_after_the_threshold_and_backs_off_up_to_the_cap() {
        let l = small();
        for _ in 0..2 {
            l.failed("Ada@x.test", None);
        }
        assert_eq!(l.locked("ada@x.test", None), None);
        l.failed("ada@x.test", None);
        let first = l.locked("ADA@x.test", None).expect("locked");
        assert!(first > Duration::from_secs(55) && first <= Duration::from_secs(60), "{first:?}");
        l.failed("ada@x.test", None);
        assert!(l.locked("ada@x.test", None).unwrap() > Duration::from_secs(115));
        for _ in 0..10 {
            l.failed("ada@x.test", None);
        }
        assert!(l.locked("ada@x.test", None).unwrap() <= Duration::from_secs(240), "capped");
        // Another user is not affected.
        assert_eq!(l.locked("bob@x.test", None), None);
    }

    #[test]
    fn an_address_locks_across_user_names() {
        let l = small();
        for i in 0..5 {
            l.failed(&format!("u{i}@x.test"), Some("10.0.0.1"));
        }
        assert!(l.locked("new@x.test", Some("10.0.0.1")).is_some());
        assert_eq!(l.locked("new@x.test", Some("10.0.0.2")), None);
    }

    #[test]
    fn success_clears_the_user() {
        let l = small();
        l.failed("ada@x.test", None);
        l.failed("ada@x.test", None);
        l.succeeded("ada@x.test");
        l.failed("ada@x.test", None);
        assert_eq!(l.locked("ada@x.test", None), None);
    }
}
