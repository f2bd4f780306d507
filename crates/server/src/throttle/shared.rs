//! Request counts shared by a fleet's processes (in Redis or the database), counted locally and
//! added to the shared count in batches, so most requests pay no round trip.
//!
//! Each process keeps, per (app, mailbox), the fleet's total as the shared counter last answered
//! and the requests it admitted since (`pending`). Every [`FLUSH`] it adds its pending requests to
//! the shared count in one statement per pair, and learns the fleet's total in the answer. A
//! request is admitted without a round trip while the budget left, as this process knows it, is
//! larger than a slack (5% of the limit, or all of it for limits up to 50); within the slack, and
//! whenever this process's knowledge is older than [`STALE`], the request is counted at once, so
//! the end of the budget is counted exactly. A process also adds its requests at once when it
//! has admitted [`batch`] (a quarter of the slack) since it last heard the total, so however late
//! its flush, each process can run at most that far past the limit: N processes overrun it by
//! at most N quarters of the slack (2.5% of the limit for two processes). A refusal is never
//! premature: every count a process knows is of requests really admitted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often each process adds its locally counted requests to the shared count.
pub const FLUSH: Duration = Duration::from_millis(100);
/// Knowledge of the fleet's total older than this is refreshed by the next request.
pub const STALE: Duration = Duration::from_millis(300);
/// How often each process forgets the database's request counts whose windows are over.
const PRUNE: Duration = Duration::from_secs(60);

/// Request counts kept in Redis, shared by every process that uses the same server: one key per
/// (app, mailbox) that lives for the request window from its first request, as the in-process
/// counter's window does.
#[derive(Clone)]
pub struct RedisCounts {
    conn: redis::aio::ConnectionManager,
}

impl RedisCounts {
    /// Connects (and fails now, not at the first request, when Redis cannot be reached).
    pub async fn connect(url: &str) -> Result<RedisCounts, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad Redis URL {url}: {e}"))?;
        let manager = redis::aio::ConnectionManager::new(client);
        let conn = tokio::time::timeout(Duration::from_secs(5), manager)
            .await
            .map_err(|_| format!("connecting to Redis at {url} timed out"))?
            .map_err(|e| format!("connecting to Redis at {url}: {e}"))?;
        Ok(RedisCounts { conn })
    }

    /// The connection, for the sign-in lockout's counts in the same Redis.
    pub fn connection(&self) -> redis::aio::ConnectionManager {
        self.conn.clone()
    }

    /// Adds `n` requests of the pair; returns the count so far in the window and the
    /// milliseconds the window has left.
    async fn add(&self, app: &str, mailbox: &str, n: u64, window: Duration) -> redis::RedisResult<(u64, i64)> {
        let key = format!("rolo:throttle:requests:{app}:{mailbox}");
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("PX")
            .arg(window.as_millis().max(1) as u64)
            .arg("NX")
            .ignore()
            .cmd("INCRBY")
            .arg(&key)
            .arg(n)
            .cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
    }
}

/// Where a fleet's processes count requests (and uploaded bytes) together.
#[derive(Clone)]
pub enum Counter {
    Redis(RedisCounts),
    /// The database the fleet shares (`throttle_counts`).
    Database(Arc<dyn rolo_store::Store>),
}

impl Counter {
    /// Adds `n` requests of the pair; returns the count so far in the window and the time the
    /// window has left.
    async fn add(&self, app: &str, mailbox: &str, n: u64, window: Duration) -> Result<(u64, Duration), String> {
        let (count, left_ms) = match self {
            Counter::Redis(r) => r.add(app, mailbox, n, window).await.map_err(|e| e.to_string())?,
            Counter::Database(store) => {
                let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
                let c = store.count_requests(app, mailbox, n, window_ms).await.map_err(|e| e.to_string())?;
                (c.count, c.window_left_ms)
            }
        };
        Ok((count, Duration::from_millis(u64::try_from(left_ms).unwrap_or(0))))
    }
}

/// What this process knows of one pair's fleet-wide count.
struct Known {
    /// The fleet's total at the last answer of the shared counter (this process's flushed
    /// requests included).
    total: u64,
    /// Requests admitted here since, not yet added to the shared count.
    pending: u64,
    window_end: Instant,
    /// When the shared counter last answered for the pair; `None` after a failed count.
    synced: Option<Instant>,
}

/// The answer for one request.
pub enum Verdict {
    Admit,
    /// Over the limit; the window ends in this long.
    Refuse(Duration),
}

/// The budget's end that is counted request by request.
pub fn slack(limit: u64) -> u64 {
    (limit / 20).max(limit.min(50))
}

/// The most a process admits on its own knowledge before it adds them to the shared count (and
/// learns the fleet's total again). Without it, a process whose flush is late (a busy machine
/// delays timers) keeps admitting on an old total while the others use up the budget: seen as
/// 9% over a limit of 1,000 with two processes. With it, each process can be at most this far
/// past the limit, so N processes overrun it by at most N × `slack / 4`.
pub fn batch(limit: u64) -> u64 {
    (slack(limit) / 4).max(1)
}

