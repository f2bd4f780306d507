//! The PostgreSQL backend: a deadpool of tokio-postgres connections with cached prepared
//! statements. The SQL is shared with SQLite; only `?` placeholders are renumbered.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, QueueMode, RecyclingMethod};
use rolo_domain::{ErrorKind, GraphError, GraphResult};
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::NoTls;

use super::replicas::{hint_statement, Replicas, WRITTEN_CHANNEL};
use crate::sql::{
    numbered_placeholders, Backend, Dialect, OutboxSignal, QueuedNotifications, Row, Sql, Tx, Value, WriteJob,
    PLANNED_EACH_TIME,
};

mod groups;

pub struct PostgresBackend {
    pool: Pool,
    outbox_signal: OutboxSignal,
    /// Read replicas (`--database-replica`), if any: mailbox reads may go there.
    replicas: Option<Arc<Replicas>>,
    /// Listens for other processes' `NOTIFY` hints; stopped with the backend.
    listener: tokio::task::JoinHandle<()>,
    /// The write jobs queued per mailbox (`run_mailbox_write`).
    groups: Arc<groups::Groups>,
}

/// What a write transaction is made from; shared with the tasks that run a mailbox's groups.
#[derive(Clone)]
struct TxSource {
    pool: Pool,
    signal: OutboxSignal,
    replicas: Option<Arc<Replicas>>,
}

