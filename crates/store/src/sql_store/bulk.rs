//! The bulk half of [`ContactImport`] (`rolo import --bulk`): the same merge on stable keys as
//! `import_contacts`, but the batch's new contacts are written together at the end of its
//! transaction, in key order, with the contact tables' secondary indexes dropped first and
//! built again after.
//!
//! Why: a contact insert lands at an unrelated place in each name-key index, in the `$search`
//! words and in the side tables' keys, so a batch inserted one contact at a time touches nearly
//! every leaf page of every index once the mailbox is large, and costs more as it grows (the
//! import of 100,000 cards took 166 s at 10,000 contacts and 350 s at 600,000). Building an
//! index from sorted keys writes each page once; the clustered keys that cannot be dropped
//! (the primary keys, `$search` words) receive their rows sorted, so neighbouring inserts share
//! pages. Dropping an index locks its table for the transaction: this is for a database no
//! server is using (seeding, a migration), as its documentation says.

use std::collections::HashMap;

use super::*;
use crate::import::{ImportItem, ImportOutcome};

/// The tables whose secondary indexes a bulk batch rebuilds.
const TABLES: &str = "'contacts', 'contact_words', 'contact_emails', 'contact_categories', 'contact_xprops'";

/// Rows per multi-row INSERT: the contact row has 14 parameters, a side-table row 3 or 4; both
/// databases accept far more than 64 × 14.
const CONTACT_ROWS: usize = 64;
const SIDE_ROWS: usize = 250;

/// The secondary indexes a bulk transaction dropped, as (name, `CREATE INDEX` statement):
/// `None` until its first batch with new contacts drops them; [`rebuild`] builds them again
/// before the transaction commits (once however many folders the transaction loads).
pub(super) type Dropped = Option<Vec<(String, String)>>;

/// A contact the batch creates, written after the merge loop.
pub(super) struct Fresh {
    pub(super) contact: Contact,
    pub(super) photo: Vec<StoredPhoto>,
}

/// Where a new item of the batch goes: a key already new in this batch merges into that contact
/// (the per-item import would have created it and then updated it).
pub(super) fn add_fresh(
    fresh: &mut Vec<Fresh>,
    by_key: &mut HashMap<String, usize>,
    folder: &FolderId,
    item: ImportItem,
) -> ImportOutcome {
    let key = fold(&item.key);
    if let Some(&at) = by_key.get(&key) {
        let f = &mut fresh[at];
        f.contact.data = item.data;
        if !item.photo.is_empty() {
            f.photo = item.photo;
        }
        return ImportOutcome::Merged(f.contact.id.clone());
    }
    let now = rolo_domain::time::now_utc();
    let contact = Contact {
        id: ContactId::generate(),
        folder_id: folder.clone(),
        change_key: String::new(),
        created: now.clone(),
        modified: now,
        data: item.data,
    };
    by_key.insert(key, fresh.len());
    let id = contact.id.clone();
    fresh.push(Fresh { contact, photo: item.photo });
    ImportOutcome::Created(id)
}

/// The secondary indexes of the contact tables: (name, its `CREATE INDEX` statement). Primary
/// keys (and SQLite's automatic indexes) are not listed: they stay.
async fn secondary_indexes(tx: &mut dyn Sql, dialect: Dialect) -> GraphResult<Vec<(String, String)>> {
    let sql = match dialect {
        Dialect::Sqlite => format!(
            "SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
             AND tbl_name IN ({TABLES}) ORDER BY name"
        ),
        Dialect::Postgres => format!(
            "SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i WHERE i.schemaname = current_schema() \
             AND i.tablename IN ({TABLES}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) \
             ORDER BY i.indexname"
        ),
    };
    let rows = tx.query(&sql, &[]).await?;
    Ok(rows.into_iter().map(|mut r| (r.text("name"), r.text("def"))).collect())
}

/// Whether `folder` holds no contact (then a batch has nothing to merge with). The contacts'
/// primary key answers it even while the secondary indexes are dropped.
pub(super) async fn folder_is_empty(tx: &mut dyn Sql, mb: &Mailbox, folder: &FolderId) -> GraphResult<bool> {
    let row = tx
        .query_opt(
            "SELECT 1 FROM contacts WHERE mailbox_id = ? AND folder_id = ? LIMIT 1",
            &[mb.id.as_str().into(), folder.as_str().into()],
        )
        .await?;
    Ok(row.is_none())
}

/// Builds the indexes `dropped` names again.
pub(super) async fn rebuild(tx: &mut dyn Sql, dialect: Dialect, dropped: Dropped) -> GraphResult<()> {
    let Some(indexes) = dropped else { return Ok(()) };
    if dialect == Dialect::Postgres {
        // Each build sorts every row's key: with the default 64 MB a million-row index spills
        // to temporary files; for this transaction only.
        tx.execute("SET LOCAL maintenance_work_mem = '512MB'", &[]).await?;
    }
    for (_, def) in &indexes {
        tx.execute(def, &[]).await?;
    }
    if dialect == Dialect::Postgres {
        // PostgreSQL plans with statistics, and autovacuum cannot sample rows a transaction has
        // not committed: without this a freshly loaded million is planned as an empty table (a
        // `startswith(displayName,...)` at 1,000,000 contacts: 4 s a request before, 4–55 ms after).
        tx.execute(&format!("ANALYZE {}", TABLES.replace('\'', "")), &[]).await?;
    }
    Ok(())
}

