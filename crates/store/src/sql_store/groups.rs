//! [`Groups`] over SQL: a group is a user row of mailbox kind `Group` plus its `m365_groups` row and
//! `group_members`; threads are `group_threads` rows of the group's mailbox, posts items of kind
//! `Post` (the item helpers write them; the folder column holds the thread id).

use super::items::{insert_item, item_columns, item_from, refresh_interaction, select_item};
use super::*;
use crate::{Groups, NewGroup, PostAuthor};
use rolo_domain::group::{self, Group, Thread};

const GROUP_COLUMNS: &str = "u.id, u.upn, u.display_name, g.mail_nickname, g.description, g.visibility, g.created_at";
const GROUP_FROM: &str = "m365_groups g JOIN users u ON u.id = g.id";
const THREAD_COLUMNS: &str = "id, conversation_id, topic, last_delivered_at, preview, senders";

fn group_from(mut row: Row) -> Group {
    Group {
        id: row.text("id"),
        mail: row.text("upn"),
        display_name: row.text("display_name"),
        mail_nickname: row.text("mail_nickname"),
        description: row.text("description"),
        visibility: row.text("visibility"),
        created: row.text("created_at"),
    }
}

fn thread_from(mut row: Row) -> Thread {
    Thread {
        id: row.text("id"),
        conversation_id: row.text("conversation_id"),
        topic: row.text("topic"),
        last_delivered: row.text("last_delivered_at"),
        preview: row.text("preview"),
        senders: serde_json::from_str(&row.text("senders")).unwrap_or_default(),
    }
}

async fn select_thread(conn: &mut dyn Sql, mb: &Mailbox, id: &str) -> GraphResult<Option<Thread>> {
    let row = conn
        .query_opt(
            &format!("SELECT {THREAD_COLUMNS} FROM group_threads WHERE mailbox_id = ? AND id = ?"),
            &[mb.id.as_str().into(), id.into()],
        )
        .await?;
    Ok(row.map(thread_from))
}

/// Stores a post in `thread`, refreshes the thread's delivery, preview and senders, and makes
/// the author a correspondent of every other member (People ranks group mail as mail).
async fn deliver(
    tx: &mut dyn Sql,
    insert: &str,
    mb: &Mailbox,
    mut thread: Thread,
    mut doc: serde_json::Map<String, serde_json::Value>,
    author: &PostAuthor,
) -> GraphResult<(Thread, Item)> {
    let now = rolo_domain::time::now_utc();
    group::stamp_post(&mut doc, (&author.name, &author.address), &thread.conversation_id, &now);
    thread.preview = group::post_preview(&doc);
    thread.last_delivered = now.clone();
    if !thread.senders.contains(&author.name) {
        thread.senders.push(author.name.clone());
    }
    let post = insert_item(tx, mb, ItemKind::Post, insert, thread.id.clone(), doc).await?;
    let senders = serde_json::to_string(&thread.senders).map_err(GraphError::internal)?;
    tx.execute(
        "UPDATE group_threads SET last_delivered_at = ?, preview = ?, senders = ? WHERE mailbox_id = ? AND id = ?",
        &[
            now.as_str().into(),
            thread.preview.as_str().into(),
            senders.into(),
            mb.id.as_str().into(),
            thread.id.as_str().into(),
        ],
    )
    .await?;
    if let Some(author_id) = &author.user_id {
        let address = fold(&author.address);
        let members = tx
            .query(
                "SELECT user_id FROM group_members WHERE group_id = ? AND user_id <> ? ORDER BY user_id",
                &[mb.id.as_str().into(), author_id.as_str().into()],
            )
            .await?;
        for mut m in members {
            let member = Mailbox {
                id: m.text("user_id"),
                root_folder_id: FolderId::from_stored(String::new()),
                default_folder_id: FolderId::from_stored(String::new()),
            };
            // The member's counter moves, so caches of its People list see the new signal
            // (members are taken in id order: concurrent posts lock mailboxes in one order).
            bump(tx, &member).await?;
            tx.execute(
                "INSERT INTO correspondents (mailbox_id, item_kind, item_id, address_key, display_name, signal, at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    member.id.as_str().into(),
                    ItemKind::Post.name().into(),
                    post.id.as_str().into(),
                    address.as_str().into(),
                    author.name.as_str().into(),
                    mail::Signal::Received.name().into(),
                    now.as_str().into(),
                ],
            )
            .await?;
            refresh_interaction(tx, &member, &address).await?;
        }
    }
    Ok((thread, post))
}

