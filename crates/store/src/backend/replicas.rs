//! Read replicas for the PostgreSQL backend: which pool serves a mailbox read.
//!
//! The rule is read-your-writes per mailbox, stated with the mailbox's change counter (every
//! write raises it in its own transaction, and the counter's row lock orders a mailbox's
//! writers). This process remembers, per mailbox, the highest counter it knows to be committed:
//! from its own writes, from the primary's answers to `change_state`, and from other processes'
//! commit hints (`NOTIFY rolo_written`). A replica may serve a read of that mailbox only once its
//! copy of the counter has reached that value; a snapshot that has the counter's value has every
//! write up to it. Otherwise, or when the replica cannot be reached, the primary serves it. A
//! replica that fails to connect is left alone for [`RETRY_AFTER`], then tried again.
//!
//! The counter stands in for a WAL position (`pg_last_wal_replay_lsn()` against the commit's
//! LSN): it needs no extra round trip to the primary after each commit, and it is exact per
//! mailbox, where a WAL position would also wait for every other mailbox's writes.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use rolo_domain::{GraphError, GraphResult};
use tokio_postgres::NoTls;

use crate::ReplicaReads;

/// How long a replica that could not be reached is skipped before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(3);
/// The longest a read waits to connect to a replica (or for one of its pooled connections)
/// before the primary serves it instead.
const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// Bounds on the per-mailbox maps; past them a map starts afresh, which costs at most a check
/// or a primary read per mailbox (a forgotten counter is re-learnt from the next write, hint,
/// or `change_state`).
const MAX_TRACKED_MAILBOXES: usize = 100_000;

/// The channel commit hints travel on: `mailbox_id seq` per line.
pub const WRITTEN_CHANNEL: &str = "rolo_written";

pub struct Replicas {
    replicas: Vec<Replica>,
    /// Round-robin start, so replicas share the reads.
    next: AtomicUsize,
    /// Per mailbox, the highest change counter known committed on the primary.
    committed: Mutex<HashMap<String, i64>>,
    replica_reads: AtomicU64,
    primary_behind: AtomicU64,
    primary_unavailable: AtomicU64,
}

