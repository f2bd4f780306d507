//! [`Categories`] over SQL: the master category list.

use super::*;

pub(super) fn category_from(mut row: Row) -> OutlookCategory {
    OutlookCategory { id: row.text("id"), display_name: row.text("display_name"), color: row.text("color") }
}

pub(super) async fn select_category(
    conn: &mut dyn Sql,
    mailbox: &Mailbox,
    id: &str,
) -> GraphResult<Option<OutlookCategory>> {
    let row = conn
        .query_opt(
            "SELECT id, display_name, color FROM categories WHERE mailbox_id = ? AND id = ?",
            &[mailbox.id.as_str().into(), id.into()],
        )
        .await?;
    Ok(row.map(category_from))
}

#[async_trait]
impl Categories for SqlStore {
    async fn list_categories(&self, mailbox: &Mailbox) -> GraphResult<Vec<OutlookCategory>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
        let rows = conn
            .query(
                "SELECT id, display_name, color FROM categories WHERE mailbox_id = ? ORDER BY created_seq",
                &[mailbox.id.as_str().into()],
            )
            .await?;
        Ok(rows.into_iter().map(category_from).collect())
    }

    async fn get_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<Option<OutlookCategory>> {
        let mut conn = self.backend.read_mailbox(&mailbox.id).await?;
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
}
