//! [`Notifications`] over SQL: subscriptions and the notification outbox.

use super::*;

#[async_trait]
impl Notifications for SqlStore {
    async fn create_subscription(&self, sub: Subscription) -> GraphResult<Subscription> {
        let doc = serde_json::to_string(&sub).map_err(GraphError::internal)?;
        let s = sub.clone();
        let mb = Mailbox {
            id: sub.mailbox_id.clone(),
            root_folder_id: FolderId::from_stored(String::new()),
            default_folder_id: FolderId::from_stored(String::new()),
        };
        self.write(move |tx| {
            Box::pin(async move {
                // The mailbox's counter row serialises its writers, so the quota holds.
                bump(tx, &mb).await?;
                let n = tx
                    .query_opt(
                        "SELECT COUNT(*) FROM subscriptions WHERE mailbox_id = ? AND expires_at > ?",
                        &[s.mailbox_id.as_str().into(), rolo_domain::time::now_utc().into()],
                    )
                    .await?
                    .map(|r| r.first().clone())
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                if n >= subscription::MAX_PER_MAILBOX as i64 {
                    return Err(subscription::quota_exceeded());
                }
                tx.execute(
                    "INSERT INTO subscriptions (id, mailbox_id, scope_id, app_id, expires_at, reauth_at, doc) VALUES (?, ?, ?, ?, ?, '', ?)",
                    &[
                        s.id.as_str().into(),
                        s.mailbox_id.as_str().into(),
                        s.scope.as_str().into(),
                        s.application_id.as_str().into(),
                        s.expiration.as_str().into(),
                        doc.into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(sub)
    }

    async fn get_subscription(&self, id: &str) -> GraphResult<Option<Subscription>> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT doc FROM subscriptions WHERE id = ? AND expires_at > ?",
                &[id.into(), rolo_domain::time::now_utc().into()],
            )
            .await?;
        row.map(outbox::subscription_from).transpose()
    }

    async fn list_subscriptions(&self, app_id: &str, mailbox_id: Option<&str>) -> GraphResult<Vec<Subscription>> {
        let mut conn = self.backend.read().await?;
        let now = rolo_domain::time::now_utc();
        let rows = match mailbox_id {
            Some(mb) => {
                conn.query(
                    "SELECT doc FROM subscriptions WHERE app_id = ? AND mailbox_id = ? AND expires_at > ? ORDER BY id",
                    &[app_id.into(), mb.into(), now.into()],
                )
                .await?
            }
            None => {
                conn.query(
                    "SELECT doc FROM subscriptions WHERE app_id = ? AND expires_at > ? ORDER BY id",
                    &[app_id.into(), now.into()],
                )
                .await?
            }
        };
        rows.into_iter().map(outbox::subscription_from).collect()
    }

    async fn update_subscription(&self, id: &str, edit: SubscriptionEdit) -> GraphResult<Subscription> {
        let id = id.to_owned();
        let lock = self.row_lock();
        self.write(move |tx| {
            Box::pin(async move {
                let sql = format!("SELECT doc FROM subscriptions WHERE id = ? AND expires_at > ?{lock}");
                let row = tx
                    .query_opt(&sql, &[id.as_str().into(), rolo_domain::time::now_utc().into()])
                    .await?
                    .ok_or_else(subscription::not_found)?;
                let mut sub = outbox::subscription_from(row)?;
                edit(&mut sub)?;
                let doc = serde_json::to_string(&sub).map_err(GraphError::internal)?;
                // A renewal also answers any reauthorization challenge.
                tx.execute(
                    "UPDATE subscriptions SET expires_at = ?, reauth_at = '', doc = ? WHERE id = ?",
                    &[sub.expiration.as_str().into(), doc.into(), id.as_str().into()],
                )
                .await?;
                Ok(sub)
            })
        })
        .await
    }

    async fn delete_subscription(&self, id: &str) -> GraphResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx.execute("DELETE FROM subscriptions WHERE id = ?", &[id.as_str().into()]).await?;
                if n == 0 {
                    return Err(subscription::not_found());
                }
                tx.execute("DELETE FROM outbox WHERE subscription_id = ?", &[id.as_str().into()]).await?;
                Ok(())
            })
        })
        .await
    }

    async fn reauthorize_subscription(&self, id: &str) -> GraphResult<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx
                    .execute(
                        "UPDATE subscriptions SET reauth_at = ? WHERE id = ? AND expires_at > ?",
                        &[rolo_domain::time::now_utc().into(), id.as_str().into(), rolo_domain::time::now_utc().into()],
                    )
                    .await?;
                if n == 0 {
                    return Err(subscription::not_found());
                }
                Ok(())
            })
        })
        .await
    }

    async fn claim_outbox(&self, limit: usize, lease_until: &str) -> GraphResult<Vec<OutboxItem>> {
        let now = rolo_domain::time::now_millis();
        let skip_locked = self.backend.dialect().row_lock_skip_locked();
        let sql = format!(
            "UPDATE outbox SET lease_until = ? WHERE id IN (SELECT id FROM outbox WHERE due_at <= ? AND lease_until < ? \
             ORDER BY due_at LIMIT {limit}{skip_locked}) RETURNING {OUTBOX_COLUMNS}"
        );
        let lease = lease_until.to_owned();
        let rows = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.query(&sql, &[lease.as_str().into(), now.as_str().into(), now.as_str().into()]).await
                })
            })
            .await?;
        let mut items: Vec<OutboxItem> = rows.into_iter().map(outbox::outbox_from).collect();
        items.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(items)
    }

    async fn ack_outbox(&self, ids: &[String]) -> GraphResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!("DELETE FROM outbox WHERE id IN ({marks})");
        let params: Vec<Value> = ids.iter().map(|i| Value::from(i.as_str())).collect();
        self.write(move |tx| Box::pin(async move { tx.execute(&sql, &params).await.map(|_| ()) })).await
    }

    async fn retry_outbox(&self, ids: &[String], due_at: &str) -> GraphResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql =
            format!("UPDATE outbox SET attempts = attempts + 1, due_at = ?, lease_until = '' WHERE id IN ({marks})");
        let mut params: Vec<Value> = vec![due_at.into()];
        params.extend(ids.iter().map(|i| Value::from(i.as_str())));
        self.write(move |tx| Box::pin(async move { tx.execute(&sql, &params).await.map(|_| ()) })).await
    }

    async fn release_outbox(&self, ids: &[String]) -> GraphResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // Only rows still leased: one acknowledged meanwhile is gone, one retried has '' already.
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!("UPDATE outbox SET lease_until = '' WHERE lease_until <> '' AND id IN ({marks})");
        let params: Vec<Value> = ids.iter().map(|i| Value::from(i.as_str())).collect();
        self.write(move |tx| Box::pin(async move { tx.execute(&sql, &params).await.map(|_| ()) })).await
    }

    async fn give_up_outbox(&self, items: &[OutboxItem]) -> GraphResult<()> {
        let items = items.to_vec();
        self.write(move |tx| {
            Box::pin(async move {
                let mut missed: Vec<String> = Vec::new();
                for item in &items {
                    tx.execute("DELETE FROM outbox WHERE id = ?", &[item.id.as_str().into()]).await?;
                    if !item.lifecycle && !missed.contains(&item.subscription_id) {
                        missed.push(item.subscription_id.clone());
                    }
                }
                for sid in missed {
                    let row =
                        tx.query_opt("SELECT doc FROM subscriptions WHERE id = ?", &[sid.as_str().into()]).await?;
                    if let Some(row) = row {
                        outbox::lifecycle(tx, &outbox::subscription_from(row)?, "missed").await?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn sweep_subscriptions(&self) -> GraphResult<u64> {
        self.write(move |tx| {
            Box::pin(async move {
                let now = rolo_domain::time::now_utc();
                let expired =
                    tx.query("SELECT id FROM subscriptions WHERE expires_at <= ?", &[now.as_str().into()]).await?;
                for row in &expired {
                    let id = row.first().clone();
                    tx.execute("DELETE FROM outbox WHERE subscription_id = ?", std::slice::from_ref(&id)).await?;
                    tx.execute("DELETE FROM subscriptions WHERE id = ?", &[id]).await?;
                }
                let within_hour = rolo_domain::time::minutes_from_now(60);
                let quarter_ago = rolo_domain::time::minutes_from_now(-15);
                let due = tx
                    .query(
                        "SELECT doc FROM subscriptions WHERE expires_at <= ? AND reauth_at < ?",
                        &[within_hour.into(), quarter_ago.into()],
                    )
                    .await?;
                for row in due {
                    let sub = outbox::subscription_from(row)?;
                    outbox::lifecycle(tx, &sub, "reauthorizationRequired").await?;
                    tx.execute(
                        "UPDATE subscriptions SET reauth_at = ? WHERE id = ?",
                        &[now.as_str().into(), sub.id.as_str().into()],
                    )
                    .await?;
                }
                Ok(expired.len() as u64)
            })
        })
        .await
    }

    fn outbox_signal(&self) -> crate::sql::OutboxSignal {
        self.backend.outbox_signal()
    }

    async fn outbox_depth(&self) -> GraphResult<OutboxDepth> {
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox", &[]).await?;
        Ok(row.map_or_else(OutboxDepth::default, |mut r| OutboxDepth {
            pending: r.int("n").unwrap_or_default().try_into().unwrap_or_default(),
            oldest_created_at: r.opt_text("oldest"),
        }))
    }
}
