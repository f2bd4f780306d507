//! [`Folders`] over SQL: contact folders.

use super::*;

pub(super) const FOLDER_COLUMNS: &str = "t.id, t.parent_id, t.display_name, t.well_known";

pub(super) fn folder_from(mut row: Row) -> ContactFolder {
    ContactFolder {
        id: FolderId::from_stored(row.text("id")),
        parent_id: FolderId::from_stored(row.text("parent_id")),
        display_name: row.text("display_name"),
        well_known_name: row.opt_text("well_known"),
    }
}

pub(super) async fn folder_exists(tx: &mut dyn Sql, mailbox: &Mailbox, id: &FolderId) -> GraphResult<bool> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM folders WHERE mailbox_id = ? AND id = ?",
            &[mailbox.id.as_str().into(), id.as_str().into()],
        )
        .await?
        .is_some())
}

/// Before a folder tree goes: `deleted` for its contacts, and `subscriptionRemoved` for the
/// subscriptions that watched one of its folders (which go with it). Nothing to do, and one query,
/// when the mailbox has no subscriptions.
pub(super) async fn folder_deletion_notices(tx: &mut dyn Sql, mb: &Mailbox, folders: &[String]) -> GraphResult<()> {
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
        let owned: Vec<(String, String)> = rows.into_iter().map(|mut r| (r.text("id"), r.text("change_key"))).collect();
        let changes: Vec<Change> = owned
            .iter()
            .map(|(id, ck)| Change {
                contact: id,
                data: None,
                change_key: ck,
                kind: ChangeType::Deleted,
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

#[async_trait]
impl Folders for SqlStore {
    async fn get_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<Option<ContactFolder>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
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
                            match up.map(|r| r.first().clone()) {
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
                    subtree.into_iter().map(|r| r.first().clone().into_string()).collect();
                folder_deletion_notices(tx, &mb, &folders).await?;
                for fid in folders {
                    let p = [mb.id.as_str().into(), Value::from(fid.as_str())];
                    tombstone(tx, &mb, TombstoneKind::Folder, "*", &fid, seq).await?;
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
                        ("contact_words", "contact_id"),
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
}
