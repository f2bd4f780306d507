//! Checkpoints off the writer's path. A checkpoint copies the WAL's pages into the database file
//! and syncs both files. SQLite's automatic checkpoint runs inside the `COMMIT` that crosses its
//! threshold, so that commit (and every write queued behind it) waited for thousands of page
//! copies and two fsyncs that flush megabytes: about 50 ms on this machine's disk every hundred
//! creates, half of a create's time (docs/PERFORMANCE.md, branch `sqlcreate`).
//!
//! Here a thread with a connection of its own checkpoints after commits while the writer
//! carries on (`PASSIVE` never blocks the writer). A WAL only starts again from its beginning
//! when a write begins with every frame copied, which a checkpoint racing the writer seldom
//! leaves it; so once the WAL holds [`RESTART_FRAMES`], the thread takes the writer for a last
//! pass over the few commits the previous pass missed (waiting at most [`RESTART_WAIT`] for
//! readers still in the WAL), and the next write starts the file over.
//! Durability does not change: a commit is in the WAL before it is answered, as before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rolo_domain::{GraphError, GraphResult};
use rusqlite::Connection;

use super::Writer;
#[cfg(test)]
use super::CHECKPOINT_CACHE_KIB;

/// The WAL's length, in frames (pages), at which a pass holds the writer so that the next write
/// restarts the file: SQLite's automatic checkpoint ran at this length before.
pub(super) const RESTART_FRAMES: i64 = 4000;

/// How long the last pass may wait for readers still in the WAL (and for another process's
/// checkpoint) while it holds the writer: a long read makes it give up and try again after a
/// later commit, so writes never wait longer than this (and the short copy) for a restart.
pub(super) const RESTART_WAIT: Duration = Duration::from_millis(50);

/// The pause after a pass: commits arriving meanwhile share the next one, which copies a page
/// written by several of them once and syncs once.
const PAUSE: Duration = Duration::from_millis(10);

/// Wakes the checkpoint thread; held by the writer, whose commits call [`Checkpoints::committed`].
#[derive(Clone)]
pub(super) struct Checkpoints {
    wake: SyncSender<()>,
    stop: Arc<AtomicBool>,
}

impl Checkpoints {
    /// A commit added frames to the WAL. Never blocks: a wake-up already pending covers it.
    pub(super) fn committed(&self) {
        let _ = self.wake.try_send(());
    }
}

/// The running thread, stopped and waited for when the backend goes: its connection is then
/// closed before the backend's own, so the last of those still checkpoints the WAL into the
/// file and removes it, as when SQLite checkpointed by itself (a closed database is one file).
pub(super) struct Thread {
    checkpoints: Checkpoints,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        self.checkpoints.stop.store(true, Ordering::SeqCst);
        self.checkpoints.committed();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The checkpoint thread's end of the channel, until the writer exists to be referred to.
pub(super) struct Woken(Receiver<()>);

pub(super) fn channel() -> (Checkpoints, Woken) {
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    (Checkpoints { wake, stop: Arc::new(AtomicBool::new(false)) }, Woken(woken))
}

/// Starts the thread that checkpoints on `conn` after the commits of `writer`.
pub(super) fn spawn(
    conn: Connection,
    checkpoints: &Checkpoints,
    woken: Woken,
    writer: Weak<Writer>,
) -> GraphResult<Thread> {
    conn.busy_timeout(RESTART_WAIT).map_err(super::db_err)?;
    let stop = checkpoints.stop.clone();
    let handle = std::thread::Builder::new()
        .name("rolo-sqlite-checkpoint".into())
        .spawn(move || {
            while woken.0.recv().is_ok() && !stop.load(Ordering::SeqCst) {
                if let Err(e) = pass(&conn, &writer) {
                    tracing::warn!(error = %e, "sqlite checkpoint failed; the next commit retries it");
                }
                std::thread::sleep(PAUSE);
            }
        })
        .map_err(|e| GraphError::internal(format!("starting the checkpoint thread: {e}")))?;
    Ok(Thread { checkpoints: checkpoints.clone(), handle: Some(handle) })
}

/// One checkpoint: copies what the WAL holds; when it has grown to [`RESTART_FRAMES`], copies
/// the rest holding the writer and waits for readers to leave the WAL (`RESTART`), so that the
/// next write begins with the whole WAL in the database file and writes from the file's start.
/// Returns the WAL's length before the pass, `None` when another connection (another process)
/// was checkpointing: then that one copies, and the next commit wakes this thread again.
pub(super) fn pass(conn: &Connection, writer: &Weak<Writer>) -> rusqlite::Result<Option<i64>> {
    let Some(frames) = checkpoint(conn, "PASSIVE")? else { return Ok(None) };
    if frames >= RESTART_FRAMES {
        // Catch up on the commits made during the first copy, so the writer waits for little.
        checkpoint(conn, "PASSIVE")?;
        let Some(writer) = writer.upgrade() else { return Ok(Some(frames)) };
        let _held = writer.conn.blocking_lock();
        checkpoint(conn, "RESTART")?;
    }
    Ok(Some(frames))
}

/// A checkpoint in `mode`: `PASSIVE` copies every frame no reader still needs without waiting
/// for anyone; `RESTART` waits (up to the busy timeout) for other writers and checkpoints, copies
/// every frame, then waits for readers to leave the WAL. Returns the WAL's length in frames,
/// `None` when another connection's checkpoint (or, for `RESTART`, a reader) kept it from
/// finishing.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<Option<i64>> {
    let (busy, frames): (i64, i64) =
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((busy == 0 && frames >= 0).then_some(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sqlite::SqliteBackend;
    use crate::sql::Backend;
    use std::sync::Arc;

    /// A backend on `path` whose WAL holds a table and 24 MB of blob in row 1: over 5,800 pages,
    /// so as many frames, none of them copied into the database file yet.
    async fn long_wal(path: &std::path::Path) -> SqliteBackend {
        let backend = SqliteBackend::open_without_checkpoints(path).unwrap();
        let mut tx = backend.begin().await.unwrap();
        tx.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)", &[]).await.unwrap();
        tx.execute("INSERT INTO t (id, b) VALUES (1, zeroblob(24000000))", &[]).await.unwrap();
        tx.commit().await.unwrap();
        backend
    }

    /// Commits a one-byte row `id`.
    async fn add_row(backend: &SqliteBackend, id: i64) {
        let mut tx = backend.begin().await.unwrap();
        tx.execute("INSERT INTO t (id, b) VALUES (?, x'00')", &[id.into()]).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// One [`pass`] on `conn` for `backend`'s writer, off the runtime's threads: the connection
    /// back, the pass's answer and how long it took.
    async fn pass_on(conn: Connection, backend: &SqliteBackend) -> (Connection, Option<i64>, Duration) {
        let writer = Arc::downgrade(&backend.writer);
        tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            let frames = pass(&conn, &writer).unwrap();
            (conn, frames, start.elapsed())
        })
        .await
        .unwrap()
    }

