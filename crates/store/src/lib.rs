//! Storage for Rolo: the [`Store`] trait the HTTP layer depends on, and [`SqlStore`], its one
//! implementation over either database backend (SQLite or PostgreSQL). The store logic is
//! written once against [`sql::Backend`]; a backend only runs SQL.

pub mod backend;
pub mod consent;
pub mod import;
mod lifecycle;
pub mod migrations;
mod names;
pub mod outbox;
mod paging;
pub mod query;
pub mod snapshot;
pub mod sql;
mod store;

use async_trait::async_trait;
use rolo_domain::category::OutlookCategory;
use rolo_domain::extension::OpenExtension;
use rolo_domain::mail::{Item, ItemKind};
use rolo_domain::schema::SchemaExtension;
use rolo_domain::subscription::Subscription;
use rolo_domain::{Contact, ContactData, ContactFolder, ContactId, FolderChanges, FolderId, Grant, GraphResult};

pub use consent::{Consents, PermissionGrant};
pub use import::{ContactImport, ImportItem, ImportOutcome};
pub use outbox::OutboxItem;
pub use query::{Cursor, Entity, ListQuery, Page};
pub use store::SqlStore;

/// A directory user and the handles of their mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub mailbox: Mailbox,
    pub kind: MailboxKind,
    /// Disabled: the user cannot sign in and its tokens are refused (`rolo users disable`).
    pub disabled: bool,
}

/// What decides whether a user may sign in, read fresh from the database (never from a cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserStanding {
    pub disabled: bool,
    /// Bumped each time the user is disabled: refresh tokens from an earlier epoch are revoked.
    pub token_epoch: i64,
}

/// What kind of mailbox a directory object has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailboxKind {
    /// A user's own mailbox.
    #[default]
    User,
    /// A shared mailbox: nobody signs in as it; members reach it with grants.
    Shared,
    /// An in-place archive: Graph does not serve archives.
    Archive,
}

impl MailboxKind {
    pub fn code(self) -> i64 {
        match self {
            MailboxKind::User => 0,
            MailboxKind::Shared => 1,
            MailboxKind::Archive => 2,
        }
    }

    pub fn from_code(code: i64) -> MailboxKind {
        match code {
            1 => MailboxKind::Shared,
            2 => MailboxKind::Archive,
            _ => MailboxKind::User,
        }
    }
}

/// A mailbox: keyed by its owner's id, with its well-known folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub id: String,
    pub root_folder_id: FolderId,
    pub default_folder_id: FolderId,
}

/// An application registered with Rolo's identity platform, which may get app-only tokens
/// with its client id and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredApp {
    /// The application (client) id, a GUID.
    pub client_id: String,
    pub display_name: String,
    /// The object id of the app's service principal: the `oid`/`sub` of its app-only tokens.
    pub service_principal_id: String,
    /// The application permissions granted to it (`roles`), e.g. `Contacts.Read`.
    pub roles: Vec<String>,
    /// A salted hash of the client secret (never the secret); empty for a public client.
    pub secret_hash: String,
    pub created_at: String,
    /// A public client (a SPA, a desktop or mobile app) holds no secret, so it may not use the
    /// grants that need one (client credentials).
    pub public_client: bool,
}

/// Which folders a contact lookup may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Any folder of the mailbox (`/me/contacts/{id}` finds a contact wherever it is filed).
    Mailbox,
    Folder(FolderId),
}

/// Whose photo: a contact's, or the mailbox owner's own (the user photo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoOwner {
    Contact(ContactId, Scope),
    User,
}

impl PhotoOwner {
    pub(crate) fn key(&self) -> &str {
        match self {
            PhotoOwner::Contact(id, _) => id.as_str(),
            PhotoOwner::User => "user",
        }
    }
}

/// One stored rendition of a photo: `size` is [`ORIGINAL_SIZE`] or a standard edge length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPhoto {
    pub size: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub etag: String,
    /// Empty when only the metadata was read.
    pub bytes: Vec<u8>,
}

pub const ORIGINAL_SIZE: &str = "original";

/// What a delta round tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaScope {
    /// The contacts of one folder (Graph's per-folder contact delta).
    FolderContacts(FolderId),
    /// Every contact of the mailbox, whatever its folder (a Rolo extension).
    MailboxContacts,
    /// Every contact folder of the mailbox.
    Folders,
}

