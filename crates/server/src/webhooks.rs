//! Webhook delivery: notification URLs checked against the outbound policy (`outbound.rs`), the
//! validation handshake, and the worker that drains the outbox. Every Rolo process runs a worker;
//! the store's leases keep them from sending a row twice, and a delivery that fails is retried with
//! exponential backoff until it is too old, when the subscription gets a `missed` lifecycle event
//! instead.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rolo_domain::{GraphError, GraphResult};
use rolo_store::{OutboxItem, OutboxPayload};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::outbound::{OutboundPolicy, Refused};
use crate::AppState;

/// What this process's delivery worker has done: counters for operators (metrics) and for tests,
/// which wait on these events instead of sleeping.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Subscription sweeps finished.
    pub sweeps: AtomicU64,
    /// Notifications a receiver accepted.
    pub delivered: AtomicU64,
    /// Notifications a receiver refused or did not answer, to be retried.
    pub retried: AtomicU64,
    /// Notifications given up on (`missed`) or dropped as undeliverable.
    pub given_up: AtomicU64,
}

impl WorkerStats {
    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Where and how notifications go.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Which URLs and addresses receivers may have (public `https` only, by default).
    pub policy: OutboundPolicy,
    /// How long a failing delivery is retried before it counts as missed (Graph: 4 hours).
    pub give_up_after: Duration,
    /// The first retry's delay; each further one doubles it, up to `max_retry_delay`.
    pub retry_base: Duration,
    pub max_retry_delay: Duration,
    /// A receiver must answer a notification within this (Graph: 3 s).
    pub delivery_timeout: Duration,
    /// ... and the validation handshakes, all of a request's together, within this (Graph: 10 s).
    pub validation_timeout: Duration,
    /// How often an idle worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How often expired subscriptions are removed and reauthorization challenges sent.
    pub sweep_interval: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            policy: OutboundPolicy::default(),
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

/// A validation answer longer than this is not an echoed token.
const MAX_VALIDATION_BODY: usize = 1024;

/// The one answer to every refused notification URL and every failed handshake, whatever the
/// reason (a refused address, a closed port, a timeout, a wrong answer): different answers would
/// let a subscriber map the network behind Rolo. The reason goes to the log.
pub fn refused() -> GraphError {
    GraphError::bad_request(
        "InvalidRequest",
        "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
    )
}

/// Checks a notification URL against the policy, before anything is sent.
pub fn check_url(settings: &WebhookSettings, field: &str, raw: &str) -> GraphResult<()> {
    settings.policy.check_url(raw).map(|_| ()).map_err(|why| {
        tracing::info!(field, reason = %why, "notification URL refused");
        refused()
    })
}

/// Graph's handshake on every URL given (`POST {url}?validationToken=...` as text, answered with
/// 200 and the token), all of them within the validation timeout together, so a receiver that
/// never answers cannot hold the subscriber's request longer than Graph would.
pub async fn validate(state: &AppState, urls: &[&str]) -> GraphResult<()> {
    let all = async {
        for url in urls {
            handshake(state, url).await?;
        }
        Ok::<(), Refused>(())
    };
    let outcome = match tokio::time::timeout(state.webhooks.validation_timeout, all).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Refused("the validation handshake timed out".into())),
    };
    outcome.map_err(|why| {
        tracing::info!(reason = %why, "subscription validation failed");
        refused()
    })
}

