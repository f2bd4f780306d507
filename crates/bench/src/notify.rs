//! The notify scenario: commit-to-delivery latency of change notifications (issue #17: p99 under
//! 20 ms with a healthy receiver, the worker being woken on commit).
//!
//! A subscription on me/contacts points at the bench's own receiver; contacts are then created at
//! each concurrency. A contact's latency runs from the moment its 201 was read (the client learns
//! of the commit) to the moment its `created` notification had fully reached the receiver.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::{encode_segment, snippet};
use crate::load::{self, Pool};
use crate::receiver::Receiver;
use crate::report::{percentile, rfc3339_from_now, thousands, Report, Row};

/// Contacts created at each concurrency level.
pub const CONTACTS_PER_LEVEL: usize = 500;
const CLIENT_STATE: &str = "rolo-bench";
/// How long to wait for stragglers after a level's last create.
const STRAGGLER_WAIT: Duration = Duration::from_secs(10);
const TARGET_MS: f64 = 20.0;

/// Subscribes, measures every level, and unsubscribes. Contacts are numbered from `first`.
pub async fn run(
    pool: &mut Pool,
    base: &str,
    levels: &[usize],
    first: usize,
    report: &mut Report,
) -> Result<(), String> {
    let receiver = Receiver::start(CLIENT_STATE).await?;
    eprintln!("notify: subscribing {} to me/contacts", receiver.url);
    let id = subscribe(pool, base, &receiver.url).await?;
    let measured = measure(pool, base, levels, first, &receiver, report).await;
    // Also after a failure: a server we do not own (--external) would otherwise keep retrying
    // deliveries to a receiver that is gone.
    let removed = unsubscribe(pool, base, &id).await;
    measured?;
    removed?;
    let seen = receiver.seen();
    report.notes.push(format!(
        "notify rows: Requests and req/s are the level's {CONTACTS_PER_LEVEL} creates (POST /me/contacts); \
         p50/p99 are commit→delivery, from reading a create's 201 to the receiver having read the POST carrying \
         its `created` notification; Errors counts failed creates plus notifications that never arrived"
    ));
    if seen.duplicates + seen.unexpected > 0 {
        report.notes.push(format!(
            "notify: {} duplicate and {} unexpected notifications (or bodies) received",
            seen.duplicates, seen.unexpected
        ));
    }
    Ok(())
}

async fn subscribe(pool: &mut Pool, base: &str, url: &str) -> Result<String, String> {
    let body = json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": url,
        "resource": "me/contacts",
        "expirationDateTime": rfc3339_from_now(86_400),
        "clientState": CLIENT_STATE,
    })
    .to_string();
    let mut client = pool.one().await?;
    let sent = client.post_json(&format!("{base}/subscriptions"), body.as_bytes()).await;
    let answer = snippet(client.body());
    let id = serde_json::from_slice::<Value>(client.body()).ok().and_then(|v| v["id"].as_str().map(str::to_owned));
    pool.give_back(client);
    match (sent, id) {
        (Ok(201), Some(id)) => Ok(id),
        // The server validates the URL by calling it: an --external server must run on this machine.
        (Ok(s), _) => Err(format!("creating the subscription to {url}: HTTP {s}: {answer}")),
        (Err(e), _) => Err(format!("creating the subscription to {url}: {e}")),
    }
}

async fn unsubscribe(pool: &mut Pool, base: &str, id: &str) -> Result<(), String> {
    let mut client = pool.one().await?;
    let sent = client.request("DELETE", &format!("{base}/subscriptions/{}", encode_segment(id)), None).await;
    let answer = snippet(client.body());
    pool.give_back(client);
    match sent {
        Ok(204) => Ok(()),
        Ok(s) => Err(format!("deleting the subscription: HTTP {s}: {answer}")),
        Err(e) => Err(format!("deleting the subscription: {e}")),
    }
}

async fn measure(
    pool: &mut Pool,
    base: &str,
    levels: &[usize],
    mut first: usize,
    receiver: &Receiver,
    report: &mut Report,
) -> Result<(), String> {
    for &c in levels {
        eprintln!("notify: {CONTACTS_PER_LEVEL} creates at concurrency {c}");
        let batches_before = receiver.seen().batches;
        let (mut o, acked) = load::create_stamped(pool, base, first, CONTACTS_PER_LEVEL, c).await?;
        first += CONTACTS_PER_LEVEL;
        if acked.is_empty() {
            return Err(format!(
                "notify: every create failed; first error: {}",
                o.first_error.as_deref().unwrap_or("none recorded")
            ));
        }
        wait_for_all(receiver, &acked).await;
        let seen = receiver.seen();
        let (mut latencies, mut early) = (Vec::with_capacity(acked.len()), 0);
        for (id, at) in &acked {
            if let Some(&arrived) = seen.created.get(id) {
                // Rolo may deliver before the client has read the 201: that counts as 0 ms.
                early += usize::from(arrived < *at);
                latencies.push(arrived.saturating_duration_since(*at).as_micros().min(u32::MAX as u128) as u32);
            }
        }
        let batches = seen.batches - batches_before;
        drop(seen);
        let (arrived, missing) = (latencies.len(), acked.len() - latencies.len());
        latencies.sort_unstable();
        let max_ms = latencies.last().map_or(0.0, |&us| us as f64 / 1000.0);
        o.latencies_us.sort_unstable();
        let (create_p50, create_p99) =
            (percentile(&o.latencies_us, 0.5) as f64 / 1000.0, percentile(&o.latencies_us, 0.99) as f64 / 1000.0);
        let (create_errors, first_error) = (o.errors, o.first_error.take());
        o.latencies_us = latencies;
        o.errors += missing as u64;
        let mut row = Row::new("notify: commit→delivery", c, o).write();
        let p99 = row.p99_ms;
        row.target(format!("p99 commit→delivery < 20 ms (p99 {p99:.1} ms)"), p99 < TARGET_MS);
        eprintln!(
            "  notify @{c}: {arrived}/{} delivered in {batches} POSTs, p50 {:.2} ms, p99 {p99:.2} ms, max {max_ms:.2} ms",
            acked.len(),
            row.p50_ms
        );
        let mut note = format!(
            "notify @{c}: {arrived} of {} notifications arrived ({}) in {batches} POSTs \
             (≈{:.1} per POST), max {max_ms:.0} ms; {early} arrived before their 201 was read (counted as 0 ms); \
             the creates ran at {} creates/s, 201 p50 {create_p50:.2} ms, p99 {create_p99:.2} ms",
            acked.len(),
            if missing == 0 {
                "all".to_owned()
            } else {
                format!("{missing} MISSING after waiting {} s", STRAGGLER_WAIT.as_secs())
            },
            arrived as f64 / batches.max(1) as f64,
            thousands(row.rps),
        );
        if let Some(e) = first_error {
            note += &format!("; {create_errors} creates failed, first: {e}");
        }
        report.notes.push(note);
        report.rows.push(row);
    }
    Ok(())
}

/// Waits until every acked contact's notification arrived, or STRAGGLER_WAIT after the last 201.
async fn wait_for_all(receiver: &Receiver, acked: &[(String, Instant)]) {
    let last = acked.iter().map(|(_, t)| *t).max().unwrap_or_else(Instant::now);
    loop {
        let all = {
            let seen = receiver.seen();
            acked.iter().all(|(id, _)| seen.created.contains_key(id))
        };
        if all || last.elapsed() >= STRAGGLER_WAIT {
            return;
        }
        // Arrival times are stamped by the receiver, so this poll does not blur them.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
