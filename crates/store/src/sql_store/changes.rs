//! [`Changes`] over SQL: change state, delta rounds and tombstone compaction.

use super::*;

#[async_trait]
impl Changes for SqlStore {
    async fn change_state(&self, mailbox: &Mailbox) -> GraphResult<ChangeState> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT change_seq, tombstone_floor FROM mailboxes WHERE mailbox_id = ?",
                &[mailbox.id.as_str().into()],
            )
            .await?
            .ok_or_else(GraphError::item_not_found)?;
        let current = row.int("change_seq").unwrap_or(0);
        // Read on the primary, as the upper bound of delta rounds and the version of caches
        // (People): the reads that follow must come from a replica that has reached it.
        self.backend.saw_change_seq(&mailbox.id, current);
        Ok(ChangeState { current, floor: row.int("tombstone_floor").unwrap_or(0) })
    }

    async fn delta(&self, mailbox: &Mailbox, q: &DeltaQuery) -> GraphResult<DeltaPage> {
        // A round's pages must all see its upper bound, which came from the primary: a replica
        // short of it would skip changes the next round starts after.
        self.backend.saw_change_seq(&mailbox.id, q.upto);
        // A round that starts at its own upper bound (a poll with nothing new) has an empty
        // window: nothing to read. Within a round the cursor may sit at the bound with more rows
        // of that same sequence after it, so only a round's first page may skip the reads.
        if q.after.is_none() && q.since >= q.upto {
            return Ok(DeltaPage { items: Vec::new(), more: false });
        }
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let limit = q.page_size + 1;
        let dialect = self.backend.dialect();
        // Rows in (since, upto], after the cursor, in (sequence, id) order. Row values let both
        // databases seek the (sequence, id) index instead of scanning from the round's start on
        // every page.
        let mut items: Vec<((i64, String), DeltaItem)> = Vec::new();
        let (kind, tomb_scope) = match &q.scope {
            DeltaScope::FolderContacts(f) => (TombstoneKind::Contact, f.as_str().to_owned()),
            DeltaScope::MailboxContacts => (TombstoneKind::Contact, "*".to_owned()),
            DeltaScope::Folders => (TombstoneKind::Folder, "*".to_owned()),
            DeltaScope::ListTasks(list) => (TombstoneKind::Task, list.clone()),
        };
        let task_columns = super::items::item_columns(self.backend.dialect());
        // An initial round (since 0) reports what exists; removals only matter to later rounds.
        // The removals are read beside the first batch of live rows: on PostgreSQL both queries go
        // in one round trip.
        let mut pending_tombstones = if q.since > 0
            && !matches!(q.change_type, Some(ChangeType::Created) | Some(ChangeType::Updated))
        {
            // An item that came back into the scope is live again: its tombstone is stale.
            let live = match &q.scope {
                DeltaScope::FolderContacts(_) => "SELECT 1 FROM contacts c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id AND c.folder_id = t.scope_id",
                DeltaScope::MailboxContacts => "SELECT 1 FROM contacts c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id",
                DeltaScope::Folders => "SELECT 1 FROM folders c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id",
                DeltaScope::ListTasks(_) => "SELECT 1 FROM tasks c WHERE c.mailbox_id = t.mailbox_id AND c.id = t.item_id AND c.folder = t.scope_id",
            };
            let mut params: Vec<Value> =
                vec![mailbox.id.as_str().into(), kind.code().into(), tomb_scope.as_str().into(), q.upto.into()];
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
            let limit = dialect.page_limit(limit, 0, true, &mut params);
            let sql = format!(
                "SELECT t.item_id, t.seq FROM tombstones t WHERE t.mailbox_id = ? AND t.kind = ? AND t.scope_id = ? \
                 AND t.seq <= ? AND {tomb_window} AND NOT EXISTS ({live}) \
                 ORDER BY t.seq, t.item_id{limit}"
            );
            Some((sql, params))
        } else {
            None
        };
        let mut tomb_rows = Vec::new();
        // Where a byte-bounded page of live items stopped short, with more after it.
        let mut cut: Option<(i64, String)> = None;
        // Whether live rows follow a page that filled with them.
        let mut live_more = false;
        if q.change_type != Some(ChangeType::Deleted) {
            let (table, columns, scope_sql) = match &q.scope {
                DeltaScope::FolderContacts(_) => ("contacts", self.contact_columns.as_str(), "t.folder_id = ? AND "),
                DeltaScope::MailboxContacts => ("contacts", self.contact_columns.as_str(), ""),
                DeltaScope::Folders => ("folders", FOLDER_COLUMNS, ""),
                DeltaScope::ListTasks(_) => ("tasks", task_columns.as_str(), "t.folder = ? AND "),
            };
            let created = match q.change_type {
                Some(ChangeType::Created) => " AND t.created_seq > ?",
                Some(ChangeType::Updated) => " AND t.created_seq <= ?",
                _ => "",
            };
            // Read in batches when the page is bounded by bytes (see `paging`), so rows past the
            // bound are never loaded. A page's worth of live rows is enough: each query reads one
            // row past its batch, which tells whether more follow (asking the fetch for a page
            // and one more row made a default page of 10 two queries, 10 rows and then 1).
            let mut fetch = crate::paging::Fetch::new(q.page_size, q.max_bytes);
            let mut after = q.after.clone();
            let mut first_batch = true;
            'batches: while let Some(batch) = fetch.next_batch() {
                let mut params: Vec<Value> = vec![mailbox.id.as_str().into()];
                match &q.scope {
                    DeltaScope::FolderContacts(f) => params.push(f.as_str().into()),
                    DeltaScope::ListTasks(list) => params.push(list.as_str().into()),
                    _ => {}
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
                // A bound limit made PostgreSQL plan every page afresh (`Dialect::page_limit`).
                let limit = dialect.page_limit(batch + 1, 0, first_batch, &mut params);
                first_batch = false;
                let sql = format!(
                    "SELECT {columns}, t.change_seq FROM {table} t WHERE t.mailbox_id = ? AND {scope_sql}{window}{created} \
                     ORDER BY t.change_seq, t.id{limit}"
                );
                let mut rows = match pending_tombstones.take() {
                    Some((tomb_sql, tomb_params)) => {
                        let (rows, removed) = conn.query_pair((&sql, &params), (&tomb_sql, &tomb_params)).await?;
                        tomb_rows = removed;
                        rows
                    }
                    None => conn.query(&sql, &params).await?,
                };
                let more = rows.len() > batch;
                rows.truncate(batch);
                let total = rows.len();
                for (i, row) in rows.into_iter().enumerate() {
                    let bytes = crate::paging::row_bytes(&row);
                    let seq = row.int("change_seq").unwrap_or(0);
                    let item = if table == "folders" {
                        DeltaItem::Folder(folder_from(row))
                    } else if table == "tasks" {
                        DeltaItem::Task(Box::new(super::items::item_from(row)?))
                    } else {
                        DeltaItem::Contact(Box::new(stored_contact_from(row)))
                    };
                    let id = match &item {
                        DeltaItem::Contact(c) => c.id.to_string(),
                        DeltaItem::Folder(f) => f.id.to_string(),
                        DeltaItem::Task(t) => t.id.clone(),
                        DeltaItem::Removed(id) => id.clone(),
                    };
                    let key = (seq, id);
                    items.push((key.clone(), item));
                    if fetch.take(bytes) {
                        let follows = more || i + 1 < total;
                        if follows && fetch.over_bytes() {
                            cut = Some(key);
                        }
                        live_more = follows;
                        break 'batches;
                    }
                    after = Some(key);
                }
                if !more {
                    break;
                }
            }
        }
        let tomb_rows = match pending_tombstones {
            Some((sql, params)) => conn.query(&sql, &params).await?,
            None => tomb_rows,
        };
        for mut row in tomb_rows {
            let id = row.text("item_id");
            let seq = row.int("seq").unwrap_or(0);
            items.push(((seq, id.clone()), DeltaItem::Removed(id)));
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let mut more = live_more || items.len() > q.page_size;
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
}
