//! The narrow waist between the generic store logic and the two databases: SQL text with `?`
//! placeholders, a small value type, and connections/transactions that run it. Each backend
//! implements only this; everything else is written once.

use std::sync::Arc;

use async_trait::async_trait;
use rolo_domain::GraphResult;

/// The SQL dialect, for the few expressions that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A JSON member of the document column as text.
    pub fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("({column} ->> '{key}')"),
        }
    }

    /// The placeholder for a JSON document parameter.
    pub fn doc_param(self) -> &'static str {
        match self {
            Dialect::Sqlite => "?",
            Dialect::Postgres => "CAST(CAST(? AS TEXT) AS JSONB)",
        }
    }

    /// The document column read back as text.
    pub fn doc_select(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }

    /// A nested JSON member of a document column as text (`path` holds plain names).
    pub fn json_path_text(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("({column} #>> '{{{}}}')", path.join(",")),
        }
    }

    /// A nested JSON member of a document column as a value comparable with [`Dialect::json_param`]:
    /// SQLite's scalar, PostgreSQL's `jsonb`. After the first, names are quoted (SQLite's path
    /// syntax), so the caller must have checked them for quotes and commas.
    pub fn json_path_value(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => {
                let (first, rest) = path.split_first().map_or(("", &[][..]), |(f, r)| (*f, r));
                let rest: String = rest.iter().map(|m| format!(".\"{m}\"")).collect();
                format!("json_extract({column}, '$.{first}{rest}')")
            }
            Dialect::Postgres => format!("({column} #> '{{{}}}')", path.join(",")),
        }
    }

    /// A JSON literal as the parameter and placeholder that compare with
    /// [`Dialect::json_path_value`]: SQLite's `json_extract` yields SQL scalars (booleans as 0
    /// and 1), PostgreSQL compares `jsonb`.
    pub fn json_param(self, json: serde_json::Value) -> (Value, &'static str) {
        match self {
            Dialect::Sqlite => match json {
                serde_json::Value::String(s) => (Value::Text(s), "?"),
                serde_json::Value::Bool(b) => (Value::Int(i64::from(b)), "?"),
                other => (Value::Int(other.as_i64().unwrap_or_default()), "?"),
            },
            Dialect::Postgres => (Value::Text(json.to_string()), self.doc_param()),
        }
    }

    /// A sort key with byte-order comparison: PostgreSQL's default collation is the locale's,
    /// SQLite's is already binary.
    pub fn binary_collation(self, expr: String) -> String {
        match self {
            Dialect::Sqlite => expr,
            Dialect::Postgres => format!("({expr} COLLATE \"C\")"),
        }
    }

    /// ` LIMIT n OFFSET m` for a page's first batch of rows. SQLite binds both. PostgreSQL
    /// reuses a prepared statement's generic plan only when that plan costs about what the
    /// custom plans did, and it estimates a bound LIMIT or OFFSET as a tenth of the table: with
    /// them bound, a list page or a delta page was planned afresh at every execution (0.21 ms of
    /// planning against 0.09 of execution for a page of 10 at 20,000 contacts; a literal limit
    /// takes the cached plan, 0.01 ms). So the limit is written out (first batches take few
    /// values: a page size and at most 11) and an OFFSET, bound, only when there is one.
    /// Later batches of a byte-bounded page, whose sizes vary, call this with `first == false`
    /// and stay bound, so they do not fill the statement cache.
    pub fn page_limit(self, limit: usize, offset: u64, first: bool, params: &mut Vec<Value>) -> String {
        if self == Dialect::Postgres && first {
            if offset == 0 {
                return format!(" LIMIT {limit}");
            }
            params.push((offset as i64).into());
            return format!(" LIMIT {limit} OFFSET ?");
        }
        params.push((limit as i64).into());
        params.push((offset as i64).into());
        " LIMIT ? OFFSET ?".to_owned()
    }

    /// A column hidden from the planner's index choice (SQLite's unary `+`); PostgreSQL weighs
    /// indexes with statistics, so the column stays as it is.
    pub fn without_index(self, column: String) -> String {
        match self {
            Dialect::Sqlite => format!("+{column}"),
            Dialect::Postgres => column,
        }
    }

    /// Whether the planner lacks statistics to weigh a filter's index against the sort's, so the
    /// store probes the data itself (SQLite). Such a planner also walks an index for a prefix
    /// match only when given a range.
    pub fn plans_without_statistics(self) -> bool {
        self == Dialect::Sqlite
    }

    /// What keeps a correlated `EXISTS` a subquery run per row of the walk it filters, instead
    /// of a join the planner orders from statistics. PostgreSQL keeps a subquery with an
    /// `OFFSET` apart; SQLite already runs it per row.
    pub fn per_row_subquery(self) -> &'static str {
        match self {
            Dialect::Postgres => " OFFSET 0",
            Dialect::Sqlite => "",
        }
    }

    /// The contact (`t`) of each entry of a side table (`x`) a page is read from in list order
    /// (query/seek.rs), found by its primary key. SQLite keeps a CROSS JOIN's order; PostgreSQL,
    /// without statistics, looked each id up through `contacts_by_change` (its fourth column
    /// there, after the folder the list names), reading the folder's entries once per match
    /// (a `$count` of 1,000 matches at 100,000 contacts: 9.3 s), so there the row is a per-entry
    /// subquery on the primary key alone.
    pub fn contact_of_entry(self) -> &'static str {
        match self {
            Dialect::Postgres => {
                "CROSS JOIN LATERAL (SELECT * FROM contacts c WHERE c.mailbox_id = x.mailbox_id AND c.id = x.contact_id \
                 OFFSET 0) t"
            }
            Dialect::Sqlite => "CROSS JOIN contacts t",
        }
    }

    /// The suffix that locks the rows a `SELECT` reads until the transaction ends. SQLite has one
    /// writer at a time, which already serialises read-modify-write.
    pub fn row_lock(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        }
    }

    /// As [`Dialect::row_lock`], skipping rows another transaction holds (for work queues).
    pub fn row_lock_skip_locked(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }

    /// The statement that makes concurrent writers of `table` take turns within their
    /// transactions; none on SQLite, whose writers already do.
    pub fn exclusive_table_lock(self, table: &str) -> Option<String> {
        match self {
            Dialect::Postgres => Some(format!("LOCK TABLE {table} IN EXCLUSIVE MODE")),
            Dialect::Sqlite => None,
        }
    }

    /// A migration statement with its type placeholders filled in: `{doc}` (a JSON document),
    /// `{blob}` (bytes), `{ckey}` (the collation of folded key columns) and `{clustered}` (after
    /// a table whose primary key is its only lookup: SQLite then stores the rows in the key's
    /// B-tree instead of a rowid table beside it; PostgreSQL has no such choice). `None` for a
    /// statement marked `{sqlite}` (SQLite only) on PostgreSQL, and for one marked `{postgres}`
    /// on SQLite. A `CREATE TABLE` marked
    /// `{unlogged}` makes an unlogged table on PostgreSQL (no write-ahead log: emptied by a
    /// crash, not replicated), for state worth no durability.
    pub fn ddl(self, statement: &str) -> Option<String> {
        let statement = match (statement.strip_prefix("{sqlite}"), statement.strip_prefix("{postgres}"), self) {
            (Some(_), _, Dialect::Postgres) | (_, Some(_), Dialect::Sqlite) => return None,
            (Some(rest), _, Dialect::Sqlite) | (_, Some(rest), Dialect::Postgres) => rest,
            _ => statement,
        };
        let unlogged = statement.strip_prefix("{unlogged}CREATE TABLE ");
        let statement = match (unlogged, self) {
            (Some(rest), Dialect::Postgres) => format!("CREATE UNLOGGED TABLE {rest}"),
            (Some(rest), Dialect::Sqlite) => format!("CREATE TABLE {rest}"),
            (None, _) => statement.to_owned(),
        };
        let (doc, blob, ckey, clustered) = match self {
            Dialect::Sqlite => ("TEXT", "BLOB", "", " WITHOUT ROWID"),
            Dialect::Postgres => ("JSONB", "BYTEA", "COLLATE \"C\"", ""),
        };
        Some(
            statement
                .replace("{doc}", doc)
                .replace("{blob}", blob)
                .replace("{ckey}", ckey)
                .replace("{clustered}", clustered),
        )
    }

    /// Whether the whole state can be copied to and from a database file (the emulator's
    /// snapshots): SQLite only.
    pub fn has_file_snapshots(self) -> bool {
        self == Dialect::Sqlite
    }
}