/// Which changes a round reports (Graph's `changeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Created,
    Updated,
    Deleted,
}

/// One page of a delta round: changes with sequence numbers in `(since, upto]`, after `after`.
#[derive(Debug, Clone)]
pub struct DeltaQuery {
    pub scope: DeltaScope,
    pub since: i64,
    pub upto: i64,
    /// The last `(sequence, id)` served in this round.
    pub after: Option<(i64, String)>,
    pub page_size: usize,
    pub change_type: Option<ChangeType>,
    /// A page ends early once its live items hold this many bytes (at least one item).
    pub max_bytes: Option<usize>,
}

#[derive(Debug, Clone)]
pub enum DeltaItem {
    Contact(Box<Contact>),
    Folder(ContactFolder),
    Removed(String),
}

#[derive(Debug, Clone)]
pub struct DeltaPage {
    /// Each item with the `(sequence, id)` it was ordered by.
    pub items: Vec<((i64, String), DeltaItem)>,
    pub more: bool,
}

/// A mailbox's change counter now, and the oldest sequence a delta token may still start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeState {
    pub current: i64,
    pub floor: i64,
}

/// A change to apply to a contact inside the store's transaction, so read-modify-write is
/// atomic: returns the folder to move the contact to, if any.
pub type ContactEdit = Box<dyn FnOnce(&mut ContactData) -> GraphResult<Option<FolderId>> + Send>;

