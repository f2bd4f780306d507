//! [`Fleet`] over SQL: request counts in `throttle_counts` (an unlogged table on PostgreSQL:
//! counts need no crash safety, and skipping the write-ahead log keeps the per-request write
//! cheap), and the shared versions read from `settings`.

use super::*;
use crate::fleet::{Fleet, RequestCount, SharedVersions, EMULATOR_SETTINGS_SETTING, SIGNING_KEY_SETTING};

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[async_trait]
impl Fleet for SqlStore {
    fn shared_by_processes(&self) -> bool {
        self.backend.dialect() == crate::sql::Dialect::Postgres
    }

    async fn count_request(&self, app: &str, mailbox: &str, window_ms: i64) -> GraphResult<RequestCount> {
        let now = now_ms();
        let expired_before = now - window_ms;
        let params = [mailbox.into(), app.into(), now.into(), expired_before.into(), expired_before.into()];
        // One statement, so concurrent requests of the pair on any process serialise on its row:
        // a window that ran out starts again at this request.
        const COUNT: &str =
            "INSERT INTO throttle_counts (mailbox_id, app_id, window_start, requests) VALUES (?, ?, ?, 1) \
             ON CONFLICT (mailbox_id, app_id) DO UPDATE SET \
             requests = CASE WHEN throttle_counts.window_start <= ? THEN 1 \
                             ELSE throttle_counts.requests + 1 END, \
             window_start = CASE WHEN throttle_counts.window_start <= ? THEN excluded.window_start \
                                 ELSE throttle_counts.window_start END \
             RETURNING requests, window_start";
        let row = if self.shared_by_processes() {
            // Every request of a fleet pays this, so it is one round trip: a single statement is
            // its own transaction, on a primary connection (`read` never goes to a replica),
            // where a store write would add BEGIN and COMMIT.
            self.backend.read().await?.query_opt(COUNT, &params).await?
        } else {
            self.write(move |tx| Box::pin(async move { tx.query_opt(COUNT, &params).await })).await?
        }
        .ok_or_else(|| GraphError::internal("the request count returned no row"))?;
        let count = row.int("requests").unwrap_or(1).max(1) as u64;
        let start = row.int("window_start").unwrap_or(now);
        Ok(RequestCount { count, window_left_ms: (start + window_ms - now).max(0) })
    }

    async fn shared_versions(&self) -> GraphResult<SharedVersions> {
        let ticket = self.directory.ticket();
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT name, value FROM settings WHERE name IN ('directory_version', ?, ?)",
                &[SIGNING_KEY_SETTING.into(), EMULATOR_SETTINGS_SETTING.into()],
            )
            .await?;
        let mut v = SharedVersions::default();
        for mut row in rows {
            let value = row.text("value");
            match row.text("name").as_str() {
                "directory_version" => v.directory = value,
                SIGNING_KEY_SETTING => v.signing_key = value,
                _ => v.emulator_settings = value,
            }
        }
        // The fleet poll reads this every 250 ms: it keeps the per-request check off the database.
        self.directory.remember(ticket, &v.directory);
        Ok(v)
    }
}
