//! Webhook delivery: the notification-URL policy, the validation handshake, and the worker that
//! drains the outbox. Every Rolo process runs a worker; the store's leases keep them from sending
//! a row twice, and a delivery that fails is retried with exponential backoff until it is too old,
//! when the subscription gets a `missed` lifecycle event instead.

use std::sync::Arc;
use std::time::Duration;

use rolo_domain::{GraphError, GraphResult};
use rolo_store::OutboxItem;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::AppState;

/// Where and how notifications go.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Hosts that may be sent to over plain `http` (everything else must be `https`).
    pub allow_http_hosts: Vec<String>,
    /// How long a failing delivery is retried before it counts as missed (Graph: 4 hours).
    pub give_up_after: Duration,
    /// The first retry's delay; each further one doubles it, up to `max_retry_delay`.
    pub retry_base: Duration,
    pub max_retry_delay: Duration,
    /// A receiver must answer a notification within this (Graph: 3 s).
    pub delivery_timeout: Duration,
    /// ... and the validation handshake within this (Graph: 10 s).
    pub validation_timeout: Duration,
    /// How often an idle worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How often expired subscriptions are removed and reauthorization challenges sent.
    pub sweep_interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_http_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            give_up_after: Duration::from_secs(4 * 3600),
            retry_base: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(600),
            delivery_timeout: Duration::from_secs(3),
            validation_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(100),
            sweep_interval: Duration::from_secs(60),
        }
    }
}

/// The HTTP client for receivers: no redirects (a receiver cannot bounce Rolo elsewhere), short
/// connect timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(3))
        .user_agent("Rolo-Webhooks/1.0")
        .build()
        .unwrap_or_default()
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("InvalidRequest", message)
}

/// Notification URLs must be `https`, except on the allowed hosts (loopback by default).
pub fn check_url(settings: &WebhookSettings, field: &str, raw: &str) -> GraphResult<()> {
    let url =
        reqwest::Url::parse(raw).map_err(|_| invalid(format!("The {field} '{raw}' is not a valid absolute URL.")))?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if settings.allow_http_hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => Ok(()),
        _ => Err(invalid(format!("The {field} must be an https URL."))),
    }
}

/// Graph's handshake: `POST {url}?validationToken=...` as text, answered with 200 and the token.
pub async fn validate(state: &AppState, url: &str) -> GraphResult<()> {
    let token = format!("Validation: {}", rolo_domain::ids::new_guid());
    let mut target = reqwest::Url::parse(url).map_err(|_| invalid("The notification URL is not valid."))?;
    target.query_pairs_mut().append_pair("validationToken", &token);
    let sent = state
        .http
        .post(target)
        .header("Content-Type", "text/plain; charset=utf-8")
        .timeout(state.webhooks.validation_timeout)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Err(invalid("Subscription validation request timed out.")),
        Err(_) => {
            return Err(invalid(
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
            ))
        }
    };
    if resp.status() != reqwest::StatusCode::OK {
        return Err(invalid(
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
        ));
    }
    let body = tokio::time::timeout(state.webhooks.validation_timeout, resp.text())
        .await
        .map_err(|_| invalid("Subscription validation request timed out."))?
        .unwrap_or_default();
    if body.trim() != token {
        return Err(invalid(
            "Subscription validation request failed. Response must exactly match validationToken query parameter.",
        ));
    }
    Ok(())
}

