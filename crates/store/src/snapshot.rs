//! What makes a file a Rolo snapshot, checked before a restore touches anything: another
//! program's SQLite file would otherwise be opened read-write, migrated (tables added to it) and
//! then loaded as an empty state, wiping every user.

use std::io::Read;
use std::path::Path;

use rolo_domain::{GraphError, GraphResult};
use rusqlite::{Connection, OpenFlags};

/// SQLite's `application_id` for the files `snapshot_to` writes ("Rolo" in ASCII).
pub const APPLICATION_ID: u32 = 0x526f_6c6f;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn not_a_snapshot(path: &Path, why: &str) -> GraphError {
    GraphError::bad_request("BadRequest", format!("{} is not a Rolo snapshot: {why}.", path.display()))
}

/// Refuses `path` unless it is a Rolo snapshot: a regular SQLite file marked with Rolo's
/// application id (or unmarked, as snapshots before the mark were, but then holding Rolo's
/// tables), at a schema version this Rolo knows. Reads only: the header with a plain read, the
/// schema through an immutable read-only connection, which takes no locks and writes no journal.
pub fn check(path: &Path) -> GraphResult<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|_| not_a_snapshot(path, "no such file"))?;
    if !meta.file_type().is_file() {
        return Err(not_a_snapshot(path, "not a regular file"));
    }
    let mut header = [0u8; 100];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .map_err(|_| not_a_snapshot(path, "not a SQLite database"))?;
    if &header[..16] != SQLITE_MAGIC {
        return Err(not_a_snapshot(path, "not a SQLite database"));
    }
    let application_id = u32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if application_id != APPLICATION_ID && application_id != 0 {
        return Err(not_a_snapshot(path, "a SQLite database of another application"));
    }
    let uri = format!(
        "file:{}?immutable=1",
        path.to_string_lossy().replace('%', "%25").replace('?', "%3f").replace('#', "%23")
    );
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(uri, flags).map_err(|_| not_a_snapshot(path, "unreadable"))?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(|_| not_a_snapshot(path, "unreadable"))?;
    let has = |t: &str| tables.iter().any(|n| n == t);
    if !has("schema_migrations") || !crate::migrations::STATE_TABLES.iter().all(|t| has(t)) {
        return Err(not_a_snapshot(path, "Rolo's tables are missing"));
    }
    let newest: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(|_| not_a_snapshot(path, "unreadable"))?;
    if newest > crate::migrations::latest_version() {
        return Err(not_a_snapshot(path, "written by a newer Rolo"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        assert!(check(&text).is_err());
        assert!(check(&dir.path().join("missing.db")).is_err());
        assert!(check(dir.path()).is_err());

        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE users (id TEXT); INSERT INTO users VALUES ('x');").unwrap();
        drop(conn);
        let before = std::fs::read(&other).unwrap();
        let e = check(&other).unwrap_err();
        assert!(e.message.contains("Rolo's tables are missing"), "{}", e.message);
        assert_eq!(std::fs::read(&other).unwrap(), before);

        let foreign = dir.path().join("foreign.db");
        let conn = Connection::open(&foreign).unwrap();
        conn.execute_batch("PRAGMA application_id = 42; CREATE TABLE t (x);").unwrap();
        drop(conn);
        assert!(check(&foreign).unwrap_err().message.contains("another application"));
    }

    /// A Rolo database without the mark (a snapshot from before it) passes on its tables.
    #[tokio::test]
    async fn unmarked_rolo_databases_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("legacy.db");
        drop(crate::open(&path.to_string_lossy(), &crate::OpenOptions::default()).await.unwrap());
        check(&path).unwrap();
    }
}
