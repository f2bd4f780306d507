//! The storage role `Sharing`.

use async_trait::async_trait;
use rolo_domain::{FolderId, Grant, GraphResult};

use crate::{FolderPermission, Grants, Mailbox, MailboxKind, User};

/// Sharing, delegation, shared mailboxes and application access policies.
#[async_trait]
pub trait Sharing: Send + Sync {
    /// Marks a user's mailbox as a shared mailbox (nobody signs in as it) or an archive.
    async fn set_mailbox_kind(&self, user_id: &str, kind: MailboxKind) -> GraphResult<()>;
    async fn mark_shared_mailbox(&self, user_id: &str) -> GraphResult<()> {
        self.set_mailbox_kind(user_id, MailboxKind::Shared).await
    }
    async fn is_shared_mailbox(&self, user_id: &str) -> GraphResult<bool>;
    /// What `grantee` holds on `mailbox`.
    async fn grants_of(&self, mailbox: &Mailbox, grantee: &str) -> GraphResult<Grants>;
    /// Sets (or, with `None`, removes) a whole-mailbox grant.
    async fn set_mailbox_grant(&self, mailbox: &Mailbox, grantee: &str, grant: Option<Grant>) -> GraphResult<()>;
    /// Everyone holding a whole-mailbox grant on `mailbox` (delegates, a shared mailbox's
    /// members), by principal name.
    async fn mailbox_grantees(&self, mailbox: &Mailbox) -> GraphResult<Vec<(User, Grant)>>;
    async fn folder_permissions(&self, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<Vec<FolderPermission>>;
    /// Shares a folder; a user already holding a grant on it is `409`.
    async fn add_folder_permission(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        grantee: &User,
        grant: Grant,
    ) -> GraphResult<FolderPermission>;
    async fn update_folder_permission(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        id: &str,
        grant: Grant,
    ) -> GraphResult<FolderPermission>;
    async fn delete_folder_permission(&self, mailbox: &Mailbox, folder: &FolderId, id: &str) -> GraphResult<()>;
    /// Whether an app's access policy lets it reach `user_id`'s mailbox (no policy: any).
    async fn app_may_access(&self, app_id: &str, user_id: &str) -> GraphResult<bool>;
    /// Adds `user_id` to an app's access policy (or removes it, with `allow = false`).
    async fn restrict_app(&self, app_id: &str, user_id: &str, allow: bool) -> GraphResult<()>;
    /// The users an app's access policy lists, sorted (empty: no policy, every mailbox).
    async fn app_policy(&self, app_id: &str) -> GraphResult<Vec<String>>;
}