/// A SQL parameter or result value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Consumes a text value (empty for anything else).
    pub fn into_string(self) -> String {
        match self {
            Value::Text(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Null | Value::Bytes(_) => String::new(),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Value::Bytes(b) => b,
            Value::Text(s) => s.into_bytes(),
            _ => Vec::new(),
        }
    }

    pub fn into_opt_string(self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b)
    }
}
impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::Text)
    }
}

/// One result row: its values with the column names the backend reported, so mappers read
/// columns by name (`row.text("display_name")`) and a reordered `SELECT` cannot shift them.
/// A name is the column's own (`t.id` is `id`) or its `AS` alias; with two alike, the first wins.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

static NULL: Value = Value::Null;

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    fn index(&self, name: &str) -> Option<usize> {
        let i = self.columns.iter().position(|c| c == name).filter(|i| *i < self.values.len());
        // A misspelt column is a bug in the store's SQL, not a client's doing: tests catch it.
        debug_assert!(i.is_some(), "no column '{name}' in {:?}", self.columns);
        i
    }

    /// The named column's value (`NULL` when there is no such column).
    pub fn get(&self, name: &str) -> &Value {
        self.index(name).map_or(&NULL, |i| &self.values[i])
    }

    /// Takes the named column's value out of the row, leaving `NULL`.
    pub fn take(&mut self, name: &str) -> Value {
        self.index(name).map_or(Value::Null, |i| std::mem::replace(&mut self.values[i], Value::Null))
    }

    /// A text column (empty when `NULL`; an integer as its decimal text).
    pub fn text(&mut self, name: &str) -> String {
        self.take(name).into_string()
    }

    /// A text column that may be `NULL`.
    pub fn opt_text(&mut self, name: &str) -> Option<String> {
        self.take(name).into_opt_string()
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).as_i64()
    }

    pub fn bytes(&mut self, name: &str) -> Vec<u8> {
        self.take(name).into_bytes()
    }

    /// The first column: the value of a single-value query (`SELECT COUNT(*)`, `RETURNING x`).
    pub fn first(&self) -> &Value {
        self.values.first().unwrap_or(&NULL)
    }

    /// The values in `SELECT` order (to copy a row as it is stored).
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Removes the values from `at` on and returns them (columns the planner appended).
    pub fn split_off(&mut self, at: usize) -> Vec<Value> {
        self.values.split_off(at)
    }
}