    /// A WAL grown past [`RESTART_FRAMES`] is copied whole by a pass (which holds the writer for
    /// its last copy), and the next write starts the WAL over instead of growing it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_wal_starts_over_after_a_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let backend = long_wal(&path).await;
        // The commit copied nothing into the database file: that is the thread's work.
        let file = std::fs::metadata(&path).unwrap().len();
        assert!(file < 1_000_000, "{file} bytes");
        let conn = super::super::open(&path, false, CHECKPOINT_CACHE_KIB).unwrap();
        let (conn, frames, _) = pass_on(conn, &backend).await;
        assert!(frames.is_some_and(|f| f > 5000), "{frames:?} frames");
        assert!(std::fs::metadata(&path).unwrap().len() > 24_000_000);
        add_row(&backend, 2).await;
        let frames = checkpoint(&conn, "PASSIVE").unwrap();
        assert!(frames.is_some_and(|f| f < 10), "the WAL started over: {frames:?} frames");
        let rows =
            backend.read().await.unwrap().query("SELECT id, length(b) AS n FROM t ORDER BY id", &[]).await.unwrap();
        let got: Vec<(Option<i64>, Option<i64>)> = rows.iter().map(|r| (r.int("id"), r.int("n"))).collect();
        assert_eq!(got, [(Some(1), Some(24_000_000)), (Some(2), Some(1))]);
    }

    /// A reader still in the WAL keeps the pass that holds the writer from restarting it: the
    /// pass gives up after [`RESTART_WAIT`] instead of holding writes for the busy timeout, and
    /// the WAL starts over after a later pass, once the reader is gone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_in_the_wal_delays_the_restart_not_the_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let backend = long_wal(&path).await;
        // A read transaction on the snapshot that needs the WAL's frames.
        let mut reader = backend.read().await.unwrap();
        reader.execute("BEGIN", &[]).await.unwrap();
        reader.query("SELECT COUNT(*) AS n FROM t", &[]).await.unwrap();
        let conn = super::super::open(&path, false, CHECKPOINT_CACHE_KIB).unwrap();
        conn.busy_timeout(RESTART_WAIT).unwrap();
        let (conn, _, took) = pass_on(conn, &backend).await;
        assert!(took < Duration::from_secs(5), "the pass held the writer for {took:?}");
        add_row(&backend, 2).await;
        let frames = checkpoint(&conn, "PASSIVE").unwrap();
        assert!(frames.is_some_and(|f| f > 5000), "the WAL went on: {frames:?} frames");
        reader.execute("COMMIT", &[]).await.unwrap();
        drop(reader);
        let (conn, _, _) = pass_on(conn, &backend).await;
        add_row(&backend, 3).await;
        let frames = checkpoint(&conn, "PASSIVE").unwrap();
        assert!(frames.is_some_and(|f| f < 10), "the WAL started over: {frames:?} frames");
    }
}
