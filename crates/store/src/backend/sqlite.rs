//! The embedded SQLite backend: WAL mode, one writer connection (writers queue on an async
//! mutex instead of spinning on SQLITE_BUSY) and a few reader connections.
//!
//! Durability: `synchronous=NORMAL` in WAL mode makes a committed transaction survive a crash
//! or `kill -9` of the process (the WAL is in the OS page cache); only a power loss can lose
//! the last commits. `durability = full` (`synchronous=FULL`) covers that too, at a cost.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use rolo_domain::{GraphError, GraphResult};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::sql::{Backend, Dialect, OutboxSignal, Row, Sql, Tx, Value};

pub struct SqliteBackend {
    writer: tokio::sync::Mutex<Connection>,
    readers: Vec<tokio::sync::Mutex<Connection>>,
    next_reader: AtomicUsize,
    outbox_signal: OutboxSignal,
}

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

fn open(path: &Path, full_sync: bool, cache_kib: i64) -> GraphResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
    let sync = if full_sync { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000; \
         PRAGMA foreign_keys=OFF; PRAGMA cache_size=-{cache_kib}; PRAGMA temp_store=MEMORY; \
         PRAGMA wal_autocheckpoint=4000;"
    ))
    .map_err(db_err)?;
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
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
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
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| GraphError::internal(format!("creating {dir:?}: {e}")))?;
            }
        }
        let writer = open(path, full_sync, WRITER_CACHE_KIB)?;
        let readers = (0..4)
            .map(|_| open(path, full_sync, READER_CACHE_KIB).map(tokio::sync::Mutex::new))
            .collect::<GraphResult<Vec<_>>>()?;
        Ok(SqliteBackend {
            writer: tokio::sync::Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            outbox_signal: OutboxSignal::default(),
        })
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
    /// Set when notifications were queued: the commit wakes the delivery worker.
    wake: bool,
    signal: &'a OutboxSignal,
}

#[async_trait]
impl Sql for WriteTx<'_> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        query_now(&self.conn, sql, params)
    }
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        execute_now(&self.conn, sql, params)
    }
    fn queued_notifications(&mut self) {
        self.wake = true;
    }
}

#[async_trait]
impl Tx for WriteTx<'_> {
    async fn commit(mut self: Box<Self>) -> GraphResult<()> {
        // On failure `open` stays set, so Drop rolls back and the writer is usable again.
        self.conn.execute_batch("COMMIT").map_err(db_err)?;
        self.open = false;
        if self.wake {
            self.signal.notify_one();
        }
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
        self.outbox_signal.clone()
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
        let conn = self.writer.lock().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)?;
        Ok(Box::new(WriteTx { conn, open: true, wake: false, signal: &self.outbox_signal }))
    }
}
