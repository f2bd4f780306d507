//! The directory's version, remembered for a moment instead of read on every request. Every
//! authenticated request asks for it (`server/src/directory.rs` compares it to decide whether
//! its user cache still holds), and the query was about 6% of a point GET's instructions.
//!
//! Kept correct by two rules. A directory write through this store retires the remembered value
//! once it has committed, so this process sees its own changes (and those of anything sharing
//! the store, tests included) at the very next read. Another process's change is seen when the
//! remembered value is older than [`FRESH`]: the server's fleet poll (`fleet.rs`, every 250 ms)
//! reads the version anyway and refreshes it here, and without the poll a read older than
//! [`FRESH`] goes to the database, so a change anywhere is in force within a second (issue #18).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a version read from the database is trusted without reading it again.
pub(crate) const FRESH: Duration = Duration::from_millis(500);

#[derive(Default)]
pub(crate) struct DirectoryVersion {
    /// Directory writes through this store that have committed (or failed) so far.
    writes: AtomicU64,
    last: Mutex<Option<Seen>>,
}

struct Seen {
    value: String,
    /// [`DirectoryVersion::writes`] when the read began: a local write since retires the value.
    writes: u64,
    /// When the read began (not when it ended), so the value is never trusted for longer than
    /// [`FRESH`] after the database could have answered it.
    asked: Instant,
}

/// A read about to be made: what it is compared against when it is remembered.
pub(crate) struct Ticket {
    writes: u64,
    asked: Instant,
}

impl DirectoryVersion {
    /// The remembered version, if it is fresh and no local directory write happened since.
    pub(crate) fn fresh(&self) -> Option<String> {
        let writes = self.writes.load(Ordering::SeqCst);
        let last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        last.as_ref().filter(|s| s.writes == writes && s.asked.elapsed() < FRESH).map(|s| s.value.clone())
    }

    /// Taken before reading the version from the database.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket { writes: self.writes.load(Ordering::SeqCst), asked: Instant::now() }
    }

    /// Remembers what a read begun at `ticket` returned, unless a later read is already known.
    pub(crate) fn remember(&self, ticket: Ticket, value: &str) {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_ref().is_some_and(|s| s.asked > ticket.asked) {
            return;
        }
        *last = Some(Seen { value: value.to_owned(), writes: ticket.writes, asked: ticket.asked });
    }

    /// Called after a write that changes the directory has finished, committed or not.
    pub(crate) fn written(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_write_retires_the_value_at_once() {
        let v = DirectoryVersion::default();
        assert_eq!(v.fresh(), None);
        v.remember(v.ticket(), "a");
        assert_eq!(v.fresh().as_deref(), Some("a"));
        v.written();
        assert_eq!(v.fresh(), None);
    }

    #[test]
    fn a_read_begun_before_a_local_write_is_not_trusted_after_it() {
        let v = DirectoryVersion::default();
        let before = v.ticket();
        v.written();
        v.remember(before, "old");
        assert_eq!(v.fresh(), None);
    }

    #[test]
    fn an_older_read_does_not_replace_a_newer_one() {
        let v = DirectoryVersion::default();
        let older = v.ticket();
        std::thread::sleep(Duration::from_millis(2));
        v.remember(v.ticket(), "new");
        v.remember(older, "old");
        assert_eq!(v.fresh().as_deref(), Some("new"));
    }

    #[test]
    fn a_value_expires() {
        let v = DirectoryVersion::default();
        v.remember(Ticket { writes: 0, asked: Instant::now() - FRESH }, "a");
        assert_eq!(v.fresh(), None);
    }
}