async fn handshake(state: &AppState, url: &str) -> Result<(), Refused> {
    let mut target = state.webhooks.policy.check_url(url)?;
    let token = format!("Validation: {}", rolo_domain::ids::new_guid());
    target.query_pairs_mut().append_pair("validationToken", &token);
    let client = state.outbound().map_err(|e| Refused(e.to_owned()))?;
    let mut resp = client
        .post(target)
        .header("Content-Type", "text/plain; charset=utf-8")
        .send()
        .await
        .map_err(|e| Refused(format!("{e:#}")))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(Refused(format!("the receiver answered {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| Refused(format!("{e:#}")))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_VALIDATION_BODY {
            return Err(Refused("the validation answer is too long".into()));
        }
    }
    if String::from_utf8_lossy(&body).trim() != token {
        return Err(Refused("the receiver did not echo the validation token".into()));
    }
    Ok(())
}

/// This process's delivery worker; [`DeliveryWorker::stop`] ends it gracefully.
pub struct DeliveryWorker {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DeliveryWorker {
    /// Stops claiming deliveries, lets those under way finish (for at most the shutdown grace
    /// period, then cuts them off), and hands back the leases of every claimed row not
    /// delivered, so another process takes them at once.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the delivery worker (and the hourly-ish subscription sweep) for this process. Dropping
/// the returned handle stops it too.
pub fn spawn_delivery(state: Arc<AppState>) -> DeliveryWorker {
    let (stop, mut stopping) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        // Slow receivers hold a slot each, never the loop: others keep being served.
        let slots = Arc::new(Semaphore::new(64));
        // The rows claimed and not yet recorded as delivered, retried or given up.
        let held: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut deliveries = tokio::task::JoinSet::new();
        // A lease outlives any delivery attempt; a crashed worker's rows come back after it.
        let lease = (state.webhooks.delivery_timeout * 4).as_millis() as i64 + 5_000;
        // This process's commits lease their notifications to this worker and hand them over
        // at once; the outbox is claimed for the rest (retries come due, rows other processes or
        // a moment without a worker left, hints that were lost).
        let hub = state.store.outbox_signal();
        hub.attach(lease);
        let mut claim = true;
        let mut last_claim = std::time::Instant::now();
        let mut last_sweep: Option<std::time::Instant> = None;
        // A draining process claims nothing new: the deliveries under way finish, the rest is
        // left to the processes that stay.
        let stop_asked = |rx: &tokio::sync::watch::Receiver<bool>| {
            rx.has_changed().is_err() || *rx.borrow() || state.shutdown.is_draining()
        };
        'claiming: while !stop_asked(&stopping) {
            while deliveries.try_join_next().is_some() {}
            if last_sweep.is_none_or(|t| t.elapsed() > state.webhooks.sweep_interval) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = state.store.sweep_subscriptions().await {
                    tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "subscription sweep failed");
                }
                WorkerStats::add(&state.worker.sweeps, 1);
            }
            let (mut items, wanted) = hub.take();
            // Handed rows keep waking the worker: the poll's claim is also due by the clock.
            if claim || wanted || last_claim.elapsed() >= state.webhooks.poll_interval {
                last_claim = std::time::Instant::now();
                match state.store.claim_outbox(256, &rolo_domain::time::millis_from_now(lease)).await {
                    Ok(claimed) => {
                        // More may be due: claim again until a claim comes back empty.
                        claim = !claimed.is_empty();
                        items.extend(claimed);
                    }
                    Err(e) => {
                        claim = false;
                        tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "claiming deliveries failed");
                    }
                }
            }
            if items.is_empty() {
                // A commit that queued deliveries wakes the worker at once; the poll remains for
                // retries coming due and for hints that were lost.
                tokio::select! {
                    () = tokio::time::sleep(state.webhooks.poll_interval) => claim = true,
                    () = hub.notified() => {}
                    _ = stopping.changed() => {}
                }
                continue;
            }
            if let Ok(mut held) = held.lock() {
                held.extend(items.iter().map(|i| i.id.clone()));
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
                let permit = tokio::select! {
                    permit = slots.clone().acquire_owned() => permit,
                    _ = stopping.changed() => break 'claiming,
                };
                let Ok(permit) = permit else { break 'claiming };
                let (state, held) = (state.clone(), held.clone());
                deliveries.spawn(async move {
                    deliver(&state, &url, &group).await;
                    if let Ok(mut held) = held.lock() {
                        for item in &group {
                            held.remove(&item.id);
                        }
                    }
                    drop(permit);
                });
            }
        }
        let grace = state.shutdown.settings.grace;
        let finished = tokio::time::timeout(grace, async { while deliveries.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "deliveries still running at shutdown; cutting them off"
            );
            deliveries.shutdown().await;
        }
        // Rows handed over and never taken are this worker's too.
        let mut left: Vec<String> = hub.detach().into_iter().map(|i| i.id).collect();
        left.extend(held.lock().map(|mut h| h.drain().collect::<Vec<_>>()).unwrap_or_default());
        if !left.is_empty() {
            match state.store.release_outbox(&left).await {
                Ok(()) => tracing::info!(rows = left.len(), "handed back the leases of undelivered notifications"),
                Err(e) => tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "releasing leases failed"),
            }
        }
    });
    DeliveryWorker { stop, task }
}

