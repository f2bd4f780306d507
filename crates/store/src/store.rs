//! [`SqlStore`]: the store logic, written once over a [`Backend`]. Every write runs in one
//! transaction that first bumps the mailbox's change counter; that row lock serialises a
//! mailbox's writers on PostgreSQL (SQLite has a single writer for all), so read-modify-write
//! never loses an update.

use async_trait::async_trait;
use rolo_domain::category::OutlookCategory;
use rolo_domain::extension::OpenExtension;
use rolo_domain::folder::{DEFAULT_FOLDER_NAME, DEFAULT_FOLDER_WELL_KNOWN};
use rolo_domain::ids::{change_key, new_guid};
use rolo_domain::schema::{SchemaExtension, MAX_PER_OWNER};
use rolo_domain::subscription::{self, Subscription};
use rolo_domain::{
    Contact, ContactData, ContactFolder, ContactId, ErrorKind, FolderChanges, FolderId, GraphError, GraphResult,
};

use crate::outbox::{self, Change, OutboxItem, OUTBOX_COLUMNS};
use crate::query::{fold, Compiler, Cursor, Entity, ListQuery, Page};
use crate::sql::{Backend, Dialect, Row, Sql, Value};
use crate::{
    ChangeState, ChangeType, ContactEdit, DeltaItem, DeltaPage, DeltaQuery, DeltaScope, FolderPermission, Grants,
    Interaction, ItemEdit, Mailbox, MailboxKind, PhotoOwner, RegisteredApp, SchemaEdit, Scope, Store, StoredPhoto,
    SubscriptionEdit, User, UserStanding,
};
use rolo_domain::mail::{self, Item, ItemKind, MailFolder};
use rolo_domain::Grant;

pub struct SqlStore {
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) contact_columns: String,
    pub(crate) doc_param: &'static str,
}

/// How many rows, in list order, the SQLite density probe looks at (see `list_rows`).
const DENSE_PROBE_WINDOW: usize = 2000;

const USER_COLUMNS: &str = "u.id, u.upn, u.display_name, m.root_folder_id, m.default_folder_id, u.shared, u.disabled";
const FOLDER_COLUMNS: &str = "t.id, t.parent_id, t.display_name, t.well_known";

fn user_from(row: Row) -> User {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    let id = next().into_string();
    let (upn, name) = (next().into_string(), next().into_string());
    let (root, default) = (next().into_string(), next().into_string());
    User {
        user_principal_name: upn,
        display_name: name,
        mailbox: Mailbox {
            id: id.clone(),
            root_folder_id: FolderId::from_stored(root),
            default_folder_id: FolderId::from_stored(default),
        },
        kind: MailboxKind::from_code(next().as_i64().unwrap_or(0)),
        disabled: next().as_i64().unwrap_or(0) != 0,
        id,
    }
}

const APP_COLUMNS: &str =
    "client_id, display_name, service_principal_id, roles, secret_hash, created_at, public_client";

fn app_from(row: Row) -> RegisteredApp {
    let mut it = row.into_iter();
    let mut next = || it.next().map(Value::into_string).unwrap_or_default();
    RegisteredApp {
        client_id: next(),
        display_name: next(),
        service_principal_id: next(),
        roles: next().split_whitespace().map(str::to_owned).collect(),
        secret_hash: next(),
        created_at: next(),
        public_client: it.next().and_then(|v| v.as_i64()).unwrap_or(0) != 0,
    }
}

fn folder_from(row: Row) -> ContactFolder {
    let mut it = row.into_iter();
    ContactFolder {
        id: FolderId::from_stored(it.next().map(Value::into_string).unwrap_or_default()),
        parent_id: FolderId::from_stored(it.next().map(Value::into_string).unwrap_or_default()),
        display_name: it.next().map(Value::into_string).unwrap_or_default(),
        well_known_name: it.next().and_then(Value::into_opt_string),
    }
}

fn contact_from(row: Row) -> GraphResult<Contact> {
    let mut it = row.into_iter();
    let mut next = || it.next().map(Value::into_string).unwrap_or_default();
    let id = ContactId::from_stored(next());
    let folder_id = FolderId::from_stored(next());
    let change_key = next();
    let created = next();
    let modified = next();
    let doc = next();
    let data: ContactData = serde_json::from_str(&doc)
        .map_err(|e| GraphError::internal(format!("contact {id} has a corrupt document: {e}")))?;
    Ok(Contact { id, folder_id, change_key, created, modified, data })
}

/// The columns derived from a contact's data, in table order: the folded sort keys
/// (display_name_key, given_name_key, surname_key, company_name_key), `doc` and `fold_doc`.
pub(crate) fn derived_columns(d: &ContactData) -> GraphResult<[Value; 6]> {
    let k = |s: &Option<String>| Value::Text(s.as_deref().map(fold).unwrap_or_default());
    let (doc, fold_doc) = to_docs(d)?;
    Ok([k(&d.display_name), k(&d.given_name), k(&d.surname), k(&d.company_name), doc.into(), fold_doc.into()])
}

/// The stored document and its folded twin: every top-level string lower-cased, for
/// case-insensitive filtering and ordering on properties without a key column.
fn to_docs(d: &ContactData) -> GraphResult<(String, String)> {
    let value = serde_json::to_value(d).map_err(GraphError::internal)?;
    let folded: serde_json::Map<String, serde_json::Value> = value
        .as_object()
        .map(|o| {
            o.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), serde_json::Value::String(fold(s))))).collect()
        })
        .unwrap_or_default();
    let doc = serde_json::to_string(&value).map_err(GraphError::internal)?;
    let fold_doc = serde_json::to_string(&folded).map_err(GraphError::internal)?;
    Ok((doc, fold_doc))
}

fn if_match_ok(if_match: &Option<Vec<String>>, current: &str) -> bool {
    match if_match {
        None => true,
        Some(tags) => tags.iter().any(|t| t == "*" || t == current),
    }
}

/// Bumps the mailbox's change counter inside the write transaction and returns the new value.
pub(crate) async fn bump(tx: &mut dyn Sql, mailbox: &Mailbox) -> GraphResult<i64> {
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET change_seq = change_seq + 1 WHERE mailbox_id = ? RETURNING change_seq",
            &[mailbox.id.as_str().into()],
        )
        .await?
        .ok_or_else(|| {
            GraphError::new(
                ErrorKind::NotFound,
                "MailboxNotEnabledForRESTAPI",
                "REST API is not yet supported for this mailbox.",
            )
        })?;
    row.into_iter().next().and_then(|v| v.as_i64()).ok_or_else(|| GraphError::internal("change_seq is not an integer"))
}

/// Marks the directory as changed (a user added, a mailbox's kind changed, the state replaced):
/// caches of the directory compare this value instead of re-reading every user.
pub(crate) async fn bump_directory(tx: &mut dyn Sql) -> GraphResult<()> {
    tx.execute(
        "INSERT INTO settings (name, value) VALUES ('directory_version', ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[new_guid().into()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn folder_exists(tx: &mut dyn Sql, mailbox: &Mailbox, id: &FolderId) -> GraphResult<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM folders WHERE mailbox_id = ? AND id = ?",
            &[mailbox.id.as_str().into(), id.as_str().into()],
        )
        .await?
        .is_some())
}

/// Rewrites the side tables that index a contact's email addresses, categories and single-value
/// extended properties.
pub(crate) async fn index_collections(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    id: &ContactId,
    data: &ContactData,
    fresh: bool,
) -> GraphResult<()> {
    let mb: Value = mailbox.id.as_str().into();
    let cid: Value = id.as_str().into();
    if !fresh {
        tx.execute("DELETE FROM contact_emails WHERE mailbox_id = ? AND contact_id = ?", &[mb.clone(), cid.clone()])
            .await?;
        tx.execute(
            "DELETE FROM contact_categories WHERE mailbox_id = ? AND contact_id = ?",
            &[mb.clone(), cid.clone()],
        )
        .await?;
        tx.execute("DELETE FROM contact_xprops WHERE mailbox_id = ? AND contact_id = ?", &[mb.clone(), cid.clone()])
            .await?;
    }
    let mut emails: Vec<String> = data.email_addresses.iter().filter_map(|e| e.address.as_deref()).map(fold).collect();
    emails.sort();
    emails.dedup();
    for address in emails {
        tx.execute(
            "INSERT INTO contact_emails (mailbox_id, address_key, contact_id) VALUES (?, ?, ?)",
            &[mb.clone(), address.into(), cid.clone()],
        )
        .await?;
    }
    let mut cats: Vec<String> = data.categories.iter().map(|c| fold(c)).collect();
    cats.sort();
    cats.dedup();
    for name in cats {
        tx.execute(
            "INSERT INTO contact_categories (mailbox_id, name_key, contact_id) VALUES (?, ?, ?)",
            &[mb.clone(), name.into(), cid.clone()],
        )
        .await?;
    }
    for p in &data.single_value_extended_properties {
        tx.execute(
            "INSERT INTO contact_xprops (mailbox_id, prop_id, value_key, contact_id) VALUES (?, ?, ?, ?)",
            &[mb.clone(), p.id.as_str().into(), fold(&p.value).into(), cid.clone()],
        )
        .await?;
    }
    Ok(())
}

/// Starts a write on one contact: bumps the mailbox's counter (which takes the mailbox's write
/// lock) and loads the contact, `ErrorItemNotFound` when it is not in `scope`.
async fn lock_contact(
    tx: &mut dyn Sql,
    columns: &str,
    mailbox: &Mailbox,
    id: &ContactId,
    scope: &Scope,
) -> GraphResult<(i64, Contact)> {
    let seq = bump(tx, mailbox).await?;
    let contact = select_contact(tx, columns, mailbox, id, scope).await?.ok_or_else(GraphError::item_not_found)?;
    Ok((seq, contact))
}

/// Records that an item left a scope (a folder id, or `*` for the mailbox) at `seq`.
async fn tombstone(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    kind: &str,
    scope: &str,
    item: &str,
    seq: i64,
) -> GraphResult<()> {
    tx.execute(
        "INSERT INTO tombstones (mailbox_id, kind, scope_id, item_id, seq, removed_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (mailbox_id, kind, scope_id, item_id) DO UPDATE SET seq = excluded.seq, removed_at = excluded.removed_at",
        &[
            mailbox.id.as_str().into(),
            kind.into(),
            scope.into(),
            item.into(),
            seq.into(),
            rolo_domain::time::now_utc().into(),
        ],
    )
    .await?;
    Ok(())
}

async fn delete_contact_rows(tx: &mut dyn Sql, mailbox: &Mailbox, id: &ContactId) -> GraphResult<()> {
    let p = [mailbox.id.as_str().into(), id.as_str().into()];
    tx.execute("DELETE FROM contact_emails WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contact_categories WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contact_xprops WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM photos WHERE mailbox_id = ? AND owner_id = ?", &p).await?;
    tx.execute("DELETE FROM extensions WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contacts WHERE mailbox_id = ? AND id = ?", &p).await?;
    Ok(())
}

pub(crate) async fn select_contact(
    conn: &mut dyn Sql,
    columns: &str,
    mailbox: &Mailbox,
    id: &ContactId,
    scope: &Scope,
) -> GraphResult<Option<Contact>> {
    let sql = format!("SELECT {columns} FROM contacts t WHERE t.mailbox_id = ? AND t.id = ?");
    let row = conn.query_opt(&sql, &[mailbox.id.as_str().into(), id.as_str().into()]).await?;
    let Some(row) = row else { return Ok(None) };
    let contact = contact_from(row)?;
    match scope {
        Scope::Folder(f) if *f != contact.folder_id => Ok(None),
        _ => Ok(Some(contact)),
    }
}

/// What a list reads: columns of a table (aliased `t`) within a scope condition.
struct ListSource<'a> {
    columns: &'a str,
    table: &'a str,
    scope_sql: &'a str,
    scope_params: Vec<Value>,
}

const PHOTO_COLUMNS: &str = "size, content_type, width, height, etag";

fn photo_from(row: Row) -> StoredPhoto {
    let mut it = row.into_iter();
    let mut text = || it.next().map(Value::into_string).unwrap_or_default();
    let size = text();
    let content_type = text();
    let width = text().parse().unwrap_or(0);
    let height = text().parse().unwrap_or(0);
    let etag = text();
    let bytes = it.next().map(Value::into_bytes).unwrap_or_default();
    StoredPhoto { size, content_type, width, height, etag, bytes }
}

