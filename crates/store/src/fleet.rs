//! What the processes of a fleet share through their one database beyond the data itself:
//! request counts for throttling (on PostgreSQL, when no Redis is configured), and the versions
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

    /// Counts one request of `app` on `mailbox` in a window of `window_ms` that starts at the
    /// pair's first request (as the in-process counter's does), and returns the count so far.
    async fn count_request(&self, app: &str, mailbox: &str, window_ms: i64) -> GraphResult<RequestCount>;

    /// The versions of the state processes cache, in one read.
    async fn shared_versions(&self) -> GraphResult<SharedVersions>;
}
