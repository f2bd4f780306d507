//! The embedded SQLite backend: WAL mode, one writer connection (writers queue on an async
//! mutex instead of spinning on SQLITE_BUSY) and a few reader connections.
//!
//! Group commit: a commit writes every page the transaction dirtied to the WAL, and a contact
//! create dirties about twenty-five scattered pages (its row, the indexes, the `$search` words),
//! many of them the same for the next create. So store writes (`Backend::run_write`) queue as
//! jobs; whoever takes the writer runs every job queued at that moment in one transaction, each
//! inside its own savepoint (a failing job is rolled back to its savepoint and its neighbours
//! carry on; the transaction's first job needs none, a failure there rolls back the transaction
//! and the rest start another), commits once, and only then reports each job's outcome. An acknowledged write is
//! committed, exactly as without grouping.
//!
//! Checkpoints (copying the WAL into the database file) run on a thread of their own
//! (`sqlite/checkpoint.rs`), not inside the commit that fills the WAL.
//!
//! Durability: `synchronous=NORMAL` in WAL mode makes a committed transaction survive a crash
//! or `kill -9` of the process (the WAL is in the OS page cache); only a power loss can lose
//! the last commits. `durability = full` (`synchronous=FULL`) covers that too, at a cost.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rolo_domain::{GraphError, GraphResult};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::sql::{Backend, Dialect, OutboxSignal, QueuedNotifications, Row, Sql, Tx, Value, WriteJob};

mod checkpoint;
use checkpoint::Checkpoints;

pub struct SqliteBackend {
    /// First, so it is dropped (stopped and joined) before the connections below.
    _checkpoint_thread: Option<checkpoint::Thread>,
    writer: Arc<Writer>,
    readers: Vec<tokio::sync::Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// The one writer connection and the write jobs waiting for it. Shared with the tasks that run
/// groups of jobs, which outlive the request that queued them.
struct Writer {
    conn: tokio::sync::Mutex<Connection>,
    queue: std::sync::Mutex<Vec<Queued>>,
    outbox_signal: OutboxSignal,
    checkpoints: Checkpoints,
}

struct Queued {
    job: WriteJob,
    done: tokio::sync::oneshot::Sender<GraphResult<()>>,
}

/// The most jobs one transaction takes, so that a long queue still commits (and answers) often.
const MAX_GROUP: usize = 64;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn db_err(e: rusqlite::Error) -> GraphError {
    GraphError::internal(format!("sqlite: {e}"))
}

/// Page cache per connection, in KiB: the writer keeps more of the hot indexes; readers share
/// the OS page cache and so stay small, which keeps the server's memory flat as mailboxes grow.
const WRITER_CACHE_KIB: i64 = 16384;
const READER_CACHE_KIB: i64 = 2048;
/// The checkpoint thread's connection reads WAL frames and writes database pages: it needs no cache.
pub(super) const CHECKPOINT_CACHE_KIB: i64 = 256;

pub(super) fn open(path: &Path, full_sync: bool, cache_kib: i64) -> GraphResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
    let sync = if full_sync { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000; \
         PRAGMA foreign_keys=OFF; PRAGMA cache_size=-{cache_kib}; PRAGMA temp_store=MEMORY; \
         PRAGMA wal_autocheckpoint=0;"
    ))
    .map_err(db_err)?;
    // Without the planner's stability guarantee, every statement with a bound LIKE pattern (each
    // `startswith`, `contains`, `endswith` filter) is re-parsed and re-planned at each run, for
    // an optimisation that cannot apply here (it needs NOCASE columns or case-sensitive LIKE,
    // and the prefix's index range is bound separately): a fifth of a filtered page's
    // instructions. With it, a cached statement keeps its plan.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

