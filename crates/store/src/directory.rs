//! The storage role `Directory`.

use async_trait::async_trait;
use rolo_domain::GraphResult;

use crate::{RegisteredApp, User, UserStanding};

/// The directory: users and their mailboxes, installation settings, and the identity platform's
/// registered applications and password hashes.
#[async_trait]
pub trait Directory: Send + Sync {
    async fn create_user(&self, upn: &str, display_name: &str) -> GraphResult<User> {
        self.create_user_with_id(&rolo_domain::ids::new_guid(), upn, display_name).await
    }
    /// As `create_user`, with a chosen object id (the emulator's well-known users keep theirs).
    async fn create_user_with_id(&self, id: &str, upn: &str, display_name: &str) -> GraphResult<User>;
    /// Creates users, given as (user principal name, display name), in one transaction: all or
    /// none (a name already taken, or repeated in `users`, fails the batch). For loading a whole
    /// organisation (`rolo users add --from`), where a transaction per user would cost a commit each.
    async fn create_users(&self, users: &[(String, String)]) -> GraphResult<Vec<User>>;
    async fn list_users(&self) -> GraphResult<Vec<User>>;
    /// Finds a user by object id or by user principal name (case-insensitive).
    async fn find_user(&self, id_or_upn: &str) -> GraphResult<Option<User>>;
    /// Returns the stored value, storing `value` first if there is none (first writer wins).
    async fn setting_or_insert(&self, name: &str, value: &str) -> GraphResult<String>;
    /// Stores `value`, replacing any (`rolo keys rotate`).
    async fn replace_setting(&self, name: &str, value: &str) -> GraphResult<()>;
    /// A value that changes whenever the directory does (users added, mailbox kinds changed).
    /// A store may answer from memory: its own directory writes are seen at once, another
    /// process's within half a second (`sql_store/directory_version.rs`).
    async fn directory_version(&self) -> GraphResult<String>;

    // Users' lifecycle (the SQL is in `lifecycle.rs`).
    /// Disables (refusing sign-in, revoking refresh tokens) or enables a user; false when there
    /// is no such user.
    async fn set_user_disabled(&self, user_id: &str, disabled: bool) -> GraphResult<bool>;
    async fn user_standing(&self, user_id: &str) -> GraphResult<Option<UserStanding>>;
    /// Deletes a user and everything of its mailbox, and the grants it held on others' mailboxes;
    /// false when there is no such user.
    async fn remove_user(&self, user_id: &str) -> GraphResult<bool>;

    // The identity platform: registered applications and users' password hashes.
    /// Registers an application; its client id must be new.
    async fn create_app(&self, app: &RegisteredApp) -> GraphResult<()>;
    async fn find_app(&self, client_id: &str) -> GraphResult<Option<RegisteredApp>>;
    async fn list_apps(&self) -> GraphResult<Vec<RegisteredApp>>;
    /// Replaces a registered app's settings (name, roles, secret hash, redirect URIs,
    /// certificate; the client id, service principal and creation time stay); false when there
    /// is no such app.
    async fn update_app(&self, app: &RegisteredApp) -> GraphResult<bool>;
    /// Deletes a registered app with its admin consents and its access policy; false when there
    /// is no such app.
    async fn delete_app(&self, client_id: &str) -> GraphResult<bool>;
    /// Sets (or replaces) a user's password hash; an unknown user is `ErrorInvalidUser`.
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> GraphResult<()>;
    async fn password_hash(&self, user_id: &str) -> GraphResult<Option<String>>;
}
