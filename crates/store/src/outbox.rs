//! The transactional outbox behind change notifications. A contact write queues one row per
//! (subscription, change) in the write's own transaction, so a change that commits always has
//! its notifications; delivery workers claim due rows with leases (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL) so several processes share the work without sending a row twice in the normal case.

use rolo_domain::ids::new_guid;
use rolo_domain::subscription::Subscription;
use rolo_domain::{GraphError, GraphResult};
use serde::{Deserialize, Serialize};

use crate::sql::{Row, Sql};
use crate::{ChangeType, Mailbox};

/// The outbox's backlog: rows waiting (due, leased or backing off) and the creation time of the
/// oldest (a millisecond timestamp), `None` when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    pub pending: u64,
    pub oldest_created_at: Option<String>,
}

/// A queued delivery, as a worker claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: String,
    pub subscription_id: String,
    pub url: String,
    /// A lifecycle notification (`missed` is not sent about these).
    pub lifecycle: bool,
    /// The stored [`OutboxPayload`], decoded on delivery (a corrupt row fails its own batch, not
    /// the claim).
    payload: String,
    /// When the change happened (millisecond timestamp).
    pub created_at: String,
    pub attempts: i64,
}

impl OutboxItem {
    /// A row as a backend test hands it over.
    #[cfg(test)]
    pub(crate) fn for_test(id: &str) -> OutboxItem {
        OutboxItem {
            id: id.into(),
            subscription_id: "s".into(),
            url: "https://hooks.example/".into(),
            lifecycle: false,
            payload: "{}".into(),
            created_at: String::new(),
            attempts: 0,
        }
    }

    /// What the delivery carries.
    pub fn payload(&self) -> GraphResult<OutboxPayload> {
        OutboxPayload::decode(&self.payload)
    }
}

/// What a queued delivery carries: one notification, and for a rich subscription what the sender
/// encrypts into it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxPayload {
    /// One `changeNotification` (or lifecycle notification) as JSON, without `tenantId`.
    pub notification: serde_json::Value,
    pub rich: Option<RichContent>,
}

/// A rich notification's resource data, and the subscriber's certificate to encrypt it for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichContent {
    /// The subscribing app: its validation token goes with the notification.
    pub app_id: String,
    pub certificate: Option<String>,
    pub certificate_id: Option<String>,
    /// The contact's `$select`ed properties, as the sender encrypts them.
    pub data: serde_json::Value,
}

/// Stored as the notification with the rich content under `_rich`: the encoding earlier versions
/// queued, so rows they left in the outbox still deliver.
const RICH_KEY: &str = "_rich";

impl OutboxPayload {
    fn encode(&self) -> GraphResult<String> {
        let mut doc = self.notification.clone();
        if let Some(rich) = &self.rich {
            doc[RICH_KEY] = serde_json::to_value(rich).map_err(GraphError::internal)?;
        }
        Ok(doc.to_string())
    }

    fn decode(stored: &str) -> GraphResult<OutboxPayload> {
        let mut notification: serde_json::Value = serde_json::from_str(stored).map_err(GraphError::internal)?;
        let rich = match notification.as_object_mut().and_then(|o| o.remove(RICH_KEY)) {
            Some(r) => Some(serde_json::from_value(r).map_err(GraphError::internal)?),
            None => None,
        };
        Ok(OutboxPayload { notification, rich })
    }
}

/// One change to report: `folder` is the folder whose subscriptions hear of it (none for a change
/// only mailbox-wide subscriptions report), `mailbox_wide` whether `/me/contacts` subscriptions do.
pub struct Change<'a> {
    pub contact: &'a str,
    /// The contact as it is now (for rich notifications); `None` for deletions.
    pub data: Option<&'a rolo_domain::Contact>,
    pub change_key: &'a str,
    pub kind: ChangeType,
    pub folder: Option<&'a str>,
    pub mailbox_wide: bool,
}

impl<'a> Change<'a> {
    /// A contact written as it now is, in its folder.
    pub fn written(contact: &'a rolo_domain::Contact, kind: ChangeType) -> Self {
        Change {
            contact: contact.id.as_str(),
            data: Some(contact),
            change_key: &contact.change_key,
            kind,
            folder: Some(contact.folder_id.as_str()),
            mailbox_wide: true,
        }
    }
}

pub const SUBSCRIPTION_COLUMNS: &str = "doc";

pub fn subscription_from(mut row: Row) -> GraphResult<Subscription> {
    let doc = row.text("doc");
    serde_json::from_str(&doc).map_err(|e| GraphError::internal(format!("corrupt subscription: {e}")))
}