/// A connection or an open transaction.
#[async_trait]
pub trait Sql: Send {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>>;
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64>;

    /// The lease (a millisecond timestamp) under which this write transaction takes the
    /// notifications it queues for this process's delivery worker, or `None` (no worker listens,
    /// or this is not a write transaction): then they wait in the outbox to be claimed.
    fn outbox_lease(&self) -> Option<String> {
        None
    }

    /// This transaction queued a notification: `leased` is the row when it was taken under
    /// [`Sql::outbox_lease`] (handed to this process's worker once the transaction commits),
    /// `None` when it waits to be claimed (the commit wakes the workers, on PostgreSQL in every
    /// process through `NOTIFY`). Outside a write transaction it means nothing.
    fn queued_notification(&mut self, _leased: Option<crate::OutboxItem>) {}

    /// This transaction raised `mailbox`'s change counter to `seq` (see `SqlStore`'s `bump`):
    /// once it commits, reads of that mailbox must see at least that counter, so a backend with
    /// read replicas sends them to the primary until a replica has caught up. Outside a write
    /// transaction it means nothing.
    fn wrote_mailbox(&mut self, _mailbox: &str, _seq: i64) {}

    async fn query_opt(&mut self, sql: &str, params: &[Value]) -> GraphResult<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Two independent queries. PostgreSQL sends both before reading either answer (one round
    /// trip instead of two); SQLite, in the process, runs them one after the other.
    async fn query_pair(
        &mut self,
        first: (&str, &[Value]),
        second: (&str, &[Value]),
    ) -> GraphResult<(Vec<Row>, Vec<Row>)> {
        let a = self.query(first.0, first.1).await?;
        let b = self.query(second.0, second.1).await?;
        Ok((a, b))
    }
}

/// Wakes this process's delivery worker; see [`Backend::outbox_signal`].
pub type OutboxSignal = Arc<OutboxHub>;

/// Between a process's commits and its delivery worker. While a worker is attached, a write
/// leases the outbox rows it queues to this process in its own transaction, and after the commit
/// they are handed over here: the worker sends them at once, without a claim (on SQLite a claim
/// is a write and would queue behind the creates that produced the rows). The rows stay in the
/// outbox until acknowledged, so a process that dies holding them only delays them: the lease
/// expires and any worker claims them.
pub struct OutboxHub {
    /// Names this hub in PostgreSQL's `NOTIFY` hints, so its listener can tell its own commits'
    /// hints (already acted on by [`OutboxHub::committed`]) from other processes'.
    origin: String,
    wake: tokio::sync::Notify,
    /// How long a commit leases its rows for, in milliseconds; 0 while no worker is attached.
    lease_ms: std::sync::atomic::AtomicI64,
    handed: std::sync::Mutex<Vec<crate::OutboxItem>>,
    /// Rows were queued that nobody leased (or another process hinted so): the worker claims.
    claim: std::sync::atomic::AtomicBool,
}

/// The notifications one transaction queued, handed over (or hinted) when it commits.
#[derive(Default)]
pub struct QueuedNotifications {
    leased: Vec<crate::OutboxItem>,
    /// Some were not leased: workers must claim them.
    unleased: bool,
}

/// Where a savepoint's job began in [`QueuedNotifications`], to forget what a rolled-back job
/// queued.
#[derive(Clone, Copy)]
pub struct QueuedMark(usize, bool);

impl QueuedNotifications {
    pub fn push(&mut self, leased: Option<crate::OutboxItem>) {
        match leased {
            Some(item) => self.leased.push(item),
            None => self.unleased = true,
        }
    }