/// The `changeNotificationCollection` for a batch: each notification with its `tenantId`; rich
/// ones encrypted for their subscriber, with one `validationTokens` entry per app.
fn collection(state: &AppState, items: &[OutboxItem]) -> GraphResult<Value> {
    let tenant = state.authority.tenant_id.clone();
    let mut apps: Vec<String> = Vec::new();
    let mut value = Vec::with_capacity(items.len());
    for item in items {
        let OutboxPayload { notification: mut v, rich } = item.payload()?;
        v["tenantId"] = json!(tenant);
        if let Some(rich) = rich {
            let recipient = crate::rich::recipient(rich.certificate.as_deref().unwrap_or_default())?;
            let data = serde_json::to_vec(&rich.data).map_err(GraphError::internal)?;
            v["encryptedContent"] =
                crate::rich::encrypt(&recipient, rich.certificate_id.as_deref().unwrap_or_default(), &data)?;
            if !apps.contains(&rich.app_id) {
                apps.push(rich.app_id);
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

async fn deliver(state: &AppState, url: &str, items: &[OutboxItem]) {
    let body = match collection(state, items) {
        Ok(body) => body,
        Err(e) => {
            // A payload that cannot be encrypted (a certificate gone bad) will not get better.
            tracing::warn!(cause = e.cause.as_deref().unwrap_or(&e.message), "dropping undeliverable notifications");
            let _ = state.store.give_up_outbox(items).await;
            WorkerStats::add(&state.worker.given_up, items.len());
            return;
        }
    };
    // The policy is checked again on every delivery: the URL was allowed when the subscription
    // was made, but the configuration may have changed since (and the resolver re-checks names).
    let delivered = match (state.webhooks.policy.check_url(url), state.outbound()) {
        (Ok(target), Ok(client)) => {
            let sent = client.post(target).json(&body).timeout(state.webhooks.delivery_timeout).send().await;
            matches!(&sent, Ok(r) if r.status().is_success())
        }
        (Err(why), _) => {
            tracing::info!(reason = %why, "notification URL refused");
            false
        }
        (_, Err(why)) => {
            tracing::warn!(reason = why, "no webhook client");
            false
        }
    };
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    let stats = &state.worker;
    let result = if delivered {
        let acked = state.store.ack_outbox(&ids).await;
        WorkerStats::add(&stats.delivered, ids.len());
        acked
    } else {
        let give_up_before = rolo_domain::time::millis_from_now(-(state.webhooks.give_up_after.as_millis() as i64));
        let (stale, fresh): (Vec<OutboxItem>, Vec<OutboxItem>) =
            items.iter().cloned().partition(|i| i.created_at < give_up_before);
        let attempts = fresh.iter().map(|i| i.attempts).max().unwrap_or(0).clamp(0, 30) as u32;
        let delay =
            state.webhooks.retry_base.saturating_mul(2u32.saturating_pow(attempts)).min(state.webhooks.max_retry_delay);
        let fresh_ids: Vec<String> = fresh.iter().map(|i| i.id.clone()).collect();
        tracing::info!(url, attempts, retry_in_ms = delay.as_millis() as u64, "notification delivery failed");
        let retried =
            state.store.retry_outbox(&fresh_ids, &rolo_domain::time::millis_from_now(delay.as_millis() as i64)).await;
        WorkerStats::add(&stats.retried, fresh_ids.len());
        WorkerStats::add(&stats.given_up, stale.len());
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