/// Everything the service stores. Errors are already Graph errors.
#[async_trait]
pub trait Store: Consents + ContactImport + Send + Sync + 'static {
    // Directory and settings.
    async fn create_user(&self, upn: &str, display_name: &str) -> GraphResult<User> {
        self.create_user_with_id(&rolo_domain::ids::new_guid(), upn, display_name).await
    }
    /// As `create_user`, with a chosen object id (the emulator's well-known users keep theirs).
    async fn create_user_with_id(&self, id: &str, upn: &str, display_name: &str) -> GraphResult<User>;
    async fn list_users(&self) -> GraphResult<Vec<User>>;
    /// Finds a user by object id or by user principal name (case-insensitive).
    async fn find_user(&self, id_or_upn: &str) -> GraphResult<Option<User>>;
    /// Returns the stored value, storing `value` first if there is none (first writer wins).
    async fn setting_or_insert(&self, name: &str, value: &str) -> GraphResult<String>;
    /// Stores `value`, replacing any (`rolo keys rotate`).
    async fn replace_setting(&self, name: &str, value: &str) -> GraphResult<()>;
    /// A value that changes whenever the directory does (users added, mailbox kinds changed).
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
    /// Sets (or replaces) a user's password hash; an unknown user is `ErrorInvalidUser`.
    async fn set_password_hash(&self, user_id: &str, hash: &str) -> GraphResult<()>;
    async fn password_hash(&self, user_id: &str) -> GraphResult<Option<String>>;

    // Contact folders.
    async fn get_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<Option<ContactFolder>>;
    async fn list_folders(
        &self,
        mailbox: &Mailbox,
        parent: &FolderId,
        query: &ListQuery,
    ) -> GraphResult<Page<ContactFolder>>;
    async fn create_folder(&self, mailbox: &Mailbox, parent: &FolderId, name: &str) -> GraphResult<ContactFolder>;
    async fn update_folder(
        &self,
        mailbox: &Mailbox,
        id: &FolderId,
        changes: &FolderChanges,
    ) -> GraphResult<ContactFolder>;
    /// Deletes a folder with its child folders and every contact in them.
    async fn delete_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<()>;

    // Contacts.
    async fn get_contact(&self, mailbox: &Mailbox, id: &ContactId, scope: &Scope) -> GraphResult<Option<Contact>>;
    /// Lists the contacts of one folder, or of the whole mailbox (beta's `/me/contacts`).
    async fn list_contacts(&self, mailbox: &Mailbox, scope: &Scope, query: &ListQuery) -> GraphResult<Page<Contact>>;
    async fn create_contact(&self, mailbox: &Mailbox, folder: &FolderId, data: ContactData) -> GraphResult<Contact> {
        self.create_contact_with_extensions(mailbox, folder, data, Vec::new()).await
    }
    /// Creates a contact and its open extensions in one transaction.
    async fn create_contact_with_extensions(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        data: ContactData,
        extensions: Vec<OpenExtension>,
    ) -> GraphResult<Contact>;
    /// Applies `edit` atomically; `if_match` holds the change keys the client accepts.
    async fn update_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
        edit: ContactEdit,
    ) -> GraphResult<Contact>;
    async fn delete_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()>;

    // Photos.
    /// Replaces every rendition of a photo. A contact's photo change also gives the contact a new
    /// change key; a missing contact is `ErrorItemNotFound`.
    async fn put_photo(&self, mailbox: &Mailbox, owner: &PhotoOwner, renditions: Vec<StoredPhoto>) -> GraphResult<()>;
    /// The renditions' metadata (no bytes), the original first, then by size.
    async fn photo_metadata(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<Vec<StoredPhoto>>;
    /// One rendition with its bytes.
    async fn photo(&self, mailbox: &Mailbox, owner: &PhotoOwner, size: &str) -> GraphResult<Option<StoredPhoto>>;
    /// Removes a photo; false when there was none.
    async fn delete_photo(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<bool>;

    // Open extensions on contacts.
    /// The extensions of the given contacts (one query for a whole page).
    async fn extensions_of(
        &self,
        mailbox: &Mailbox,
        contacts: &[ContactId],
    ) -> GraphResult<Vec<(ContactId, OpenExtension)>>;
    /// Adds an extension; an existing name is `409 nameAlreadyExists`.
    async fn create_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        ext: OpenExtension,
        limits: rolo_domain::extension::ExtensionLimits,
    ) -> GraphResult<OpenExtension>;
    /// Merges `patch` into the named extension.
    async fn update_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        patch: OpenExtension,
        limits: rolo_domain::extension::ExtensionLimits,
    ) -> GraphResult<OpenExtension>;
    async fn delete_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        name: &str,
    ) -> GraphResult<()>;

    // The master category list.
    async fn list_categories(&self, mailbox: &Mailbox) -> GraphResult<Vec<OutlookCategory>>;
    async fn get_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<Option<OutlookCategory>>;
    /// A name already in the list (ignoring case) is `409 ErrorDuplicateCategory`.
    async fn create_category(&self, mailbox: &Mailbox, name: &str, color: &str) -> GraphResult<OutlookCategory>;
    async fn update_category_color(&self, mailbox: &Mailbox, id: &str, color: &str) -> GraphResult<OutlookCategory>;
    async fn delete_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<()>;

    // Change tracking.
    async fn change_state(&self, mailbox: &Mailbox) -> GraphResult<ChangeState>;
    /// A page of changes; its cost follows the number of changes, not the size of the scope.
    async fn delta(&self, mailbox: &Mailbox, query: &DeltaQuery) -> GraphResult<DeltaPage>;
    /// Drops tombstones removed before `before` (a timestamp) and raises each mailbox's floor.
    async fn compact_tombstones(&self, before: &str) -> GraphResult<u64>;

    // Schema extension definitions (tenant-wide).
    async fn list_schema_extensions(&self) -> GraphResult<Vec<SchemaExtension>>;
    async fn get_schema_extension(&self, id: &str) -> GraphResult<Option<SchemaExtension>>;
    /// An id already taken is `409`; an owner app may hold at most `schema::MAX_PER_OWNER`.
    async fn create_schema_extension(&self, ext: SchemaExtension) -> GraphResult<SchemaExtension>;
    /// Runs `edit` on the stored definition and saves it, atomically.
    async fn update_schema_extension(&self, id: &str, edit: SchemaEdit) -> GraphResult<SchemaExtension>;
    /// Deletes a definition after `check` accepts it.
    async fn delete_schema_extension(&self, id: &str, check: SchemaEdit) -> GraphResult<()>;

    // Change notifications.
    /// Stores a subscription; a mailbox holds at most `subscription::MAX_PER_MAILBOX` (403).
    async fn create_subscription(&self, sub: Subscription) -> GraphResult<Subscription>;
    async fn get_subscription(&self, id: &str) -> GraphResult<Option<Subscription>>;
    /// The live subscriptions of an app, in one mailbox or in all.
    async fn list_subscriptions(&self, app_id: &str, mailbox_id: Option<&str>) -> GraphResult<Vec<Subscription>>;
    async fn update_subscription(&self, id: &str, edit: SubscriptionEdit) -> GraphResult<Subscription>;
    async fn delete_subscription(&self, id: &str) -> GraphResult<()>;
    /// Marks a `reauthorizationRequired` challenge answered (the next one comes later).
    async fn reauthorize_subscription(&self, id: &str) -> GraphResult<()>;
    /// Claims up to `limit` due deliveries until `lease_until`; rows another worker holds are
    /// skipped.
    async fn claim_outbox(&self, limit: usize, lease_until: &str) -> GraphResult<Vec<OutboxItem>>;
    /// Delivered: the rows go.
    async fn ack_outbox(&self, ids: &[String]) -> GraphResult<()>;
    /// Not delivered: tried again at `due_at`.
    async fn retry_outbox(&self, ids: &[String], due_at: &str) -> GraphResult<()>;
    /// Given up on: the rows go, and each subscription concerned gets a `missed` lifecycle event.
    async fn give_up_outbox(&self, items: &[OutboxItem]) -> GraphResult<()>;
    /// Removes expired subscriptions (and their pending deliveries) and queues
    /// `reauthorizationRequired` for those expiring within the hour, at most every 15 minutes.
    async fn sweep_subscriptions(&self) -> GraphResult<u64>;

    // Sharing, delegation, shared mailboxes and application access policies.
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

    // Messages and events (the signals People ranks by). Every write also refreshes the
    // mailbox's `interactions` aggregate for the addresses it touches, in the same transaction.
    /// Stores a new message (in `folder`: inbox, drafts or sentitems) or event (`calendar`).
    async fn create_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: &str,
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> GraphResult<Item>;
    async fn get_item(&self, mailbox: &Mailbox, kind: ItemKind, id: &str) -> GraphResult<Option<Item>>;
    /// Lists a mailbox's messages (all, or one folder's) or events.
    async fn list_items(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: Option<&str>,
        query: &ListQuery,
    ) -> GraphResult<Page<Item>>;
    /// Applies `edit` atomically; `if_match` holds the change keys the client accepts.
    async fn update_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item>;
    async fn delete_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()>;
    /// Who the mailbox exchanged mail and meetings with: one row per address, most recent first.
    async fn interactions(&self, mailbox: &Mailbox) -> GraphResult<Vec<Interaction>>;
    /// Stores many items (each with its folder) in one transaction, for imports.
    async fn create_items(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        items: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> GraphResult<usize>;

    // The emulator's state controls.
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

/// A change to a message or event, applied inside the store's transaction.
pub type ItemEdit = Box<dyn FnOnce(&mut Item) -> GraphResult<()> + Send>;

/// What a mailbox's items say about one correspondent (an address, folded to lower case): how
/// often and how recently mail went to them, came from them, and met with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub address: String,
    /// The name the most recent item gave them.
    pub display_name: String,
    pub sent_count: i64,
    pub received_count: i64,
    pub meeting_count: i64,
    pub last_sent_at: Option<String>,
    pub last_received_at: Option<String>,
    pub last_meeting_at: Option<String>,
}