/// Originals first, then the sizes in ascending order.
fn photo_order(p: &StoredPhoto) -> (bool, u32) {
    (p.size != crate::ORIGINAL_SIZE, p.size.parse().unwrap_or(0))
}

/// For a contact photo addressed through a folder, whether the contact is in that folder.
async fn photo_owner_visible(conn: &mut dyn Sql, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<bool> {
    match owner {
        PhotoOwner::Contact(id, Scope::Folder(folder)) => Ok(conn
            .query_opt(
                "SELECT 1 FROM contacts WHERE mailbox_id = ? AND id = ? AND folder_id = ?",
                &[mailbox.id.as_str().into(), id.as_str().into(), folder.as_str().into()],
            )
            .await?
            .is_some()),
        _ => Ok(true),
    }
}

fn category_from(row: Row) -> OutlookCategory {
    let mut it = row.into_iter().map(Value::into_string);
    OutlookCategory {
        id: it.next().unwrap_or_default(),
        display_name: it.next().unwrap_or_default(),
        color: it.next().unwrap_or_default(),
    }
}

async fn select_category(conn: &mut dyn Sql, mailbox: &Mailbox, id: &str) -> GraphResult<Option<OutlookCategory>> {
    let row = conn
        .query_opt(
            "SELECT id, display_name, color FROM categories WHERE mailbox_id = ? AND id = ?",
            &[mailbox.id.as_str().into(), id.into()],
        )
        .await?;
    Ok(row.map(category_from))
}

async fn insert_extension(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    contact: &ContactId,
    ext: &OpenExtension,
) -> GraphResult<()> {
    let data = serde_json::to_string(&ext.properties).map_err(GraphError::internal)?;
    tx.execute(
        "INSERT INTO extensions (mailbox_id, contact_id, name_key, name, data) VALUES (?, ?, ?, ?, ?)",
        &[
            mailbox.id.as_str().into(),
            contact.as_str().into(),
            fold(&ext.name).into(),
            ext.name.as_str().into(),
            data.into(),
        ],
    )
    .await
    .map_err(|e| {
        if e.kind == ErrorKind::Conflict {
            GraphError::new(
                ErrorKind::Conflict,
                "nameAlreadyExists",
                format!("The contact already has an extension named '{}'.", ext.name),
            )
        } else {
            e
        }
    })?;
    Ok(())
}

async fn select_extension(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    contact: &ContactId,
    name: &str,
) -> GraphResult<Option<OpenExtension>> {
    let row = tx
        .query_opt(
            "SELECT name, data FROM extensions WHERE mailbox_id = ? AND contact_id = ? AND name_key = ?",
            &[mailbox.id.as_str().into(), contact.as_str().into(), fold(name).into()],
        )
        .await?;
    row.map(extension_from).transpose()
}

fn extension_from(row: Row) -> GraphResult<OpenExtension> {
    let mut it = row.into_iter().map(Value::into_string);
    let name = it.next().unwrap_or_default();
    let properties = serde_json::from_str(&it.next().unwrap_or_default()).map_err(GraphError::internal)?;
    Ok(OpenExtension { name, properties })
}

/// Before a folder tree goes: `deleted` for its contacts, and `subscriptionRemoved` for the
/// subscriptions that watched one of its folders (which go with it). Nothing to do, and one query,
/// when the mailbox has no subscriptions.
async fn folder_deletion_notices(tx: &mut dyn Sql, mb: &Mailbox, folders: &[String]) -> GraphResult<()> {
    let subs = tx
        .query("SELECT doc FROM subscriptions WHERE mailbox_id = ?", &[mb.id.as_str().into()])
        .await?
        .into_iter()
        .map(outbox::subscription_from)
        .collect::<GraphResult<Vec<_>>>()?;
    if subs.is_empty() {
        return Ok(());
    }
    for fid in folders {
        let rows = tx
            .query(
                "SELECT id, change_key FROM contacts WHERE mailbox_id = ? AND folder_id = ?",
                &[mb.id.as_str().into(), fid.as_str().into()],
            )
            .await?;
        let owned: Vec<(String, String)> = rows
            .into_iter()
            .map(|r| {
                let mut it = r.into_iter().map(Value::into_string);
                (it.next().unwrap_or_default(), it.next().unwrap_or_default())
            })
            .collect();
        let changes: Vec<Change> = owned
            .iter()
            .map(|(id, ck)| Change {
                contact: id,
                data: None,
                change_key: ck,
                kind: "deleted",
                folder: Some(fid),
                mailbox_wide: true,
            })
            .collect();
        outbox::notify(tx, mb, &changes).await?;
        for s in subs.iter().filter(|s| s.scope == *fid) {
            outbox::lifecycle(tx, s, "subscriptionRemoved").await?;
            tx.execute("DELETE FROM subscriptions WHERE id = ?", &[s.id.as_str().into()]).await?;
        }
    }
    Ok(())
}

fn permission_from(mut row: Row) -> Option<FolderPermission> {
    if row.len() < 2 {
        return None;
    }
    let rest = row.split_off(2);
    let mut it = row.into_iter().map(Value::into_string);
    let id = it.next()?;
    let grant = Grant::parse(&it.next()?)?;
    Some(FolderPermission { id, grant, grantee: user_from(rest) })
}

/// Stores one message or event (its own change sequence number) and indexes it.
async fn insert_item(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    kind: ItemKind,
    insert: &str,
    folder: String,
    doc: serde_json::Map<String, serde_json::Value>,
) -> GraphResult<Item> {
    let seq = bump(tx, mb).await?;
    let now = rolo_domain::time::now_utc();
    let item = Item {
        id: ContactId::generate().to_string(),
        folder,
        change_key: change_key(seq),
        created: now.clone(),
        modified: now,
        doc,
    };
    let mut params: Vec<Value> = vec![
        mb.id.as_str().into(),
        item.id.as_str().into(),
        item.folder.as_str().into(),
        seq.into(),
        seq.into(),
        item.change_key.as_str().into(),
        item.created.as_str().into(),
        item.modified.as_str().into(),
    ];
    params.extend(item_keys(kind, &item));
    params.push(serde_json::to_string(&item.doc).map_err(GraphError::internal)?.into());
    tx.execute(insert, &params).await?;
    index_item(tx, mb, kind, Some(&item), &item.id, true).await?;
    Ok(item)
}

fn schema_from(row: Row) -> GraphResult<SchemaExtension> {
    let doc = row.into_iter().next().map(Value::into_string).unwrap_or_default();
    serde_json::from_str(&doc).map_err(|e| GraphError::internal(format!("corrupt schema extension: {e}")))
}

fn schema_not_found() -> GraphError {
    GraphError::new(ErrorKind::NotFound, "Request_ResourceNotFound", "The schema extension was not found.")
}

impl SqlStore {
    fn sqlite_only(&self) -> GraphResult<()> {
        match self.backend.dialect() {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => Err(GraphError::bad_request(
                "BadRequest",
                "Snapshots are an emulator feature: they need the SQLite backend.",
            )),
        }
    }

    /// Every state table's rows, as stored.
    async fn dump(&self) -> GraphResult<Vec<(&'static str, Vec<Row>)>> {
        let mut conn = self.backend.read().await?;
        let mut out = Vec::new();
        for table in crate::migrations::STATE_TABLES {
            out.push((*table, conn.query(&format!("SELECT * FROM {table}"), &[]).await?));
        }
        Ok(out)
    }

    /// Replaces every state table's rows with `tables`' in one transaction (same schema version,
    /// so `SELECT *` and `INSERT ... VALUES` line up column for column).
    async fn load(&self, tables: Vec<(&'static str, Vec<Row>)>) -> GraphResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                for table in crate::migrations::STATE_TABLES.iter().rev() {
                    tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
                }
                for (table, rows) in tables {
                    for row in rows {
                        let marks = vec!["?"; row.len()].join(", ");
                        tx.execute(&format!("INSERT INTO {table} VALUES ({marks})"), &row).await?;
                    }
                }
                bump_directory(tx).await
            })
        })
        .await
    }

    /// ` FOR UPDATE` on PostgreSQL, where a read-modify-write must lock the row it reads (SQLite's
    /// single writer already serialises it).
    fn row_lock(&self) -> &'static str {
        match self.backend.dialect() {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    pub fn new(backend: Box<dyn Backend>) -> SqlStore {
        let d = backend.dialect();
        let contact_columns =
            format!("t.id, t.folder_id, t.change_key, t.created_at, t.modified_at, {}", d.doc_select("t.doc"));
        SqlStore { contact_columns, doc_param: d.doc_param(), backend }
    }

    /// Runs `f` in a write transaction, committing on success.
    pub(crate) async fn write<T, F>(&self, f: F) -> GraphResult<T>
    where
        F: for<'a> FnOnce(
                &'a mut dyn Sql,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<T>> + Send + 'a>>
            + Send,
        T: Send,
    {
        let mut tx = self.backend.begin().await?;
        let out = f(tx.as_mut()).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Runs a paged list over a source, honouring the query's filter, order, skip, keyset cursor
    /// and count.
    async fn list_rows(
        &self,
        entity: Entity,
        mailbox: &Mailbox,
        source: ListSource<'_>,
        query: &ListQuery,
    ) -> GraphResult<(Vec<Row>, Option<Cursor>, Option<u64>)> {
        let ListSource { columns, table, scope_sql, scope_params } = source;
        let dialect = self.backend.dialect();
        let mut c = Compiler::new(dialect, entity, &mailbox.id);
        c.version = query.version;
        c.params = scope_params.clone();
        let mut wheres = vec![scope_sql.to_owned()];
        if let Some(f) = &query.filter {
            wheres.push(c.filter(f)?);
            // SQLite has no statistics to weigh a filter's index against the sort's index. A
            // bounded probe tells: when the first rows in list order already hold a page of
            // matches, walking the sort order and testing each row fills a page sooner than
            // collecting and sorting every match; otherwise the filter's own index leads.
            if dialect == Dialect::Sqlite {
                let mut walk = Compiler::new(dialect, entity, &mailbox.id);
                walk.version = query.version;
                walk.params = scope_params;
                walk.filter_without_indexes = true;
                let walk_filter = walk.filter(f)?;
                let probe = format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT * FROM {table} t WHERE {scope_sql} \
                     ORDER BY t.created_seq LIMIT {DENSE_PROBE_WINDOW}) t WHERE {walk_filter} LIMIT {})",
                    query.page_size + 1
                );
                let mut conn = self.backend.read().await?;
                let n = conn
                    .query_opt(&probe, &walk.params)
                    .await?
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| v.as_i64());
                if n.unwrap_or(0) > query.page_size as i64 {
                    c = walk;
                    wheres = vec![scope_sql.to_owned(), walk_filter];
                }
            }
        }
        let count = if query.count {
            let sql = format!("SELECT COUNT(*) FROM {table} t WHERE {}", wheres.join(" AND "));
            let mut conn = self.backend.read().await?;
            let row = conn.query_opt(&sql, &c.params).await?;
            Some(row.and_then(|r| r.into_iter().next()).and_then(|v| v.as_i64()).unwrap_or(0) as u64)
        } else {
            None
        };
        let sort = c.order(&query.orderby)?;
        let mut fetch = crate::paging::Fetch::new(query.page_size, query.max_bytes);
        let mut after = query.after.clone();
        let mut offset = if query.after.is_none() { query.skip } else { 0 };
        let base_params = c.params.clone();
        let mut order: Vec<String> =
            sort.iter().map(|(e, desc)| format!("{e}{}", if *desc { " DESC" } else { "" })).collect();
        order.push("t.created_seq".into());
        let sort_cols: String = sort.iter().map(|(e, _)| format!(", {e}")).collect();
        // Split off the trailing created_seq and sort-key columns; a row's tail makes its cursor.
        let extra = 1 + sort.len();
        let cursor_of = |tail: Row| {
            let mut tail = tail.into_iter();
            let seq = tail.next().and_then(|v| v.as_i64()).unwrap_or_default();
            Cursor { keys: tail.map(Value::into_opt_string).collect(), seq }
        };
        let mut out = Vec::new();
        // A byte-bounded page is read in batches, so rows past the bound are never loaded;
        // an ordinary page is one batch.
        while let Some(batch) = fetch.next_batch() {
            c.params = base_params.clone();
            let mut wheres = wheres.clone();
            if let Some(cursor) = &after {
                wheres.push(c.after(&sort, cursor)?);
            }
            // LIMIT and OFFSET are bound, not inlined, so a query's shape (and its cached
            // statement) does not change with the page size or offset.
            let sql = format!(
                "SELECT {columns}, t.created_seq{sort_cols} FROM {table} t WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
                wheres.join(" AND "),
                order.join(", "),
            );
            let mut params = std::mem::take(&mut c.params);
            params.push((batch as i64 + 1).into());
            params.push((offset as i64).into());
            offset = 0;
            let mut conn = self.backend.read().await?;
            let mut rows = conn.query(&sql, &params).await?;
            drop(conn);
            let more = rows.len() > batch;
            rows.truncate(batch);
            let total = rows.len();
            let mut last = None;
            for (i, mut row) in rows.into_iter().enumerate() {
                let tail = row.split_off(row.len() - extra);
                let full = fetch.take(crate::paging::row_bytes(&row));
                out.push(row);
                let rows_follow = more || i + 1 < total;
                if full {
                    return Ok((out, rows_follow.then(|| cursor_of(tail)), count));
                }
                if i + 1 == total {
                    last = Some(tail);
                }
            }
            match (more, last) {
                (true, Some(tail)) => after = Some(cursor_of(tail)),
                _ => break,
            }
        }
        Ok((out, None, count))
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn create_user_with_id(&self, id: &str, upn: &str, display_name: &str) -> GraphResult<User> {
        if !rolo_domain::ids::is_guid(id) {
            return Err(GraphError::bad_request("BadRequest", format!("'{id}' is not a GUID.")));
        }
        let id = id.to_ascii_lowercase();
        let root = FolderId::generate();
        let default = FolderId::generate();
        let (upn, display_name) = (upn.to_owned(), display_name.to_owned());
        let user = User {
            id: id.clone(),
            user_principal_name: upn.clone(),
            display_name: display_name.clone(),
            mailbox: Mailbox { id: id.clone(), root_folder_id: root.clone(), default_folder_id: default.clone() },
            kind: MailboxKind::User,
            disabled: false,
        };
        self.write(move |tx| {
            Box::pin(async move {
                let exists = tx.query_opt("SELECT 1 FROM users WHERE upn_key = ?", &[fold(&upn).into()]).await?.is_some();
                if exists {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "Request_BadRequest",
                        format!("Another object with the same value for property userPrincipalName already exists: {upn}"),
                    ));
                }
                tx.execute(
                    "INSERT INTO users (id, upn, upn_key, display_name, created_at) VALUES (?, ?, ?, ?, ?)",
                    &[id.as_str().into(), upn.as_str().into(), fold(&upn).into(), display_name.into(), rolo_domain::time::now_utc().into()],
                )
                .await?;
                bump_directory(tx).await?;
                tx.execute(
                    "INSERT INTO mailboxes (mailbox_id, root_folder_id, default_folder_id, change_seq) VALUES (?, ?, ?, 1)",
                    &[id.as_str().into(), root.as_str().into(), default.as_str().into()],
                )
                .await?;
                tx.execute(
                    "INSERT INTO folders (mailbox_id, id, parent_id, display_name, name_key, well_known, created_seq, change_seq) \
                     VALUES (?, ?, ?, ?, ?, ?, 1, 1)",
                    &[
                        id.as_str().into(),
                        default.as_str().into(),
                        root.as_str().into(),
                        DEFAULT_FOLDER_NAME.into(),
                        fold(DEFAULT_FOLDER_NAME).into(),
                        DEFAULT_FOLDER_WELL_KNOWN.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(user)
    }

    async fn list_users(&self) -> GraphResult<Vec<User>> {
        let mut conn = self.backend.read().await?;
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users u JOIN mailboxes m ON m.mailbox_id = u.id ORDER BY u.upn_key");
        Ok(conn.query(&sql, &[]).await?.into_iter().map(user_from).collect())
    }

    async fn find_user(&self, id_or_upn: &str) -> GraphResult<Option<User>> {
        let mut conn = self.backend.read().await?;
        let by_id = rolo_domain::ids::is_guid(id_or_upn);
        let (cond, key) =
            if by_id { ("u.id = ?", id_or_upn.to_ascii_lowercase()) } else { ("u.upn_key = ?", fold(id_or_upn)) };
        let sql = format!("SELECT {USER_COLUMNS} FROM users u JOIN mailboxes m ON m.mailbox_id = u.id WHERE {cond}");
        let found = conn.query_opt(&sql, &[key.into()]).await?.map(user_from);
        // UPNs compare as Entra compares them: ignoring ASCII case only. The key folds all of
        // Unicode's case (so no two users differ only by it), which also maps look-alikes such as
        // the Kelvin sign onto ASCII letters: a row found that way is not the user named.
        Ok(found.filter(|u| by_id || u.user_principal_name.eq_ignore_ascii_case(id_or_upn)))
    }

    async fn set_user_disabled(&self, user_id: &str, disabled: bool) -> GraphResult<bool> {
        let id = user_id.to_ascii_lowercase();
        self.write(move |tx| Box::pin(async move { crate::lifecycle::set_disabled(tx, &id, disabled).await })).await
    }

    async fn user_standing(&self, user_id: &str) -> GraphResult<Option<UserStanding>> {
        let mut conn = self.backend.read().await?;
        crate::lifecycle::standing(conn.as_mut(), &user_id.to_ascii_lowercase()).await
    }

    async fn remove_user(&self, user_id: &str) -> GraphResult<bool> {
        let id = user_id.to_ascii_lowercase();
        self.write(move |tx| Box::pin(async move { crate::lifecycle::remove(tx, &id).await })).await
    }

    async fn directory_version(&self) -> GraphResult<String> {
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT value FROM settings WHERE name = 'directory_version'", &[]).await?;
        Ok(row.and_then(|r| r.into_iter().next()).map(Value::into_string).unwrap_or_default())
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> GraphResult<String> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    &[name.as_str().into(), value.into()],
                )
                .await?;
                let row = tx.query_opt("SELECT value FROM settings WHERE name = ?", &[name.into()]).await?;
                Ok(row.and_then(|r| r.into_iter().next()).map(Value::into_string).unwrap_or_default())
            })
        })
        .await
    }

    async fn replace_setting(&self, name: &str, value: &str) -> GraphResult<()> {
        let params = [name.into(), value.into()];
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &params,
                )
                .await
                .map(|_| ())
            })
        })
        .await
    }

    async fn create_app(&self, app: &RegisteredApp) -> GraphResult<()> {
        let app = app.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let inserted = tx
                    .execute(
                        &format!(
                            "INSERT INTO apps ({APP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING"
                        ),
                        &[
                            app.client_id.to_ascii_lowercase().into(),
                            app.display_name.into(),
                            app.service_principal_id.into(),
                            app.roles.join(" ").into(),
                            app.secret_hash.into(),
                            app.created_at.into(),
                            i64::from(app.public_client).into(),
                        ],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "Request_BadRequest",
                        format!("Another application with the same appId already exists: {}", app.client_id),
                    ));
                }
                Ok(())
            })
        })
        .await
    }

    async fn find_app(&self, client_id: &str) -> GraphResult<Option<RegisteredApp>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE client_id = ?");
        Ok(conn.query_opt(&sql, &[client_id.to_ascii_lowercase().into()]).await?.map(app_from))
    }

    async fn list_apps(&self) -> GraphResult<Vec<RegisteredApp>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY created_at, client_id");
        Ok(conn.query(&sql, &[]).await?.into_iter().map(app_from).collect())
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> GraphResult<()> {
        let (user_id, hash) = (user_id.to_ascii_lowercase(), hash.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                if tx.query_opt("SELECT 1 FROM users WHERE id = ?", &[user_id.as_str().into()]).await?.is_none() {
                    return Err(GraphError::invalid_user(&user_id));
                }
                tx.execute(
                    "INSERT INTO user_passwords (user_id, hash, changed_at) VALUES (?, ?, ?) \
                     ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, changed_at = excluded.changed_at",
                    &[user_id.as_str().into(), hash.into(), rolo_domain::time::now_utc().into()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn password_hash(&self, user_id: &str) -> GraphResult<Option<String>> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt("SELECT hash FROM user_passwords WHERE user_id = ?", &[user_id.to_ascii_lowercase().into()])
            .await?;
        Ok(row.and_then(|r| r.into_iter().next()).map(Value::into_string))
    }

    async fn get_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<Option<ContactFolder>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders t WHERE t.mailbox_id = ? AND t.id = ?");
        Ok(conn.query_opt(&sql, &[mailbox.id.as_str().into(), id.as_str().into()]).await?.map(folder_from))
    }

    async fn list_folders(
        &self,
        mailbox: &Mailbox,
        parent: &FolderId,
        query: &ListQuery,
    ) -> GraphResult<Page<ContactFolder>> {
        let (rows, next, count) = self
            .list_rows(
                Entity::Folder,
                mailbox,
                ListSource {
                    columns: FOLDER_COLUMNS,
                    table: "folders",
                    scope_sql: "t.mailbox_id = ? AND t.parent_id = ?",
                    scope_params: vec![mailbox.id.as_str().into(), parent.as_str().into()],
                },
                query,
            )
            .await?;
        Ok(Page { items: rows.into_iter().map(folder_from).collect(), next, count })
    }

    async fn create_folder(&self, mailbox: &Mailbox, parent: &FolderId, name: &str) -> GraphResult<ContactFolder> {
        let folder = ContactFolder {
            id: FolderId::generate(),
            parent_id: parent.clone(),
            display_name: name.to_owned(),
            well_known_name: None,
        };
        let (mb, f) = (mailbox.clone(), folder.clone());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                if !folder_exists(tx, &mb, &f.parent_id).await? {
                    return Err(GraphError::item_not_found());
                }
                let clash = tx
                    .query_opt(
                        "SELECT 1 FROM folders WHERE mailbox_id = ? AND parent_id = ? AND name_key = ?",
                        &[mb.id.as_str().into(), f.parent_id.as_str().into(), fold(&f.display_name).into()],
                    )
                    .await?;
                if clash.is_some() {
                    return Err(GraphError::folder_exists());
                }
                tx.execute(
                    "INSERT INTO folders (mailbox_id, id, parent_id, display_name, name_key, well_known, created_seq, change_seq) \
                     VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                    &[
                        mb.id.as_str().into(),
                        f.id.as_str().into(),
                        f.parent_id.as_str().into(),
                        f.display_name.as_str().into(),
                        fold(&f.display_name).into(),
                        seq.into(),
                        seq.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(folder)
    }

    async fn update_folder(
        &self,
        mailbox: &Mailbox,
        id: &FolderId,
        changes: &FolderChanges,
    ) -> GraphResult<ContactFolder> {
        let (mb, id, changes) = (mailbox.clone(), id.clone(), changes.clone());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                let sql = format!("SELECT {FOLDER_COLUMNS} FROM folders t WHERE t.mailbox_id = ? AND t.id = ?");
                let mut folder = tx
                    .query_opt(&sql, &[mb.id.as_str().into(), id.as_str().into()])
                    .await?
                    .map(folder_from)
                    .ok_or_else(GraphError::item_not_found)?;
                if let Some(parent) = &changes.parent_id {
                    if *parent != folder.parent_id {
                        if folder.id == mb.default_folder_id {
                            return Err(GraphError::bad_request("ErrorMoveDistinguishedFolder", "Distinguished folders cannot be moved."));
                        }
                        if !folder_exists(tx, &mb, parent).await? {
                            return Err(GraphError::item_not_found());
                        }
                        // Refuse to move a folder below itself.
                        let mut cursor = parent.clone();
                        loop {
                            if cursor == folder.id {
                                return Err(GraphError::bad_request(
                                    "ErrorMoveCopyFailed",
                                    "A folder cannot be moved into itself or one of its child folders.",
                                ));
                            }
                            let up = tx
                                .query_opt("SELECT parent_id FROM folders WHERE mailbox_id = ? AND id = ?", &[
                                    mb.id.as_str().into(),
                                    cursor.as_str().into(),
                                ])
                                .await?;
                            match up.and_then(|r| r.into_iter().next()) {
                                Some(v) => cursor = FolderId::from_stored(v.into_string()),
                                None => break,
                            }
                        }
                        folder.parent_id = parent.clone();
                    }
                }
                if let Some(name) = &changes.display_name {
                    folder.display_name = name.clone();
                }
                let clash = tx
                    .query_opt(
                        "SELECT 1 FROM folders WHERE mailbox_id = ? AND parent_id = ? AND name_key = ? AND id <> ?",
                        &[
                            mb.id.as_str().into(),
                            folder.parent_id.as_str().into(),
                            fold(&folder.display_name).into(),
                            folder.id.as_str().into(),
                        ],
                    )
                    .await?;
                if clash.is_some() {
                    return Err(GraphError::folder_exists());
                }
                tx.execute(
                    "UPDATE folders SET parent_id = ?, display_name = ?, name_key = ?, change_seq = ? WHERE mailbox_id = ? AND id = ?",
                    &[
                        folder.parent_id.as_str().into(),
                        folder.display_name.as_str().into(),
                        fold(&folder.display_name).into(),
                        seq.into(),
                        mb.id.as_str().into(),
                        folder.id.as_str().into(),
                    ],
                )
                .await?;
                Ok(folder)
            })
        })
        .await
    }

    async fn delete_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<()> {
        let (mb, id) = (mailbox.clone(), id.clone());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                if id == mb.default_folder_id {
                    return Err(GraphError::bad_request(
                        "ErrorDeleteDistinguishedFolder",
                        "Distinguished folders cannot be deleted.",
                    ));
                }
                if !folder_exists(tx, &mb, &id).await? {
                    return Err(GraphError::item_not_found());
                }
                let subtree = tx
                    .query(
                        "WITH RECURSIVE sub(id) AS (SELECT CAST(? AS TEXT) UNION ALL \
                         SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id WHERE f.mailbox_id = ?) \
                         SELECT id FROM sub",
                        &[id.as_str().into(), mb.id.as_str().into()],
                    )
                    .await?;
                let folders: Vec<String> =
                    subtree.into_iter().map(|r| r.into_iter().next().map(Value::into_string).unwrap_or_default()).collect();
                folder_deletion_notices(tx, &mb, &folders).await?;
                for fid in folders {
                    let p = [mb.id.as_str().into(), Value::from(fid.as_str())];
                    tombstone(tx, &mb, "folder", "*", &fid, seq).await?;
                    for scope in [fid.as_str(), "*"] {
                        tx.execute(
                            "INSERT INTO tombstones (mailbox_id, kind, scope_id, item_id, seq, removed_at) \
                             SELECT mailbox_id, 'contact', ?, id, ?, ? FROM contacts WHERE mailbox_id = ? AND folder_id = ? \
                             ON CONFLICT (mailbox_id, kind, scope_id, item_id) DO UPDATE SET seq = excluded.seq, \
                             removed_at = excluded.removed_at",
                            &[
                                scope.into(),
                                seq.into(),
                                rolo_domain::time::now_utc().into(),
                                mb.id.as_str().into(),
                                fid.as_str().into(),
                            ],
                        )
                        .await?;
                    }
                    for (side, column) in
                        [
                        ("contact_emails", "contact_id"),
                        ("contact_categories", "contact_id"),
                        ("contact_xprops", "contact_id"),
                        ("photos", "owner_id"),
                        ("extensions", "contact_id"),
                    ]
                    {
                        let sql = format!(
                            "DELETE FROM {side} WHERE mailbox_id = ? AND {column} IN \
                             (SELECT id FROM contacts WHERE mailbox_id = ? AND folder_id = ?)"
                        );
                        tx.execute(&sql, &[p[0].clone(), p[0].clone(), p[1].clone()]).await?;
                    }
                    tx.execute("DELETE FROM contacts WHERE mailbox_id = ? AND folder_id = ?", &p).await?;
                    tx.execute("DELETE FROM folder_grants WHERE mailbox_id = ? AND folder_id = ?", &p).await?;
                    tx.execute("DELETE FROM folders WHERE mailbox_id = ? AND id = ?", &p).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn get_contact(&self, mailbox: &Mailbox, id: &ContactId, scope: &Scope) -> GraphResult<Option<Contact>> {
        let mut conn = self.backend.read().await?;
        select_contact(conn.as_mut(), &self.contact_columns, mailbox, id, scope).await
    }

    async fn list_contacts(&self, mailbox: &Mailbox, scope: &Scope, query: &ListQuery) -> GraphResult<Page<Contact>> {
        let (scope_sql, scope_params) = match scope {
            Scope::Folder(folder) => {
                ("t.mailbox_id = ? AND t.folder_id = ?", vec![mailbox.id.as_str().into(), folder.as_str().into()])
            }
            Scope::Mailbox => ("t.mailbox_id = ?", vec![mailbox.id.as_str().into()]),
        };
        let (rows, next, count) = self
            .list_rows(
                Entity::Contact,
                mailbox,
                ListSource { columns: &self.contact_columns, table: "contacts", scope_sql, scope_params },
                query,
            )
            .await?;
        let items = rows.into_iter().map(contact_from).collect::<GraphResult<Vec<_>>>()?;
        Ok(Page { items, next, count })
    }

    async fn create_contact_with_extensions(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        data: ContactData,
        extensions: Vec<OpenExtension>,
    ) -> GraphResult<Contact> {
        let (mb, folder) = (mailbox.clone(), folder.clone());
        let insert = format!(
            "INSERT INTO contacts (mailbox_id, id, folder_id, created_seq, change_seq, change_key, created_at, modified_at, \
             display_name_key, given_name_key, surname_key, company_name_key, doc, fold_doc) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {}, {})",
            self.doc_param, self.doc_param
        );
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                if !folder_exists(tx, &mb, &folder).await? {
                    return Err(GraphError::item_not_found());
                }
                let now = rolo_domain::time::now_utc();
                let contact = Contact {
                    id: ContactId::generate(),
                    folder_id: folder,
                    change_key: change_key(seq),
                    created: now.clone(),
                    modified: now,
                    data,
                };
                let mut params: Vec<Value> = vec![
                    mb.id.as_str().into(),
                    contact.id.as_str().into(),
                    contact.folder_id.as_str().into(),
                    seq.into(),
                    seq.into(),
                    contact.change_key.as_str().into(),
                    contact.created.as_str().into(),
                    contact.modified.as_str().into(),
                ];
                params.extend(derived_columns(&contact.data)?);
                tx.execute(&insert, &params).await?;
                index_collections(tx, &mb, &contact.id, &contact.data, true).await?;
                for ext in &extensions {
                    insert_extension(tx, &mb, &contact.id, ext).await?;
                }
                let change = Change {
                    contact: contact.id.as_str(),
                    data: Some(&contact),
                    change_key: &contact.change_key,
                    kind: "created",
                    folder: Some(contact.folder_id.as_str()),
                    mailbox_wide: true,
                };
                outbox::notify(tx, &mb, &[change]).await?;
                Ok(contact)
            })
        })
        .await
    }

    async fn update_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
        edit: ContactEdit,
    ) -> GraphResult<Contact> {
        let (mb, id, scope) = (mailbox.clone(), id.clone(), scope.clone());
        let columns = self.contact_columns.clone();
        let update = format!(
            "UPDATE contacts SET folder_id = ?, change_seq = ?, change_key = ?, modified_at = ?, display_name_key = ?, \
             given_name_key = ?, surname_key = ?, company_name_key = ?, doc = {}, fold_doc = {} \
             WHERE mailbox_id = ? AND id = ?",
            self.doc_param, self.doc_param
        );
        self.write(move |tx| {
            Box::pin(async move {
                let (seq, mut contact) = lock_contact(tx, &columns, &mb, &id, &scope).await?;
                if !if_match_ok(&if_match, &contact.change_key) {
                    return Err(GraphError::change_key_mismatch());
                }
                let mut moved_from = None;
                if let Some(target) = edit(&mut contact.data)? {
                    if target != contact.folder_id {
                        if !folder_exists(tx, &mb, &target).await? {
                            return Err(GraphError::item_not_found());
                        }
                        // The folder it leaves reports it removed; the new one reports it as changed.
                        tombstone(tx, &mb, "contact", contact.folder_id.as_str(), contact.id.as_str(), seq).await?;
                        moved_from = Some(std::mem::replace(&mut contact.folder_id, target));
                    }
                }
                contact.change_key = change_key(seq);
                contact.modified = rolo_domain::time::now_utc();
                let mut params: Vec<Value> = vec![
                    contact.folder_id.as_str().into(),
                    seq.into(),
                    contact.change_key.as_str().into(),
                    contact.modified.as_str().into(),
                ];
                params.extend(derived_columns(&contact.data)?);
                params.extend([mb.id.as_str().into(), contact.id.as_str().into()]);
                tx.execute(&update, &params).await?;
                index_collections(tx, &mb, &contact.id, &contact.data, false).await?;
                let (id, ck) = (contact.id.as_str(), contact.change_key.as_str());
                let folder = contact.folder_id.as_str();
                let change = |kind, folder, mailbox_wide, data| Change {
                    contact: id,
                    data,
                    change_key: ck,
                    kind,
                    folder,
                    mailbox_wide,
                };
                let changes = match &moved_from {
                    // A move leaves one folder and enters another; the mailbox sees an update.
                    Some(old) => vec![
                        change("deleted", Some(old.as_str()), false, None),
                        change("created", Some(folder), false, Some(&contact)),
                        change("updated", None, true, Some(&contact)),
                    ],
                    None => vec![change("updated", Some(folder), true, Some(&contact))],
                };
                outbox::notify(tx, &mb, &changes).await?;
                Ok(contact)
            })
        })
        .await
    }

    async fn delete_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()> {
        let (mb, id, scope) = (mailbox.clone(), id.clone(), scope.clone());
        let columns = self.contact_columns.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let (seq, contact) = lock_contact(tx, &columns, &mb, &id, &scope).await?;
                if !if_match_ok(&if_match, &contact.change_key) {
                    return Err(GraphError::change_key_mismatch());
                }
                tombstone(tx, &mb, "contact", contact.folder_id.as_str(), id.as_str(), seq).await?;
                tombstone(tx, &mb, "contact", "*", id.as_str(), seq).await?;
                let change = Change {
                    contact: id.as_str(),
                    data: None,
                    change_key: &contact.change_key,
                    kind: "deleted",
                    folder: Some(contact.folder_id.as_str()),
                    mailbox_wide: true,
                };
                outbox::notify(tx, &mb, &[change]).await?;
                delete_contact_rows(tx, &mb, &id).await
            })
        })
        .await
    }

    async fn put_photo(&self, mailbox: &Mailbox, owner: &PhotoOwner, renditions: Vec<StoredPhoto>) -> GraphResult<()> {
        let (mb, owner) = (mailbox.clone(), owner.clone());
        let columns = self.contact_columns.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                if let PhotoOwner::Contact(id, scope) = &owner {
                    // The photo is part of the contact's version: it gets a new change key.
                    let c = select_contact(tx, &columns, &mb, id, scope).await?.ok_or_else(GraphError::item_not_found)?;
                    let ck = change_key(seq);
                    let change = Change {
                        contact: id.as_str(),
                        data: Some(&c),
                        change_key: &ck,
                        kind: "updated",
                        folder: Some(c.folder_id.as_str()),
                        mailbox_wide: true,
                    };
                    outbox::notify(tx, &mb, &[change]).await?;
                    tx.execute(
                        "UPDATE contacts SET change_seq = ?, change_key = ?, modified_at = ? WHERE mailbox_id = ? AND id = ?",
                        &[
                            seq.into(),
                            change_key(seq).into(),
                            rolo_domain::time::now_utc().into(),
                            mb.id.as_str().into(),
                            id.as_str().into(),
                        ],
                    )
                    .await?;
                }
                let key: Value = owner.key().into();
                tx.execute("DELETE FROM photos WHERE mailbox_id = ? AND owner_id = ?", &[mb.id.as_str().into(), key.clone()])
                    .await?;
                for p in renditions {
                    tx.execute(
                        "INSERT INTO photos (mailbox_id, owner_id, size, content_type, width, height, etag, bytes) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        &[
                            mb.id.as_str().into(),
                            key.clone(),
                            p.size.into(),
                            p.content_type.into(),
                            i64::from(p.width).into(),
                            i64::from(p.height).into(),
                            p.etag.into(),
                            p.bytes.into(),
                        ],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn photo_metadata(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<Vec<StoredPhoto>> {
        let mut conn = self.backend.read().await?;
        if !photo_owner_visible(conn.as_mut(), mailbox, owner).await? {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE mailbox_id = ? AND owner_id = ?");
        let rows = conn.query(&sql, &[mailbox.id.as_str().into(), owner.key().into()]).await?;
        let mut photos: Vec<StoredPhoto> = rows.into_iter().map(photo_from).collect();
        photos.sort_by_key(photo_order);
        Ok(photos)
    }

    async fn photo(&self, mailbox: &Mailbox, owner: &PhotoOwner, size: &str) -> GraphResult<Option<StoredPhoto>> {
        let mut conn = self.backend.read().await?;
        if !photo_owner_visible(conn.as_mut(), mailbox, owner).await? {
            return Ok(None);
        }
        let sql =
            format!("SELECT {PHOTO_COLUMNS}, bytes FROM photos WHERE mailbox_id = ? AND owner_id = ? AND size = ?");
        let row = conn.query_opt(&sql, &[mailbox.id.as_str().into(), owner.key().into(), size.into()]).await?;
        Ok(row.map(photo_from))
    }

    async fn delete_photo(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<bool> {
        let (mb, key) = (mailbox.clone(), owner.key().to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                bump(tx, &mb).await?;
                let n = tx
                    .execute(
                        "DELETE FROM photos WHERE mailbox_id = ? AND owner_id = ?",
                        &[mb.id.as_str().into(), key.into()],
                    )
                    .await?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn change_state(&self, mailbox: &Mailbox) -> GraphResult<ChangeState> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT change_seq, tombstone_floor FROM mailboxes WHERE mailbox_id = ?",
                &[mailbox.id.as_str().into()],
            )
            .await?
            .ok_or_else(GraphError::item_not_found)?;
        let mut it = row.into_iter().map(|v| v.as_i64().unwrap_or(0));
        Ok(ChangeState { current: it.next().unwrap_or(0), floor: it.next().unwrap_or(0) })
    }

    async fn delta(&self, mailbox: &Mailbox, q: &DeltaQuery) -> GraphResult<DeltaPage> {
        let mut conn = self.backend.read().await?;
        let limit = q.page_size as i64 + 1;
        // Rows in (since, upto], after the cursor, in (sequence, id) order. Row values let both
        // databases seek the (sequence, id) index instead of scanning from the round's start on
        // every page.
        let mut items: Vec<((i64, String), DeltaItem)> = Vec::new();
        let (kind, tomb_scope) = match &q.scope {
            DeltaScope::FolderContacts(f) => ("contact", f.as_str().to_owned()),
            DeltaScope::MailboxContacts => ("contact", "*".to_owned()),
            DeltaScope::Folders => ("folder", "*".to_owned()),
        };
        // Where a byte-bounded page of live items stopped short, with more after it.
        let mut cut: Option<(i64, String)> = None;
        if q.change_type != Some(ChangeType::Deleted) {
            let (table, columns, scope_sql) = match &q.scope {
                DeltaScope::FolderContacts(_) => ("contacts", self.contact_columns.as_str(), "t.folder_id = ? AND "),
                DeltaScope::MailboxContacts => ("contacts", self.contact_columns.as_str(), ""),
                DeltaScope::Folders => ("folders", FOLDER_COLUMNS, ""),
            };
            let created = match q.change_type {
                Some(ChangeType::Created) => " AND t.created_seq > ?",
                Some(ChangeType::Updated) => " AND t.created_seq <= ?",
                _ => "",
            };
            // Read in batches when the page is bounded by bytes (see `paging`), so rows past the
            // bound are never loaded; otherwise in one query of a page and one more row.
            let mut fetch = crate::paging::Fetch::new(q.page_size + 1, q.max_bytes);
            let mut after = q.after.clone();
            'batches: while let Some(batch) = fetch.next_batch() {
                let mut params: Vec<Value> = vec![mailbox.id.as_str().into()];
                if let DeltaScope::FolderContacts(f) = &q.scope {
                    params.push(f.as_str().into());
                }
                let window = match &after {
                    Some((seq, id)) => {
                        params.extend([q.upto.into(), (*seq).into(), id.as_str().into()]);
                        "t.change_seq <= ? AND (t.change_seq, t.id) > (?, ?)"
                    }
                    None => {
                        params.extend([q.upto.into(), q.since.into()]);
                        "t.change_seq <= ? AND t.change_seq > ?"
                    }
                };
                if !created.is_empty() {
                    params.push(q.since.into());
                }
                params.push((batch as i64 + 1).into());
                let sql = format!(
                    "SELECT {columns}, t.change_seq FROM {table} t WHERE t.mailbox_id = ? AND {scope_sql}{window}{created} \
                     ORDER BY t.change_seq, t.id LIMIT ?"
                );
                let mut rows = conn.query(&sql, &params).await?;
                let more = rows.len() > batch;
                rows.truncate(batch);
                let total = rows.len();
                for (i, mut row) in rows.into_iter().enumerate() {
                    let bytes = crate::paging::row_bytes(&row);
                    let seq = row.pop().and_then(|v| v.as_i64()).unwrap_or(0);
                    let item = if table == "folders" {
                        DeltaItem::Folder(folder_from(row))
                    } else {
                        DeltaItem::Contact(Box::new(contact_from(row)?))
                    };
                    let id = match &item {
                        DeltaItem::Contact(c) => c.id.to_string(),
                        DeltaItem::Folder(f) => f.id.to_string(),
                        DeltaItem::Removed(id) => id.clone(),
                    };
                    let key = (seq, id);
                    items.push((key.clone(), item));
                    if fetch.take(bytes) {
                        let follows = more || i + 1 < total;
                        if follows && fetch.over_bytes() {
                            cut = Some(key);
                        }
                        break 'batches;
                    }
                    after = Some(key);
                }
                if !more {
                    break;
                }
            }
        }
        // An initial round (since 0) reports what exists; removals only matter to later rounds.
        if q.since > 0 && !matches!(q.change_type, Some(ChangeType::Created) | Some(ChangeType::Updated)) {
            // An item that came back into the scope is live again: its tombstone is stale.
            let live = match &q.scope {
                DeltaScope::FolderContacts(_) => "SELECT 1 FROM contacts c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id AND c.folder_id = t.scope_id",
                DeltaScope::MailboxContacts => "SELECT 1 FROM contacts c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id",
                DeltaScope::Folders => "SELECT 1 FROM folders c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id",
            };
            let mut params: Vec<Value> =
                vec![mailbox.id.as_str().into(), kind.into(), tomb_scope.as_str().into(), q.upto.into()];
            let tomb_window = match &q.after {
                Some((seq, id)) => {
                    params.extend([Value::from(*seq), id.as_str().into()]);
                    "(t.seq, t.item_id) > (?, ?)"
                }
                None => {
                    params.push(q.since.into());
                    "t.seq > ?"
                }
            };
            params.push(limit.into());
            let sql = format!(
                "SELECT t.item_id, t.seq FROM tombstones t WHERE t.mailbox_id = ? AND t.kind = ? AND t.scope_id = ? \
                 AND t.seq <= ? AND {tomb_window} AND NOT EXISTS ({live}) \
                 ORDER BY t.seq, t.item_id LIMIT ?"
            );
            for row in conn.query(&sql, &params).await? {
                let mut it = row.into_iter();
                let id = it.next().map(Value::into_string).unwrap_or_default();
                let seq = it.next().and_then(|v| v.as_i64()).unwrap_or(0);
                items.push(((seq, id.clone()), DeltaItem::Removed(id)));
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut more = items.len() > q.page_size;
        items.truncate(q.page_size);
        if let Some(cut) = cut {
            // Removals past the last live item served wait for the next page with it.
            items.retain(|(key, _)| *key <= cut);
            more = true;
        }
        Ok(DeltaPage { items, more })
    }

    async fn compact_tombstones(&self, before: &str) -> GraphResult<u64> {
        let before = before.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                // Raise each affected mailbox's floor to the newest tombstone dropped, then drop them.
                tx.execute(
                    "UPDATE mailboxes SET tombstone_floor = (SELECT MAX(t.seq) FROM tombstones t \
                     WHERE t.mailbox_id = mailboxes.mailbox_id AND t.removed_at < ?) \
                     WHERE mailbox_id IN (SELECT mailbox_id FROM tombstones WHERE removed_at < ?)",
                    &[before.as_str().into(), before.as_str().into()],
                )
                .await?;
                tx.execute("DELETE FROM tombstones WHERE removed_at < ?", &[before.as_str().into()]).await
            })
        })
        .await
    }

    async fn list_schema_extensions(&self) -> GraphResult<Vec<SchemaExtension>> {
        let mut conn = self.backend.read().await?;
        let rows = conn.query("SELECT doc FROM schema_extensions ORDER BY created_at, id", &[]).await?;
        rows.into_iter().map(schema_from).collect()
    }

    async fn get_schema_extension(&self, id: &str) -> GraphResult<Option<SchemaExtension>> {
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT doc FROM schema_extensions WHERE id = ?", &[id.into()]).await?;
        row.map(schema_from).transpose()
    }

    async fn create_schema_extension(&self, ext: SchemaExtension) -> GraphResult<SchemaExtension> {
        let postgres = self.backend.dialect() == Dialect::Postgres;
        let doc = serde_json::to_string(&ext).map_err(GraphError::internal)?;
        let e = ext.clone();
        self.write(move |tx| {
            Box::pin(async move {
                if postgres {
                    // The per-owner limit is a count then an insert: processes take turns.
                    tx.execute("LOCK TABLE schema_extensions IN EXCLUSIVE MODE", &[]).await?;
                }
                if tx
                    .query_opt("SELECT 1 FROM schema_extensions WHERE id = ?", &[e.id.as_str().into()])
                    .await?
                    .is_some()
                {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "Conflict",
                        format!("A schema extension with the id '{}' already exists.", e.id),
                    ));
                }
                let owned = tx
                    .query_opt("SELECT COUNT(*) FROM schema_extensions WHERE owner = ?", &[e.owner.as_str().into()])
                    .await?
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                if owned >= MAX_PER_OWNER as i64 {
                    return Err(GraphError::bad_request(
                        "BadRequest",
                        format!("An application may own at most {MAX_PER_OWNER} schema extensions."),
                    ));
                }
                tx.execute(
                    "INSERT INTO schema_extensions (id, owner, created_at, doc) VALUES (?, ?, ?, ?)",
                    &[e.id.as_str().into(), e.owner.as_str().into(), rolo_domain::time::now_utc().into(), doc.into()],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(ext)
    }

    async fn update_schema_extension(&self, id: &str, edit: SchemaEdit) -> GraphResult<SchemaExtension> {
        let id = id.to_owned();
        let lock = self.row_lock();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT doc FROM schema_extensions WHERE id = ?{lock}");
                let row = tx.query_opt(&sql, &[id.as_str().into()]).await?.ok_or_else(schema_not_found)?;
                let mut ext = schema_from(row)?;
                edit(&mut ext)?;
                let doc = serde_json::to_string(&ext).map_err(GraphError::internal)?;
                tx.execute("UPDATE schema_extensions SET doc = ? WHERE id = ?", &[doc.into(), id.as_str().into()])
                    .await?;
                Ok(ext)
            })
        })
        .await
    }

    async fn delete_schema_extension(&self, id: &str, check: SchemaEdit) -> GraphResult<()> {
        let id = id.to_owned();
        let lock = self.row_lock();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT doc FROM schema_extensions WHERE id = ?{lock}");
                let row = tx.query_opt(&sql, &[id.as_str().into()]).await?.ok_or_else(schema_not_found)?;
                check(&mut schema_from(row)?)?;
                tx.execute("DELETE FROM schema_extensions WHERE id = ?", &[id.as_str().into()]).await?;
                Ok(())
            })
        })
        .await
    }

    async fn create_subscription(&self, sub: Subscription) -> GraphResult<Subscription> {
        let doc = serde_json::to_string(&sub).map_err(GraphError::internal)?;
        let s = sub.clone();
        let mb = Mailbox {
            id: sub.mailbox_id.clone(),
            root_folder_id: FolderId::from_stored(String::new()),
            default_folder_id: FolderId::from_stored(String::new()),
        };
        self.write(move |tx| {
            Box::pin(async move {
                // The mailbox's counter row serialises its writers, so the quota holds.
                bump(tx, &mb).await?;
                let n = tx
                    .query_opt(
                        "SELECT COUNT(*) FROM subscriptions WHERE mailbox_id = ? AND expires_at > ?",
                        &[s.mailbox_id.as_str().into(), rolo_domain::time::now_utc().into()],
                    )
                    .await?
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                if n >= subscription::MAX_PER_MAILBOX as i64 {
                    return Err(subscription::quota_exceeded());
                }
                tx.execute(
                    "INSERT INTO subscriptions (id, mailbox_id, scope_id, app_id, expires_at, reauth_at, doc) VALUES (?, ?, ?, ?, ?, '', ?)",
                    &[
                        s.id.as_str().into(),
                        s.mailbox_id.as_str().into(),
                        s.scope.as_str().into(),
                        s.application_id.as_str().into(),
                        s.expiration.as_str().into(),
                        doc.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(sub)
    }

    async fn get_subscription(&self, id: &str) -> GraphResult<Option<Subscription>> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT doc FROM subscriptions WHERE id = ? AND expires_at > ?",
                &[id.into(), rolo_domain::time::now_utc().into()],
            )
            .await?;
        row.map(outbox::subscription_from).transpose()
    }

    async fn list_subscriptions(&self, app_id: &str, mailbox_id: Option<&str>) -> GraphResult<Vec<Subscription>> {
        let mut conn = self.backend.read().await?;
        let now = rolo_domain::time::now_utc();
        let rows = match mailbox_id {
            Some(mb) => {
                conn.query(
                    "SELECT doc FROM subscriptions WHERE app_id = ? AND mailbox_id = ? AND expires_at > ? ORDER BY id",
                    &[app_id.into(), mb.into(), now.into()],
                )
                .await?
            }
            None => {
                conn.query(
                    "SELECT doc FROM subscriptions WHERE app_id = ? AND expires_at > ? ORDER BY id",
                    &[app_id.into(), now.into()],
                )
                .await?
            }
        };
        rows.into_iter().map(outbox::subscription_from).collect()
    }

    async fn update_subscription(&self, id: &str, edit: SubscriptionEdit) -> GraphResult<Subscription> {
        let id = id.to_owned();
        let lock = self.row_lock();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT doc FROM subscriptions WHERE id = ? AND expires_at > ?{lock}");
                let row = tx
                    .query_opt(&sql, &[id.as_str().into(), rolo_domain::time::now_utc().into()])
                    .await?
                    .ok_or_else(subscription::not_found)?;
                let mut sub = outbox::subscription_from(row)?;
                edit(&mut sub)?;
                let doc = serde_json::to_string(&sub).map_err(GraphError::internal)?;
                // A renewal also answers any reauthorization challenge.
                tx.execute(
                    "UPDATE subscriptions SET expires_at = ?, reauth_at = '', doc = ? WHERE id = ?",
                    &[sub.expiration.as_str().into(), doc.into(), id.as_str().into()],
                )
                .await?;
                Ok(sub)
            })
        })
        .await
    }

    async fn delete_subscription(&self, id: &str) -> GraphResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx.execute("DELETE FROM subscriptions WHERE id = ?", &[id.as_str().into()]).await?;
                if n == 0 {
                    return Err(subscription::not_found());
                }
                tx.execute("DELETE FROM outbox WHERE subscription_id = ?", &[id.as_str().into()]).await?;
                Ok(())
            })
        })
        .await
    }

    async fn reauthorize_subscription(&self, id: &str) -> GraphResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx
                    .execute(
                        "UPDATE subscriptions SET reauth_at = ? WHERE id = ? AND expires_at > ?",
                        &[rolo_domain::time::now_utc().into(), id.as_str().into(), rolo_domain::time::now_utc().into()],
                    )
                    .await?;
                if n == 0 {
                    return Err(subscription::not_found());
                }
                Ok(())
            })
        })
        .await
    }

    async fn claim_outbox(&self, limit: usize, lease_until: &str) -> GraphResult<Vec<OutboxItem>> {
        let now = rolo_domain::time::now_millis();
        let skip_locked = match self.backend.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET lease_until = ? WHERE id IN (SELECT id FROM outbox WHERE due_at <= ? AND lease_until < ? \
             ORDER BY due_at LIMIT {limit}{skip_locked}) RETURNING {OUTBOX_COLUMNS}"
        );
        let lease = lease_until.to_owned();
        let rows = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.query(&sql, &[lease.as_str().into(), now.as_str().into(), now.as_str().into()]).await
                })
            })
            .await?;
        let mut items: Vec<OutboxItem> = rows.into_iter().map(outbox::outbox_from).collect();
        items.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(items)
    }

    async fn ack_outbox(&self, ids: &[String]) -> GraphResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!("DELETE FROM outbox WHERE id IN ({marks})");
        let params: Vec<Value> = ids.iter().map(|i| Value::from(i.as_str())).collect();
        self.write(move |tx| Box::pin(async move { tx.execute(&sql, &params).await.map(|_| ()) })).await
    }

    async fn retry_outbox(&self, ids: &[String], due_at: &str) -> GraphResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql =
            format!("UPDATE outbox SET attempts = attempts + 1, due_at = ?, lease_until = '' WHERE id IN ({marks})");
        let mut params: Vec<Value> = vec![due_at.into()];
        params.extend(ids.iter().map(|i| Value::from(i.as_str())));
        self.write(move |tx| Box::pin(async move { tx.execute(&sql, &params).await.map(|_| ()) })).await
    }

    async fn give_up_outbox(&self, items: &[OutboxItem]) -> GraphResult<()> {
        let items = items.to_vec();
        self.write(move |tx| {
            Box::pin(async move {
                let mut missed: Vec<String> = Vec::new();
                for item in &items {
                    tx.execute("DELETE FROM outbox WHERE id = ?", &[item.id.as_str().into()]).await?;
                    if !item.lifecycle && !missed.contains(&item.subscription_id) {
                        missed.push(item.subscription_id.clone());
                    }
                }
                for sid in missed {
                    let row =
                        tx.query_opt("SELECT doc FROM subscriptions WHERE id = ?", &[sid.as_str().into()]).await?;
                    if let Some(row) = row {
                        outbox::lifecycle(tx, &outbox::subscription_from(row)?, "missed").await?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn sweep_subscriptions(&self) -> GraphResult<u64> {
        self.write(move |tx| {
            Box::pin(async move {
                let now = rolo_domain::time::now_utc();
                let expired =
                    tx.query("SELECT id FROM subscriptions WHERE expires_at <= ?", &[now.as_str().into()]).await?;
                for row in &expired {
                    let id = row.first().cloned().unwrap_or(Value::Null);
                    tx.execute("DELETE FROM outbox WHERE subscription_id = ?", std::slice::from_ref(&id)).await?;
                    tx.execute("DELETE FROM subscriptions WHERE id = ?", &[id]).await?;
                }
                let within_hour = rolo_domain::time::minutes_from_now(60);
                let quarter_ago = rolo_domain::time::minutes_from_now(-15);
                let due = tx
                    .query(
                        "SELECT doc FROM subscriptions WHERE expires_at <= ? AND reauth_at < ?",
                        &[within_hour.into(), quarter_ago.into()],
                    )
                    .await?;
                for row in due {
                    let sub = outbox::subscription_from(row)?;
                    outbox::lifecycle(tx, &sub, "reauthorizationRequired").await?;
                    tx.execute(
                        "UPDATE subscriptions SET reauth_at = ? WHERE id = ?",
                        &[now.as_str().into(), sub.id.as_str().into()],
                    )
                    .await?;
                }
                Ok(expired.len() as u64)
            })
        })
        .await
    }

    async fn set_mailbox_kind(&self, user_id: &str, kind: MailboxKind) -> GraphResult<()> {
        let id = user_id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE users SET shared = ? WHERE id = ?", &[kind.code().into(), id.as_str().into()])
                    .await?;
                bump_directory(tx).await
            })
        })
        .await
    }

    async fn is_shared_mailbox(&self, user_id: &str) -> GraphResult<bool> {
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT shared FROM users WHERE id = ?", &[user_id.into()]).await?;
        let code = row.and_then(|r| r.into_iter().next()).and_then(|v| v.as_i64()).unwrap_or(0);
        Ok(MailboxKind::from_code(code) == MailboxKind::Shared)
    }

    async fn grants_of(&self, mailbox: &Mailbox, grantee: &str) -> GraphResult<Grants> {
        let mut conn = self.backend.read().await?;
        let p = [mailbox.id.as_str().into(), grantee.into()];
        let whole =
            conn.query_opt("SELECT role FROM mailbox_grants WHERE mailbox_id = ? AND grantee_id = ?", &p).await?;
        let folders =
            conn.query("SELECT folder_id, role FROM folder_grants WHERE mailbox_id = ? AND grantee_id = ?", &p).await?;
        Ok(Grants {
            mailbox: whole.and_then(|r| r.into_iter().next()).and_then(|v| Grant::parse(&v.into_string())),
            folders: folders
                .into_iter()
                .filter_map(|r| {
                    let mut it = r.into_iter().map(Value::into_string);
                    let folder = FolderId::from_stored(it.next()?);
                    Grant::parse(&it.next()?).map(|g| (folder, g))
                })
                .collect(),
        })
    }

    async fn set_mailbox_grant(&self, mailbox: &Mailbox, grantee: &str, grant: Option<Grant>) -> GraphResult<()> {
        let (mb, grantee) = (mailbox.id.clone(), grantee.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "DELETE FROM mailbox_grants WHERE mailbox_id = ? AND grantee_id = ?",
                    &[mb.as_str().into(), grantee.as_str().into()],
                )
                .await?;
                if let Some(g) = grant {
                    tx.execute(
                        "INSERT INTO mailbox_grants (mailbox_id, grantee_id, role) VALUES (?, ?, ?)",
                        &[mb.as_str().into(), grantee.as_str().into(), g.name().into()],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn folder_permissions(&self, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<Vec<FolderPermission>> {
        let mut conn = self.backend.read().await?;
        let sql = format!(
            "SELECT g.id, g.role, {USER_COLUMNS} FROM folder_grants g JOIN users u ON u.id = g.grantee_id \
             JOIN mailboxes m ON m.mailbox_id = u.id WHERE g.mailbox_id = ? AND g.folder_id = ? ORDER BY u.upn_key"
        );
        let rows = conn.query(&sql, &[mailbox.id.as_str().into(), folder.as_str().into()]).await?;
        Ok(rows.into_iter().filter_map(permission_from).collect())
    }

    async fn add_folder_permission(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        grantee: &User,
        grant: Grant,
    ) -> GraphResult<FolderPermission> {
        let permission =
            FolderPermission { id: ContactId::generate().as_str().to_owned(), grantee: grantee.clone(), grant };
        let (mb, folder, p) = (mailbox.clone(), folder.clone(), permission.clone());
        self.write(move |tx| {
            Box::pin(async move {
                if !folder_exists(tx, &mb, &folder).await? {
                    return Err(GraphError::item_not_found());
                }
                let taken = tx
                    .query_opt(
                        "SELECT 1 FROM folder_grants WHERE mailbox_id = ? AND folder_id = ? AND grantee_id = ?",
                        &[mb.id.as_str().into(), folder.as_str().into(), p.grantee.id.as_str().into()],
                    )
                    .await?;
                if taken.is_some() {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "ErrorItemExists",
                        "The folder is already shared with this user; update that permission instead.",
                    ));
                }
                tx.execute(
                    "INSERT INTO folder_grants (mailbox_id, folder_id, id, grantee_id, role) VALUES (?, ?, ?, ?, ?)",
                    &[
                        mb.id.as_str().into(),
                        folder.as_str().into(),
                        p.id.as_str().into(),
                        p.grantee.id.as_str().into(),
                        p.grant.name().into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(permission)
    }

    async fn update_folder_permission(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        id: &str,
        grant: Grant,
    ) -> GraphResult<FolderPermission> {
        let (mb, f, pid) = (mailbox.id.clone(), folder.clone(), id.to_owned());
        let n = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "UPDATE folder_grants SET role = ? WHERE mailbox_id = ? AND folder_id = ? AND id = ?",
                        &[grant.name().into(), mb.as_str().into(), f.as_str().into(), pid.as_str().into()],
                    )
                    .await
                })
            })
            .await?;
        if n == 0 {
            return Err(GraphError::item_not_found());
        }
        self.folder_permissions(mailbox, folder)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(GraphError::item_not_found)
    }

    async fn delete_folder_permission(&self, mailbox: &Mailbox, folder: &FolderId, id: &str) -> GraphResult<()> {
        let (mb, f, pid) = (mailbox.id.clone(), folder.clone(), id.to_owned());
        let n = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "DELETE FROM folder_grants WHERE mailbox_id = ? AND folder_id = ? AND id = ?",
                        &[mb.as_str().into(), f.as_str().into(), pid.as_str().into()],
                    )
                    .await
                })
            })
            .await?;
        if n == 0 {
            return Err(GraphError::item_not_found());
        }
        Ok(())
    }

    async fn app_may_access(&self, app_id: &str, user_id: &str) -> GraphResult<bool> {
        let mut conn = self.backend.read().await?;
        let listed = conn
            .query_opt("SELECT 1 FROM app_policies WHERE app_id = ? AND user_id = ?", &[app_id.into(), user_id.into()])
            .await?;
        if listed.is_some() {
            return Ok(true);
        }
        // Not listed: allowed only when the app has no policy at all.
        let any = conn.query_opt("SELECT 1 FROM app_policies WHERE app_id = ? LIMIT 1", &[app_id.into()]).await?;
        Ok(any.is_none())
    }

    async fn restrict_app(&self, app_id: &str, user_id: &str, allow: bool) -> GraphResult<()> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let p = [app.as_str().into(), user.as_str().into()];
                tx.execute("DELETE FROM app_policies WHERE app_id = ? AND user_id = ?", &p).await?;
                if allow {
                    tx.execute("INSERT INTO app_policies (app_id, user_id) VALUES (?, ?)", &p).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn wipe(&self) -> GraphResult<()> {
        self.write(move |tx| {
            Box::pin(async move {
                for table in crate::migrations::STATE_TABLES.iter().rev() {
                    tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
                }
                bump_directory(tx).await
            })
        })
        .await
    }

    async fn expire_delta_tokens(&self) -> GraphResult<()> {
        // Tokens older than a mailbox's floor get 410; raising the floor to now retires them all.
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE mailboxes SET change_seq = change_seq + 1, tombstone_floor = change_seq + 1", &[])
                    .await
                    .map(|_| ())
            })
        })
        .await
    }

    async fn snapshot_to(&self, path: &std::path::Path) -> GraphResult<()> {
        self.sqlite_only()?;
        // `open` reads a `postgres://` or `sqlite:` prefix as a database URL, not a file name.
        let name = path.to_string_lossy();
        if !path.is_absolute() || name.contains("://") || name.starts_with("sqlite:") {
            return Err(GraphError::bad_request("BadRequest", "A snapshot is written to an absolute file path."));
        }
        if path.symlink_metadata().is_ok() {
            return Err(GraphError::bad_request("BadRequest", format!("{} already exists.", path.display())));
        }
        let target = crate::open(&name, &crate::OpenOptions::default()).await?;
        let rows = self.dump().await?;
        target.load(rows).await?;
        // The mark `restore_from` looks for before it touches anything.
        let mark = format!("PRAGMA application_id = {}", crate::snapshot::APPLICATION_ID);
        let mut conn = target.backend.read().await?;
        conn.execute(&mark, &[]).await?;
        Ok(())
    }

    async fn restore_from(&self, path: &std::path::Path) -> GraphResult<()> {
        self.sqlite_only()?;
        crate::snapshot::check(path)?;
        let source = crate::open(&path.to_string_lossy(), &crate::OpenOptions::default()).await?;
        let rows = source.dump().await?;
        self.load(rows).await
    }

    async fn create_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: &str,
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> GraphResult<Item> {
        self.create_item_impl(mailbox, kind, folder, doc).await
    }

    async fn get_item(&self, mailbox: &Mailbox, kind: ItemKind, id: &str) -> GraphResult<Option<Item>> {
        let mut conn = self.backend.read().await?;
        select_item(conn.as_mut(), mailbox, kind, id).await
    }

    async fn list_items(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: Option<&str>,
        query: &ListQuery,
    ) -> GraphResult<Page<Item>> {
        self.list_items_impl(mailbox, kind, folder, query).await
    }

    async fn update_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item> {
        self.update_item_impl(mailbox, kind, id, if_match, edit).await
    }

    async fn delete_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()> {
        self.delete_item_impl(mailbox, kind, id, if_match).await
    }

    async fn interactions(&self, mailbox: &Mailbox) -> GraphResult<Vec<Interaction>> {
        self.interactions_impl(mailbox).await
    }

    async fn create_items(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        items: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> GraphResult<usize> {
        self.create_items_impl(mailbox, kind, items).await
    }

    async fn list_categories(&self, mailbox: &Mailbox) -> GraphResult<Vec<OutlookCategory>> {
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT id, display_name, color FROM categories WHERE mailbox_id = ? ORDER BY created_seq",
                &[mailbox.id.as_str().into()],
            )
            .await?;
        Ok(rows.into_iter().map(category_from).collect())
    }

    async fn get_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<Option<OutlookCategory>> {
        let mut conn = self.backend.read().await?;
        select_category(conn.as_mut(), mailbox, id).await
    }

    async fn create_category(&self, mailbox: &Mailbox, name: &str, color: &str) -> GraphResult<OutlookCategory> {
        let category = OutlookCategory { id: new_guid(), display_name: name.to_owned(), color: color.to_owned() };
        let (mb, c) = (mailbox.clone(), category.clone());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                let clash = tx
                    .query_opt(
                        "SELECT 1 FROM categories WHERE mailbox_id = ? AND name_key = ?",
                        &[mb.id.as_str().into(), fold(&c.display_name).into()],
                    )
                    .await?;
                if clash.is_some() {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "ErrorDuplicateCategory",
                        format!("A category named '{}' already exists in the master list.", c.display_name),
                    ));
                }
                tx.execute(
                    "INSERT INTO categories (mailbox_id, id, display_name, name_key, color, created_seq) VALUES (?, ?, ?, ?, ?, ?)",
                    &[
                        mb.id.as_str().into(),
                        c.id.as_str().into(),
                        c.display_name.as_str().into(),
                        fold(&c.display_name).into(),
                        c.color.as_str().into(),
                        seq.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(category)
    }

    async fn update_category_color(&self, mailbox: &Mailbox, id: &str, color: &str) -> GraphResult<OutlookCategory> {
        let (mb, id, color) = (mailbox.clone(), id.to_owned(), color.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                bump(tx, &mb).await?;
                let mut c = select_category(tx, &mb, &id).await?.ok_or_else(GraphError::item_not_found)?;
                tx.execute(
                    "UPDATE categories SET color = ? WHERE mailbox_id = ? AND id = ?",
                    &[color.as_str().into(), mb.id.as_str().into(), id.as_str().into()],
                )
                .await?;
                c.color = color;
                Ok(c)
            })
        })
        .await
    }

    async fn delete_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<()> {
        let (mb, id) = (mailbox.clone(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                bump(tx, &mb).await?;
                let n = tx
                    .execute(
                        "DELETE FROM categories WHERE mailbox_id = ? AND id = ?",
                        &[mb.id.as_str().into(), id.into()],
                    )
                    .await?;
                if n == 0 {
                    return Err(GraphError::item_not_found());
                }
                Ok(())
            })
        })
        .await
    }

    async fn extensions_of(
        &self,
        mailbox: &Mailbox,
        contacts: &[ContactId],
    ) -> GraphResult<Vec<(ContactId, OpenExtension)>> {
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; contacts.len()].join(", ");
        let sql = format!(
            "SELECT contact_id, name, data FROM extensions WHERE mailbox_id = ? AND contact_id IN ({marks}) ORDER BY contact_id, name_key"
        );
        let mut params: Vec<Value> = vec![mailbox.id.as_str().into()];
        params.extend(contacts.iter().map(|c| Value::from(c.as_str())));
        let mut conn = self.backend.read().await?;
        let mut out = Vec::new();
        for mut row in conn.query(&sql, &params).await? {
            let id = ContactId::from_stored(row.remove(0).into_string());
            out.push((id, extension_from(row)?));
        }
        Ok(out)
    }

    async fn create_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        ext: OpenExtension,
        limits: rolo_domain::extension::ExtensionLimits,
    ) -> GraphResult<OpenExtension> {
        let (mb, id, scope) = (mailbox.clone(), contact.clone(), scope.clone());
        let columns = self.contact_columns.clone();
        self.write(move |tx| {
            Box::pin(async move {
                lock_contact(tx, &columns, &mb, &id, &scope).await?;
                let count = tx
                    .query_opt(
                        "SELECT COUNT(*) FROM extensions WHERE mailbox_id = ? AND contact_id = ?",
                        &[mb.id.as_str().into(), id.as_str().into()],
                    )
                    .await?
                    .and_then(|r| r.into_iter().next())
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                if count as usize >= limits.per_contact {
                    return Err(rolo_domain::extension::too_many(limits));
                }
                insert_extension(tx, &mb, &id, &ext).await?;
                Ok(ext)
            })
        })
        .await
    }

    async fn update_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        patch: OpenExtension,
        limits: rolo_domain::extension::ExtensionLimits,
    ) -> GraphResult<OpenExtension> {
        let (mb, id, scope) = (mailbox.clone(), contact.clone(), scope.clone());
        let columns = self.contact_columns.clone();
        self.write(move |tx| {
            Box::pin(async move {
                lock_contact(tx, &columns, &mb, &id, &scope).await?;
                let mut ext =
                    select_extension(tx, &mb, &id, &patch.name).await?.ok_or_else(GraphError::item_not_found)?;
                ext.merge(patch, limits)?;
                let data = serde_json::to_string(&ext.properties).map_err(GraphError::internal)?;
                tx.execute(
                    "UPDATE extensions SET data = ? WHERE mailbox_id = ? AND contact_id = ? AND name_key = ?",
                    &[data.into(), mb.id.as_str().into(), id.as_str().into(), fold(&ext.name).into()],
                )
                .await?;
                Ok(ext)
            })
        })
        .await
    }

    async fn delete_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        name: &str,
    ) -> GraphResult<()> {
        let (mb, id, scope, name) = (mailbox.clone(), contact.clone(), scope.clone(), name.to_owned());
        let columns = self.contact_columns.clone();
        self.write(move |tx| {
            Box::pin(async move {
                lock_contact(tx, &columns, &mb, &id, &scope).await?;
                let n = tx
                    .execute(
                        "DELETE FROM extensions WHERE mailbox_id = ? AND contact_id = ? AND name_key = ?",
                        &[mb.id.as_str().into(), id.as_str().into(), fold(&name).into()],
                    )
                    .await?;
                if n == 0 {
                    return Err(GraphError::item_not_found());
                }
                Ok(())
            })
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and events, and the interactions aggregate they feed.

/// The table, category side table, and derived key columns (in insert order) of an item kind.
fn item_table(kind: ItemKind) -> (&'static str, &'static str, &'static [&'static str]) {
    match kind {
        ItemKind::Message => {
            ("messages", "message_categories", &["received_at", "sent_at", "subject_key", "from_key", "is_read"])
        }
        ItemKind::Event => ("events", "event_categories", &["start_at", "end_at", "subject_key", "organizer_key"]),
    }
}

/// The key columns of an item, in `item_table`'s order.
fn item_keys(kind: ItemKind, item: &Item) -> Vec<Value> {
    let d = &item.doc;
    let text = |k: &str| d.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    let subject = Value::Text(fold(&text("subject").unwrap_or_default()));
    match kind {
        ItemKind::Message => {
            let received = text("receivedDateTime").unwrap_or_else(|| item.created.clone());
            let is_read =
                d.get("isRead").and_then(serde_json::Value::as_bool).unwrap_or(item.folder != MailFolder::Inbox.name());
            vec![
                received.into(),
                text("sentDateTime").into(),
                subject,
                fold(mail::message_from(d).unwrap_or_default()).into(),
                i64::from(is_read).into(),
            ]
        }
        ItemKind::Event => {
            let organizer = d.get("organizer").and_then(|o| o["emailAddress"]["address"].as_str()).unwrap_or_default();
            vec![
                mail::event_instant(d.get("start")).unwrap_or_default().into(),
                mail::event_instant(d.get("end")).unwrap_or_default().into(),
                subject,
                fold(organizer).into(),
            ]
        }
    }
}

fn item_from(row: Row) -> GraphResult<Item> {
    let mut it = row.into_iter();
    let mut next = || it.next().map(Value::into_string).unwrap_or_default();
    let (id, folder, change_key, created, modified, doc) = (next(), next(), next(), next(), next(), next());
    let doc = serde_json::from_str(&doc)
        .map_err(|e| GraphError::internal(format!("item {id} has a corrupt document: {e}")))?;
    Ok(Item { id, folder, change_key, created, modified, doc })
}

fn item_columns(dialect: Dialect) -> String {
    format!("t.id, t.folder, t.change_key, t.created_at, t.modified_at, {}", dialect.doc_select("t.doc"))
}

/// The mailbox owner's address (the mailbox id is the owner's user id).
async fn owner_address(tx: &mut dyn Sql, mailbox: &Mailbox) -> GraphResult<String> {
    Ok(tx
        .query_opt("SELECT upn FROM users WHERE id = ?", &[mailbox.id.as_str().into()])
        .await?
        .and_then(|r| r.into_iter().next())
        .map(Value::into_string)
        .unwrap_or_default())
}

/// Rewrites an item's category and correspondent rows, then refreshes the interactions of every
/// address it named before or names now.
async fn index_item(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    kind: ItemKind,
    item: Option<&Item>,
    id: &str,
    fresh: bool,
) -> GraphResult<()> {
    let (_, cat_table, _) = item_table(kind);
    let key = [mb.id.as_str().into(), Value::from(id)];
    let mut touched: Vec<String> = Vec::new();
    if !fresh {
        tx.execute(&format!("DELETE FROM {cat_table} WHERE mailbox_id = ? AND item_id = ?"), &key).await?;
        let p = [mb.id.as_str().into(), kind.name().into(), Value::from(id)];
        let old = tx
            .query("SELECT address_key FROM correspondents WHERE mailbox_id = ? AND item_kind = ? AND item_id = ?", &p)
            .await?;
        touched.extend(old.into_iter().filter_map(|r| r.into_iter().next()).map(Value::into_string));
        tx.execute("DELETE FROM correspondents WHERE mailbox_id = ? AND item_kind = ? AND item_id = ?", &p).await?;
    }
    if let Some(item) = item {
        let mut cats: Vec<String> = item
            .doc
            .get("categories")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(fold))
            .collect();
        cats.sort();
        cats.dedup();
        for c in cats {
            tx.execute(
                &format!("INSERT INTO {cat_table} (mailbox_id, name_key, item_id) VALUES (?, ?, ?)"),
                &[mb.id.as_str().into(), c.into(), id.into()],
            )
            .await?;
        }
        let owner = owner_address(tx, mb).await?;
        for c in mail::correspondents(kind, &item.folder, &item.doc, &owner) {
            let address = fold(&c.address);
            // A name that only repeats the address (Graph's default) is no name.
            let name = if c.display_name.eq_ignore_ascii_case(&c.address) { String::new() } else { c.display_name };
            tx.execute(
                "INSERT INTO correspondents (mailbox_id, item_kind, item_id, address_key, display_name, signal, at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    mb.id.as_str().into(),
                    kind.name().into(),
                    id.into(),
                    address.as_str().into(),
                    name.into(),
                    c.signal.name().into(),
                    c.at.into(),
                ],
            )
            .await?;
            touched.push(address);
        }
    }
    touched.sort();
    touched.dedup();
    for address in touched {
        refresh_interaction(tx, mb, &address).await?;
    }
    Ok(())
}

