//! [`SqlStore`]: the store logic, written once over a [`Backend`]. Every write runs in one
//! transaction that first bumps the mailbox's change counter; that row lock serialises a
//! mailbox's writers on PostgreSQL (SQLite has a single writer for all), so read-modify-write
//! never loses an update.

mod bulk;
mod card_update;
mod categories;
mod changes;
mod contact_parts;
mod contacts;
mod dav;
mod directory;
mod directory_version;
mod emulator;
mod fleet;
mod folders;
mod groups;
mod import;
mod items;
mod notifications;
mod planner;
mod runs;
mod schema;
mod sharing;
mod tasks;
mod versioned;

// Each role file starts with `use super::*`: it gets the shared vocabulary imported below, the
// helpers more than one role uses (these globs), and `bump`, `tombstone` and `SqlStore::write`.
pub(crate) use self::directory::bump_directory;
use self::{
    contact_parts::*, contacts::*, directory::*, folders::*, items::item_table, planner::*, runs::*, versioned::*,
};

use async_trait::async_trait;
use rolo_domain::category::OutlookCategory;
use rolo_domain::contact::StoredContact;
use rolo_domain::extension::OpenExtension;
use rolo_domain::folder::{DEFAULT_FOLDER_NAME, DEFAULT_FOLDER_WELL_KNOWN};
use rolo_domain::ids::{change_key, new_guid};
use rolo_domain::schema::{SchemaExtension, MAX_PER_OWNER};
use rolo_domain::subscription::{self, Subscription};
use rolo_domain::{
    Contact, ContactData, ContactFolder, ContactId, ErrorKind, FolderChanges, FolderId, GraphError, GraphResult,
};

use crate::outbox::{self, Change, OutboxDepth, OutboxItem, OUTBOX_COLUMNS};
use crate::query::{fold, Compiler, Cursor, Entity, ListQuery, Page};
use crate::sql::{Backend, Dialect, Row, Sql, Value};
use crate::{
    Categories, ChangeState, ChangeType, Changes, ContactEdit, Contacts, DeltaItem, DeltaPage, DeltaQuery, DeltaScope,
    Directory, Emulator, FolderPermission, Folders, Grants, Interaction, ItemEdit, Items, Mailbox, MailboxKind,
    Notifications, PhotoOwner, RegisteredApp, SchemaEdit, SchemaExtensions, Scope, Sharing, StoredPhoto,
    SubscriptionEdit, Tasks, TombstoneKind, User, UserStanding,
};
use rolo_domain::mail::{self, Item, ItemKind, MailFolder};
use rolo_domain::Grant;

pub struct SqlStore {
    pub(crate) backend: Box<dyn Backend>,
    contact_columns: String,
    doc_param: &'static str,
    /// The directory's version as last read, for the per-request check (`directory_version.rs`).
    directory: directory_version::DirectoryVersion,
    contact_insert: ContactInsert,
    /// A CardDAV create's statement (`dav::card_insert`).
    card_insert: ContactInsert,
    /// The list planner's recent verdicts: density probes and surname initials (`planner.rs`).
    plan_verdicts: planner::PlanVerdicts,
    /// A CardDAV replacement's statements (PostgreSQL: `card_update`).
    card_update: Option<card_update::CardUpdate>,
}

/// Bumps the mailbox's change counter inside the write transaction and returns the new value.
async fn bump(tx: &mut dyn Sql, mailbox: &Mailbox) -> GraphResult<i64> {
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET change_seq = change_seq + 1 WHERE mailbox_id = ? RETURNING change_seq",
            &[mailbox.id.as_str().into()],
        )
        .await?;
    bumped(tx, mailbox, row)
}

fn bumped(tx: &mut dyn Sql, mailbox: &Mailbox, row: Option<Row>) -> GraphResult<i64> {
    let row = row.ok_or_else(|| {
        GraphError::new(
            ErrorKind::NotFound,
            "MailboxNotEnabledForRESTAPI",
            "REST API is not yet supported for this mailbox.",
        )
    })?;
    let seq = row.int("change_seq").ok_or_else(|| GraphError::internal("change_seq is not an integer"))?;
    tx.wrote_mailbox(&mailbox.id, seq);
    Ok(seq)
}

/// What a create learns from its first statement.
struct BumpForCreate {
    seq: i64,
    /// The target folder exists.
    folder_found: bool,
    /// The mailbox has live subscriptions (so `outbox::notify` has work).
    subscribed: bool,
}