impl TxSource {
    async fn begin(&self) -> GraphResult<PgTx> {
        let client = self.pool.get().await.map_err(|e| GraphError::internal(format!("PostgreSQL pool: {e}")))?;
        // The guard exists before BEGIN is sent, so a request cancelled mid-BEGIN still rolls back.
        let tx = PgTx {
            client: Some(client),
            queued: QueuedNotifications::default(),
            signal: self.signal.clone(),
            replicas: self.replicas.clone(),
            written: Vec::new(),
        };
        tx.client().batch_execute("BEGIN").await.map_err(db_err)?;
        Ok(tx)
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The channel a commit that queued notifications signals on.
const OUTBOX_CHANNEL: &str = "rolo_outbox";

/// Keeps one connection listening on [`OUTBOX_CHANNEL`] and turns each notification into a
/// wake-up of this process's delivery worker; with read replicas, also on [`WRITTEN_CHANNEL`]
/// for other processes' commits. Reconnects after a second when the connection drops. A lost
/// outbox hint costs only latency: workers also poll.
async fn listen(config: tokio_postgres::Config, signal: OutboxSignal, replicas: Option<Arc<Replicas>>) {
    let mut channels = format!("LISTEN {OUTBOX_CHANNEL}");
    if replicas.is_some() {
        channels.push_str(&format!("; LISTEN {WRITTEN_CHANNEL}"));
    }
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let wake = signal.clone();
            let replicas = replicas.clone();
            let driver = tokio::spawn(async move {
                while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match message {
                        Ok(tokio_postgres::AsyncMessage::Notification(n)) if n.channel() == WRITTEN_CHANNEL => {
                            if let Some(r) = &replicas {
                                r.hint(n.payload());
                            }
                        }
                        // This process's own hint: its commit already asked its worker to claim
                        // (acting on the echo again would only repeat that claim, later).
                        Ok(tokio_postgres::AsyncMessage::Notification(n)) if n.payload() == wake.origin() => {}
                        Ok(tokio_postgres::AsyncMessage::Notification(_)) => wake.wake_to_claim(),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            if client.batch_execute(&channels).await.is_ok() {
                let _ = driver.await;
            } else {
                driver.abort();
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

impl Value {
    /// The type a one-shot statement declares for this parameter: text, `bigint` or `bytea`,
    /// and for a null none (`unknown`: the server infers it from where the parameter stands).
    fn pg_type(&self) -> Type {
        match self {
            Value::Null => Type::UNKNOWN,
            Value::Int(_) => Type::INT8,
            Value::Text(_) => Type::TEXT,
            Value::Bytes(_) => Type::BYTEA,
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn db_err(e: tokio_postgres::Error) -> GraphError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
            return GraphError::new(ErrorKind::Conflict, "ErrorDuplicateItem", "The item already exists.");
        }
    }
    GraphError::internal(format!("postgres: {e}"))
}

impl PostgresBackend {
    /// Connects to the primary at `url`; `replicas` are hot standbys for mailbox reads, each with
    /// a pool of its own (connected lazily: a standby that is down does not stop start-up).
    pub async fn connect(url: &str, max_connections: usize, replicas: &[String]) -> GraphResult<PostgresBackend> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| GraphError::internal(format!("bad PostgreSQL URL: {e}")))?;
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .queue_mode(POOL_ORDER)
            .build()
            .map_err(|e| GraphError::internal(format!("PostgreSQL pool: {e}")))?;
        // Fail at start-up, not on the first request, when the server is unreachable.
        let conn = pool.get().await.map_err(|e| GraphError::internal(format!("connecting to PostgreSQL: {e}")))?;
        drop(conn);
        let outbox_signal = OutboxSignal::default();
        let replicas =
            if replicas.is_empty() { None } else { Some(Arc::new(Replicas::new(replicas, max_connections)?)) };
        let listener = tokio::spawn(listen(config, outbox_signal.clone(), replicas.clone()));
        let source = TxSource { pool: pool.clone(), signal: outbox_signal.clone(), replicas: replicas.clone() };
        let groups = Arc::new(groups::Groups::new(source));
        Ok(PostgresBackend { pool, outbox_signal, replicas, listener, groups })
    }

    fn groups_source(&self) -> TxSource {
        TxSource { pool: self.pool.clone(), signal: self.outbox_signal.clone(), replicas: self.replicas.clone() }
    }

    async fn client(&self) -> GraphResult<Object> {
        self.pool.get().await.map_err(|e| GraphError::internal(format!("PostgreSQL pool: {e}")))
    }
}

/// Which idle connection a request takes: the one most recently returned. PostgreSQL plans a
/// prepared statement afresh at each of its first five executions on a connection (a custom
/// plan for the values bound) before it weighs its cached generic plan. Taking connections in
/// turn (first in, first out) spread a client's sequential requests over the whole pool, so a
/// delta round's later-page statements, whose plans its pages would share, never reached a
/// sixth execution on any connection and were planned at every page (0.13-0.19 ms each, as
/// much as they took to run). The most recent connection also has the warmest statement
/// cache. Under full load every connection is busy and the order makes no difference.
pub(super) const POOL_ORDER: QueueMode = QueueMode::Lifo;

/// Prepared statements kept per connection. Generated queries ($filter shapes) vary without
/// bound, so the cache is emptied when it grows past this; dropping the statements closes them
/// on the server too.
const STATEMENT_CACHE_LIMIT: usize = 256;

async fn prepare(client: &Object, sql: &str) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    if client.statement_cache.size() >= STATEMENT_CACHE_LIMIT {
        client.statement_cache.clear();
    }
    client.prepare_cached(&numbered_placeholders(sql)).await
}

async fn run_query(client: &Object, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
    run_query_raw(client, sql, params).await.map_err(db_err)
}

/// As [`run_query`], with the driver's error (a replica read tells a lost connection from an
/// error the server reported).
async fn run_query_raw(client: &Object, sql: &str, params: &[Value]) -> Result<Vec<Row>, tokio_postgres::Error> {
    if sql.starts_with(PLANNED_EACH_TIME) {
        // Parse, bind and execute an unnamed statement in one round trip: the server plans it
        // with these parameters, as the table is now. The parameters' types are given (a null's
        // is left for the server to infer), so nothing is asked of the server beforehand.
        let typed: Vec<(&(dyn ToSql + Sync), Type)> =
            params.iter().map(|p| (p as &(dyn ToSql + Sync), p.pg_type())).collect();
        let rows = client.query_typed(&numbered_placeholders(sql), &typed).await?;
        let names: std::sync::Arc<[String]> = match rows.first() {
            Some(r) => r.columns().iter().map(|c| c.name().to_owned()).collect(),
            None => std::sync::Arc::new([]),
        };
        return rows_from(rows, names);
    }
    let stmt = prepare(client, sql).await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&stmt, &refs).await?;
    let names: std::sync::Arc<[String]> = stmt.columns().iter().map(|c| c.name().to_owned()).collect();
    rows_from(rows, names)
}

/// The driver's rows as [`Row`]s read by the column `names`.
fn rows_from(
    rows: Vec<tokio_postgres::Row>,
    names: std::sync::Arc<[String]>,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(row.len());
        for (i, col) in row.columns().iter().enumerate() {
            let v = match *col.type_() {
                Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
                Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map(|n| Value::Int(n.into()))),
                Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map(|n| Value::Int(n.into()))),
                Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map(|b| Value::Int(b.into()))),
                Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Bytes)),
                _ => row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text)),
            }?;
            values.push(v.unwrap_or(Value::Null));
        }
        out.push(Row::new(names.clone(), values));
    }
    Ok(out)
}

