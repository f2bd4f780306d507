//! [`Contacts`] over SQL: contacts, and through them their photos and open extensions (whose
//! rows contact_parts.rs reads and writes).

use super::*;

pub(super) fn contact_from(row: Row) -> GraphResult<Contact> {
    stored_contact_from(row).parse()
}

/// A contact row with its document left unparsed.
pub(super) fn stored_contact_from(mut row: Row) -> StoredContact {
    StoredContact {
        id: ContactId::from_stored(row.text("id")),
        folder_id: FolderId::from_stored(row.text("folder_id")),
        change_key: row.text("change_key"),
        created: row.text("created_at"),
        modified: row.text("modified_at"),
        doc: row.text("doc"),
    }
}

/// The columns derived from a contact's data, in [`CONTACTS`]' order: the folded sort keys
/// (display_name_key, given_name_key, surname_key, company_name_key), `doc` and `fold_doc`.
pub(super) fn derived_columns(d: &ContactData) -> GraphResult<Vec<Value>> {
    let k = |s: &Option<String>| Value::Text(s.as_deref().map(fold).unwrap_or_default());
    let (doc, fold_doc) = to_docs(d)?;
    Ok(vec![k(&d.display_name), k(&d.given_name), k(&d.surname), k(&d.company_name), doc.into(), fold_doc.into()])
}

/// A contact's version columns, written at `seq`.
pub(super) fn contact_version(c: &Contact, seq: i64) -> RowVersion<'_> {
    RowVersion {
        id: c.id.as_str(),
        folder: c.folder_id.as_str(),
        seq,
        change_key: &c.change_key,
        created: &c.created,
        modified: &c.modified,
    }
}

