//! [`DavState`] for [`SqlStore`].

use super::*;
use crate::dav::{AppPassword, DavState};

#[async_trait]
impl DavState for SqlStore {
    async fn add_app_password(&self, user_id: &str, p: &AppPassword) -> GraphResult<()> {
        let (user_id, p) = (user_id.to_ascii_lowercase(), p.clone());
        self.write(move |tx| {
            Box::pin(async move {
                if tx.query_opt("SELECT 1 FROM users WHERE id = ?", &[user_id.as_str().into()]).await?.is_none() {
                    return Err(GraphError::invalid_user(&user_id));
                }
                let taken = tx
                    .query_opt(
                        "SELECT 1 FROM app_passwords WHERE user_id = ? AND name = ?",
                        &[user_id.as_str().into(), p.name.as_str().into()],
                    )
                    .await?
                    .is_some();
                if taken {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "nameAlreadyExists",
                        format!("The user already has an app password named '{}'.", p.name),
                    ));
                }
                tx.execute(
                    "INSERT INTO app_passwords (user_id, id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    &[
                        user_id.as_str().into(),
                        p.id.as_str().into(),
                        p.name.as_str().into(),
                        p.hash.as_str().into(),
                        p.created_at.as_str().into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn app_passwords(&self, user_id: &str) -> GraphResult<Vec<AppPassword>> {
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT id, name, hash, created_at FROM app_passwords WHERE user_id = ? ORDER BY created_at, name",
                &[user_id.to_ascii_lowercase().into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| AppPassword {
                id: r.text("id"),
                name: r.text("name"),
                hash: r.text("hash"),
                created_at: r.text("created_at"),
            })
            .collect())
    }

    async fn remove_app_password(&self, user_id: &str, name: &str) -> GraphResult<bool> {
        let (user_id, name) = (user_id.to_ascii_lowercase(), name.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                Ok(tx
                    .query_opt(
                        "DELETE FROM app_passwords WHERE user_id = ? AND name = ? RETURNING id",
                        &[user_id.as_str().into(), name.as_str().into()],
                    )
                    .await?
                    .is_some())
            })
        })
        .await
    }

    async fn set_dav_name(
        &self,
        mailbox: &Mailbox,
        object_id: &str,
        name: &str,
        card: Option<(&str, &str)>,
    ) -> GraphResult<()> {
        let (mb, id, name) = (mailbox.id.clone(), object_id.to_owned(), name.to_owned());
        let (key, text): (Value, Value) = match card {
            Some((k, t)) => (k.into(), t.into()),
            None => (Value::Null, Value::Null),
        };
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO dav_names (mailbox_id, object_id, name, card_key, card) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (mailbox_id, object_id) DO UPDATE SET name = excluded.name, \
                     card_key = excluded.card_key, card = excluded.card",
                    &[mb.as_str().into(), id.as_str().into(), name.as_str().into(), key, text],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn dav_card(&self, mailbox: &Mailbox, object_id: &str) -> GraphResult<Option<(String, String)>> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT card_key, card FROM dav_names WHERE mailbox_id = ? AND object_id = ? AND card IS NOT NULL",
                &[mailbox.id.as_str().into(), object_id.into()],
            )
            .await?;
        Ok(row.map(|mut r| (r.text("card_key"), r.text("card"))))
    }

    async fn dav_names(&self, mailbox: &Mailbox, contacts: &[String]) -> GraphResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        if contacts.is_empty() {
            return Ok(out);
        }
        let mut conn = self.backend.read().await?;
        for chunk in contacts.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT object_id, name FROM dav_names WHERE mailbox_id = ? AND object_id IN ({marks})");
            let mut params: Vec<Value> = vec![mailbox.id.as_str().into()];
            params.extend(chunk.iter().map(|c| c.as_str().into()));
            for mut r in conn.query(&sql, &params).await? {
                out.push((r.text("object_id"), r.text("name")));
            }
        }
        Ok(out)
    }

    async fn ids_named(&self, mailbox: &Mailbox, name: &str) -> GraphResult<Vec<String>> {
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT object_id FROM dav_names WHERE mailbox_id = ? AND name = ?",
                &[mailbox.id.as_str().into(), name.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|mut r| r.text("object_id")).collect())
    }

    async fn mailboxes_shared_with(&self, grantee: &str) -> GraphResult<Vec<String>> {
        let mut conn = self.backend.read().await?;
        let g = grantee.to_owned();
        let rows = conn
            .query(
                "SELECT mailbox_id FROM mailbox_grants WHERE grantee_id = ? \
                 UNION SELECT mailbox_id FROM folder_grants WHERE grantee_id = ? ORDER BY mailbox_id",
                &[g.as_str().into(), g.as_str().into()],
            )
            .await?;
        Ok(rows.into_iter().map(|mut r| r.text("mailbox_id")).collect())
    }
}