/// Recomputes one (mailbox, address) aggregate from the correspondent rows, so deletes and
/// edits keep it exact.
async fn refresh_interaction(tx: &mut dyn Sql, mb: &Mailbox, address: &str) -> GraphResult<()> {
    let key = [mb.id.as_str().into(), Value::from(address)];
    tx.execute("DELETE FROM interactions WHERE mailbox_id = ? AND address_key = ?", &key).await?;
    let rows = tx
        .query(
            "SELECT signal, COUNT(*), MAX(at) FROM correspondents WHERE mailbox_id = ? AND address_key = ? GROUP BY signal",
            &key,
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut counts = [(0i64, None::<String>), (0, None), (0, None)];
    for row in rows {
        let mut it = row.into_iter();
        let signal = it.next().map(Value::into_string).unwrap_or_default();
        let n = it.next().and_then(|v| v.as_i64()).unwrap_or(0);
        let last = it.next().and_then(Value::into_opt_string).filter(|s| !s.is_empty());
        let slot = match signal.as_str() {
            "sent" => 0,
            "received" => 1,
            _ => 2,
        };
        counts[slot] = (n, last);
    }
    let name = tx
        .query_opt(
            "SELECT display_name FROM correspondents WHERE mailbox_id = ? AND address_key = ? AND display_name <> '' \
             ORDER BY at DESC LIMIT 1",
            &key,
        )
        .await?
        .and_then(|r| r.into_iter().next())
        .map(Value::into_string)
        .unwrap_or_default();
    let [(sent, last_sent), (received, last_received), (meetings, last_meeting)] = counts;
    tx.execute(
        "INSERT INTO interactions (mailbox_id, address_key, display_name, sent_count, received_count, meeting_count, \
         last_sent_at, last_received_at, last_meeting_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            mb.id.as_str().into(),
            address.into(),
            name.into(),
            sent.into(),
            received.into(),
            meetings.into(),
            last_sent.into(),
            last_received.into(),
            last_meeting.into(),
        ],
    )
    .await?;
    Ok(())
}

