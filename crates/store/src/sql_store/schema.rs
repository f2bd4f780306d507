//! [`SchemaExtensions`] over SQL: tenant-wide schema extension definitions.

use super::*;

pub(super) fn schema_from(mut row: Row) -> GraphResult<SchemaExtension> {
    let doc = row.text("doc");
    serde_json::from_str(&doc).map_err(|e| GraphError::internal(format!("corrupt schema extension: {e}")))
}

pub(super) fn schema_not_found() -> GraphError {
    GraphError::new(ErrorKind::NotFound, "Request_ResourceNotFound", "The schema extension was not found.")
}

#[async_trait]
impl SchemaExtensions for SqlStore {
    async fn list_schema_extensions(&self) -> GraphResult<Vec<SchemaExtension>> {
        let mut conn = self.backend.read().await?;
        let rows = conn.query("SELECT doc FROM schema_extensions ORDER BY created_at, id", &[]).await?;
        rows.into_iter().map(schema_from).collect()
    }

    async fn get_schema_extension(&self, id: &str) -> GraphResult<Option<SchemaExtension>> {
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT doc FROM schema_extensions WHERE id = ?", &[id.into()]).await?;
        row.map(schema_from).transpose()
    }

    async fn create_schema_extension(&self, ext: SchemaExtension) -> GraphResult<SchemaExtension> {
        // The per-owner limit is a count then an insert: processes take turns.
        let lock = self.backend.dialect().exclusive_table_lock("schema_extensions");
        let doc = serde_json::to_string(&ext).map_err(GraphError::internal)?;
        let e = ext.clone();
        self.write(move |tx| {
            Box::pin(async move {
                if let Some(lock) = lock {
                    tx.execute(&lock, &[]).await?;
                }
                if tx
                    .query_opt("SELECT 1 FROM schema_extensions WHERE id = ?", &[e.id.as_str().into()])
                    .await?
                    .is_some()
                {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "Conflict",
                        format!("A schema extension with the id '{}' already exists.", e.id),
                    ));
                }
                let owned = tx
                    .query_opt("SELECT COUNT(*) FROM schema_extensions WHERE owner = ?", &[e.owner.as_str().into()])
                    .await?
                    .map(|r| r.first().clone())
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                if owned >= MAX_PER_OWNER as i64 {
                    return Err(GraphError::bad_request(
                        "BadRequest",
                        format!("An application may own at most {MAX_PER_OWNER} schema extensions."),
                    ));
                }
                tx.execute(
                    "INSERT INTO schema_extensions (id, owner, created_at, doc) VALUES (?, ?, ?, ?)",
                    &[e.id.as_str().into(), e.owner.as_str().into(), rolo_domain::time::now_utc().into(), doc.into()],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(ext)
    }

    async fn update_schema_extension(&self, id: &str, edit: SchemaEdit) -> GraphResult<SchemaExtension> {
        let id = id.to_owned();
        let lock = self.row_lock();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT doc FROM schema_extensions WHERE id = ?{lock}");
                let row = tx.query_opt(&sql, &[id.as_str().into()]).await?.ok_or_else(schema_not_found)?;
                let mut ext = schema_from(row)?;
                edit(&mut ext)?;
                let doc = serde_json::to_string(&ext).map_err(GraphError::internal)?;
                tx.execute("UPDATE schema_extensions SET doc = ? WHERE id = ?", &[doc.into(), id.as_str().into()])
                    .await?;
                Ok(ext)
            })
        })
        .await
    }

    async fn delete_schema_extension(&self, id: &str, check: SchemaEdit) -> GraphResult<()> {
        let id = id.to_owned();
        let lock = self.row_lock();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT doc FROM schema_extensions WHERE id = ?{lock}");
                let row = tx.query_opt(&sql, &[id.as_str().into()]).await?.ok_or_else(schema_not_found)?;
                check(&mut schema_from(row)?)?;
                tx.execute("DELETE FROM schema_extensions WHERE id = ?", &[id.as_str().into()]).await?;
                Ok(())
            })
        })
        .await
    }
}