// SQLite calls run inline on the async workers: a point lookup or a small write costs less than
// handing the worker off (`block_in_place` measured 10-30% slower here). Writers in this process
// queue on an async mutex, so only another process holding the write lock makes one wait.
fn query_now(conn: &Connection, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let columns = stmt.column_count();
    let names: std::sync::Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(db_err)? {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match row.get_ref(i).map_err(db_err)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(f) => Value::Text(f.to_string()),
                // Stored text is UTF-8: the plain check is several times cheaper than the
                // lossy one, which stays for a row another writer left malformed.
                ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
                    Ok(s) => s.to_owned(),
                    Err(_) => String::from_utf8_lossy(t).into_owned(),
                }),
                ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
            });
        }
        out.push(Row::new(names.clone(), values));
    }
    Ok(out)
}

fn execute_now(conn: &Connection, sql: &str, params: &[Value]) -> GraphResult<u64> {
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let n = stmt.execute(rusqlite::params_from_iter(params.iter())).map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            GraphError::new(rolo_domain::ErrorKind::Conflict, "ErrorDuplicateItem", "The item already exists.")
        }
        e => db_err(e),
    })?;
    Ok(n as u64)
}

impl SqliteBackend {
    pub fn open(path: &Path, full_sync: bool) -> GraphResult<SqliteBackend> {
        SqliteBackend::open_with(path, full_sync, true)
    }

    /// A backend whose WAL nobody checkpoints until a test calls `checkpoint::pass`.
    #[cfg(test)]
    fn open_without_checkpoints(path: &Path) -> GraphResult<SqliteBackend> {
        SqliteBackend::open_with(path, false, false)
    }

    fn open_with(path: &Path, full_sync: bool, checkpoint_thread: bool) -> GraphResult<SqliteBackend> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| GraphError::internal(format!("creating {dir:?}: {e}")))?;
            }
        }
        let writer = open(path, full_sync, WRITER_CACHE_KIB)?;
        let readers = (0..4)
            .map(|_| open(path, full_sync, READER_CACHE_KIB).map(tokio::sync::Mutex::new))
            .collect::<GraphResult<Vec<_>>>()?;
        let checkpointer = open(path, full_sync, CHECKPOINT_CACHE_KIB)?;
        let (checkpoints, woken) = checkpoint::channel();
        let writer = Arc::new(Writer {
            conn: tokio::sync::Mutex::new(writer),
            queue: std::sync::Mutex::new(Vec::new()),
            outbox_signal: OutboxSignal::default(),
            checkpoints: checkpoints.clone(),
        });
        let checkpoint_thread = match checkpoint_thread {
            true => Some(checkpoint::spawn(checkpointer, &checkpoints, woken, Arc::downgrade(&writer))?),
            false => None,
        };
        Ok(SqliteBackend { _checkpoint_thread: checkpoint_thread, writer, readers, next_reader: AtomicUsize::new(0) })
    }
}

struct ReadConn<'a>(tokio::sync::MutexGuard<'a, Connection>);

#[async_trait]
impl Sql for ReadConn<'_> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        query_now(&self.0, sql, params)
    }
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        execute_now(&self.0, sql, params)
    }
}

struct WriteTx<'a> {
    conn: tokio::sync::MutexGuard<'a, Connection>,
    open: bool,
    /// The notifications queued: the commit hands them to the delivery worker.
    queued: QueuedNotifications,
    signal: &'a OutboxSignal,
    checkpoints: &'a Checkpoints,
}

#[async_trait]
impl Sql for WriteTx<'_> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        query_now(&self.conn, sql, params)
    }
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        execute_now(&self.conn, sql, params)
    }
    fn outbox_lease(&self) -> Option<String> {
        self.signal.lease_until()
    }
    fn queued_notification(&mut self, leased: Option<crate::OutboxItem>) {
        self.queued.push(leased);
    }
}