async fn run_execute(client: &Object, sql: &str, params: &[Value]) -> GraphResult<u64> {
    let stmt = prepare(client, sql).await.map_err(db_err)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    client.execute(&stmt, &refs).await.map_err(db_err)
}

struct PgConn(Object);

#[async_trait]
impl Sql for PgConn {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        run_query(&self.0, sql, params).await
    }
    /// The driver pipelines queries issued together on one connection.
    async fn query_pair(
        &mut self,
        first: (&str, &[Value]),
        second: (&str, &[Value]),
    ) -> GraphResult<(Vec<Row>, Vec<Row>)> {
        tokio::try_join!(run_query(&self.0, first.0, first.1), run_query(&self.0, second.0, second.1))
    }
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        if params.is_empty() && !sql.contains('?') {
            // DDL and other parameterless statements skip the statement cache.
            return self.0.batch_execute(sql).await.map(|_| 0).map_err(db_err);
        }
        run_execute(&self.0, sql, params).await
    }
}

/// A mailbox read routed to a replica. A statement that fails there (the standby went away, or
/// cancelled a query for a recovery conflict) runs on the primary instead, as does the rest of
/// the read: a request never fails because of a replica.
struct ReplicaConn<'a> {
    backend: &'a PostgresBackend,
    replicas: &'a Replicas,
    index: usize,
    replica: Option<Object>,
    primary: Option<Object>,
}

impl ReplicaConn<'_> {
    async fn primary(&mut self) -> GraphResult<&Object> {
        if self.primary.is_none() {
            self.primary = Some(self.backend.client().await?);
        }
        Ok(self.primary.as_ref().expect("just set"))
    }
}

#[async_trait]
impl Sql for ReplicaConn<'_> {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        if let Some(replica) = &self.replica {
            match run_query_raw(replica, sql, params).await {
                Ok(rows) => return Ok(rows),
                Err(e) => {
                    self.replicas.fell_back(self.index, &e);
                    if let Some(conn) = self.replica.take() {
                        if conn.is_closed() {
                            let _ = Object::take(conn);
                        }
                    }
                }
            }
        }
        run_query(self.primary().await?, sql, params).await
    }

    /// Reads do not execute statements; should one, it belongs on the primary.
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        run_execute(self.primary().await?, sql, params).await
    }
}

/// A transaction on a pooled connection. If dropped before commit (an error, or the client went
/// away and the request future was cancelled), a task rolls it back before the connection can
/// be reused.
struct PgTx {
    client: Option<Object>,
    /// The notifications queued: the commit hands the leased ones to this process's worker, and
    /// sends the `NOTIFY` hint with it for any others.
    queued: QueuedNotifications,
    signal: OutboxSignal,
    /// With read replicas: the mailboxes this transaction wrote and their new change counters.
    replicas: Option<Arc<Replicas>>,
    written: Vec<(String, i64)>,
}

