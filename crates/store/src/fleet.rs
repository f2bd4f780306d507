//! What the processes of a fleet share through their one database beyond the data itself:
//! request counts for throttling and failed sign-ins for the lockout (on PostgreSQL, when no
//! Redis is configured), and the versions
//! of the state that processes cache (the directory, the signing key, the emulator's settings),
//! which each process polls to drop what another changed.

use async_trait::async_trait;
use rolo_domain::GraphResult;

/// The settings rows whose values processes cache; each change is seen by every process at its
/// next poll.
pub const SIGNING_KEY_SETTING: &str = "signing_key_es256_pkcs8";
/// The emulator's run-time switches (throttling, injected faults, limits), as JSON.
pub const EMULATOR_SETTINGS_SETTING: &str = "emulator_settings";

/// The cached state's versions, as stored now. Empty strings for rows not written yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedVersions {
    /// Changes with every user added, disabled, removed or re-kinded.
    pub directory: String,
    /// The signing key itself (PKCS#8, base64): a rotation changes it.
    pub signing_key: String,
    /// The emulator's settings document.
    pub emulator_settings: String,
}

/// A pair's request count in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCount {
    /// Requests counted in the window, this one included.
    pub count: u64,
    /// Milliseconds the window has left.
    pub window_left_ms: i64,
}

#[async_trait]
pub trait Fleet: Send + Sync {
    /// Whether several processes may share this database, so counting in it holds a limit for
    /// all of them (PostgreSQL; a SQLite file is served by one process).
    fn shared_by_processes(&self) -> bool;

    /// Adds `requests` (at least one) to the count of `app` on `mailbox` in a window of
    /// `window_ms` that starts at the pair's first request (as the in-process counter's does),
    /// and returns the count so far.
    async fn count_requests(
        &self,
        app: &str,
        mailbox: &str,
        requests: u64,
        window_ms: i64,
    ) -> GraphResult<RequestCount>;

    /// Forgets the request counts whose windows started at or before `started_before_ms`
    /// (milliseconds since the epoch): a window that has run out restarts at its next request
    /// anyway, so its row only takes room. Returns how many went.
    async fn prune_request_counts(&self, started_before_ms: i64) -> GraphResult<u64>;

    /// Counts a failed sign-in against `key` (a user name or a client address) at `now_ms` and
    /// returns the failures so far: a key whose last failure is `window_ms` old or older and
    /// that is not locked starts again at one. One statement, so processes failing the same
    /// key at once each count.
    async fn signin_failed(&self, key: &str, now_ms: i64, window_ms: i64) -> GraphResult<u32>;

    /// Locks `key` until `until_ms` unless it is locked longer already.
    async fn lock_signin(&self, key: &str, until_ms: i64) -> GraphResult<()>;

    /// The latest end of a lock in force on any of `keys` (milliseconds since the epoch), if any.
    async fn signin_locked_until(&self, keys: &[String]) -> GraphResult<Option<i64>>;

    /// Forgets `key`'s failures and lock (a successful sign-in of the user).
    async fn clear_signin(&self, key: &str) -> GraphResult<()>;

    /// Forgets keys whose last failure is before `failed_before_ms` and whose lock is over at
    /// `now_ms`. Returns how many went.
    async fn prune_signin_failures(&self, failed_before_ms: i64, now_ms: i64) -> GraphResult<u64>;

    /// The versions of the state processes cache, in one read.
    async fn shared_versions(&self) -> GraphResult<SharedVersions>;
}

/// Milliseconds since the epoch: the clock the shared counts' rows are written in (every process
/// of a fleet reads the same wall clock, give or take its synchronisation).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
