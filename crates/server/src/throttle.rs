//! Throttling per (app, mailbox), with Outlook's limits as defaults: 4 requests at a time,
//! 10,000 requests per 10 minutes and 150 MB of uploads per 5 minutes. Beyond them a request
//! gets 429 `ApplicationThrottled` with `Retry-After`. Where the request counts live: in Redis
//! when `[throttling] redis` names one; else, on PostgreSQL, in the database (both shared by
//! every process of the fleet, counted locally and added in batches: `throttle/shared.rs`);
//! else (SQLite, served by one process) in the process. The upload budget is shared the same
//! way (its bytes counted under the mailbox key `bytes:{mailbox}`); the concurrency budget stays
//! per process (docs/SCALING.md says why).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rolo_domain::{GraphError, GraphResult};

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Off for service deployments that do their own rate limiting.
    pub enabled: bool,
    pub concurrent: usize,
    pub requests: u64,
    pub request_window: Duration,
    pub upload_bytes: u64,
    pub upload_window: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            enabled: true,
            concurrent: 4,
            requests: 10_000,
            request_window: Duration::from_secs(600),
            upload_bytes: 150 * 1024 * 1024,
            upload_window: Duration::from_secs(300),
        }
    }
}

#[derive(Debug)]
struct Entry {
    in_flight: usize,
    window_start: Instant,
    requests: u64,
    upload_start: Instant,
    uploaded: u64,
}

/// Requests refused so far, by the limit they hit (for metrics).
#[derive(Debug, Default)]
pub struct Refusals {
    pub concurrency: AtomicU64,
    pub requests: AtomicU64,
    pub upload: AtomicU64,
}

impl Refusals {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

mod shared;

use shared::{Counter, Verdict};
pub use shared::{RedisCounts, SharedCounts};

pub struct Throttle {
    pub settings: ThrottleSettings,
    pub refused: Refusals,
    /// Request counts shared with the fleet, when configured.
    shared: Option<Arc<SharedCounts>>,
    /// Uploaded bytes shared with the fleet, in the same place as the request counts.
    uploads: Option<Arc<SharedCounts>>,
    /// Switchable at run time (the emulator's fidelity switch, tests of concurrent writes).
    enabled: AtomicBool,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

/// Holds one of the (app, mailbox)'s concurrent slots until dropped.
pub struct Permit {
    throttle: Arc<Throttle>,
    key: (String, String),
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut map) = self.throttle.entries.lock() {
            if let Some(e) = map.get_mut(&self.key) {
                e.in_flight = e.in_flight.saturating_sub(1);
            }
        }
    }
}