impl PgTx {
    fn client(&self) -> &Object {
        self.client.as_ref().expect("transaction used after commit")
    }
}

#[async_trait]
impl Sql for PgTx {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>> {
        run_query(self.client(), sql, params).await
    }
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64> {
        if params.is_empty() && !sql.contains('?') {
            return self.client().batch_execute(sql).await.map(|_| 0).map_err(db_err);
        }
        run_execute(self.client(), sql, params).await
    }
    fn outbox_lease(&self) -> Option<String> {
        self.signal.lease_until()
    }
    fn queued_notification(&mut self, leased: Option<crate::OutboxItem>) {
        self.queued.push(leased);
    }
    fn wrote_mailbox(&mut self, mailbox: &str, seq: i64) {
        if self.replicas.is_some() {
            self.written.push((mailbox.to_owned(), seq));
        }
    }
}

#[async_trait]
impl Tx for PgTx {
    async fn commit(mut self: Box<Self>) -> GraphResult<()> {
        // Hints are delivered to every listening process when (and only if) the transaction
        // commits: the outbox's wake-up (for rows no worker of this process leased), and with replicas the mailboxes' new counters. They go
        // in the COMMIT's round trip.
        let statements: Vec<String> = [
            self.queued.unleased().then(|| format!("NOTIFY {OUTBOX_CHANNEL}, '{}'", self.signal.origin())),
            self.replicas.as_ref().and_then(|_| hint_statement(&self.written)),
            Some("COMMIT".to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let client = self.client.take().expect("commit twice");
        if let Err(e) = client.batch_execute(&statements.join("; ")).await {
            // A hint that failed skipped the COMMIT: the drop rolls the transaction back.
            self.client = Some(client);
            return Err(db_err(e));
        }
        self.signal.committed(std::mem::take(&mut self.queued));
        // Before the caller answers its client, so this process's next read of these mailboxes
        // cannot come from a replica without the write.
        if let Some(replicas) = &self.replicas {
            for (mailbox, seq) in &self.written {
                replicas.committed(mailbox, *seq);
            }
        }
        Ok(())
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // A connection in an unknown state must not go back to the pool.
                        let _ = Object::take(client);
                    }
                });
            } else {
                let _ = Object::take(client);
            }
        }
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn outbox_signal(&self) -> OutboxSignal {
        self.outbox_signal.clone()
    }

    async fn read(&self) -> GraphResult<Box<dyn Sql + '_>> {
        Ok(Box::new(PgConn(self.client().await?)))
    }

    async fn read_mailbox(&self, mailbox: &str) -> GraphResult<Box<dyn Sql + '_>> {
        let Some(replicas) = &self.replicas else {
            return self.read().await;
        };
        match replicas.route(mailbox).await {
            Some((index, conn)) => {
                Ok(Box::new(ReplicaConn { backend: self, replicas, index, replica: Some(conn), primary: None }))
            }
            None => self.read().await,
        }
    }

    fn saw_change_seq(&self, mailbox: &str, seq: i64) {
        if let Some(replicas) = &self.replicas {
            replicas.committed(mailbox, seq);
        }
    }

    fn replica_reads(&self) -> Option<crate::ReplicaReads> {
        self.replicas.as_ref().map(|r| r.reads())
    }

    fn pool_status(&self) -> Option<crate::PoolStatus> {
        let s = self.pool.status();
        Some(crate::PoolStatus { max: s.max_size, open: s.size, idle: s.available, waiting: s.waiting })
    }

    async fn begin(&self) -> GraphResult<Box<dyn Tx + '_>> {
        Ok(Box::new(self.groups_source().begin().await?))
    }

    async fn run_mailbox_write(&self, mailbox: &str, job: WriteJob) -> GraphResult<()> {
        self.groups.run(mailbox, job).await
    }
}