/// Starts the delivery worker (and the hourly-ish subscription sweep) for this process.
pub fn spawn_delivery(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Slow receivers hold a slot each, never the loop: others keep being served.
        let slots = Arc::new(Semaphore::new(64));
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            if last_sweep.is_none_or(|t| t.elapsed() > state.webhooks.sweep_interval) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = state.store.sweep_subscriptions().await {
                    tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "subscription sweep failed");
                }
            }
            // A lease outlives any delivery attempt; a crashed worker's rows come back after it.
            let lease = (state.webhooks.delivery_timeout * 4).as_millis() as i64 + 5_000;
            let claimed = state.store.claim_outbox(256, &rolo_domain::time::millis_from_now(lease)).await;
            let items = match claimed {
                Ok(items) => items,
                Err(e) => {
                    tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "claiming deliveries failed");
                    Vec::new()
                }
            };
            if items.is_empty() {
                tokio::time::sleep(state.webhooks.poll_interval).await;
                continue;
            }
            // One POST per receiver URL, carrying every notification due for it.
            let mut groups: Vec<(String, Vec<OutboxItem>)> = Vec::new();
            for item in items {
                match groups.iter_mut().find(|(u, _)| *u == item.url) {
                    Some((_, g)) => g.push(item),
                    None => groups.push((item.url.clone(), vec![item])),
                }
            }
            for (url, group) in groups {
                let Ok(permit) = slots.clone().acquire_owned().await else { return };
                let state = state.clone();
                tokio::spawn(async move {
                    deliver(&state, &url, group).await;
                    drop(permit);
                });
            }
        }
    })
}

/// The `changeNotificationCollection` for a batch: each notification with its `tenantId`; rich
/// ones encrypted for their subscriber, with one `validationTokens` entry per app.
fn collection(state: &AppState, items: &[OutboxItem]) -> GraphResult<Value> {
    let tenant = state.authority.tenant_id.clone();
    let mut apps: Vec<String> = Vec::new();
    let mut value = Vec::with_capacity(items.len());
    for item in items {
        let mut v: Value = serde_json::from_str(&item.payload).map_err(GraphError::internal)?;
        v["tenantId"] = json!(tenant);
        if let Some(rich) = v.as_object_mut().and_then(|o| o.remove("_rich")) {
            let recipient = crate::rich::recipient(rich["certificate"].as_str().unwrap_or_default())?;
            let data = serde_json::to_vec(&rich["data"]).map_err(GraphError::internal)?;
            v["encryptedContent"] =
                crate::rich::encrypt(&recipient, rich["certificateId"].as_str().unwrap_or_default(), &data)?;
            let app = rich["appId"].as_str().unwrap_or_default().to_owned();
            if !apps.contains(&app) {
                apps.push(app);
            }
        }
        value.push(v);
    }
    let mut body = json!({"value": value});
    if !apps.is_empty() {
        let tokens =
            apps.iter().map(|a| state.authority.issue_notification_token(a)).collect::<GraphResult<Vec<_>>>()?;
        body["validationTokens"] = json!(tokens);
    }
    Ok(body)
}

async fn deliver(state: &AppState, url: &str, items: Vec<OutboxItem>) {
    let body = match collection(state, &items) {
        Ok(body) => body,
        Err(e) => {
            // A payload that cannot be encrypted (a certificate gone bad) will not get better.
            tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "dropping undeliverable notifications");
            let _ = state.store.give_up_outbox(&items).await;
            return;
        }
    };
    let sent = state.http.post(url).json(&body).timeout(state.webhooks.delivery_timeout).send().await;
    let delivered = matches!(&sent, Ok(r) if r.status().is_success());
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let result = if delivered {
        state.store.ack_outbox(&ids).await
    } else {
        let give_up_before = rolo_domain::time::millis_from_now(-(state.webhooks.give_up_after.as_millis() as i64));
        let (stale, fresh): (Vec<OutboxItem>, Vec<OutboxItem>) =
            items.into_iter().partition(|i| i.created_at < give_up_before);
        let attempts = fresh.iter().map(|i| i.attempts).max().unwrap_or(0).clamp(0, 30) as u32;
        let delay =
            state.webhooks.retry_base.saturating_mul(2u32.saturating_pow(attempts)).min(state.webhooks.max_retry_delay);
        let fresh_ids: Vec<String> = fresh.iter().map(|i| i.id.clone()).collect();
        tracing::info!(url, attempts, retry_in_ms = delay.as_millis() as u64, "notification delivery failed");
        let retried =
            state.store.retry_outbox(&fresh_ids, &rolo_domain::time::millis_from_now(delay.as_millis() as i64)).await;
        match retried {
            Ok(()) if stale.is_empty() => Ok(()),
            Ok(()) => state.store.give_up_outbox(&stale).await,
            Err(e) => Err(e),
        }
    };
    if let Err(e) = result {
        tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "recording a delivery failed");
    }
}