/// The stored document and its folded twin: every top-level string lower-cased, for
/// case-insensitive filtering and ordering on properties without a key column.
pub(super) fn to_docs(d: &ContactData) -> GraphResult<(String, String)> {
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

/// Rewrites the side tables that index a contact's email addresses, categories, single-value
/// extended properties and search words.
pub(super) async fn index_collections(
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
        tx.execute("DELETE FROM contact_words WHERE mailbox_id = ? AND contact_id = ?", &[mb.clone(), cid.clone()])
            .await?;
    }
    crate::search_index::insert_words(tx, &mb, &cid, data).await?;
    let (emails, cats) = email_and_category_keys(data);
    for address in emails {
        tx.execute(
            "INSERT INTO contact_emails (mailbox_id, address_key, contact_id) VALUES (?, ?, ?)",
            &[mb.clone(), address.into(), cid.clone()],
        )
        .await?;
    }
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

/// How a new contact's rows are written: on SQLite a statement per table (no round trips to
/// save); on PostgreSQL one statement whose CTEs insert the search words, e-mails, categories
/// and extended properties beside the contact row, each side table's rows from a JSON array
/// parameter (one statement shape for any number of rows, so one prepared statement).
#[derive(Clone)]
pub(super) struct ContactInsert {
    sql: String,
    /// `sql` also writes the side tables (PostgreSQL).
    combined: bool,
    /// `sql` ends in `RETURNING` (its caller's CTEs report something).
    returns: bool,
}

impl ContactInsert {
    pub(super) fn new(dialect: Dialect) -> ContactInsert {
        ContactInsert::with(dialect, "", "")
    }

    /// The statement with a caller's further CTEs (`more`, each starting with `, `: their
    /// parameters come after the side tables', before the row's) and a `RETURNING` clause
    /// (`returning`). SQLite has no data-modifying CTEs: there both are the caller's to run.
    pub(super) fn with(dialect: Dialect, more: &str, returning: &str) -> ContactInsert {
        let row = CONTACTS.insert_sql(dialect.doc_param());
        match dialect {
            Dialect::Sqlite => ContactInsert { sql: row, combined: false, returns: false },
            Dialect::Postgres => {
                let array = "json_array_elements(CAST(CAST(? AS TEXT) AS JSON)) AS v";
                let texts = "json_array_elements_text(CAST(CAST(? AS TEXT) AS JSON)) AS v";
                let sql = format!(
                    "WITH w AS (INSERT INTO contact_words (mailbox_id, word, field, contact_id) \
                     SELECT ?, v->>0, v->>1, ? FROM {array}), \
                     e AS (INSERT INTO contact_emails (mailbox_id, address_key, contact_id) SELECT ?, v, ? FROM {texts}), \
                     k AS (INSERT INTO contact_categories (mailbox_id, name_key, contact_id) SELECT ?, v, ? FROM {texts}), \
                     x AS (INSERT INTO contact_xprops (mailbox_id, prop_id, value_key, contact_id) \
                     SELECT ?, v->>0, v->>1, ? FROM {array}){more} {row}{returning}"
                );
                ContactInsert { sql, combined: true, returns: !returning.is_empty() }
            }
        }
    }

    /// Whether the statement writes the side tables and the caller's CTEs (PostgreSQL).
    pub(super) fn combined(&self) -> bool {
        self.combined
    }
}

/// A contact's e-mail address keys and category keys: folded, sorted, without repeats.
fn email_and_category_keys(data: &ContactData) -> (Vec<String>, Vec<String>) {
    let mut emails: Vec<String> = data.email_addresses.iter().filter_map(|e| e.address.as_deref()).map(fold).collect();
    emails.sort();
    emails.dedup();
    let mut cats: Vec<String> = data.categories.iter().map(|c| fold(c)).collect();
    cats.sort();
    cats.dedup();
    (emails, cats)
}

/// A contact's side-table rows as JSON array parameters: search words (`[word, field]`),
/// e-mail keys, category keys and extended properties (`[id, folded value]`).
pub(super) fn side_table_rows(data: &ContactData) -> GraphResult<[Value; 4]> {
    let json = |v: serde_json::Value| -> GraphResult<Value> {
        Ok(serde_json::to_string(&v).map_err(GraphError::internal)?.into())
    };
    let words = rolo_domain::search::contact_words(data);
    let words: Vec<[&str; 2]> = words.iter().map(|(w, f)| [w.as_str(), *f]).collect();
    let words = serde_json::to_value(words).map_err(GraphError::internal)?;
    let (emails, cats) = email_and_category_keys(data);
    let xprops: Vec<[String; 2]> =
        data.single_value_extended_properties.iter().map(|p| [p.id.as_str().to_owned(), fold(&p.value)]).collect();
    let xprops = serde_json::to_value(xprops).map_err(GraphError::internal)?;
    Ok([json(words)?, json(emails.into())?, json(cats.into())?, json(xprops)?])
}

/// The side-table parameters of [`ContactInsert`]'s combined statement, in its order.
fn side_table_params(mb: &Value, cid: &Value, data: &ContactData) -> GraphResult<Vec<Value>> {
    Ok(side_table_rows(data)?.into_iter().flat_map(|rows| [mb.clone(), cid.clone(), rows]).collect())
}

/// Creates a contact in `folder` at a new change sequence number, with its side tables, open
/// extensions and outbox row (inside the caller's transaction).
pub(super) async fn insert_contact(
    tx: &mut dyn Sql,
    insert: &ContactInsert,
    mb: &Mailbox,
    folder: FolderId,
    data: ContactData,
    extensions: &[OpenExtension],
) -> GraphResult<Contact> {
    let new = new_contact(tx, mb, folder, data).await?;
    write_new_contact(tx, insert, mb, &new, Vec::new()).await?;
    announce_new_contact(tx, mb, new, extensions).await
}

/// A contact being created: its change number taken, its rows not written yet.
pub(super) struct NewContact {
    pub(super) contact: Contact,
    seq: i64,
    /// The mailbox has live subscriptions.
    subscribed: bool,
}

/// The first statement of a create: the change number (the mailbox's write lock), and whether
/// `folder` exists (`ErrorItemNotFound` when not).
pub(super) async fn new_contact(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    folder: FolderId,
    data: ContactData,
) -> GraphResult<NewContact> {
    let BumpForCreate { seq, folder_found, subscribed } = bump_for_create(tx, mb, &folder).await?;
    if !folder_found {
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
    Ok(NewContact { contact, seq, subscribed })
}

/// Writes a new contact's row and side tables. `extra` are the parameters of the CTEs `insert`
/// was built [`ContactInsert::with`] (PostgreSQL); the row its `RETURNING` gives comes back.
pub(super) async fn write_new_contact(
    tx: &mut dyn Sql,
    insert: &ContactInsert,
    mb: &Mailbox,
    new: &NewContact,
    extra: Vec<Value>,
) -> GraphResult<Option<Row>> {
    let contact = &new.contact;
    let version = contact_version(contact, new.seq);
    if !insert.combined {
        insert_versioned(tx, &insert.sql, mb, &version, derived_columns(&contact.data)?).await?;
        index_collections(tx, mb, &contact.id, &contact.data, true).await?;
        return Ok(None);
    }
    let (mbv, cid): (Value, Value) = (mb.id.as_str().into(), contact.id.as_str().into());
    let mut before = side_table_params(&mbv, &cid, &contact.data)?;
    before.extend(extra);
    let params = versioned_params(before, mb, &version, derived_columns(&contact.data)?);
    if insert.returns {
        tx.query_opt(&insert.sql, &params).await
    } else {
        tx.execute(&insert.sql, &params).await.map(|_| None)
    }
}

/// The end of a create: its open extensions and the outbox's notice of it.
pub(super) async fn announce_new_contact(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    new: NewContact,
    extensions: &[OpenExtension],
) -> GraphResult<Contact> {
    let NewContact { contact, subscribed, .. } = new;
    for ext in extensions {
        insert_extension(tx, mb, &contact.id, ext).await?;
    }
    let change = Change::written(&contact, ChangeType::Created);
    if subscribed {
        outbox::notify(tx, mb, &[change]).await?;
    }
    Ok(contact)
}

/// Applies `edit` to a contact at a new change sequence number (moving it when the edit names
/// another folder), inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(super) async fn edit_contact(
    tx: &mut dyn Sql,
    columns: &str,
    update: &str,
    mb: &Mailbox,
    id: &ContactId,
    scope: &Scope,
    if_match: &Option<Vec<String>>,
    edit: ContactEdit,
) -> GraphResult<Contact> {
    let (seq, mut contact) = lock_contact(tx, columns, mb, id, scope).await?;
    check_if_match(if_match, &contact.change_key)?;
    let mut moved_from = None;
    if let Some(target) = edit(&mut contact.data)? {
        if target != contact.folder_id {
            if !folder_exists(tx, mb, &target).await? {
                return Err(GraphError::item_not_found());
            }
            // The folder it leaves reports it removed; the new one reports it as changed.
            tombstone(tx, mb, TombstoneKind::Contact, contact.folder_id.as_str(), contact.id.as_str(), seq).await?;
            moved_from = Some(std::mem::replace(&mut contact.folder_id, target));
        }
    }
    contact.change_key = change_key(seq);
    contact.modified = rolo_domain::time::now_utc();
    update_versioned(tx, update, mb, &contact_version(&contact, seq), derived_columns(&contact.data)?).await?;
    index_collections(tx, mb, &contact.id, &contact.data, false).await?;
    let (id, ck) = (contact.id.as_str(), contact.change_key.as_str());
    let folder = contact.folder_id.as_str();
    let change =
        |kind, folder, mailbox_wide, data| Change { contact: id, data, change_key: ck, kind, folder, mailbox_wide };
    let changes = match &moved_from {
        // A move leaves one folder and enters another; the mailbox sees an update.
        Some(old) => vec![
            change(ChangeType::Deleted, Some(old.as_str()), false, None),
            change(ChangeType::Created, Some(folder), false, Some(&contact)),
            change(ChangeType::Updated, None, true, Some(&contact)),
        ],
        None => vec![change(ChangeType::Updated, Some(folder), true, Some(&contact))],
    };
    outbox::notify(tx, mb, &changes).await?;
    Ok(contact)
}

/// Replaces the photo rows of `key` (a contact id, or `user`) with `renditions`, none for no
/// photo; the caller gives the owner its new change key.
pub(super) async fn replace_photo_rows(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    key: &str,
    renditions: Vec<StoredPhoto>,
) -> GraphResult<()> {
    let key: Value = key.into();
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
}

/// Deletes a contact at a new change sequence number, leaving tombstones for delta and sync,
/// inside the caller's transaction.
pub(super) async fn remove_contact(
    tx: &mut dyn Sql,
    columns: &str,
    mb: &Mailbox,
    id: &ContactId,
    scope: &Scope,
    if_match: &Option<Vec<String>>,
) -> GraphResult<()> {
    let (seq, contact) = lock_contact(tx, columns, mb, id, scope).await?;
    check_if_match(if_match, &contact.change_key)?;
    tombstone(tx, mb, TombstoneKind::Contact, contact.folder_id.as_str(), id.as_str(), seq).await?;
    tombstone(tx, mb, TombstoneKind::Contact, "*", id.as_str(), seq).await?;
    let change = Change {
        contact: id.as_str(),
        data: None,
        change_key: &contact.change_key,
        kind: ChangeType::Deleted,
        folder: Some(contact.folder_id.as_str()),
        mailbox_wide: true,
    };
    outbox::notify(tx, mb, &[change]).await?;
    delete_contact_rows(tx, mb, id).await
}

/// Starts a write on one contact: bumps the mailbox's counter (which takes the mailbox's write
/// lock) and loads the contact, `ErrorItemNotFound` when it is not in `scope`.
pub(super) async fn lock_contact(
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

pub(super) async fn delete_contact_rows(tx: &mut dyn Sql, mailbox: &Mailbox, id: &ContactId) -> GraphResult<()> {
    let p = [mailbox.id.as_str().into(), id.as_str().into()];
    tx.execute("DELETE FROM contact_emails WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contact_categories WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contact_xprops WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contact_words WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM photos WHERE mailbox_id = ? AND owner_id = ?", &p).await?;
    tx.execute("DELETE FROM extensions WHERE mailbox_id = ? AND contact_id = ?", &p).await?;
    tx.execute("DELETE FROM contacts WHERE mailbox_id = ? AND id = ?", &p).await?;
    Ok(())
}

pub(super) async fn select_contact(
    conn: &mut dyn Sql,
    columns: &str,
    mailbox: &Mailbox,
    id: &ContactId,
    scope: &Scope,
) -> GraphResult<Option<Contact>> {
    select_stored_contact(conn, columns, mailbox, id, scope).await?.map(StoredContact::parse).transpose()
}

async fn select_stored_contact(
    conn: &mut dyn Sql,
    columns: &str,
    mailbox: &Mailbox,
    id: &ContactId,
    scope: &Scope,
) -> GraphResult<Option<StoredContact>> {
    let sql = format!("SELECT {columns} FROM contacts t WHERE t.mailbox_id = ? AND t.id = ?");
    let row = conn.query_opt(&sql, &[mailbox.id.as_str().into(), id.as_str().into()]).await?;
    let Some(row) = row else { return Ok(None) };
    let contact = stored_contact_from(row);
    match scope {
        Scope::Folder(f) if *f != contact.folder_id => Ok(None),
        _ => Ok(Some(contact)),
    }
}

impl SqlStore {
    /// The number of contacts in a folder (or the whole mailbox), as `folder_counts` keeps it.
    pub(super) async fn kept_count(&self, mailbox: &Mailbox, scope: &Scope) -> GraphResult<u64> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let row = match scope {
            Scope::Folder(folder) => {
                conn.query_opt(
                    "SELECT contacts FROM folder_counts WHERE mailbox_id = ? AND folder_id = ?",
                    &[mailbox.id.as_str().into(), folder.as_str().into()],
                )
                .await?
            }
            Scope::Mailbox => {
                conn.query_opt(
                    "SELECT CAST(COALESCE(SUM(contacts), 0) AS BIGINT) FROM folder_counts WHERE mailbox_id = ?",
                    &[mailbox.id.as_str().into()],
                )
                .await?
            }
        };
        Ok(row.and_then(|r| r.first().clone().as_i64()).unwrap_or(0).max(0) as u64)
    }
}

#[async_trait]
impl Contacts for SqlStore {
    async fn get_stored_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
    ) -> GraphResult<Option<StoredContact>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        select_stored_contact(conn.as_mut(), &self.contact_columns, mailbox, id, scope).await
    }

    async fn list_stored_contacts(
        &self,
        mailbox: &Mailbox,
        scope: &Scope,
        query: &ListQuery,
    ) -> GraphResult<Page<StoredContact>> {
        let (scope_sql, scope_params) = match scope {
            Scope::Folder(folder) => (FOLDER_SCOPE, vec![mailbox.id.as_str().into(), folder.as_str().into()]),
            Scope::Mailbox => ("t.mailbox_id = ?", vec![mailbox.id.as_str().into()]),
        };
        // An unfiltered count is the maintained one (`folder_counts`, kept by triggers in every
        // write's transaction): one row per folder instead of a walk of the folder's index.
        let kept = if query.count && query.filter.is_none() && query.search.is_empty() {
            Some(self.kept_count(mailbox, scope).await?)
        } else {
            None
        };
        let uncounted;
        let query = if kept.is_some() {
            uncounted = ListQuery { count: false, ..query.clone() };
            &uncounted
        } else {
            query
        };
        let (rows, next, count) = self
            .list_rows(
                Entity::Contact,
                mailbox,
                ListSource { columns: &self.contact_columns, table: "contacts", scope_sql, scope_params },
                query,
            )
            .await?;
        let items = rows.into_iter().map(stored_contact_from).collect();
        Ok(Page { items, next, count: kept.or(count) })
    }

    async fn create_contact_with_extensions(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        data: ContactData,
        extensions: Vec<OpenExtension>,
    ) -> GraphResult<Contact> {
        let (mb, folder) = (mailbox.clone(), folder.clone());
        let insert = self.contact_insert.clone();
        self.write_in(mailbox, move |tx| {
            Box::pin(async move { insert_contact(tx, &insert, &mb, folder, data, &extensions).await })
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
        let update = CONTACTS.update_sql(self.doc_param);
        self.write_in(mailbox, move |tx| {
            Box::pin(async move { edit_contact(tx, &columns, &update, &mb, &id, &scope, &if_match, edit).await })
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
        self.write_in(mailbox, move |tx| {
            Box::pin(async move { remove_contact(tx, &columns, &mb, &id, &scope, &if_match).await })
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
                        kind: ChangeType::Updated,
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
                replace_photo_rows(tx, &mb, owner.key(), renditions).await?;
                Ok(())
            })
        })
        .await
    }

    async fn photo_metadata(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<Vec<StoredPhoto>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
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
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        if !photo_owner_visible(conn.as_mut(), mailbox, owner).await? {
            return Ok(None);
        }
        let sql =
            format!("SELECT {PHOTO_COLUMNS}, bytes FROM photos WHERE mailbox_id = ? AND owner_id = ? AND size = ?");
        let row = conn.query_opt(&sql, &[mailbox.id.as_str().into(), owner.key().into(), size.into()]).await?;
        Ok(row.map(photo_from))
    }

    async fn fill_photo(
        &self,
        mailbox: &Mailbox,
        owner: &PhotoOwner,
        size: &str,
        etag: &str,
        bytes: Vec<u8>,
    ) -> GraphResult<bool> {
        let params: Vec<Value> =
            vec![bytes.into(), mailbox.id.as_str().into(), owner.key().into(), size.into(), etag.into()];
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx
                    .execute(
                        "UPDATE photos SET bytes = ? WHERE mailbox_id = ? AND owner_id = ? AND size = ? AND etag = ?",
                        &params,
                    )
                    .await?;
                Ok(n > 0)
            })
        })
        .await
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
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let mut out = Vec::new();
        for mut row in conn.query(&sql, &params).await? {
            let id = ContactId::from_stored(row.text("contact_id"));
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
                    .map(|r| r.first().clone())
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
