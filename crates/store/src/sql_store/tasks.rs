//! [`Tasks`] over SQL: To Do lists in `todo_lists`, and their tasks as items of kind `Task`
//! (the item helpers write them; the folder column holds the list id).

use super::items::{index_item, insert_item, item_columns, item_derived, item_from, item_version, select_item};
use super::*;
use rolo_domain::todo::{TodoList, DEFAULT_LIST_NAME};

const LIST_COLUMNS: &str = "id, display_name, is_default, change_key, created_at, modified_at";

fn list_from(mut row: Row) -> TodoList {
    TodoList {
        id: row.text("id"),
        display_name: row.text("display_name"),
        is_default: row.int("is_default") == Some(1),
        change_key: row.text("change_key"),
        created: row.text("created_at"),
        modified: row.text("modified_at"),
    }
}

async fn select_lists(conn: &mut dyn Sql, mb: &Mailbox) -> GraphResult<Vec<TodoList>> {
    let rows = conn
        .query(
            &format!(
                "SELECT {LIST_COLUMNS} FROM todo_lists WHERE mailbox_id = ? ORDER BY is_default DESC, created_seq"
            ),
            &[mb.id.as_str().into()],
        )
        .await?;
    Ok(rows.into_iter().map(list_from).collect())
}

async fn select_list(conn: &mut dyn Sql, mb: &Mailbox, id: &str) -> GraphResult<TodoList> {
    conn.query_opt(
        &format!("SELECT {LIST_COLUMNS} FROM todo_lists WHERE mailbox_id = ? AND id = ?"),
        &[mb.id.as_str().into(), id.into()],
    )
    .await?
    .map(list_from)
    .ok_or_else(GraphError::item_not_found)
}

