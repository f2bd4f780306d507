//! [`Items`] over SQL: messages and events, and the interactions aggregate they feed.

use super::*;

/// Stores one message or event (its own change sequence number) and indexes it.
pub(super) async fn insert_item(
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
    insert_versioned(tx, insert, mb, &item_version(&item, seq), item_derived(kind, &item)?).await?;
    index_item(tx, mb, kind, Some(&item), &item.id, true).await?;
    Ok(item)
}

// ---------------------------------------------------------------------------------------------
// Messages and events, and the interactions aggregate they feed.

/// The table, category side table, and derived key columns (in insert order) of an item kind.
pub(super) fn item_table(kind: ItemKind) -> (&'static str, &'static str, &'static [&'static str]) {
    match kind {
        ItemKind::Message => {
            ("messages", "message_categories", &["received_at", "sent_at", "subject_key", "from_key", "is_read"])
        }
        ItemKind::Event => ("events", "event_categories", &["start_at", "end_at", "subject_key", "organizer_key"]),
        ItemKind::Task => (
            "tasks",
            "task_categories",
            &[
                "title_key",
                "status_key",
                "importance_key",
                "due_at",
                "start_at",
                "reminder_at",
                "completed_at",
                "is_reminder_on",
            ],
        ),
        ItemKind::Post => ("posts", "post_categories", &["received_at", "from_key"]),
    }
}

/// An item's version columns, written at `seq`.
pub(super) fn item_version(item: &Item, seq: i64) -> RowVersion<'_> {
    RowVersion {
        id: &item.id,
        folder: &item.folder,
        seq,
        change_key: &item.change_key,
        created: &item.created,
        modified: &item.modified,
    }
}

/// The key columns of an item, then its document: [`Versioned::item`]'s order.
pub(super) fn item_derived(kind: ItemKind, item: &Item) -> GraphResult<Vec<Value>> {
    let mut values = item_keys(kind, item);
    values.push(serde_json::to_string(&item.doc).map_err(GraphError::internal)?.into());
    Ok(values)
}

/// The key columns of an item, in `item_table`'s order.
pub(super) fn item_keys(kind: ItemKind, item: &Item) -> Vec<Value> {
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
        ItemKind::Task => {
            let at = |k: &str| Value::from(rolo_domain::todo::task_instant(d, k));
            let reminder = d.get("isReminderOn").and_then(serde_json::Value::as_bool).unwrap_or(false);
            vec![
                fold(&text("title").unwrap_or_default()).into(),
                fold(&text("status").unwrap_or_else(|| "notStarted".into())).into(),
                fold(&text("importance").unwrap_or_else(|| "normal".into())).into(),
                at("dueDateTime"),
                at("startDateTime"),
                at("reminderDateTime"),
                at("completedDateTime"),
                i64::from(reminder).into(),
            ]
        }
        ItemKind::Post => {
            let received = text("receivedDateTime").unwrap_or_else(|| item.created.clone());
            vec![received.into(), fold(mail::message_from(d).unwrap_or_default()).into()]
        }
    }
}

pub(super) fn item_from(mut row: Row) -> GraphResult<Item> {
    let (id, folder, change_key) = (row.text("id"), row.text("folder"), row.text("change_key"));
    let (created, modified, doc) = (row.text("created_at"), row.text("modified_at"), row.text("doc"));
    let doc = serde_json::from_str(&doc)
        .map_err(|e| GraphError::internal(format!("item {id} has a corrupt document: {e}")))?;
    Ok(Item { id, folder, change_key, created, modified, doc })
}

pub(super) fn item_columns(dialect: Dialect) -> String {
    format!("t.id, t.folder, t.change_key, t.created_at, t.modified_at, {}", dialect.doc_select("t.doc"))
}

/// The mailbox owner's address (the mailbox id is the owner's user id).
pub(super) async fn owner_address(tx: &mut dyn Sql, mailbox: &Mailbox) -> GraphResult<String> {
    Ok(tx
        .query_opt("SELECT upn FROM users WHERE id = ?", &[mailbox.id.as_str().into()])
        .await?
        .map(|r| r.first().clone())
        .map(Value::into_string)
        .unwrap_or_default())
}