#[async_trait]
impl Groups for SqlStore {
    async fn create_group(&self, new: NewGroup) -> GraphResult<Group> {
        let nickname = new.mail.split('@').next().unwrap_or_default().to_owned();
        if nickname.is_empty() || !new.mail.contains('@') {
            return Err(GraphError::bad_request(
                "Request_BadRequest",
                format!("'{}' is not a mail address.", new.mail),
            ));
        }
        let visibility = match new.visibility.to_ascii_lowercase().as_str() {
            "" | "public" => "Public",
            "private" => "Private",
            other => {
                return Err(GraphError::bad_request(
                    "Request_BadRequest",
                    format!("'{other}' is not a visibility: use Public or Private."),
                ))
            }
        };
        let user = self.create_user(&new.mail, &new.display_name).await?;
        let group = Group {
            id: user.id.clone(),
            display_name: new.display_name,
            mail: user.user_principal_name.clone(),
            mail_nickname: nickname,
            description: new.description,
            visibility: visibility.to_owned(),
            created: rolo_domain::time::now_utc(),
        };
        let (made, members) = (group.clone(), new.members);
        self.write_directory(move |tx| {
            Box::pin(async move {
                let id: Value = made.id.as_str().into();
                tx.execute("UPDATE users SET shared = ? WHERE id = ?", &[MailboxKind::Group.code().into(), id.clone()])
                    .await?;
                tx.execute(
                    "INSERT INTO m365_groups (id, mail_nickname, description, visibility, created_at) VALUES (?, ?, ?, ?, ?)",
                    &[
                        id.clone(),
                        made.mail_nickname.as_str().into(),
                        made.description.as_str().into(),
                        made.visibility.as_str().into(),
                        made.created.as_str().into(),
                    ],
                )
                .await?;
                for m in members {
                    tx.execute(
                        "INSERT INTO group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        &[id.clone(), m.into()],
                    )
                    .await?;
                }
                bump_directory(tx).await
            })
        })
        .await?;
        Ok(group)
    }