/// A user granted a folder of someone else's mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPermission {
    pub id: String,
    pub grantee: User,
    pub grant: Grant,
}

/// What one user holds on another's mailbox: a whole-mailbox grant and folder grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub mailbox: Option<Grant>,
    pub folders: Vec<(FolderId, Grant)>,
}

/// A change to a subscription, applied inside the store's transaction.
pub type SubscriptionEdit = Box<dyn FnOnce(&mut Subscription) -> GraphResult<()> + Send>;

/// A change to a schema extension definition, applied inside the store's transaction.
pub type SchemaEdit = Box<dyn FnOnce(&mut SchemaExtension) -> GraphResult<()> + Send>;

/// Opens the database named by `url`: a `postgres://` or `postgresql://` URL, a `sqlite:` URL,
/// or a file path for SQLite. Runs migrations.
pub async fn open(url: &str, options: &OpenOptions) -> GraphResult<SqlStore> {
    let backend: Box<dyn sql::Backend> = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Box::new(backend::postgres::PostgresBackend::connect(url, options.max_connections).await?)
    } else {
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        Box::new(backend::sqlite::SqliteBackend::open(std::path::Path::new(path), options.full_sync)?)
    };
    migrations::migrate(backend.as_ref()).await?;
    Ok(SqlStore::new(backend))
}

#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// PostgreSQL pool size.
    pub max_connections: usize,
    /// SQLite `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives crashes).
    pub full_sync: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { max_connections: 16, full_sync: false }
    }
}
