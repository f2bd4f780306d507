//! [`ContactImport`] for [`SqlStore`]: a batch of file records in one transaction, merged on
//! their stable key (see `crate::import`).

use super::*;
use crate::import::{BatchCounts, ContactImport, ImportItem, ImportOutcome, MailboxBatch};

pub(super) async fn put_photos(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    id: &ContactId,
    photo: &[StoredPhoto],
) -> GraphResult<()> {
    for p in photo {
        tx.execute(
            "INSERT INTO photos (mailbox_id, owner_id, size, content_type, width, height, etag, bytes) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                mb.id.as_str().into(),
                id.as_str().into(),
                p.size.as_str().into(),
                p.content_type.as_str().into(),
                i64::from(p.width).into(),
                i64::from(p.height).into(),
                p.etag.as_str().into(),
                p.bytes.clone().into(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Whether the stored photo is the one the item brings (an item without a photo leaves the
/// stored one alone, so it is always "the same").
async fn same_photo(tx: &mut dyn Sql, mb: &Mailbox, id: &ContactId, photo: &[StoredPhoto]) -> GraphResult<bool> {
    let Some(original) = photo.iter().find(|p| p.size == crate::ORIGINAL_SIZE) else { return Ok(true) };
    let row = tx
        .query_opt(
            "SELECT etag FROM photos WHERE mailbox_id = ? AND owner_id = ? AND size = ?",
            &[mb.id.as_str().into(), id.as_str().into(), crate::ORIGINAL_SIZE.into()],
        )
        .await?;
    Ok(row.map(|r| r.first().clone().into_string()).as_deref() == Some(original.etag.as_str()))
}

#[async_trait]
impl ContactImport for SqlStore {
    async fn import_contacts(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        key_property: &str,
        items: Vec<ImportItem>,
    ) -> GraphResult<Vec<ImportOutcome>> {
        let (st, mb, folder, key) =
            (self.import_statements(), mailbox.clone(), folder.clone(), key_property.to_owned());
        self.write(move |tx| Box::pin(async move { import_items(tx, &st, &mb, &folder, &key, items, None).await }))
            .await
    }

    async fn import_contacts_bulk(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        key_property: &str,
        items: Vec<ImportItem>,
    ) -> GraphResult<Vec<ImportOutcome>> {
        let (st, mb, folder, key) =
            (self.import_statements(), mailbox.clone(), folder.clone(), key_property.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let mut dropped = None;
                let outcomes = import_items(tx, &st, &mb, &folder, &key, items, Some(&mut dropped)).await?;
                super::bulk::rebuild(tx, st.dialect, dropped).await?;
                Ok(outcomes)
            })
        })
        .await
    }

    async fn import_mailboxes_bulk(
        &self,
        key_property: &str,
        mut batches: tokio::sync::mpsc::Receiver<GraphResult<MailboxBatch>>,
    ) -> GraphResult<Vec<BatchCounts>> {
        let (st, key) = (self.import_statements(), key_property.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let mut dropped = None;
                let mut counts = Vec::new();
                while let Some(batch) = batches.recv().await {
                    let MailboxBatch { mailbox, folder, items } = batch?;
                    let outcomes = import_items(tx, &st, &mailbox, &folder, &key, items, Some(&mut dropped)).await?;
                    let created = outcomes.iter().filter(|o| matches!(o, ImportOutcome::Created(_))).count();
                    counts.push(BatchCounts { created, merged: outcomes.len() - created });
                }
                super::bulk::rebuild(tx, st.dialect, dropped).await?;
                Ok(counts)
            })
        })
        .await
    }
}

/// The statements and columns an import batch uses, made once per store call.
struct Statements {
    dialect: Dialect,
    columns: String,
    insert: String,
    update: String,
}

impl SqlStore {
    fn import_statements(&self) -> Statements {
        Statements {
            dialect: self.backend.dialect(),
            columns: self.contact_columns.clone(),
            insert: format!(
                "INSERT INTO contacts (mailbox_id, id, folder_id, created_seq, change_seq, change_key, created_at, modified_at, \
                 display_name_key, given_name_key, surname_key, company_name_key, doc, fold_doc) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {}, {})",
                self.doc_param, self.doc_param
            ),
            update: format!(
                "UPDATE contacts SET change_seq = ?, change_key = ?, modified_at = ?, display_name_key = ?, \
                 given_name_key = ?, surname_key = ?, company_name_key = ?, doc = {}, fold_doc = {} \
                 WHERE mailbox_id = ? AND id = ?",
                self.doc_param, self.doc_param
            ),
        }
    }
}

