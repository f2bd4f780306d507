//! [`Fleet`] over SQL: request counts in `throttle_counts` and failed sign-ins in
//! `signin_failures` (unlogged tables on PostgreSQL: counts need no crash safety, and skipping
//! the write-ahead log keeps their writes cheap), and the shared versions read from `settings`.

use super::*;
use crate::fleet::{now_ms, Fleet, RequestCount, SharedVersions, EMULATOR_SETTINGS_SETTING, SIGNING_KEY_SETTING};

impl SqlStore {
    /// Runs one statement that writes a shared count. On PostgreSQL it is its own transaction on
    /// a primary connection (`read` never goes to a replica), one round trip where a store write
    /// would add BEGIN and COMMIT; SQLite's writes go through its one writer.
    async fn count_statement(&self, sql: &'static str, params: Vec<Value>) -> GraphResult<Option<Row>> {
        if self.shared_by_processes() {
            self.backend.read().await?.query_opt(sql, &params).await
        } else {
            self.write(move |tx| Box::pin(async move { tx.query_opt(sql, &params).await })).await
        }
    }

    async fn count_execute(&self, sql: &'static str, params: Vec<Value>) -> GraphResult<u64> {
        if self.shared_by_processes() {
            self.backend.read().await?.execute(sql, &params).await
        } else {
            self.write(move |tx| Box::pin(async move { tx.execute(sql, &params).await })).await
        }
    }
}

#[async_trait]
impl Fleet for SqlStore {
    fn shared_by_processes(&self) -> bool {
        self.backend.dialect() == crate::sql::Dialect::Postgres
    }

    async fn count_requests(
        &self,
        app: &str,
        mailbox: &str,
        requests: u64,
        window_ms: i64,
    ) -> GraphResult<RequestCount> {
        let now = now_ms();
        let expired_before = now - window_ms;
        let n = i64::try_from(requests.max(1)).unwrap_or(i64::MAX);
        let params = vec![
            mailbox.into(),
            app.into(),
            now.into(),
            n.into(),
            expired_before.into(),
            n.into(),
            expired_before.into(),
        ];
        // One statement, so concurrent counts of the pair on any process serialise on its row:
        // a window that ran out starts again with these requests.
        const COUNT: &str =
            "INSERT INTO throttle_counts (mailbox_id, app_id, window_start, requests) VALUES (?, ?, ?, ?) \
             ON CONFLICT (mailbox_id, app_id) DO UPDATE SET \
             requests = CASE WHEN throttle_counts.window_start <= ? THEN excluded.requests \
                             ELSE throttle_counts.requests + ? END, \
             window_start = CASE WHEN throttle_counts.window_start <= ? THEN excluded.window_start \
                                 ELSE throttle_counts.window_start END \
             RETURNING requests, window_start";
        let row = self
            .count_statement(COUNT, params)
            .await?
            .ok_or_else(|| GraphError::internal("the request count returned no row"))?;
        let count = row.int("requests").unwrap_or(n).max(1) as u64;
        let start = row.int("window_start").unwrap_or(now);
        Ok(RequestCount { count, window_left_ms: (start + window_ms - now).max(0) })
    }

    async fn prune_request_counts(&self, started_before_ms: i64) -> GraphResult<u64> {
        self.count_execute("DELETE FROM throttle_counts WHERE window_start <= ?", vec![started_before_ms.into()]).await
    }

    async fn signin_failed(&self, key: &str, now_ms: i64, window_ms: i64) -> GraphResult<u32> {
        const FAILED: &str = "INSERT INTO signin_failures (lock_key, failures, last_failure, locked_until) \
             VALUES (?, 1, ?, 0) ON CONFLICT (lock_key) DO UPDATE SET \
             failures = CASE WHEN signin_failures.last_failure <= ? AND signin_failures.locked_until <= ? THEN 1 \
                             ELSE signin_failures.failures + 1 END, \
             last_failure = excluded.last_failure \
             RETURNING failures";
        let params = vec![key.into(), now_ms.into(), (now_ms - window_ms).into(), now_ms.into()];
        let row = self
            .count_statement(FAILED, params)
            .await?
            .ok_or_else(|| GraphError::internal("the sign-in failure count returned no row"))?;
        Ok(u32::try_from(row.int("failures").unwrap_or(1)).unwrap_or(u32::MAX))
    }

    async fn lock_signin(&self, key: &str, until_ms: i64) -> GraphResult<()> {
        const LOCK: &str = "UPDATE signin_failures SET locked_until = ? WHERE lock_key = ? AND locked_until < ?";
        self.count_execute(LOCK, vec![until_ms.into(), key.into(), until_ms.into()]).await.map(|_| ())
    }

    async fn signin_locked_until(&self, keys: &[String]) -> GraphResult<Option<i64>> {
        let mut latest = None;
        let mut conn = self.backend.read().await?;
        for key in keys {
            let row = conn
                .query_opt("SELECT locked_until FROM signin_failures WHERE lock_key = ?", &[key.as_str().into()])
                .await?;
            if let Some(until) = row.and_then(|r| r.int("locked_until")) {
                latest = latest.max(Some(until));
            }
        }
        Ok(latest)
    }

    async fn clear_signin(&self, key: &str) -> GraphResult<()> {
        self.count_execute("DELETE FROM signin_failures WHERE lock_key = ?", vec![key.into()]).await.map(|_| ())
    }

    async fn prune_signin_failures(&self, failed_before_ms: i64, now_ms: i64) -> GraphResult<u64> {
        self.count_execute(
            "DELETE FROM signin_failures WHERE last_failure < ? AND locked_until <= ?",
            vec![failed_before_ms.into(), now_ms.into()],
        )
        .await
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