#[async_trait]
impl Tx for WriteTx<'_> {
    async fn commit(mut self: Box<Self>) -> GraphResult<()> {
        // On failure `open` stays set, so Drop rolls back and the writer is usable again.
        self.conn.execute_batch("COMMIT").map_err(db_err)?;
        self.open = false;
        self.checkpoints.committed();
        self.signal.committed(std::mem::take(&mut self.queued));
        Ok(())
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open || !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn outbox_signal(&self) -> OutboxSignal {
        self.writer.outbox_signal.clone()
    }

    async fn read(&self) -> GraphResult<Box<dyn Sql + '_>> {
        // Try each reader once without blocking, then wait on the round-robin choice.
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return Ok(Box::new(ReadConn(guard)));
            }
        }
        Ok(Box::new(ReadConn(self.readers[start % n].lock().await)))
    }

    async fn begin(&self) -> GraphResult<Box<dyn Tx + '_>> {
        let conn = self.writer.conn.lock().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)?;
        Ok(Box::new(WriteTx {
            conn,
            open: true,
            queued: QueuedNotifications::default(),
            signal: &self.writer.outbox_signal,
            checkpoints: &self.writer.checkpoints,
        }))
    }

    async fn run_write(&self, job: WriteJob) -> GraphResult<()> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.writer.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Queued { job, done });
        // The group runs on a task of its own, so a request that goes away (its client hung up)
        // cannot abandon the other jobs of its group half-way. The task finds the queue empty
        // when an earlier one already took this job.
        let writer = self.writer.clone();
        tokio::spawn(async move { writer.run_queued().await });
        outcome.await.map_err(|_| GraphError::internal("the write was abandoned before it committed"))?
    }
}

impl Writer {
    /// Takes the writer, then runs the queued jobs in groups of at most [`MAX_GROUP`].
    async fn run_queued(&self) {
        let mut conn = self.conn.lock().await;
        loop {
            let jobs: Vec<Queued> = {
                let mut queue = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if jobs.is_empty() {
                return;
            }
            run_group(&mut conn, jobs, &self.outbox_signal, &self.checkpoints).await;
        }
    }
}

/// The open group transaction, as the jobs see it. Dropped with the transaction still open
/// (the group's task stopped mid-way, as when the runtime shuts down), it rolls back; the jobs'
/// senders go with it, so their writers hear "abandoned", never success.
struct GroupTx<'a> {
    conn: &'a mut Connection,
    queued: QueuedNotifications,
    signal: &'a OutboxSignal,
}

impl GroupTx<'_> {
    /// Runs one statement of the group's bracketing (`BEGIN`, `SAVEPOINT`, `RELEASE`, `COMMIT`)
    /// from the statement cache: they run for every job, and preparing them anew each time
    /// cost more than running them.
    fn run(&self, sql: &str) -> GraphResult<()> {
        self.conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map(drop).map_err(db_err)
    }
}

impl Drop for GroupTx<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[async_trait]
impl Sql for GroupTx<'_> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        query_now(self.conn, sql, params)
    }
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        execute_now(self.conn, sql, params)
    }
    fn outbox_lease(&self) -> Option<String> {
        self.signal.lease_until()
    }
    fn queued_notification(&mut self, leased: Option<crate::OutboxItem>) {
        self.queued.push(leased);
    }
}

type Done = tokio::sync::oneshot::Sender<GraphResult<()>>;