pub struct SharedCounts {
    counter: Counter,
    pairs: Mutex<HashMap<(String, String), Known>>,
    /// Round trips to the shared counter so far (for tests and metrics).
    pub round_trips: AtomicU64,
}

impl SharedCounts {
    pub fn new(counter: Counter) -> SharedCounts {
        SharedCounts { counter, pairs: Mutex::default(), round_trips: AtomicU64::new(0) }
    }

    pub fn counted_in(&self) -> &'static str {
        match self.counter {
            Counter::Redis(_) => "redis",
            Counter::Database(_) => "database",
        }
    }

    fn pairs(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Known>> {
        self.pairs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `n` units of the pair (one request, or an upload's bytes) against `limit` per
    /// `window`. If the shared counter fails, they are admitted (a limit is protection, not a
    /// reason to refuse service), kept to be counted at the next flush, and the failure logged.
    pub async fn admit(&self, app: &str, mailbox: &str, n: u64, limit: u64, window: Duration) -> Verdict {
        let now = Instant::now();
        let key = (app.to_owned(), mailbox.to_owned());
        let n = {
            let mut pairs = self.pairs();
            if pairs.get(&key).is_some_and(|k| k.window_end <= now) {
                // The window is over (its pending requests belong to it): ask again.
                pairs.remove(&key);
            }
            match pairs.get_mut(&key) {
                Some(k) if k.total + k.pending + n > limit => return Verdict::Refuse(k.window_end - now),
                Some(k)
                    if k.synced.is_some_and(|s| now.duration_since(s) < STALE)
                        && k.pending + n <= batch(limit)
                        && k.total + k.pending + n + slack(limit) <= limit =>
                {
                    k.pending += n;
                    return Verdict::Admit;
                }
                Some(k) => std::mem::take(&mut k.pending) + n,
                None => n,
            }
        };
        match self.add(&key, n, window).await {
            Some((count, left)) if count > limit => Verdict::Refuse(left),
            _ => Verdict::Admit,
        }
    }

    /// Adds `n` requests of the pair to the shared count and records the answer; on failure
    /// keeps them to be added at the next flush.
    async fn add(&self, key: &(String, String), n: u64, window: Duration) -> Option<(u64, Duration)> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let answer = self.counter.add(&key.0, &key.1, n, window).await;
        let now = Instant::now();
        let mut pairs = self.pairs();
        let k =
            pairs.entry(key.clone()).or_insert(Known { total: 0, pending: 0, window_end: now + window, synced: None });
        match answer {
            Ok((count, left)) => {
                let end = now + left;
                // Answers of the pair may arrive out of order: within one window the larger
                // total is the later; a window that started again replaces the old one's.
                k.total = if end > k.window_end + Duration::from_secs(1) { count } else { k.total.max(count) };
                k.window_end = end;
                k.synced = Some(now);
                Some((count, left))
            }
            Err(e) => {
                tracing::warn!(error = %e, "the shared throttling counter failed; admitting the request");
                k.pending += n;
                k.synced = None;
                None
            }
        }
    }

    /// Adds every pair's pending requests to the shared count, and forgets pairs whose window is over.
    pub async fn flush(&self, window: Duration) {
        let now = Instant::now();
        let batch: Vec<((String, String), u64)> = {
            let mut pairs = self.pairs();
            pairs.retain(|_, k| k.window_end > now || k.pending > 0);
            pairs
                .iter_mut()
                .filter(|(_, k)| k.pending > 0)
                .map(|(key, k)| (key.clone(), std::mem::take(&mut k.pending)))
                .collect()
        };
        for (key, n) in batch {
            self.add(&key, n, window).await;
        }
    }

    /// Flushes every [`FLUSH`] (and, counting in the database, prunes every [`PRUNE`]) until the
    /// counts are dropped. Needs a Tokio runtime; without one (a unit test), nothing is spawned
    /// and every request is counted at once once pending counts go stale.
    /// Only the request counts prune: their window is the longer, so a pruned row is over for both.
    pub fn spawn(counts: &Arc<SharedCounts>, window: Duration, prune: bool) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let weak: Weak<SharedCounts> = Arc::downgrade(counts);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(FLUSH);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_prune = Instant::now();
            loop {
                tick.tick().await;
                let Some(counts) = weak.upgrade() else { return };
                counts.flush(window).await;
                if prune && last_prune.elapsed() >= PRUNE {
                    last_prune = Instant::now();
                    if let Counter::Database(store) = &counts.counter {
                        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
                        let before = rolo_store::fleet::now_ms().saturating_sub(window_ms);
                        if let Err(e) = store.prune_request_counts(before).await {
                            tracing::warn!(error = %e.message, "pruning the request counts failed");
                        }
                    }
                }
            }
        });
    }
}