    async fn list_groups(&self) -> GraphResult<Vec<Group>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} ORDER BY u.upn_key");
        Ok(conn.query(&sql, &[]).await?.into_iter().map(group_from).collect())
    }

    async fn get_group(&self, id: &str) -> GraphResult<Option<Group>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} WHERE g.id = ?");
        Ok(conn.query_opt(&sql, &[id.to_ascii_lowercase().into()]).await?.map(group_from))
    }

    async fn group_members(&self, group_id: &str) -> GraphResult<Vec<User>> {
        let mut conn = self.backend.read().await?;
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM group_members gm JOIN users u ON u.id = gm.user_id \
             JOIN mailboxes m ON m.mailbox_id = u.id WHERE gm.group_id = ? ORDER BY u.upn_key"
        );
        Ok(conn.query(&sql, &[group_id.into()]).await?.into_iter().map(user_from).collect())
    }

    async fn member_of(&self, user_id: &str) -> GraphResult<Vec<Group>> {
        let mut conn = self.backend.read().await?;
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} JOIN group_members gm ON gm.group_id = g.id \
             WHERE gm.user_id = ? ORDER BY u.upn_key"
        );
        Ok(conn.query(&sql, &[user_id.into()]).await?.into_iter().map(group_from).collect())
    }

    async fn is_member(&self, group_id: &str, user_id: &str) -> GraphResult<bool> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?",
                &[group_id.into(), user_id.into()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn threads(&self, group: &Mailbox) -> GraphResult<Vec<Thread>> {
        let mut conn = self.backend.read_mailbox(&group.id).await?;
        let sql = format!(
            "SELECT {THREAD_COLUMNS} FROM group_threads WHERE mailbox_id = ? ORDER BY last_delivered_at DESC, created_seq DESC"
        );
        Ok(conn.query(&sql, &[group.id.as_str().into()]).await?.into_iter().map(thread_from).collect())
    }

    async fn get_thread(&self, group: &Mailbox, id: &str) -> GraphResult<Option<Thread>> {
        let mut conn = self.backend.read_mailbox(&group.id).await?;
        select_thread(conn.as_mut(), group, id).await
    }

    async fn start_thread(
        &self,
        group: &Mailbox,
        conversation: Option<&str>,
        topic: &str,
        post: serde_json::Map<String, serde_json::Value>,
        author: &PostAuthor,
    ) -> GraphResult<(Thread, Item)> {
        let insert = self.item_insert(ItemKind::Post);
        let (mb, conversation, topic, author) =
            (group.clone(), conversation.map(str::to_owned), topic.to_owned(), author.clone());
        self.write(move |tx| {
            Box::pin(async move {
                let seq = bump(tx, &mb).await?;
                let (conversation_id, topic) = match conversation {
                    None => (ContactId::generate().to_string(), topic),
                    Some(c) => {
                        // A new thread in a conversation keeps the conversation's topic.
                        let row = tx
                            .query_opt(
                                "SELECT topic FROM group_threads WHERE mailbox_id = ? AND conversation_id = ? \
                                 ORDER BY created_seq LIMIT 1",
                                &[mb.id.as_str().into(), c.as_str().into()],
                            )
                            .await?
                            .ok_or_else(GraphError::item_not_found)?;
                        (c, row.first().clone().into_string())
                    }
                };
                let thread = Thread {
                    id: ContactId::generate().to_string(),
                    conversation_id,
                    topic,
                    last_delivered: String::new(),
                    preview: String::new(),
                    senders: Vec::new(),
                };
                tx.execute(
                    "INSERT INTO group_threads (mailbox_id, id, conversation_id, topic, created_seq, last_delivered_at, \
                     preview, senders) VALUES (?, ?, ?, ?, ?, '', '', '[]')",
                    &[
                        mb.id.as_str().into(),
                        thread.id.as_str().into(),
                        thread.conversation_id.as_str().into(),
                        thread.topic.as_str().into(),
                        seq.into(),
                    ],
                )
                .await?;
                deliver(tx, &insert, &mb, thread, post, &author).await
            })
        })
        .await
    }

    async fn add_post(
        &self,
        group: &Mailbox,
        thread: &str,
        post: serde_json::Map<String, serde_json::Value>,
        author: &PostAuthor,
    ) -> GraphResult<Item> {
        let insert = self.item_insert(ItemKind::Post);
        let (mb, thread, author) = (group.clone(), thread.to_owned(), author.clone());
        self.write(move |tx| {
            Box::pin(async move {
                bump(tx, &mb).await?;
                let found = select_thread(tx, &mb, &thread).await?.ok_or_else(GraphError::item_not_found)?;
                Ok(deliver(tx, &insert, &mb, found, post, &author).await?.1)
            })
        })
        .await
    }

    async fn list_posts(&self, group: &Mailbox, thread: &str, query: &ListQuery) -> GraphResult<Page<Item>> {
        {
            let mut conn = self.backend.read_mailbox(&group.id).await?;
            select_thread(conn.as_mut(), group, thread).await?.ok_or_else(GraphError::item_not_found)?;
        }
        let columns = item_columns(self.backend.dialect());
        let source = ListSource {
            columns: &columns,
            table: "posts",
            scope_sql: "t.mailbox_id = ? AND t.folder = ?",
            scope_params: vec![group.id.as_str().into(), thread.into()],
        };
        let (rows, next, count) = self.list_rows(Entity::Post, group, source, query).await?;
        let items = rows.into_iter().map(item_from).collect::<GraphResult<Vec<_>>>()?;
        Ok(Page { items, next, count })
    }

    async fn get_post(&self, group: &Mailbox, thread: &str, id: &str) -> GraphResult<Option<Item>> {
        let mut conn = self.backend.read_mailbox(&group.id).await?;
        select_thread(conn.as_mut(), group, thread).await?.ok_or_else(GraphError::item_not_found)?;
        Ok(select_item(conn.as_mut(), group, ItemKind::Post, id).await?.filter(|p| p.folder == thread))
    }
}