/// Runs `jobs` in one transaction, each after the first in a savepoint, commits, hands the
/// notifications the committed jobs queued to the delivery worker, then reports every outcome.
///
/// Some errors (a full disk, I/O) make SQLite roll back the whole transaction, not just the
/// failing statement: then the jobs that had succeeded in it are told they failed, and the rest
/// of the group starts a new transaction.
async fn run_group(conn: &mut Connection, jobs: Vec<Queued>, signal: &OutboxSignal, checkpoints: &Checkpoints) {
    let mut tx = GroupTx { conn, queued: QueuedNotifications::default(), signal };
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        if let Err(e) = tx.run("BEGIN IMMEDIATE") {
            for q in jobs {
                let _ = q.done.send(Err(e.clone()));
            }
            return;
        }
        tx.queued = QueuedNotifications::default();
        let mut finished: Vec<(Done, GraphResult<()>)> = Vec::new();
        let mut lost = false;
        let mut restart = false;
        for Queued { job, done } in jobs.by_ref() {
            if finished.is_empty() {
                // The transaction holds nothing else yet, so the job needs no savepoint: rolling
                // the transaction back undoes it alone. Inside a savepoint SQLite copies every
                // page the job changes into the statement journal first, which was a sixth of
                // a create's instructions.
                let outcome = job(&mut tx).await;
                if outcome.is_ok() && !tx.conn.is_autocommit() {
                    finished.push((done, outcome));
                    continue;
                }
                if !tx.conn.is_autocommit() {
                    let _ = tx.run("ROLLBACK");
                }
                let _ = done.send(outcome.and(Err(rolled_back())));
                restart = true;
                break;
            }
            let outcome = match tx.run("SAVEPOINT job") {
                Err(e) => Err(e),
                Ok(()) => {
                    let mark = tx.queued.mark();
                    let outcome = job(&mut tx).await;
                    if tx.conn.is_autocommit() {
                        // The transaction is gone, this job's work and its neighbours' with it.
                        lost = true;
                        outcome.and(Err(rolled_back()))
                    } else if outcome.is_ok() {
                        tx.run("RELEASE job").and(outcome)
                    } else {
                        // What it queued is undone with it.
                        tx.queued.undo_to(mark);
                        let _ = tx.run("ROLLBACK TO job").and_then(|()| tx.run("RELEASE job"));
                        outcome
                    }
                }
            };
            finished.push((done, outcome));
            if lost {
                break;
            }
        }
        if restart {
            // The first job failed and took the transaction with it: the rest start a new one.
            continue;
        }
        let committed = if lost { Err(rolled_back()) } else { tx.run("COMMIT") };
        match committed {
            Ok(()) => {
                checkpoints.committed();
                // Before the answers: delivery starts as soon as the rows are committed.
                signal.committed(std::mem::take(&mut tx.queued));
                for (done, outcome) in finished {
                    let _ = done.send(outcome);
                }
            }
            Err(e) => {
                if !tx.conn.is_autocommit() {
                    let _ = tx.run("ROLLBACK");
                }
                for (done, outcome) in finished {
                    let _ = done.send(outcome.and(Err(e.clone())));
                }
            }
        }
    }
}