async fn select_item(conn: &mut dyn Sql, mb: &Mailbox, kind: ItemKind, id: &str) -> GraphResult<Option<Item>> {
    let (table, _, _) = item_table(kind);
    let row = conn
        .query_opt(
            &format!("SELECT {} FROM {table} t WHERE t.mailbox_id = ? AND t.id = ?", ITEM_COLUMNS_TEXT),
            &[mb.id.as_str().into(), id.into()],
        )
        .await?;
    row.map(item_from).transpose()
}

/// The item columns with the document read back as text on either database.
const ITEM_COLUMNS_TEXT: &str = "t.id, t.folder, t.change_key, t.created_at, t.modified_at, CAST(t.doc AS TEXT)";

impl SqlStore {
    async fn create_item_impl(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: &str,
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> GraphResult<Item> {
        let insert = self.item_insert(kind);
        let (mb, folder) = (mailbox.clone(), folder.to_owned());
        self.write(move |tx| Box::pin(async move { insert_item(tx, &mb, kind, &insert, folder, doc).await })).await
    }

    /// Many items in one transaction: for imports, where one commit per item would dominate.
    async fn create_items_impl(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        items: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> GraphResult<usize> {
        let insert = self.item_insert(kind);
        let mb = mailbox.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let n = items.len();
                for (folder, doc) in items {
                    insert_item(tx, &mb, kind, &insert, folder, doc).await?;
                }
                Ok(n)
            })
        })
        .await
    }

    fn item_insert(&self, kind: ItemKind) -> String {
        let (table, _, keys) = item_table(kind);
        let marks = vec!["?"; keys.len()].join(", ");
        format!(
            "INSERT INTO {table} (mailbox_id, id, folder, created_seq, change_seq, change_key, created_at, modified_at, \
             {}, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {marks}, {})",
            keys.join(", "),
            self.doc_param
        )
    }

    async fn update_item_impl(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item> {
        let (table, _, keys) = item_table(kind);
        let sets: String = keys.iter().map(|k| format!(", {k} = ?")).collect();
        let update = format!(
            "UPDATE {table} SET folder = ?, change_seq = ?, change_key = ?, modified_at = ?{sets}, doc = {} \
             WHERE mailbox_id = ? AND id = ?",
            self.doc_param
        );
        let (mb, id) = (mailbox.clone(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                let mut item = select_item(tx, &mb, kind, &id).await?.ok_or_else(GraphError::item_not_found)?;
                if !if_match_ok(&if_match, &item.change_key) {
                    return Err(GraphError::change_key_mismatch());
                }
                edit(&mut item)?;
                item.change_key = change_key(seq);
                item.modified = rolo_domain::time::now_utc();
                let mut params: Vec<Value> = vec![
                    item.folder.as_str().into(),
                    seq.into(),
                    item.change_key.as_str().into(),
                    item.modified.as_str().into(),
                ];
                params.extend(item_keys(kind, &item));
                params.push(serde_json::to_string(&item.doc).map_err(GraphError::internal)?.into());
                params.extend([mb.id.as_str().into(), item.id.as_str().into()]);
                tx.execute(&update, &params).await?;
                index_item(tx, &mb, kind, Some(&item), &item.id, false).await?;
                Ok(item)
            })
        })
        .await
    }

    async fn delete_item_impl(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()> {
        let (table, _, _) = item_table(kind);
        let (mb, id) = (mailbox.clone(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                bump(tx, &mb).await?;
                let item = select_item(tx, &mb, kind, &id).await?.ok_or_else(GraphError::item_not_found)?;
                if !if_match_ok(&if_match, &item.change_key) {
                    return Err(GraphError::change_key_mismatch());
                }
                index_item(tx, &mb, kind, None, &id, false).await?;
                tx.execute(
                    &format!("DELETE FROM {table} WHERE mailbox_id = ? AND id = ?"),
                    &[mb.id.as_str().into(), id.as_str().into()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn list_items_impl(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: Option<&str>,
        query: &ListQuery,
    ) -> GraphResult<Page<Item>> {
        let (table, _, _) = item_table(kind);
        let entity = match kind {
            ItemKind::Message => Entity::Message,
            ItemKind::Event => Entity::Event,
        };
        let (scope_sql, scope_params) = match folder {
            Some(f) => ("t.mailbox_id = ? AND t.folder = ?", vec![mailbox.id.as_str().into(), f.into()]),
            None => ("t.mailbox_id = ?", vec![mailbox.id.as_str().into()]),
        };
        let columns = item_columns(self.backend.dialect());
        let (rows, next, count) = self
            .list_rows(entity, mailbox, ListSource { columns: &columns, table, scope_sql, scope_params }, query)
            .await?;
        let items = rows.into_iter().map(item_from).collect::<GraphResult<Vec<_>>>()?;
        Ok(Page { items, next, count })
    }

    async fn interactions_impl(&self, mailbox: &Mailbox) -> GraphResult<Vec<Interaction>> {
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT address_key, display_name, sent_count, received_count, meeting_count, last_sent_at, \
                 last_received_at, last_meeting_at FROM interactions WHERE mailbox_id = ? ORDER BY address_key",
                &[mailbox.id.as_str().into()],
            )
            .await?;
        let mut out: Vec<Interaction> = rows
            .into_iter()
            .map(|row| {
                let mut it = row.into_iter();
                let mut next = || it.next().unwrap_or(Value::Null);
                Interaction {
                    address: next().into_string(),
                    display_name: next().into_string(),
                    sent_count: next().as_i64().unwrap_or(0),
                    received_count: next().as_i64().unwrap_or(0),
                    meeting_count: next().as_i64().unwrap_or(0),
                    last_sent_at: next().into_opt_string(),
                    last_received_at: next().into_opt_string(),
                    last_meeting_at: next().into_opt_string(),
                }
            })
            .collect();
        let latest = |i: &Interaction| {
            [&i.last_sent_at, &i.last_received_at, &i.last_meeting_at].into_iter().flatten().max().cloned()
        };
        out.sort_by(|a, b| latest(b).cmp(&latest(a)).then_with(|| a.address.cmp(&b.address)));
        Ok(out)
    }
}