/// Writes the batch's new contacts (their change sequence numbers taken in one bump) with
/// their side tables and photos, the secondary indexes dropped first unless `dropped` says an
/// earlier batch of the transaction did (the caller rebuilds them with [`rebuild`]); returns
/// them with their change keys set, in creation order.
pub(super) async fn write_fresh(
    tx: &mut dyn Sql,
    dialect: Dialect,
    mb: &Mailbox,
    fresh: Vec<Fresh>,
    dropped: &mut Dropped,
) -> GraphResult<Vec<Contact>> {
    let n = fresh.len() as i64;
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET change_seq = change_seq + ? WHERE mailbox_id = ? RETURNING change_seq",
            &[n.into(), mb.id.as_str().into()],
        )
        .await?;
    let last = bumped(tx, mb, row)?;
    if dropped.is_none() {
        let indexes = secondary_indexes(tx, dialect).await?;
        for (name, _) in &indexes {
            tx.execute(&format!("DROP INDEX {name}"), &[]).await?;
        }
        *dropped = Some(indexes);
    }
    let mbv: Value = mb.id.as_str().into();
    let doc = dialect.doc_param();
    let mut contacts = Vec::with_capacity(fresh.len());
    let (mut words, mut emails, mut cats, mut xprops) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut photos = Vec::new();
    for (i, Fresh { mut contact, photo }) in fresh.into_iter().enumerate() {
        let seq = last - n + 1 + i as i64;
        contact.change_key = change_key(seq);
        let id = contact.id.as_str().to_owned();
        for (word, field) in rolo_domain::search::contact_words(&contact.data) {
            words.push((word, field, id.clone()));
        }
        for address in contact.data.email_addresses.iter().filter_map(|e| e.address.as_deref()).map(fold) {
            emails.push((address, id.clone()));
        }
        for name in contact.data.categories.iter().map(|c| fold(c)) {
            cats.push((name, id.clone()));
        }
        for p in &contact.data.single_value_extended_properties {
            xprops.push((p.id.as_str().to_owned(), fold(&p.value), id.clone(), seq));
        }
        if !photo.is_empty() {
            photos.push((contact.id.clone(), photo));
        }
        contacts.push((seq, contact));
    }
    // Contacts: ids sort by creation time, so these append at the primary key's right edge.
    for chunk in contacts.chunks(CONTACT_ROWS) {
        let row = format!("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {doc}, {doc})");
        let sql = format!(
            "INSERT INTO contacts (mailbox_id, id, folder_id, created_seq, change_seq, change_key, created_at, \
             modified_at, display_name_key, given_name_key, surname_key, company_name_key, doc, fold_doc) VALUES {}",
            vec![row.as_str(); chunk.len()].join(", ")
        );
        let mut params = Vec::with_capacity(chunk.len() * 14);
        for (seq, c) in chunk {
            params.extend([
                mbv.clone(),
                c.id.as_str().into(),
                c.folder_id.as_str().into(),
                (*seq).into(),
                (*seq).into(),
                c.change_key.as_str().into(),
                c.created.as_str().into(),
                c.modified.as_str().into(),
            ]);
            params.extend(derived_columns(&c.data)?);
        }
        tx.execute(&sql, &params).await?;
    }
    // Side tables in key order, without repeats (the per-contact path dedups the same way).
    words.sort();
    words.dedup();
    emails.sort();
    emails.dedup();
    cats.sort();
    cats.dedup();
    xprops.sort();
    xprops.dedup();
    let words: Vec<Vec<Value>> =
        words.into_iter().map(|(w, f, id)| vec![mbv.clone(), w.into(), f.into(), id.into()]).collect();
    insert_rows(tx, "contact_words (mailbox_id, word, field, contact_id)", words).await?;
    let emails: Vec<Vec<Value>> = emails.into_iter().map(|(a, id)| vec![mbv.clone(), a.into(), id.into()]).collect();
    insert_rows(tx, "contact_emails (mailbox_id, address_key, contact_id)", emails).await?;
    let cats: Vec<Vec<Value>> = cats.into_iter().map(|(c, id)| vec![mbv.clone(), c.into(), id.into()]).collect();
    insert_rows(tx, "contact_categories (mailbox_id, name_key, contact_id)", cats).await?;
    let xprops: Vec<Vec<Value>> = xprops
        .into_iter()
        .map(|(p, v, id, seq)| vec![mbv.clone(), p.into(), v.into(), id.into(), seq.into()])
        .collect();
    insert_rows(tx, "contact_xprops (mailbox_id, prop_id, value_key, contact_id, created_seq)", xprops).await?;
    for (id, photo) in &photos {
        super::import::put_photos(tx, mb, id, photo).await?;
    }
    Ok(contacts.into_iter().map(|(_, c)| c).collect())
}

/// Multi-row INSERTs of `rows` (each the same number of values) into `target` (`table (columns)`).
async fn insert_rows(tx: &mut dyn Sql, target: &str, rows: Vec<Vec<Value>>) -> GraphResult<()> {
    for chunk in rows.chunks(SIDE_ROWS) {
        let width = chunk[0].len();
        let row = format!("({})", vec!["?"; width].join(", "));
        let sql = format!("INSERT INTO {target} VALUES {}", vec![row.as_str(); chunk.len()].join(", "));
        let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
        tx.execute(&sql, &params).await?;
    }
    Ok(())
}