/// One batch of one folder, inside the caller's transaction. `bulk` (`Some`) defers the new
/// contacts to `bulk::write_fresh`, which drops the contact indexes the first time (recorded in
/// `bulk` for the caller to rebuild before it commits).
async fn import_items(
    tx: &mut dyn Sql,
    st: &Statements,
    mb: &Mailbox,
    folder: &FolderId,
    key_property: &str,
    items: Vec<ImportItem>,
    bulk: Option<&mut super::bulk::Dropped>,
) -> GraphResult<Vec<ImportOutcome>> {
    if !folder_exists(tx, mb, folder).await? {
        return Err(GraphError::item_not_found());
    }
    let counts_itself = st.dialect == Dialect::Postgres;
    if counts_itself {
        // A batch's thousands of inserts would each update the folder's count row,
        // a chain of versions this transaction cannot prune (see the migration of
        // `folder_counts`); the trigger stands aside and the batch adds its rows once.
        tx.execute("SELECT set_config('rolo.writer_counts', 'on', true)", &[]).await?;
    }
    // Nothing to merge with in an empty folder (a mailbox being loaded): no lookup per item.
    let empty = bulk.is_some() && super::bulk::folder_is_empty(tx, mb, folder).await?;
    let scope = Scope::Folder(folder.clone());
    let mut outcomes = Vec::with_capacity(items.len());
    let mut written: Vec<(Contact, ChangeType)> = Vec::new();
    let mut fresh = Vec::new();
    let mut fresh_keys = std::collections::HashMap::new();
    for item in items {
        if bulk.is_some() && (empty || fresh_keys.contains_key(&fold(&item.key))) {
            outcomes.push(super::bulk::add_fresh(&mut fresh, &mut fresh_keys, folder, item));
            continue;
        }
        let found = tx
            .query(
                "SELECT x.contact_id FROM contact_xprops x JOIN contacts c \
                 ON c.mailbox_id = x.mailbox_id AND c.id = x.contact_id \
                 WHERE x.mailbox_id = ? AND x.prop_id = ? AND x.value_key = ? AND c.folder_id = ?",
                &[mb.id.as_str().into(), key_property.into(), fold(&item.key).into(), folder.as_str().into()],
            )
            .await?;
        let existing = match found.into_iter().next().map(|r| r.first().clone()) {
            Some(id) => select_contact(tx, &st.columns, mb, &ContactId::from_stored(id.into_string()), &scope).await?,
            None => None,
        };
        if let Some(c) = &existing {
            // Nothing changed: a re-run leaves the contact (and its change key) alone.
            if c.data == item.data && same_photo(tx, mb, &c.id, &item.photo).await? {
                outcomes.push(ImportOutcome::Merged(c.id.clone()));
                continue;
            }
        }
        if bulk.is_some() && existing.is_none() {
            outcomes.push(super::bulk::add_fresh(&mut fresh, &mut fresh_keys, folder, item));
            continue;
        }
        let seq = bump(tx, mb).await?;
        let now = rolo_domain::time::now_utc();
        let ck = change_key(seq);
        match existing {
            Some(mut c) => {
                c.data = item.data;
                c.change_key = ck;
                c.modified = now;
                let mut params: Vec<Value> = vec![seq.into(), c.change_key.as_str().into(), c.modified.as_str().into()];
                params.extend(derived_columns(&c.data)?);
                params.extend([mb.id.as_str().into(), c.id.as_str().into()]);
                tx.execute(&st.update, &params).await?;
                index_collections(tx, mb, &c.id, &c.data, false).await?;
                if !item.photo.is_empty() {
                    tx.execute(
                        "DELETE FROM photos WHERE mailbox_id = ? AND owner_id = ?",
                        &[mb.id.as_str().into(), c.id.as_str().into()],
                    )
                    .await?;
                    put_photos(tx, mb, &c.id, &item.photo).await?;
                }
                outcomes.push(ImportOutcome::Merged(c.id.clone()));
                written.push((c, ChangeType::Updated));
            }
            None => {
                let c = Contact {
                    id: ContactId::generate(),
                    folder_id: folder.clone(),
                    change_key: ck,
                    created: now.clone(),
                    modified: now,
                    data: item.data,
                };
                let mut params: Vec<Value> = vec![
                    mb.id.as_str().into(),
                    c.id.as_str().into(),
                    c.folder_id.as_str().into(),
                    seq.into(),
                    seq.into(),
                    c.change_key.as_str().into(),
                    c.created.as_str().into(),
                    c.modified.as_str().into(),
                ];
                params.extend(derived_columns(&c.data)?);
                tx.execute(&st.insert, &params).await?;
                index_collections(tx, mb, &c.id, &c.data, true).await?;
                put_photos(tx, mb, &c.id, &item.photo).await?;
                outcomes.push(ImportOutcome::Created(c.id.clone()));
                written.push((c, ChangeType::Created));
            }
        }
    }
    if let Some(dropped) = bulk {
        if !fresh.is_empty() {
            let created = super::bulk::write_fresh(tx, st.dialect, mb, fresh, dropped).await?;
            written.extend(created.into_iter().map(|c| (c, ChangeType::Created)));
        }
    }
    let changes: Vec<Change<'_>> = written.iter().map(|(c, kind)| Change::written(c, *kind)).collect();
    outbox::notify(tx, mb, &changes).await?;
    if counts_itself {
        let created = outcomes.iter().filter(|o| matches!(o, ImportOutcome::Created(_))).count();
        tx.execute(
            "INSERT INTO folder_counts (mailbox_id, folder_id, contacts) VALUES (?, ?, ?) \
             ON CONFLICT (mailbox_id, folder_id) DO UPDATE SET contacts = folder_counts.contacts + excluded.contacts",
            &[mb.id.as_str().into(), folder.as_str().into(), (created as i64).into()],
        )
        .await?;
        tx.execute("SELECT set_config('rolo.writer_counts', 'off', true)", &[]).await?;
    }
    Ok(outcomes)
}
