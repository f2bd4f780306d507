//! [`Emulator`] over SQL: the emulator's state controls (wipe, snapshots).

use super::*;

impl SqlStore {
    pub(super) fn sqlite_only(&self) -> GraphResult<()> {
        if self.backend.dialect().has_file_snapshots() {
            Ok(())
        } else {
            Err(GraphError::bad_request(
                "BadRequest",
                "Snapshots are an emulator feature: they need the SQLite backend.",
            ))
        }
    }

    /// Every state table's rows, as stored.
    pub(super) async fn dump(&self) -> GraphResult<Vec<(&'static str, Vec<Row>)>> {
        let mut conn = self.backend.read().await?;
        let mut out = Vec::new();
        for table in crate::migrations::STATE_TABLES {
            out.push((*table, conn.query(&format!("SELECT * FROM {table}"), &[]).await?));
        }
        Ok(out)
    }

    /// Replaces every state table's rows with `tables`' in one transaction (same schema version,
    /// so `SELECT *` and `INSERT ... VALUES` line up column for column).
    pub(super) async fn load(&self, tables: Vec<(&'static str, Vec<Row>)>) -> GraphResult<()> {
        self.write_directory(move |tx| {
            Box::pin(async move {
                for table in crate::migrations::STATE_TABLES.iter().rev() {
                    tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
                }
                for (table, rows) in tables {
                    for row in rows {
                        let marks = vec!["?"; row.len()].join(", ");
                        tx.execute(&format!("INSERT INTO {table} VALUES ({marks})"), row.values()).await?;
                    }
                }
                bump_directory(tx).await
            })
        })
        .await
    }
}

#[async_trait]
impl Emulator for SqlStore {
    async fn wipe(&self) -> GraphResult<()> {
        self.write_directory(move |tx| {
            Box::pin(async move {
                for table in crate::migrations::STATE_TABLES.iter().rev() {
                    tx.execute(&format!("DELETE FROM {table}"), &[]).await?;
                }
                bump_directory(tx).await
            })
        })
        .await
    }

    async fn expire_delta_tokens(&self) -> GraphResult<()> {
        // Tokens older than a mailbox's floor get 410; raising the floor to now retires them all.
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE mailboxes SET change_seq = change_seq + 1, tombstone_floor = change_seq + 1", &[])
                    .await
                    .map(|_| ())
            })
        })
        .await
    }

    async fn snapshot_to(&self, path: &std::path::Path) -> GraphResult<()> {
        self.sqlite_only()?;
        // `open` reads a `postgres://` or `sqlite:` prefix as a database URL, not a file name.
        let name = path.to_string_lossy();
        if !path.is_absolute() || name.contains("://") || name.starts_with("sqlite:") {
            return Err(GraphError::bad_request("BadRequest", "A snapshot is written to an absolute file path."));
        }
        if path.symlink_metadata().is_ok() {
            return Err(GraphError::bad_request("BadRequest", format!("{} already exists.", path.display())));
        }
        let target = crate::open(&name, &crate::OpenOptions::default()).await?;
        let rows = self.dump().await?;
        target.load(rows).await?;
        // The mark `restore_from` looks for before it touches anything.
        let mark = format!("PRAGMA application_id = {}", crate::snapshot::APPLICATION_ID);
        let mut conn = target.backend.read().await?;
        conn.execute(&mark, &[]).await?;
        Ok(())
    }

    async fn restore_from(&self, path: &std::path::Path) -> GraphResult<()> {
        self.sqlite_only()?;
        crate::snapshot::check(path)?;
        let source = crate::open(&path.to_string_lossy(), &crate::OpenOptions::default()).await?;
        let rows = source.dump().await?;
        self.load(rows).await
    }
}
