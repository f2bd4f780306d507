//! What an operator needs from the store beyond the Graph roles: the connection pool's use (for
//! metrics), and online backups of a SQLite database with SQLite's backup API (`rolo backup`,
//! `rolo restore`). PostgreSQL is backed up with its own tools (docs/OPERATIONS.md).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// A connection pool's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections not lent out.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// Where mailbox reads went since start-up, with read replicas configured (counts only grow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaReads {
    /// Served by a replica.
    pub replica: u64,
    /// Served by the primary because every replica trailed the mailbox's last known change.
    pub primary_behind: u64,
    /// Served by the primary because no replica could be reached (down, erroring, or all
    /// waiting out their retry delay).
    pub primary_unavailable: u64,
}

/// The store's state for operators.
pub trait Operations: Send + Sync {
    /// The pool's use; `None` for a backend without a pool (SQLite keeps one writer and a few
    /// readers, always open).
    fn pool_status(&self) -> Option<PoolStatus>;
    /// How mailbox reads were split between the primary and read replicas; `None` without
    /// replicas.
    fn replica_reads(&self) -> Option<ReplicaReads>;
}

impl Operations for crate::SqlStore {
    fn pool_status(&self) -> Option<PoolStatus> {
        self.backend.pool_status()
    }

    fn replica_reads(&self) -> Option<ReplicaReads> {
        self.backend.replica_reads()
    }
}

/// Where the PostgreSQL steps are written down; `rolo backup` and `rolo restore` name it.
pub const POSTGRES_BACKUP_DOCS: &str = "docs/OPERATIONS.md";

/// The SQLite file a `--database` value names, or why it cannot be backed up here.
pub fn sqlite_file(database: &str) -> Result<PathBuf, String> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return Err(format!(
            "rolo backup and rolo restore work on SQLite only; back up PostgreSQL with pg_dump, or with \
             pg_basebackup and WAL archiving for point-in-time recovery (see {POSTGRES_BACKUP_DOCS})"
        ));
    }
    let path = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")).unwrap_or(database);
    Ok(PathBuf::from(path))
}

/// What a backup or restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub pages: i32,
    pub bytes: u64,
}

fn sqlite_err<'a>(what: &str, path: &'a Path) -> impl FnOnce(rusqlite::Error) -> String + 'a {
    let what = what.to_owned();
    move |e| format!("{what} {}: {e}", path.display())
}

/// Checks that `conn` holds a sound Rolo database (the integrity check passes and the schema has
/// Rolo's tables), so a restore never replaces good data with a stranger's file.
fn check_rolo_database(conn: &Connection, path: &Path) -> Result<(), String> {
    let verdict: String =
        conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(sqlite_err("cannot check", path))?;
    if verdict != "ok" {
        return Err(format!("{} is damaged: {verdict}", path.display()));
    }
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('mailboxes', 'contacts', 'outbox')",
            [],
            |r| r.get(0),
        )
        .map_err(sqlite_err("cannot read the schema of", path))?;
    if tables != 3 {
        return Err(format!("{} is not a Rolo database", path.display()));
    }
    Ok(())
}

/// Copies every page of `src` into `dst` in one step of SQLite's backup API. One step reads
/// one snapshot: in WAL mode writers go on meanwhile, and the copy holds exactly the
/// transactions committed when it began (a step-wise copy would start over at every write).
fn copy(src: &Connection, dst: &mut Connection) -> Result<i32, rusqlite::Error> {
    use rusqlite::backup::StepResult;
    let backup = rusqlite::backup::Backup::new(src, dst)?;
    // Busy or locked: a checkpoint or the destination's readers hold a lock for a moment.
    for _ in 0..600 {
        match backup.step(-1)? {
            StepResult::Done => return Ok(backup.progress().pagecount),
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("the database stayed locked for 30 s".into()),
    ))
}

/// Backs up the live SQLite database `database` into `to` (which must not exist), while servers
/// keep serving it, then checks the copy.
pub fn backup_sqlite(database: &Path, to: &Path) -> Result<Copied, String> {
    if !database.is_file() {
        return Err(format!("no SQLite database at {}", database.display()));
    }
    if to.exists() {
        return Err(format!("{} exists already: back up to a new file", to.display()));
    }
    // Read-write, as the servers open it: a read-only connection to a WAL database needs the
    // shared-memory file to exist already.
    let src = Connection::open(database).map_err(sqlite_err("cannot open", database))?;
    src.busy_timeout(std::time::Duration::from_secs(30)).map_err(sqlite_err("cannot open", database))?;
    let mut dst = Connection::open(to).map_err(sqlite_err("cannot create", to))?;
    let pages = copy(&src, &mut dst).map_err(sqlite_err("backup failed into", to))?;
    // One self-contained file: no write-ahead log beside it.
    dst.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0))
        .map_err(sqlite_err("cannot finish", to))?;
    check_rolo_database(&dst, to)?;
    drop(dst);
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Copied { pages, bytes })
}

/// Replaces the database `database` with the backup `from` (checked first). Servers on that
/// database must be stopped: they cache users and keys that the restore would change under them.
pub fn restore_sqlite(from: &Path, database: &Path) -> Result<Copied, String> {
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sqlite_err("cannot open", from))?;
    check_rolo_database(&src, from)?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut dst = Connection::open(database).map_err(sqlite_err("cannot open", database))?;
    dst.busy_timeout(std::time::Duration::from_secs(30)).map_err(sqlite_err("cannot open", database))?;
    let pages = copy(&src, &mut dst).map_err(sqlite_err("restore failed into", database))?;
    check_rolo_database(&dst, database)?;
    drop(dst);
    let bytes = std::fs::metadata(database).map(|m| m.len()).unwrap_or(0);
    Ok(Copied { pages, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_is_refused_with_the_docs() {
        let e = sqlite_file("postgres://u@h/db").unwrap_err();
        assert!(e.contains("pg_dump") && e.contains(POSTGRES_BACKUP_DOCS), "{e}");
        assert_eq!(sqlite_file("sqlite:/a/b.db").unwrap(), PathBuf::from("/a/b.db"));
        assert_eq!(sqlite_file("rolo.db").unwrap(), PathBuf::from("rolo.db"));
    }

    #[test]
    fn a_file_that_is_not_rolos_is_not_restored() {
        let dir = tempfile::tempdir().unwrap();
        let stranger = dir.path().join("other.db");
        Connection::open(&stranger).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
        let target = dir.path().join("rolo.db");
        let e = restore_sqlite(&stranger, &target).unwrap_err();
        assert!(e.contains("not a Rolo database"), "{e}");
        let e = backup_sqlite(&dir.path().join("missing.db"), &dir.path().join("b.db")).unwrap_err();
        assert!(e.contains("no SQLite database"), "{e}");
    }
}