pub fn outbox_from(mut row: Row) -> OutboxItem {
    OutboxItem {
        id: row.text("id"),
        subscription_id: row.text("subscription_id"),
        url: row.text("url"),
        lifecycle: row.int("lifecycle") == Some(1),
        payload: row.text("payload"),
        created_at: row.text("created_at"),
        attempts: row.int("attempts").unwrap_or(0),
    }
}

pub const OUTBOX_COLUMNS: &str = "id, subscription_id, url, lifecycle, payload, created_at, attempts";

/// Queues one delivery. While this process's worker listens, the row is leased to it in the
/// same statement and handed over at the commit (see `sql::OutboxHub`).
pub async fn enqueue(
    tx: &mut dyn Sql,
    mailbox_id: &str,
    sub: &Subscription,
    url: &str,
    lifecycle: bool,
    payload: &OutboxPayload,
) -> GraphResult<()> {
    let now = rolo_domain::time::now_millis();
    let lease = tx.outbox_lease();
    let id = payload.notification.get("id").and_then(|v| v.as_str()).map(str::to_owned).unwrap_or_else(new_guid);
    let encoded = payload.encode()?;
    tx.execute(
        "INSERT INTO outbox (id, mailbox_id, subscription_id, url, lifecycle, payload, created_at, due_at, attempts, lease_until) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        &[
            id.as_str().into(),
            mailbox_id.into(),
            sub.id.as_str().into(),
            url.into(),
            i64::from(lifecycle).into(),
            encoded.as_str().into(),
            now.as_str().into(),
            now.as_str().into(),
            lease.as_deref().unwrap_or_default().into(),
        ],
    )
    .await?;
    let leased = lease.map(|_| OutboxItem {
        id,
        subscription_id: sub.id.clone(),
        url: url.to_owned(),
        lifecycle,
        payload: encoded,
        created_at: now,
        attempts: 0,
    });
    tx.queued_notification(leased);
    Ok(())
}

/// Queues the notifications a write's changes owe to the mailbox's live subscriptions. Costs one
/// indexed lookup when the mailbox has none.
pub async fn notify(tx: &mut dyn Sql, mailbox: &Mailbox, changes: &[Change<'_>]) -> GraphResult<()> {
    let rows = tx
        .query(
            "SELECT doc FROM subscriptions WHERE mailbox_id = ? AND expires_at > ?",
            &[mailbox.id.as_str().into(), rolo_domain::time::now_utc().into()],
        )
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let subs = rows.into_iter().map(subscription_from).collect::<GraphResult<Vec<_>>>()?;
    for ch in changes {
        for s in &subs {
            let hears = if s.scope == "*" { ch.mailbox_wide } else { ch.folder == Some(s.scope.as_str()) };
            if hears && s.wants(ch.kind.name()) {
                let notification = s.notification(&new_guid(), ch.kind.name(), ch.contact, ch.change_key);
                let rich = match ch.data.and_then(|c| s.rich_content(c)) {
                    Some(r) => Some(serde_json::from_value(r).map_err(GraphError::internal)?),
                    None => None,
                };
                let payload = OutboxPayload { notification, rich };
                enqueue(tx, &mailbox.id, s, &s.notification_url, false, &payload).await?;
            }
        }
    }
    Ok(())
}

/// Queues a lifecycle event for a subscription that has a lifecycle URL.
pub async fn lifecycle(tx: &mut dyn Sql, sub: &Subscription, event: &str) -> GraphResult<()> {
    if let Some(url) = &sub.lifecycle_notification_url {
        let payload = OutboxPayload { notification: sub.lifecycle(event), rich: None };
        enqueue(tx, &sub.mailbox_id, sub, url, true, &payload).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The stored encoding is the one earlier versions queued: the notification with `_rich`.
    #[test]
    fn payload_encoding() {
        let rich = RichContent {
            app_id: "app".into(),
            certificate: Some("cert".into()),
            certificate_id: None,
            data: json!({"id": "c1"}),
        };
        let payload = OutboxPayload { notification: json!({"id": "n1", "changeType": "created"}), rich: Some(rich) };
        let stored = payload.encode().unwrap();
        assert_eq!(
            stored,
            r#"{"id":"n1","changeType":"created","_rich":{"appId":"app","certificate":"cert","certificateId":null,"data":{"id":"c1"}}}"#
        );
        assert_eq!(OutboxPayload::decode(&stored).unwrap(), payload);
        let plain = OutboxPayload { notification: json!({"lifecycleEvent": "missed"}), rich: None };
        assert_eq!(OutboxPayload::decode(&plain.encode().unwrap()).unwrap(), plain);
        assert!(OutboxPayload::decode("not json").is_err());
    }
}
