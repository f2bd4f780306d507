//! Slowing down password guessing, before any password hash is computed: failed sign-ins are
//! counted per user name (whether or not such a user exists, so the answer tells nothing) and
//! per client address. Past a threshold the key is locked for a while that doubles with each
//! further failure, up to a cap, so a lockout always ends.
//!
//! Where the counts live follows throttling's request counts: in Redis when `[throttling] redis`
//! names one, else on PostgreSQL in the database (`signin_failures`), both shared by every
//! process of the fleet, so N processes allow the guesses of one; else (SQLite, served by one
//! process) in the process. When the shared counts cannot be reached, this process's own counts
//! (always kept) decide, and the failure is logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rolo_store::fleet::now_ms;

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

impl LockoutSettings {
    /// How long a key locks at its `failures`-th failure, if at all.
    fn lock_for(&self, failures: u32, threshold: u32) -> Option<Duration> {
        let doublings = failures.checked_sub(threshold)?.min(16);
        Some(self.base.saturating_mul(1 << doublings).min(self.max))
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Where a fleet's processes count failed sign-ins together.
enum Shared {
    Redis(redis::aio::ConnectionManager),
    Database(Arc<dyn rolo_store::Store>),
}

/// The counters: this process's, and the fleet's when shared.
#[derive(Default)]
pub struct Lockout {
    settings: Mutex<LockoutSettings>,
    entries: Mutex<HashMap<String, Entry>>,
    shared: Option<Shared>,
    /// Failures counted in the database, to sweep its old rows now and then.
    shared_failures: AtomicU64,
}

/// How many keys are kept before expired ones are swept.
const SWEEP_AT: usize = 50_000;
/// The database's expired keys are swept once every this many failures.
const SHARED_SWEEP_EVERY: u64 = 1_000;

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Lockout {
    pub fn new(settings: LockoutSettings) -> Lockout {
        Lockout { settings: Mutex::new(settings), ..Lockout::default() }
    }

    /// Counts failures in Redis, shared with every process using it.
    pub fn with_redis(mut self, conn: redis::aio::ConnectionManager) -> Lockout {
        self.shared = Some(Shared::Redis(conn));
        self
    }

    /// Counts failures in the database, shared with every process serving it.
    pub fn with_database(mut self, store: Arc<dyn rolo_store::Store>) -> Lockout {
        self.shared = Some(Shared::Database(store));
        self
    }

    /// Where failures are counted: `redis`, `database` or `process`.
    pub fn counted_in(&self) -> &'static str {
        match self.shared {
            Some(Shared::Redis(_)) => "redis",
            Some(Shared::Database(_)) => "database",
            None => "process",
        }
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
    pub async fn locked(&self, user: &str, address: Option<&str>) -> Option<Duration> {
        let keys: Vec<String> = Self::keys(user, address).into_iter().flatten().collect();
        if let Some(shared) = &self.shared {
            match shared.locked_until(&keys).await {
                Ok(until) => {
                    let left = until.map_or(0, |u| u - now_ms());
                    return (left > 0).then(|| Duration::from_millis(left as u64));
                }
                Err(e) => tracing::warn!(error = %e, "the shared sign-in lockout failed; using this process's counts"),
            }
        }
        self.locked_here(&keys)
    }

    fn locked_here(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| entries.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    /// Counts a failed sign-in.
    pub async fn failed(&self, user: &str, address: Option<&str>) {
        let s = self.settings();
        self.failed_here(user, address, &s);
        let Some(shared) = &self.shared else { return };
        for (key, threshold) in Self::keys(user, address).into_iter().zip([s.user_threshold, s.address_threshold]) {
            let Some(key) = key else { continue };
            if let Err(e) = shared.failed(&key, threshold, &s).await {
                tracing::warn!(error = %e, "the shared sign-in lockout failed to count a failure");
            }
        }
        if let Shared::Database(store) = shared {
            if self.shared_failures.fetch_add(1, Ordering::Relaxed) % SHARED_SWEEP_EVERY == SHARED_SWEEP_EVERY - 1 {
                let now = now_ms();
                if let Err(e) = store.prune_signin_failures(now - millis(s.window), now).await {
                    tracing::warn!(error = %e.message, "sweeping old sign-in failures failed");
                }
            }
        }
    }

    fn failed_here(&self, user: &str, address: Option<&str>, s: &LockoutSettings) {
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
            if let Some(lock) = s.lock_for(e.failures, threshold) {
                e.locked_until = Some(now + lock);
            }
        }
    }

    /// A successful sign-in clears the user's count (not the address's: one right password
    /// among many wrong ones from an address does not excuse the others).
    pub async fn succeeded(&self, user: &str) {
        let key = format!("user:{}", user.to_lowercase());
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        if let Some(shared) = &self.shared {
            if let Err(e) = shared.clear(&key).await {
                tracing::warn!(error = %e, "the shared sign-in lockout failed to clear a user");
            }
        }
    }
}

impl Shared {
    fn redis_keys(key: &str) -> (String, String) {
        (format!("rolo:lockout:failures:{key}"), format!("rolo:lockout:locked:{key}"))
    }

    /// The latest end of a lock in force on any of `keys`, in milliseconds since the epoch.
    async fn locked_until(&self, keys: &[String]) -> Result<Option<i64>, String> {
        match self {
            Shared::Database(store) => store.signin_locked_until(keys).await.map_err(|e| e.message),
            Shared::Redis(conn) => {
                let mut pipe = redis::pipe();
                for key in keys {
                    pipe.cmd("PTTL").arg(Self::redis_keys(key).1);
                }
                let left: Vec<i64> = pipe.query_async(&mut conn.clone()).await.map_err(|e| e.to_string())?;
                let now = now_ms();
                Ok(left.into_iter().filter(|ms| *ms > 0).max().map(|ms| now + ms))
            }
        }
    }

    async fn failed(&self, key: &str, threshold: u32, s: &LockoutSettings) -> Result<(), String> {
        let now = now_ms();
        match self {
            Shared::Database(store) => {
                let failures = store.signin_failed(key, now, millis(s.window)).await.map_err(|e| e.message)?;
                if let Some(lock) = s.lock_for(failures, threshold) {
                    store.lock_signin(key, now + millis(lock)).await.map_err(|e| e.message)?;
                }
            }
            Shared::Redis(conn) => {
                let (failures_key, locked_key) = Self::redis_keys(key);
                let mut conn = conn.clone();
                // The failures live for the window from the last one (as this process's count
                // forgets them), and at least as long as the lock they caused.
                let (failures, locked_ms): (u32, i64) = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg(&failures_key)
                    .cmd("PTTL")
                    .arg(&locked_key)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let lock = s.lock_for(failures, threshold).map_or(0, millis);
                let keep = millis(s.window).max(lock).max(locked_ms).max(1);
                let mut pipe = redis::pipe();
                pipe.atomic().cmd("PEXPIRE").arg(&failures_key).arg(keep).ignore();
                if lock > locked_ms {
                    pipe.cmd("SET").arg(&locked_key).arg(1).arg("PX").arg(lock).ignore();
                }
                pipe.query_async::<()>(&mut conn).await.map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    async fn clear(&self, key: &str) -> Result<(), String> {
        match self {
            Shared::Database(store) => store.clear_signin(key).await.map_err(|e| e.message),
            Shared::Redis(conn) => {
                let (failures_key, locked_key) = Self::redis_keys(key);
                redis::cmd("DEL")
                    .arg(failures_key)
                    .arg(locked_key)
                    .query_async::<()>(&mut conn.clone())
                    .await
                    .map_err(|e| e.to_string())
            }
        }
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

    #[tokio::test]
    async fn a_user_locks_after_the_threshold_and_backs_off_up_to_the_cap() {
        let l = small();
        for _ in 0..2 {
            l.failed("Ada@x.test", None).await;
        }
        assert_eq!(l.locked("ada@x.test", None).await, None);
        l.failed("ada@x.test", None).await;
        let first = l.locked("ADA@x.test", None).await.expect("locked");
        assert!(first > Duration::from_secs(55) && first <= Duration::from_secs(60), "{first:?}");
        l.failed("ada@x.test", None).await;
        assert!(l.locked("ada@x.test", None).await.unwrap() > Duration::from_secs(115));
        for _ in 0..10 {
            l.failed("ada@x.test", None).await;
        }
        assert!(l.locked("ada@x.test", None).await.unwrap() <= Duration::from_secs(240), "capped");
        // Another user is not affected.
        assert_eq!(l.locked("bob@x.test", None).await, None);
    }

    #[tokio::test]
    async fn an_address_locks_across_user_names() {
        let l = small();
        for i in 0..5 {
            l.failed(&format!("u{i}@x.test"), Some("10.0.0.1")).await;
        }
        assert!(l.locked("new@x.test", Some("10.0.0.1")).await.is_some());
        assert_eq!(l.locked("new@x.test", Some("10.0.0.2")).await, None);
    }

    #[tokio::test]
    async fn success_clears_the_user() {
        let l = small();
        l.failed("ada@x.test", None).await;
        l.failed("ada@x.test", None).await;
        l.succeeded("ada@x.test").await;
        l.failed("ada@x.test", None).await;
        assert_eq!(l.locked("ada@x.test", None).await, None);
    }
}
