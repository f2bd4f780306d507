//! The storage role `Emulator`.

use async_trait::async_trait;
use rolo_domain::GraphResult;

/// The emulator's state controls. Not part of [`crate::Store`]: only the emulator's admin doors
/// reach them, through the concrete store they were given.
#[async_trait]
pub trait Emulator: Send + Sync {
    /// Empties every state table (users and their mailboxes included); the installation's
    /// identity stays.
    async fn wipe(&self) -> GraphResult<()>;
    /// Makes every delta token issued so far invalid: their next use gets 410.
    async fn expire_delta_tokens(&self) -> GraphResult<()>;
    /// Writes the whole state to a new SQLite file at `path` (SQLite only).
    async fn snapshot_to(&self, path: &std::path::Path) -> GraphResult<()>;
    /// Replaces the whole state with a snapshot's (SQLite only).
    async fn restore_from(&self, path: &std::path::Path) -> GraphResult<()>;
}