struct Replica {
    pool: Pool,
    /// The host and port, for logs (never the URL: it may hold a password).
    name: String,
    down_until: Mutex<Option<Instant>>,
    /// Per mailbox, the counter this replica has been seen to hold. Replay only moves forward,
    /// so a value seen once still holds: a read that needs no more skips the check.
    seen: Mutex<HashMap<String, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it valid (plain inserts and reads).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn raise(map: &Mutex<HashMap<String, i64>>, mailbox: &str, seq: i64) {
    let mut map = lock(map);
    if map.len() >= MAX_TRACKED_MAILBOXES && !map.contains_key(mailbox) {
        map.clear();
    }
    let at = map.entry(mailbox.to_owned()).or_insert(seq);
    *at = (*at).max(seq);
}

impl Replicas {
    /// Pools for the replica URLs. Nothing connects yet: a replica that is down at start-up is
    /// tried when reads come.
    pub fn new(urls: &[String], max_connections: usize) -> GraphResult<Replicas> {
        let replicas = urls
            .iter()
            .map(|url| {
                let mut config = tokio_postgres::Config::from_str(url)
                    .map_err(|e| GraphError::internal(format!("bad PostgreSQL replica URL: {e}")))?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(CONNECT_WAIT);
                }
                let name = config
                    .get_hosts()
                    .first()
                    .map(|h| match h {
                        tokio_postgres::config::Host::Tcp(h) => h.clone(),
                        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .unwrap_or_default();
                let name = format!("{name}:{}", config.get_ports().first().copied().unwrap_or(5432));
                let manager =
                    Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
                let pool = Pool::builder(manager)
                    .max_size(max_connections)
                    .queue_mode(super::postgres::POOL_ORDER)
                    .build()
                    .map_err(|e| GraphError::internal(format!("PostgreSQL replica pool: {e}")))?;
                Ok(Replica { pool, name, down_until: Mutex::new(None), seen: Mutex::new(HashMap::new()) })
            })
            .collect::<GraphResult<Vec<_>>>()?;
        Ok(Replicas {
            replicas,
            next: AtomicUsize::new(0),
            committed: Mutex::new(HashMap::new()),
            replica_reads: AtomicU64::new(0),
            primary_behind: AtomicU64::new(0),
            primary_unavailable: AtomicU64::new(0),
        })
    }

    /// The mailbox's counter reached `seq` on the primary (a commit here or elsewhere, or a read).
    pub fn committed(&self, mailbox: &str, seq: i64) {
        raise(&self.committed, mailbox, seq);
    }

    /// Applies a commit hint's payload (`mailbox_id seq` lines); anything malformed is ignored.
    pub fn hint(&self, payload: &str) {
        for line in payload.lines() {
            if let Some((mailbox, seq)) = line.rsplit_once(' ') {
                if let Ok(seq) = seq.parse() {
                    self.committed(mailbox, seq);
                }
            }
        }
    }

    fn needed(&self, mailbox: &str) -> i64 {
        lock(&self.committed).get(mailbox).copied().unwrap_or(0)
    }

    /// Picks a replica that has the mailbox's last known change (its index and a connection);
    /// `None`: the primary serves the read.
    pub async fn route(&self, mailbox: &str) -> Option<(usize, Object)> {
        let needed = self.needed(mailbox);
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut behind = false;
        for i in 0..n {
            let index = (start + i) % n;
            let replica = &self.replicas[index];
            if lock(&replica.down_until).is_some_and(|until| Instant::now() < until) {
                continue;
            }
            let conn = match tokio::time::timeout(CONNECT_WAIT, replica.pool.get()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    self.down(index, &e.to_string());
                    continue;
                }
                Err(_) => {
                    self.down(index, "timed out connecting");
                    continue;
                }
            };
            if needed == 0 || lock(&replica.seen).get(mailbox).is_some_and(|s| *s >= needed) {
                self.replica_reads.fetch_add(1, Ordering::Relaxed);
                return Some((index, conn));
            }
            match conn.query_opt("SELECT change_seq FROM mailboxes WHERE mailbox_id = $1", &[&mailbox]).await {
                Ok(row) => {
                    let seq: i64 = row.and_then(|r| r.try_get(0).ok()).unwrap_or(0);
                    raise(&replica.seen, mailbox, seq);
                    if seq >= needed {
                        self.replica_reads.fetch_add(1, Ordering::Relaxed);
                        return Some((index, conn));
                    }
                    behind = true;
                }
                Err(e) => self.lost(index, &e),
            }
        }
        let counter = if behind { &self.primary_behind } else { &self.primary_unavailable };
        counter.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// A statement failed on a replica. A lost connection takes the replica out for
    /// [`RETRY_AFTER`]; an error from the server (say, a query cancelled by a recovery conflict)
    /// does not.
    fn lost(&self, index: usize, e: &tokio_postgres::Error) {
        if e.as_db_error().is_none() {
            self.down(index, &e.to_string());
        } else {
            tracing::debug!(replica = %self.replicas[index].name, "replica read failed, reading the primary: {e}");
        }
    }

    /// A read routed to a replica failed there and the primary serves it instead.
    pub fn fell_back(&self, index: usize, e: &tokio_postgres::Error) {
        self.lost(index, e);
        self.replica_reads.fetch_sub(1, Ordering::Relaxed);
        self.primary_unavailable.fetch_add(1, Ordering::Relaxed);
    }

    fn down(&self, index: usize, why: &str) {
        let replica = &self.replicas[index];
        let mut until = lock(&replica.down_until);
        if until.is_none_or(|t| Instant::now() >= t) {
            tracing::warn!(replica = %replica.name, "read replica unavailable, reading the primary for {RETRY_AFTER:?}: {why}");
        }
        *until = Some(Instant::now() + RETRY_AFTER);
    }

    pub fn reads(&self) -> ReplicaReads {
        ReplicaReads {
            replica: self.replica_reads.load(Ordering::Relaxed),
            primary_behind: self.primary_behind.load(Ordering::Relaxed),
            primary_unavailable: self.primary_unavailable.load(Ordering::Relaxed),
        }
    }
}

/// PostgreSQL refuses `NOTIFY` payloads of 8000 bytes or more.
const MAX_HINT_BYTES: usize = 7900;

/// The commit hint for a transaction's mailbox writes, as a `NOTIFY` statement; `None` when it
/// wrote none. Mailbox ids are Rolo's own (letters, digits, dashes), but are quoted anyway. A
/// write to more mailboxes than a payload holds (a post to a very large group) hints the first
/// ones only; the other processes then learn the rest's counters as they would without hints.
pub fn hint_statement(written: &[(String, i64)]) -> Option<String> {
    let mut payload = String::new();
    for (mailbox, seq) in written {
        let line = format!("{}{} {seq}", if payload.is_empty() { "" } else { "\n" }, mailbox.replace('\'', "''"));
        if payload.len() + line.len() > MAX_HINT_BYTES {
            break;
        }
        payload.push_str(&line);
    }
    (!payload.is_empty()).then(|| format!("NOTIFY {WRITTEN_CHANNEL}, '{payload}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_round_trip_and_only_raise() {
        let r = Replicas::new(&[], 1).unwrap();
        r.committed("a", 5);
        let statement = hint_statement(&[("a".into(), 3), ("b'c".into(), 7)]).unwrap();
        assert_eq!(statement, "NOTIFY rolo_written, 'a 3\nb''c 7'");
        r.hint("a 3\nb'c 7\nnonsense\nd x");
        assert_eq!((r.needed("a"), r.needed("b'c"), r.needed("d")), (5, 7, 0));
        assert_eq!(hint_statement(&[]), None);
    }
}