/// Rewrites an item's category and correspondent rows, then refreshes the interactions of every
/// address it named before or names now.
pub(super) async fn index_item(
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
        touched.extend(old.into_iter().map(|mut r| r.text("address_key")));
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
        if matches!(kind, ItemKind::Task | ItemKind::Post) {
            // Tasks name no correspondents; a post's are its group's members (`groups.rs`).
            return Ok(());
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
pub(super) async fn refresh_interaction(tx: &mut dyn Sql, mb: &Mailbox, address: &str) -> GraphResult<()> {
    let key = [mb.id.as_str().into(), Value::from(address)];
    tx.execute("DELETE FROM interactions WHERE mailbox_id = ? AND address_key = ?", &key).await?;
    let rows = tx
        .query(
            "SELECT signal, COUNT(*) AS n, MAX(at) AS last_at FROM correspondents WHERE mailbox_id = ? AND address_key = ? GROUP BY signal",
            &key,
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut counts = [(0i64, None::<String>), (0, None), (0, None)];
    for mut row in rows {
        let signal = row.text("signal");
        let n = row.int("n").unwrap_or(0);
        let last = row.opt_text("last_at").filter(|s| !s.is_empty());
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
        .map(|r| r.first().clone())
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

pub(super) async fn select_item(
    conn: &mut dyn Sql,
    mb: &Mailbox,
    kind: ItemKind,
    id: &str,
) -> GraphResult<Option<Item>> {
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
pub(super) const ITEM_COLUMNS_TEXT: &str =
    "t.id, t.folder, t.change_key, t.created_at, t.modified_at, CAST(t.doc AS TEXT) AS doc";

impl SqlStore {
    pub(super) async fn create_item_impl(
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
    pub(super) async fn create_items_impl(
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

    pub(super) fn item_insert(&self, kind: ItemKind) -> String {
        Versioned::item(kind).insert_sql(self.doc_param)
    }

    pub(super) async fn update_item_impl(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item> {
        let update = Versioned::item(kind).update_sql(self.doc_param);
        let (mb, id) = (mailbox.clone(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                let mut item = select_item(tx, &mb, kind, &id).await?.ok_or_else(GraphError::item_not_found)?;
                check_if_match(&if_match, &item.change_key)?;
                edit(&mut item)?;
                item.change_key = change_key(seq);
                item.modified = rolo_domain::time::now_utc();
                update_versioned(tx, &update, &mb, &item_version(&item, seq), item_derived(kind, &item)?).await?;
                index_item(tx, &mb, kind, Some(&item), &item.id, false).await?;
                Ok(item)
            })
        })
        .await
    }

    pub(super) async fn delete_item_impl(
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
                check_if_match(&if_match, &item.change_key)?;
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

    pub(super) async fn list_items_impl(
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
            ItemKind::Task => Entity::Task,
            ItemKind::Post => Entity::Post,
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

    pub(super) async fn interactions_impl(&self, mailbox: &Mailbox) -> GraphResult<Vec<Interaction>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let rows = conn
            .query(
                "SELECT address_key, display_name, sent_count, received_count, meeting_count, last_sent_at, \
                 last_received_at, last_meeting_at FROM interactions WHERE mailbox_id = ? ORDER BY address_key",
                &[mailbox.id.as_str().into()],
            )
            .await?;
        let mut out: Vec<Interaction> = rows
            .into_iter()
            .map(|mut row| Interaction {
                address: row.text("address_key"),
                display_name: row.text("display_name"),
                sent_count: row.int("sent_count").unwrap_or(0),
                received_count: row.int("received_count").unwrap_or(0),
                meeting_count: row.int("meeting_count").unwrap_or(0),
                last_sent_at: row.opt_text("last_sent_at"),
                last_received_at: row.opt_text("last_received_at"),
                last_meeting_at: row.opt_text("last_meeting_at"),
            })
            .collect();
        let latest = |i: &Interaction| {
            [&i.last_sent_at, &i.last_received_at, &i.last_meeting_at].into_iter().flatten().max().cloned()
        };
        out.sort_by(|a, b| latest(b).cmp(&latest(a)).then_with(|| a.address.cmp(&b.address)));
        Ok(out)
    }
}

#[async_trait]
impl Items for SqlStore {
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
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
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
}