    /// Some rows need a claim (and on PostgreSQL the `NOTIFY` hint).
    pub fn unleased(&self) -> bool {
        self.unleased
    }

    pub fn is_empty(&self) -> bool {
        self.leased.is_empty() && !self.unleased
    }

    pub fn mark(&self) -> QueuedMark {
        QueuedMark(self.leased.len(), self.unleased)
    }

    pub fn undo_to(&mut self, mark: QueuedMark) {
        self.leased.truncate(mark.0);
        self.unleased = mark.1;
    }
}

impl Default for OutboxHub {
    fn default() -> Self {
        OutboxHub {
            origin: rolo_domain::ids::new_guid(),
            wake: tokio::sync::Notify::new(),
            lease_ms: std::sync::atomic::AtomicI64::new(0),
            handed: std::sync::Mutex::new(Vec::new()),
            claim: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl OutboxHub {
    /// What this hub's commits put in their `NOTIFY` hint (a GUID: no quoting needed).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A worker listens: from now on commits lease their rows for `lease_ms` and hand them here.
    pub fn attach(&self, lease_ms: i64) {
        self.lease_ms.store(lease_ms.max(1), std::sync::atomic::Ordering::SeqCst);
    }

    /// The worker stops: commits stop leasing, and the rows handed but not taken are returned
    /// (for the worker to release). A commit under way may still hand rows after this; they wait
    /// for their lease to expire.
    pub fn detach(&self) -> Vec<crate::OutboxItem> {
        self.lease_ms.store(0, std::sync::atomic::Ordering::SeqCst);
        std::mem::take(&mut *self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The lease a write takes its rows under, while a worker is attached.
    pub fn lease_until(&self) -> Option<String> {
        let ms = self.lease_ms.load(std::sync::atomic::Ordering::SeqCst);
        (ms > 0).then(|| rolo_domain::time::millis_from_now(ms))
    }

    /// After a commit: hands over what it leased and wakes the worker.
    pub fn committed(&self, queued: QueuedNotifications) {
        if queued.is_empty() {
            return;
        }
        if !queued.leased.is_empty() {
            self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(queued.leased);
        }
        if queued.unleased {
            self.claim.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        self.wake.notify_one();
    }

    /// Rows wait to be claimed (another process's hint, or a commit without a worker attached).
    pub fn wake_to_claim(&self) {
        self.claim.store(true, std::sync::atomic::Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// The rows handed over since the last call, and whether a claim was asked for.
    pub fn take(&self) -> (Vec<crate::OutboxItem>, bool) {
        let handed = std::mem::take(&mut *self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        (handed, self.claim.swap(false, std::sync::atomic::Ordering::SeqCst))
    }

    /// Waits for the next commit's hand-over or hint (one stored permit, as `Notify`).
    pub async fn notified(&self) {
        self.wake.notified().await;
    }
}

/// A write transaction. Dropping it without `commit` rolls it back.
#[async_trait]
pub trait Tx: Sql {
    async fn commit(self: Box<Self>) -> GraphResult<()>;
}

/// The body of a write: it runs its statements on the transaction it is given and says whether
/// it succeeded. On failure its statements are undone; it never commits itself.
pub type WriteJob = Box<
    dyn for<'a> FnOnce(
            &'a mut dyn Sql,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<()>> + Send + 'a>>
        + Send,
>;

/// A database: read connections and write transactions.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// Runs `job` and returns its outcome once its work is committed (or undone). This default
    /// gives each job a transaction of its own; SQLite overrides it with a group commit (jobs
    /// queued at the same moment share one transaction, each inside its own savepoint).
    async fn run_write(&self, job: WriteJob) -> GraphResult<()> {
        let mut tx = self.begin().await?;
        job(tx.as_mut()).await?;
        tx.commit().await
    }
    /// As [`Backend::run_write`] for a job whose first statement bumps `mailbox`'s change counter
    /// (so it holds that row's lock until it commits). PostgreSQL group-commits the jobs of one
    /// mailbox queued at the same moment (one transaction, a savepoint each): they would wait
    /// on each other's lock and fsync anyway. By default, [`Backend::run_write`].
    async fn run_mailbox_write(&self, _mailbox: &str, job: WriteJob) -> GraphResult<()> {
        self.run_write(job).await
    }
    /// Fired (one stored permit) after a commit that queued notifications, carrying the rows it
    /// leased for this process's worker. The outbox table stays the truth, and workers still
    /// poll it.
    fn outbox_signal(&self) -> OutboxSignal;
    async fn read(&self) -> GraphResult<Box<dyn Sql + '_>>;
    async fn begin(&self) -> GraphResult<Box<dyn Tx + '_>>;
    /// A read connection for one mailbox's data that tolerates a read replica: one that has
    /// applied every change of the mailbox this process knows of (its own writes, counters it
    /// read from the primary), else the primary. Without replicas, [`Backend::read`].
    async fn read_mailbox(&self, _mailbox: &str) -> GraphResult<Box<dyn Sql + '_>> {
        self.read().await
    }
    /// The mailbox's change counter as just read from the primary: later replica reads of the
    /// mailbox must have reached it (a delta round's upper bound, a cache's version).
    fn saw_change_seq(&self, _mailbox: &str, _seq: i64) {}
    /// How reads were routed between the primary and replicas; `None` without replicas.
    fn replica_reads(&self) -> Option<crate::ReplicaReads> {
        None
    }
    /// The connection pool's use, for backends with a pool (PostgreSQL).
    fn pool_status(&self) -> Option<crate::PoolStatus> {
        None
    }
}

/// Marks a statement PostgreSQL plans afresh at each execution, for its parameters and the
/// tables' current size: an unnamed statement (one round trip, nothing cached) instead of a
/// prepared one. A prepared statement may settle on a generic plan after five executions, and
/// nothing replaces that plan while a table grows without `ANALYZE` (a server with autovacuum
/// off): a lookup planned on a near-empty table kept reading a book's every card. For lookups
/// whose plan is cheap to make and must stay an index probe. SQLite reads the mark as a comment.
pub const PLANNED_EACH_TIME: &str = "/* planned each time */ ";

/// `sql` with the [`PLANNED_EACH_TIME`] mark.
pub fn planned_each_time(sql: &str) -> String {
    format!("{PLANNED_EACH_TIME}{sql}")
}

/// Rewrites `?` placeholders as `$1, $2, ...` for PostgreSQL. Our SQL never has `?` inside
/// string literals, which keeps this a plain scan.
///
/// It runs before every PostgreSQL statement (the statement cache is keyed by its output), so
/// it copies the text between placeholders whole: pushing it a character at a time was 3% of a
/// delta page's instructions.
pub fn numbered_placeholders(sql: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(sql.len() + 16);
    let mut parts = sql.split('?');
    out.push_str(parts.next().unwrap_or_default());
    for (n, part) in parts.enumerate() {
        let _ = write!(out, "${}{part}", n + 1);
    }
    out
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(numbered_placeholders(""), "");
        assert_eq!(numbered_placeholders("SELECT 1"), "SELECT 1");
        assert_eq!(numbered_placeholders("?"), "$1");
        assert_eq!(
            numbered_placeholders("SELECT é FROM t WHERE a = ? AND (b, c) > (?, ?) LIMIT 11 OFFSET ?"),
            "SELECT é FROM t WHERE a = $1 AND (b, c) > ($2, $3) LIMIT 11 OFFSET $4"
        );
        let many = ["?"; 12].join(",");
        assert_eq!(numbered_placeholders(&many), (1..=12).map(|i| format!("${i}")).collect::<Vec<_>>().join(","));
    }

    /// PostgreSQL writes a first batch's limit out (so its generic plan is kept) and binds an
    /// offset only when there is one; SQLite and later batches bind both.
    #[test]
    fn page_limits() {
        let mut params = Vec::new();
        assert_eq!(Dialect::Postgres.page_limit(11, 0, true, &mut params), " LIMIT 11");
        assert!(params.is_empty());
        assert_eq!(Dialect::Postgres.page_limit(11, 20, true, &mut params), " LIMIT 11 OFFSET ?");
        assert_eq!(params, vec![Value::Int(20)]);
        params.clear();
        assert_eq!(Dialect::Postgres.page_limit(7, 0, false, &mut params), " LIMIT ? OFFSET ?");
        assert_eq!(Dialect::Sqlite.page_limit(11, 0, true, &mut params), " LIMIT ? OFFSET ?");
        assert_eq!(params, vec![Value::Int(7), Value::Int(0), Value::Int(11), Value::Int(0)]);
    }

    /// The SQL each dialect method writes, as the store wrote it inline before.
    #[test]
    fn dialect_expressions() {
        let (s, p) = (Dialect::Sqlite, Dialect::Postgres);
        assert_eq!(s.json_path_text("t.doc", &["flag", "flagStatus"]), "json_extract(t.doc, '$.flag.flagStatus')");
        assert_eq!(p.json_path_text("t.doc", &["flag", "flagStatus"]), "(t.doc #>> '{flag,flagStatus}')");
        assert_eq!(
            s.json_path_value("t.doc", &["schemaExtensions", "ext_a", "m"]),
            "json_extract(t.doc, '$.schemaExtensions.\"ext_a\".\"m\"')"
        );
        assert_eq!(
            p.json_path_value("t.doc", &["schemaExtensions", "ext_a", "m"]),
            "(t.doc #> '{schemaExtensions,ext_a,m}')"
        );
        assert_eq!(s.json_param(serde_json::json!(true)), (Value::Int(1), "?"));
        assert_eq!(s.json_param(serde_json::json!("x")), (Value::text("x"), "?"));
        assert_eq!(p.json_param(serde_json::json!("x")), (Value::text("\"x\""), "CAST(CAST(? AS TEXT) AS JSONB)"));
        assert_eq!(s.binary_collation("k".into()), "k");
        assert_eq!(p.binary_collation("k".into()), "(k COLLATE \"C\")");
        assert_eq!((s.without_index("k".into()), p.without_index("k".into())), ("+k".into(), "k".into()));
        assert_eq!((s.row_lock(), p.row_lock()), ("", " FOR UPDATE"));
        assert_eq!((s.row_lock_skip_locked(), p.row_lock_skip_locked()), ("", " FOR UPDATE SKIP LOCKED"));
        assert_eq!(s.exclusive_table_lock("t"), None);
        assert_eq!(p.exclusive_table_lock("t").as_deref(), Some("LOCK TABLE t IN EXCLUSIVE MODE"));
        assert_eq!(s.ddl("a {doc} {blob} k{ckey}").unwrap(), "a TEXT BLOB k");
        assert_eq!(s.ddl("{sqlite}DROP INDEX i").unwrap(), "DROP INDEX i");
        assert_eq!(p.ddl("{sqlite}DROP INDEX i"), None);
        assert_eq!(p.ddl("{postgres}CREATE FUNCTION f").unwrap(), "CREATE FUNCTION f");
        assert_eq!(s.ddl("{postgres}CREATE FUNCTION f"), None);
        assert_eq!(
            s.ddl("CREATE TABLE t (k TEXT PRIMARY KEY){clustered}").unwrap(),
            "CREATE TABLE t (k TEXT PRIMARY KEY) WITHOUT ROWID"
        );
        assert_eq!(
            p.ddl("CREATE TABLE t (k TEXT PRIMARY KEY){clustered}").unwrap(),
            "CREATE TABLE t (k TEXT PRIMARY KEY)"
        );
        assert_eq!(p.ddl("a {doc} {blob} k {ckey}").unwrap(), "a JSONB BYTEA k COLLATE \"C\"");
        assert!(s.has_file_snapshots() && !p.has_file_snapshots());
        assert!(s.plans_without_statistics() && !p.plans_without_statistics());
    }

    #[test]
    fn rows_by_name() {
        let columns: Arc<[String]> = ["id", "n", "id", "seq"].map(String::from).into();
        let mut row = Row::new(columns, vec![Value::text("a"), Value::Int(3), Value::text("b"), Value::Int(9)]);
        assert_eq!(row.int("n"), Some(3));
        // The first of two alike wins.
        assert_eq!(row.text("id"), "a");
        assert_eq!(row.first(), &Value::Null);
        assert_eq!(row.split_off(3), vec![Value::Int(9)]);
        assert_eq!(row.values(), &[Value::Null, Value::Int(3), Value::text("b")]);
    }

    #[test]
    fn placeholders_and_like() {
        assert_eq!(numbered_placeholders("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(like_escape("50%_a\\"), "50\\%\\_a\\\\");
    }
}