fn rolled_back() -> GraphError {
    GraphError::internal("sqlite: the transaction was rolled back")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend on a new file whose table `t` holds the row 1.
    fn group_backend(dir: &tempfile::TempDir) -> Arc<SqliteBackend> {
        Arc::new(SqliteBackend::open(&dir.path().join("g.db"), false).unwrap())
    }

    /// Creates table `t` with the row 1 in a transaction that holds the writer, queues `jobs`
    /// meanwhile, each before the next is sent (so the group keeps their order), then commits,
    /// releasing the writer, and returns each job's outcome.
    async fn run_as_one_group(backend: &Arc<SqliteBackend>, jobs: Vec<WriteJob>) -> Vec<GraphResult<()>> {
        let mut setup = backend.begin().await.unwrap();
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)", &[]).await.unwrap();
        setup.execute("INSERT INTO t (id) VALUES (1)", &[]).await.unwrap();
        let mut running = Vec::new();
        for job in jobs {
            let b = backend.clone();
            running.push(tokio::spawn(async move { b.run_write(job).await }));
            while backend.writer.queue.lock().unwrap().len() < running.len() {
                tokio::task::yield_now().await;
            }
        }
        setup.commit().await.unwrap();
        let mut outcomes = Vec::new();
        for r in running {
            outcomes.push(r.await.unwrap());
        }
        outcomes
    }

    /// Inserts `id` and queues a leased notification `n{id}`, as a write with a subscriber does.
    fn insert(id: i64) -> WriteJob {
        Box::new(move |tx| {
            Box::pin(async move {
                tx.queued_notification(Some(crate::OutboxItem::for_test(&format!("n{id}"))));
                tx.execute("INSERT INTO t (id) VALUES (?)", &[id.into()]).await.map(drop)
            })
        })
    }

    fn handed(backend: &SqliteBackend) -> Vec<String> {
        backend.outbox_signal().take().0.into_iter().map(|i| i.id).collect()
    }

    async fn ids(backend: &SqliteBackend) -> Vec<i64> {
        let rows = backend.read().await.unwrap().query("SELECT id FROM t ORDER BY id", &[]).await.unwrap();
        rows.iter().filter_map(|r| r.int("id")).collect()
    }

    /// Jobs queued while the writer is busy share one transaction; the one that fails (after a
    /// write of its own) is rolled back alone and its neighbours commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_leaves_its_group_committed() {
        let dir = tempfile::tempdir().unwrap();
        let backend = group_backend(&dir);
        // Queued while the setup holds the writer, the three jobs run as one group.
        let jobs: Vec<WriteJob> = vec![
            insert(2),
            Box::new(|tx| {
                Box::pin(async move {
                    tx.queued_notification(Some(crate::OutboxItem::for_test("n3")));
                    tx.execute("INSERT INTO t (id) VALUES (3)", &[]).await?;
                    tx.execute("INSERT INTO t (id) VALUES (1)", &[]).await.map(drop)
                })
            }),
            insert(4),
        ];
        let outcomes = run_as_one_group(&backend, jobs).await;
        assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
        assert_eq!(outcomes[1].as_ref().unwrap_err().code, "ErrorDuplicateItem");
        assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
        assert_eq!(ids(&backend).await, [1, 2, 4]);
        // What the failed job queued is forgotten with its work; its neighbours' is handed over.
        assert_eq!(handed(&backend), ["n2", "n4"]);
        // The writer is left usable, outside any transaction.
        backend.run_write(insert(5)).await.unwrap();
        assert_eq!(ids(&backend).await, [1, 2, 4, 5]);
        assert_eq!(handed(&backend), ["n5"]);
        assert!(backend.writer.conn.lock().await.is_autocommit());
    }

    /// The first job of a transaction runs without a savepoint: when it fails after a write of
    /// its own, that write is undone and the jobs queued behind it still commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_first_job_is_undone_alone() {
        let dir = tempfile::tempdir().unwrap();
        let backend = group_backend(&dir);
        let jobs: Vec<WriteJob> = vec![
            Box::new(|tx| {
                Box::pin(async move {
                    tx.execute("INSERT INTO t (id) VALUES (3)", &[]).await?;
                    tx.execute("INSERT INTO t (id) VALUES (1)", &[]).await.map(drop)
                })
            }),
            insert(2),
            Box::new(|tx| {
                Box::pin(async move {
                    tx.execute("INSERT INTO t (id) VALUES (5)", &[]).await?;
                    tx.execute("INSERT INTO t (id) VALUES (2)", &[]).await.map(drop)
                })
            }),
            insert(4),
        ];
        let outcomes = run_as_one_group(&backend, jobs).await;
        assert_eq!(outcomes[0].as_ref().unwrap_err().code, "ErrorDuplicateItem");
        assert!(outcomes[1].is_ok(), "{:?}", outcomes[1]);
        assert_eq!(outcomes[2].as_ref().unwrap_err().code, "ErrorDuplicateItem");
        assert!(outcomes[3].is_ok(), "{:?}", outcomes[3]);
        assert_eq!(ids(&backend).await, [1, 2, 4]);
        assert_eq!(handed(&backend), ["n2", "n4"]);
        assert!(backend.writer.conn.lock().await.is_autocommit());
    }
}