async fn insert_list(tx: &mut dyn Sql, mb: &Mailbox, name: String, is_default: bool) -> GraphResult<()> {
    let seq = bump(tx, mb).await?;
    let now = rolo_domain::time::now_utc();
    // A concurrent first use may have made the default list already: the unique index keeps one.
    tx.execute(
        "INSERT INTO todo_lists (mailbox_id, id, display_name, is_default, created_seq, change_key, created_at, \
         modified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        &[
            mb.id.as_str().into(),
            ContactId::generate().to_string().into(),
            name.into(),
            i64::from(is_default).into(),
            seq.into(),
            change_key(seq).into(),
            now.clone().into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

fn default_list_refuses(what: &str) -> GraphError {
    GraphError::bad_request(
        "invalidRequest",
        format!("Your request can't be completed. A default task folder can't be {what}."),
    )
}

/// A task of `list`, or 404 when it is elsewhere or gone.
async fn select_task(tx: &mut dyn Sql, mb: &Mailbox, list: &str, id: &str) -> GraphResult<Item> {
    select_item(tx, mb, ItemKind::Task, id).await?.filter(|t| t.folder == list).ok_or_else(GraphError::item_not_found)
}

#[async_trait]
impl Tasks for SqlStore {
    async fn todo_lists(&self, mailbox: &Mailbox) -> GraphResult<Vec<TodoList>> {
        let lists = {
            let mut conn = self.backend.read().await?;
            select_lists(conn.as_mut(), mailbox).await?
        };
        if lists.iter().any(|l| l.is_default) {
            return Ok(lists);
        }
        let mb = mailbox.clone();
        self.write(move |tx| {
            Box::pin(async move {
                insert_list(tx, &mb, DEFAULT_LIST_NAME.to_owned(), true).await?;
                select_lists(tx, &mb).await
            })
        })
        .await
    }

    async fn create_todo_list(&self, mailbox: &Mailbox, display_name: String) -> GraphResult<TodoList> {
        self.todo_lists(mailbox).await?;
        let mb = mailbox.clone();
        self.write(move |tx| {
            Box::pin(async move {
                insert_list(tx, &mb, display_name, false).await?;
                let row = tx
                    .query_opt(
                        &format!(
                            "SELECT {LIST_COLUMNS} FROM todo_lists WHERE mailbox_id = ? ORDER BY created_seq DESC LIMIT 1"
                        ),
                        &[mb.id.as_str().into()],
                    )
                    .await?
                    .ok_or_else(|| GraphError::internal("the new task list is missing"))?;
                Ok(list_from(row))
            })
        })
        .await
    }

    async fn rename_todo_list(
        &self,
        mailbox: &Mailbox,
        id: &str,
        if_match: Option<Vec<String>>,
        display_name: String,
    ) -> GraphResult<TodoList> {
        let (mb, id) = (mailbox.clone(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                let mut list = select_list(tx, &mb, &id).await?;
                check_if_match(&if_match, &list.change_key)?;
                if list.is_default && list.display_name != display_name {
                    return Err(default_list_refuses("renamed"));
                }
                list.display_name = display_name;
                list.change_key = change_key(seq);
                list.modified = rolo_domain::time::now_utc();
                tx.execute(
                    "UPDATE todo_lists SET display_name = ?, change_key = ?, modified_at = ? WHERE mailbox_id = ? AND id = ?",
                    &[
                        list.display_name.as_str().into(),
                        list.change_key.as_str().into(),
                        list.modified.as_str().into(),
                        mb.id.as_str().into(),
                        id.as_str().into(),
                    ],
                )
                .await?;
                Ok(list)
            })
        })
        .await
    }

    async fn delete_todo_list(&self, mailbox: &Mailbox, id: &str, if_match: Option<Vec<String>>) -> GraphResult<()> {
        let (mb, id) = (mailbox.clone(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                bump(tx, &mb).await?;
                let list = select_list(tx, &mb, &id).await?;
                check_if_match(&if_match, &list.change_key)?;
                if list.is_default {
                    return Err(default_list_refuses("deleted"));
                }
                let key = [mb.id.as_str().into(), Value::from(id.as_str())];
                tx.execute(
                    "DELETE FROM task_categories WHERE mailbox_id = ? AND item_id IN \
                     (SELECT id FROM tasks WHERE mailbox_id = task_categories.mailbox_id AND folder = ?)",
                    &key,
                )
                .await?;
                tx.execute("DELETE FROM tasks WHERE mailbox_id = ? AND folder = ?", &key).await?;
                // The list's delta tokens die with it (its tasks/delta answers 404), so its
                // tombstones are of no use.
                tx.execute("DELETE FROM tombstones WHERE mailbox_id = ? AND kind = 'task' AND scope_id = ?", &key)
                    .await?;
                tx.execute("DELETE FROM todo_lists WHERE mailbox_id = ? AND id = ?", &key).await?;
                Ok(())
            })
        })
        .await
    }

    async fn create_task(
        &self,
        mailbox: &Mailbox,
        list: &str,
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> GraphResult<Item> {
        let insert = self.item_insert(ItemKind::Task);
        let (mb, list) = (mailbox.clone(), list.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                select_list(tx, &mb, &list).await?;
                insert_item(tx, &mb, ItemKind::Task, &insert, list, doc).await
            })
        })
        .await
    }

    async fn get_task(&self, mailbox: &Mailbox, list: &str, id: &str) -> GraphResult<Option<Item>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        select_list(conn.as_mut(), mailbox, list).await?;
        Ok(select_item(conn.as_mut(), mailbox, ItemKind::Task, id).await?.filter(|t| t.folder == list))
    }

    async fn list_tasks(&self, mailbox: &Mailbox, list: &str, query: &ListQuery) -> GraphResult<Page<Item>> {
        {
            let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
            select_list(conn.as_mut(), mailbox, list).await?;
        }
        let columns = item_columns(self.backend.dialect());
        let source = ListSource {
            columns: &columns,
            table: "tasks",
            scope_sql: "t.mailbox_id = ? AND t.folder = ?",
            scope_params: vec![mailbox.id.as_str().into(), list.into()],
        };
        let (rows, next, count) = self.list_rows(Entity::Task, mailbox, source, query).await?;
        let items = rows.into_iter().map(item_from).collect::<GraphResult<Vec<_>>>()?;
        Ok(Page { items, next, count })
    }

    async fn update_task(
        &self,
        mailbox: &Mailbox,
        list: &str,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item> {
        let update = Versioned::item(ItemKind::Task).update_sql(self.doc_param);
        let (mb, list, id) = (mailbox.clone(), list.to_owned(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                select_list(tx, &mb, &list).await?;
                let mut item = select_task(tx, &mb, &list, &id).await?;
                check_if_match(&if_match, &item.change_key)?;
                edit(&mut item)?;
                item.change_key = change_key(seq);
                item.modified = rolo_domain::time::now_utc();
                let derived = item_derived(ItemKind::Task, &item)?;
                update_versioned(tx, &update, &mb, &item_version(&item, seq), derived).await?;
                index_item(tx, &mb, ItemKind::Task, Some(&item), &item.id, false).await?;
                Ok(item)
            })
        })
        .await
    }

    async fn delete_task(
        &self,
        mailbox: &Mailbox,
        list: &str,
        id: &str,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()> {
        let (mb, list, id) = (mailbox.clone(), list.to_owned(), id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                select_list(tx, &mb, &list).await?;
                let item = select_task(tx, &mb, &list, &id).await?;
                check_if_match(&if_match, &item.change_key)?;
                index_item(tx, &mb, ItemKind::Task, None, &id, false).await?;
                tx.execute(
                    "DELETE FROM tasks WHERE mailbox_id = ? AND id = ?",
                    &[mb.id.as_str().into(), id.as_str().into()],
                )
                .await?;
                tombstone(tx, &mb, TombstoneKind::Task, &list, &id, seq).await
            })
        })
        .await
    }
}