fn remaining(start: Instant, window: Duration, now: Instant) -> u64 {
    window.saturating_sub(now.duration_since(start)).as_secs().max(1)
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            enabled: AtomicBool::new(settings.enabled),
            settings,
            refused: Refusals::default(),
            shared: None,
            uploads: None,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Counts requests in Redis, shared with every process using it.
    pub fn with_redis(self, counts: RedisCounts) -> Throttle {
        self.sharing(Counter::Redis(counts))
    }

    /// Counts requests in the database, shared with every process serving it.
    pub fn with_database(self, store: Arc<dyn rolo_store::Store>) -> Throttle {
        self.sharing(Counter::Database(store))
    }

    fn sharing(mut self, counter: Counter) -> Throttle {
        let uploads = Arc::new(SharedCounts::new(counter.clone()));
        SharedCounts::spawn(&uploads, self.settings.upload_window, false);
        self.uploads = Some(uploads);
        let shared = Arc::new(SharedCounts::new(counter));
        SharedCounts::spawn(&shared, self.settings.request_window, true);
        self.shared = Some(shared);
        self
    }

    /// Where requests are counted: `redis`, `database` or `process` (for the log and docs).
    pub fn counted_in(&self) -> &'static str {
        self.shared.as_ref().map_or("process", |s| s.counted_in())
    }

    /// Adds the requests counted here and not yet shared to the shared count: at shutdown, after
    /// the last request, so a stopping process's requests still count for the fleet.
    pub async fn flush(&self) {
        if let Some(shared) = &self.shared {
            shared.flush(self.settings.request_window).await;
        }
        if let Some(uploads) = &self.uploads {
            uploads.flush(self.settings.upload_window).await;
        }
    }

    /// Round trips to the shared request counter so far (0 when counting in the process).
    pub fn shared_round_trips(&self) -> u64 {
        self.shared.as_ref().map_or(0, |s| s.round_trips.load(Ordering::Relaxed))
    }

    /// Admits a request of `app` on `mailbox`, or answers 429. `None` when throttling is off.
    /// With shared counts, the request limit counts the whole fleet's requests.
    pub async fn admit_request(self: &Arc<Self>, app: &str, mailbox: &str) -> GraphResult<Option<Permit>> {
        let Some(shared) = &self.shared else { return self.admit(app, mailbox) };
        if !self.enabled() {
            return Ok(None);
        }
        let permit = self.admit_counting(app, mailbox, false)?;
        let s = &self.settings;
        match shared.admit(app, mailbox, 1, s.requests, s.request_window).await {
            Verdict::Admit => Ok(permit),
            Verdict::Refuse(left) => {
                drop(permit);
                Refusals::count(&self.refused.requests);
                let wait = left.as_secs_f64().ceil().max(1.0) as u64;
                Err(GraphError::throttled("Application is over its MailboxRequests limit.", wait))
            }
        }
    }

    /// Admits a request, counting it in this process.
    pub fn admit(self: &Arc<Self>, app: &str, mailbox: &str) -> GraphResult<Option<Permit>> {
        self.admit_counting(app, mailbox, true)
    }

    fn admit_counting(self: &Arc<Self>, app: &str, mailbox: &str, count: bool) -> GraphResult<Option<Permit>> {
        if !self.enabled() {
            return Ok(None);
        }
        let s = &self.settings;
        let now = Instant::now();
        let key = (app.to_owned(), mailbox.to_owned());
        let mut map = self.entries.lock().map_err(|_| GraphError::internal("throttle lock poisoned"))?;
        if map.len() > 100_000 {
            // Forget idle pairs whose windows are over, so the table stays small.
            map.retain(|_, e| {
                e.in_flight > 0
                    || now.duration_since(e.window_start) < s.request_window
                    || now.duration_since(e.upload_start) < s.upload_window
            });
        }
        let e = map.entry(key.clone()).or_insert(Entry {
            in_flight: 0,
            window_start: now,
            requests: 0,
            upload_start: now,
            uploaded: 0,
        });
        if now.duration_since(e.window_start) >= s.request_window {
            e.window_start = now;
            e.requests = 0;
        }
        if e.in_flight >= s.concurrent {
            Refusals::count(&self.refused.concurrency);
            return Err(GraphError::throttled("Application is over its MailboxConcurrency limit.", 1));
        }
        if count && e.requests >= s.requests {
            let wait = remaining(e.window_start, s.request_window, now);
            Refusals::count(&self.refused.requests);
            return Err(GraphError::throttled("Application is over its MailboxRequests limit.", wait));
        }
        if count {
            e.requests += 1;
        }
        e.in_flight += 1;
        Ok(Some(Permit { throttle: self.clone(), key }))
    }

    /// Counts an upload's bytes against the (app, mailbox)'s budget, or answers 429. With shared
    /// counts, the budget counts the whole fleet's uploads.
    pub async fn charge_upload(&self, app: &str, mailbox: &str, bytes: u64) -> GraphResult<()> {
        if !self.enabled() || bytes == 0 {
            return Ok(());
        }
        let s = &self.settings;
        if let Some(uploads) = &self.uploads {
            let key = format!("bytes:{mailbox}");
            return match uploads.admit(app, &key, bytes, s.upload_bytes, s.upload_window).await {
                Verdict::Admit => Ok(()),
                Verdict::Refuse(left) => {
                    Refusals::count(&self.refused.upload);
                    let wait = left.as_secs_f64().ceil().max(1.0) as u64;
                    Err(GraphError::throttled("Application is over its IncomingBytes limit.", wait))
                }
            };
        }
        let now = Instant::now();
        let mut map = self.entries.lock().map_err(|_| GraphError::internal("throttle lock poisoned"))?;
        let Some(e) = map.get_mut(&(app.to_owned(), mailbox.to_owned())) else { return Ok(()) };
        if now.duration_since(e.upload_start) >= s.upload_window {
            e.upload_start = now;
            e.uploaded = 0;
        }
        if e.uploaded + bytes > s.upload_bytes {
            let wait = remaining(e.upload_start, s.upload_window, now);
            Refusals::count(&self.refused.upload);
            return Err(GraphError::throttled("Application is over its IncomingBytes limit.", wait));
        }
        e.uploaded += bytes;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Arc<Throttle> {
        Arc::new(Throttle::new(ThrottleSettings {
            enabled: true,
            concurrent: 2,
            requests: 3,
            request_window: Duration::from_secs(60),
            upload_bytes: 100,
            upload_window: Duration::from_secs(60),
        }))
    }

    #[tokio::test]
    async fn limits_concurrency_rate_and_uploads_per_pair() {
        let t = small();
        let a = t.admit("app", "mb").unwrap();
        let b = t.admit("app", "mb").unwrap();
        let e = t.admit("app", "mb").err().unwrap();
        assert_eq!((e.status(), e.code.as_ref(), e.retry_after), (429, "ApplicationThrottled", Some(1)));
        assert!(t.admit("app", "other").is_ok(), "another mailbox has its own budget");
        drop(a);
        let c = t.admit("app", "mb").unwrap();
        drop((b, c));
        let e = t.admit("app", "mb").err().unwrap();
        assert!(e.message.contains("MailboxRequests") && e.retry_after.unwrap() > 1);
        t.charge_upload("app", "mb", 60).await.unwrap();
        assert!(t.charge_upload("app", "mb", 60).await.is_err());
        let off = Arc::new(Throttle::new(ThrottleSettings { enabled: false, ..ThrottleSettings::default() }));
        assert!(off.admit("app", "mb").unwrap().is_none());
    }
}
