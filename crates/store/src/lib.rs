//! Storage for Rolo: the [`Store`] trait the HTTP layer depends on, the sum of one trait per
//! role ([`Directory`], [`Folders`], [`Contacts`], [`Categories`], [`Changes`],
//! [`SchemaExtensions`], [`Notifications`], [`Sharing`], [`Items`], [`Tasks`], [`Groups`], [`Consents`],
//! [`Fleet`]), and
//! [`SqlStore`], their one implementation over either database backend (SQLite or PostgreSQL),
//! one file per role under `sql_store/`. The store logic is written once against
//! [`sql::Backend`]; a backend only runs SQL. The emulator's state controls ([`Emulator`]) are
//! not part of [`Store`].

pub mod backend;
pub mod categories;
pub mod changes;
pub mod consent;
pub mod contacts;
pub mod dav;
pub mod directory;
pub mod emulator;
pub mod fleet;
pub mod folders;
pub mod groups;
pub mod import;
pub mod items;
mod lifecycle;
pub mod migrations;
mod names;
pub mod notifications;
pub mod operations;
pub mod outbox;
mod paging;
pub mod query;
pub mod schema_extensions;
mod search_index;
#[cfg(test)]
mod sharding;
pub mod sharing;
pub mod signin;
pub mod snapshot;
pub mod sql;
pub(crate) mod sql_store;
pub mod tasks;

use rolo_domain::contact::StoredContact;
use rolo_domain::mail::Item;
use rolo_domain::schema::SchemaExtension;
use rolo_domain::subscription::Subscription;
use rolo_domain::{ContactData, ContactFolder, ContactId, FolderId, Grant, GraphResult};

pub use categories::Categories;
pub use changes::{Changes, TombstoneKind};
pub use consent::{Consents, PermissionGrant};
pub use contacts::Contacts;
pub use dav::{AppPassword, CardOutcome, CardWrite, DavState, MovedFrom, NameLookup, NamedFolder};
pub use directory::Directory;
pub use emulator::Emulator;
pub use fleet::{Fleet, RequestCount, SharedVersions};
pub use folders::Folders;
pub use groups::{Groups, NewGroup, PostAuthor};
pub use import::{BatchCounts, ContactImport, ImportItem, ImportOutcome, MailboxBatch};
pub use items::Items;
pub use notifications::Notifications;
pub use operations::{Operations, PoolStatus, ReplicaReads};
pub use outbox::{OutboxDepth, OutboxItem, OutboxPayload, RichContent};
pub use query::{Cursor, Entity, ListQuery, Page};
pub use schema_extensions::SchemaExtensions;
pub use sharing::Sharing;
pub use signin::{DeviceCode, DeviceStatus, Rotation, SignIns};
pub use sql_store::SqlStore;
pub use tasks::Tasks;

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
    /// A Microsoft 365 group's mailbox: reached through `/groups/{id}`, never as a user.
    Group,
}

impl MailboxKind {
    pub fn code(self) -> i64 {
        match self {
            MailboxKind::User => 0,
            MailboxKind::Shared => 1,
            MailboxKind::Archive => 2,
            MailboxKind::Group => 3,
        }
    }

    pub fn from_code(code: i64) -> MailboxKind {
        match code {
            1 => MailboxKind::Shared,
            2 => MailboxKind::Archive,
            3 => MailboxKind::Group,
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
    /// Where the authorization endpoint may send codes: matched exactly, except that a loopback
    /// URI (`http://localhost/...`, `http://127.0.0.1/...`) matches on any port.
    pub redirect_uris: Vec<String>,
    /// The certificate (PEM) the app signs client assertions with, if it registered one.
    pub certificate: Option<String>,
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
    /// The tasks of one To Do list.
    ListTasks(String),
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
    /// Its document unparsed: a delta page renders it as lists do ([`StoredContact::parse`] for
    /// anything else).
    Contact(Box<StoredContact>),
    Folder(ContactFolder),
    Task(Box<Item>),
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

/// Everything the service stores, as the sum of its roles (each implemented by [`SqlStore`]).
/// Errors are already Graph errors. Callers bring the roles' methods into scope with
/// `use rolo_store::prelude::*`.
pub trait Store:
    Directory
    + Folders
    + Contacts
    + Categories
    + Changes
    + SchemaExtensions
    + Notifications
    + Sharing
    + Items
    + Tasks
    + Groups
    + Consents
    + SignIns
    + Operations
    + Fleet
    + ContactImport
    + DavState
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: Directory
        + Folders
        + Contacts
        + Categories
        + Changes
        + SchemaExtensions
        + Notifications
        + Sharing
        + Items
        + Tasks
        + Groups
        + Consents
        + SignIns
        + Operations
        + Fleet
        + ContactImport
        + DavState
        + Send
        + Sync
        + 'static
{
}

/// The role traits, for callers of [`Store`]'s methods.
pub mod prelude {
    pub use crate::{
        Categories, Changes, Consents, ContactImport, Contacts, DavState, Directory, Emulator, Fleet, Folders, Groups,
        Items, Notifications, Operations, SchemaExtensions, Sharing, SignIns, Store, Tasks,
    };
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
        Box::new(backend::postgres::PostgresBackend::connect(url, options.max_connections, &options.replicas).await?)
    } else if !options.replicas.is_empty() {
        return Err(rolo_domain::GraphError::internal(
            "read replicas (--database-replica) need a PostgreSQL --database".to_owned(),
        ));
    } else {
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        Box::new(backend::sqlite::SqliteBackend::open(std::path::Path::new(path), options.full_sync)?)
    };
    migrations::migrate(backend.as_ref()).await?;
    search_index::backfill(backend.as_ref()).await?;
    Ok(SqlStore::new(backend))
}

#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// PostgreSQL pool size.
    pub max_connections: usize,
    /// SQLite `synchronous=FULL` (survives power loss) instead of `NORMAL` (survives crashes).
    pub full_sync: bool,
    /// PostgreSQL hot standbys (`postgres://` URLs) that serve mailbox reads; each gets a pool
    /// of `max_connections`.
    pub replicas: Vec<String>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { max_connections: 16, full_sync: false, replicas: Vec::new() }
    }
}