/// [`bump`], and in the same statement (one round trip on PostgreSQL instead of three) whether
/// `folder` exists and whether the mailbox has a live subscription. Both are read after the
/// counter's row lock is taken, as the separate queries were.
async fn bump_for_create(tx: &mut dyn Sql, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<BumpForCreate> {
    let mb: Value = mailbox.id.as_str().into();
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET change_seq = change_seq + 1 WHERE mailbox_id = ? RETURNING change_seq, \
             CASE WHEN EXISTS (SELECT 1 FROM folders WHERE mailbox_id = ? AND id = ?) THEN 1 ELSE 0 END AS folder_found, \
             CASE WHEN EXISTS (SELECT 1 FROM subscriptions WHERE mailbox_id = ? AND expires_at > ?) THEN 1 ELSE 0 END \
             AS subscribed",
            &[
                mb.clone(),
                mb.clone(),
                folder.as_str().into(),
                mb,
                rolo_domain::time::now_utc().into(),
            ],
        )
        .await?;
    let flags = row.as_ref().map(|r| (r.int("folder_found") == Some(1), r.int("subscribed") == Some(1)));
    let seq = bumped(tx, mailbox, row)?;
    let (folder_found, subscribed) = flags.unwrap_or_default();
    Ok(BumpForCreate { seq, folder_found, subscribed })
}

/// Records that an item left a scope (a folder id, or `*` for the mailbox) at `seq`.
async fn tombstone(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    kind: TombstoneKind,
    scope: &str,
    item: &str,
    seq: i64,
) -> GraphResult<()> {
    tx.execute(
        "INSERT INTO tombstones (mailbox_id, kind, scope_id, item_id, seq, removed_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (mailbox_id, kind, scope_id, item_id) DO UPDATE SET seq = excluded.seq, removed_at = excluded.removed_at",
        &[
            mailbox.id.as_str().into(),
            kind.code().into(),
            scope.into(),
            item.into(),
            seq.into(),
            rolo_domain::time::now_utc().into(),
        ],
    )
    .await?;
    Ok(())
}

impl SqlStore {
    /// ` FOR UPDATE` on PostgreSQL, where a read-modify-write must lock the row it reads (SQLite's
    /// single writer already serialises it).
    pub(super) fn row_lock(&self) -> &'static str {
        self.backend.dialect().row_lock()
    }

    pub fn new(backend: Box<dyn Backend>) -> SqlStore {
        let d = backend.dialect();
        let contact_columns =
            format!("t.id, t.folder_id, t.change_key, t.created_at, t.modified_at, {}", d.doc_select("t.doc"));
        SqlStore {
            contact_columns,
            doc_param: d.doc_param(),
            contact_insert: ContactInsert::new(d),
            card_insert: dav::card_insert(d),
            card_update: card_update::CardUpdate::new(d),
            backend,
            directory: Default::default(),
            plan_verdicts: Default::default(),
        }
    }

    /// Runs `f` in a write transaction and returns its result once that is committed (on SQLite
    /// the transaction may be shared with other writers queued at the same moment: see
    /// `backend/sqlite.rs`). On failure nothing `f` wrote is kept.
    pub(crate) async fn write<T, F>(&self, f: F) -> GraphResult<T>
    where
        F: for<'a> FnOnce(
                &'a mut dyn Sql,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<T>> + Send + 'a>>
            + Send
            + 'static,
        T: Send + 'static,
    {
        self.write_to(None, f).await
    }

    /// As [`SqlStore::write`] for a write whose first statement is `bump` of `mailbox` (contact
    /// writes): on PostgreSQL it may share a transaction with the mailbox's other queued writes
    /// (`Backend::run_mailbox_write`).
    pub(crate) async fn write_in<T, F>(&self, mailbox: &Mailbox, f: F) -> GraphResult<T>
    where
        F: for<'a> FnOnce(
                &'a mut dyn Sql,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<T>> + Send + 'a>>
            + Send
            + 'static,
        T: Send + 'static,
    {
        self.write_to(Some(mailbox.id.as_str()), f).await
    }

    async fn write_to<T, F>(&self, mailbox: Option<&str>, f: F) -> GraphResult<T>
    where
        F: for<'a> FnOnce(
                &'a mut dyn Sql,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<T>> + Send + 'a>>
            + Send
            + 'static,
        T: Send + 'static,
    {
        // The job only reports success; its value waits here until the commit has happened.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(None));
        let out = slot.clone();
        let job: crate::sql::WriteJob = Box::new(move |tx| {
            Box::pin(async move {
                let value = f(tx).await?;
                *out.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
                Ok(())
            })
        });
        match mailbox {
            Some(mailbox) => self.backend.run_mailbox_write(mailbox, job).await?,
            None => self.backend.run_write(job).await?,
        }
        let value = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        value.ok_or_else(|| GraphError::internal("a committed write left no result"))
    }

    /// [`SqlStore::write`] for a write that changes the directory (it calls `bump_directory`):
    /// once it is over, the remembered directory version is retired, so this process's next
    /// request sees the change.
    pub(crate) async fn write_directory<T, F>(&self, f: F) -> GraphResult<T>
    where
        F: for<'a> FnOnce(
                &'a mut dyn Sql,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<T>> + Send + 'a>>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let out = self.write(f).await;
        self.directory.written();
        out
    }
}
