//! Group commit per mailbox on PostgreSQL.
//!
//! A contact write's first statement bumps its mailbox's change counter, and that row lock is
//! held until the commit's WAL flush: writes to one mailbox run one after another however many
//! connections there are, each paying its own `fsync` and `BEGIN`/`COMMIT` round trips. So the
//! writes of one mailbox (`Backend::run_mailbox_write`) queue here; one task per mailbox with
//! queued writes runs every write queued at that moment (at most [`MAX_GROUP`]) in one
//! transaction, each inside `SAVEPOINT job` (a failing job is rolled back to it and its
//! neighbours carry on), commits once, and only then answers each job. An acknowledged write is
//! committed exactly as before. Writes of different mailboxes still run side by side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rolo_domain::{GraphError, GraphResult};

use super::{PgTx, TxSource};
use crate::sql::{Tx, WriteJob};

/// The most jobs one transaction takes, so that a long queue still commits (and answers) often.
const MAX_GROUP: usize = 64;

struct Queued {
    job: WriteJob,
    done: tokio::sync::oneshot::Sender<GraphResult<()>>,
}

/// The queued writes per mailbox. A mailbox is a key here exactly while a task runs its groups.
pub(super) struct Groups {
    source: TxSource,
    queues: Mutex<HashMap<String, Vec<Queued>>>,
}

impl Groups {
    pub(super) fn new(source: TxSource) -> Groups {
        Groups { source, queues: Mutex::new(HashMap::new()) }
    }

    /// Queues `job` for `mailbox` and waits for its outcome, after its group's commit.
    pub(super) async fn run(self: &Arc<Self>, mailbox: &str, job: WriteJob) -> GraphResult<()> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let start = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            match queues.get_mut(mailbox) {
                Some(queue) => {
                    queue.push(Queued { job, done });
                    false
                }
                None => {
                    queues.insert(mailbox.to_owned(), vec![Queued { job, done }]);
                    true
                }
            }
        };
        if start {
            // A task of its own, so a request that goes away (its client hung up) cannot
            // abandon the other jobs of its group half-way.
            let groups = self.clone();
            let mailbox = mailbox.to_owned();
            tokio::spawn(async move { groups.run_queued(mailbox).await });
        }
        outcome.await.map_err(|_| GraphError::internal("the write was abandoned before it committed"))?
    }

    /// Runs `mailbox`'s queued jobs in groups until its queue is empty.
    async fn run_queued(&self, mailbox: String) {
        // Should this task stop early (a panicking job, the runtime shutting down), the
        // mailbox's queue goes with it: its writers hear "abandoned", and the next write
        // starts a new task.
        let mut guard = Running { groups: self, mailbox: &mailbox, emptied: false };
        loop {
            let jobs: Vec<Queued> = {
                let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(queue) = queues.get_mut(&mailbox) else {
                    guard.emptied = true;
                    return;
                };
                if queue.is_empty() {
                    queues.remove(&mailbox);
                    guard.emptied = true;
                    return;
                }
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if jobs.len() == 1 {
                let Queued { job, done } = jobs.into_iter().next().expect("one job");
                let _ = done.send(self.run_alone(job).await);
            } else {
                self.run_group(jobs).await;
            }
        }
    }

    /// One job: its own transaction, as `Backend::run_write` gives it, without a savepoint.
    async fn run_alone(&self, job: WriteJob) -> GraphResult<()> {
        let mut tx = self.source.begin().await?;
        job(&mut tx).await?;
        Box::new(tx).commit().await
    }

    /// Runs `jobs` in one transaction, each in a savepoint, commits, then reports every outcome.
    /// Should the transaction become unusable (the connection dropped, a savepoint command
    /// failed), the jobs that had run in it are told they failed and the rest start a new one.
    async fn run_group(&self, jobs: Vec<Queued>) {
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let mut tx = match self.source.begin().await {
                Ok(tx) => tx,
                Err(e) => {
                    for q in jobs {
                        let _ = q.done.send(Err(e.clone()));
                    }
                    return;
                }
            };
            let mut finished = Vec::new();
            let mut lost: Option<GraphError> = None;
            // A savepoint left open by the previous job is released in the same round trip
            // that opens the next one; COMMIT releases the last.
            let mut open = false;
            for Queued { job, done } in jobs.by_ref() {
                let begin = if open { "RELEASE SAVEPOINT job; SAVEPOINT job" } else { "SAVEPOINT job" };
                let outcome = match tx.batch(begin).await {
                    Err(e) => {
                        lost = Some(e.clone());
                        Err(e)
                    }
                    Ok(()) => {
                        let mark = tx.mark();
                        match job(&mut tx).await {
                            Ok(()) => {
                                open = true;
                                Ok(())
                            }
                            Err(e) => {
                                tx.undo_to(mark);
                                open = false;
                                if let Err(lost_too) =
                                    tx.batch("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job").await
                                {
                                    lost = Some(lost_too);
                                }
                                Err(e)
                            }
                        }
                    }
                };
                finished.push((done, outcome));
                if lost.is_some() {
                    break;
                }
            }
            // Dropping an unusable transaction rolls it back.
            let committed = match lost {
                Some(e) => Err(e),
                None => Box::new(tx).commit().await,
            };
            for (done, outcome) in finished {
                let _ = done.send(match &committed {
                    Ok(()) => outcome,
                    Err(e) => outcome.and(Err(e.clone())),
                });
            }
        }
    }
}

/// Removes a mailbox's queue when its task stops without emptying it (see `run_queued`).
struct Running<'a> {
    groups: &'a Groups,
    mailbox: &'a str,
    /// The task removed the queue itself, under the lock (a new task may own the key now).
    emptied: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.emptied {
            return;
        }
        self.groups.queues.lock().unwrap_or_else(PoisonError::into_inner).remove(self.mailbox);
    }
}

/// Where a job started in the group transaction, to forget the hints of a job rolled back.
pub(super) struct Mark {
    pub(super) queued: crate::sql::QueuedMark,
    pub(super) written: usize,
}

impl PgTx {
    /// Runs parameterless statements (savepoint commands) on the transaction.
    async fn batch(&mut self, sql: &str) -> GraphResult<()> {
        self.client().batch_execute(sql).await.map_err(super::db_err)
    }

    fn mark(&self) -> Mark {
        Mark { queued: self.queued.mark(), written: self.written.len() }
    }

    fn undo_to(&mut self, mark: Mark) {
        self.queued.undo_to(mark.queued);
        self.written.truncate(mark.written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::postgres::PostgresBackend;
    use crate::sql::Backend;

    /// Inserts `id` and queues a leased notification `n{id}`, as a write with a subscriber does.
    fn insert(id: i64) -> WriteJob {
        Box::new(move |tx| {
            Box::pin(async move {
                tx.queued_notification(Some(crate::OutboxItem::for_test(&format!("n{id}"))));
                tx.execute("INSERT INTO t (id) VALUES (?)", &[id.into()]).await.map(drop)
            })
        })
    }

    fn handed(backend: &PostgresBackend) -> Vec<String> {
        backend.outbox_signal().take().0.into_iter().map(|i| i.id).collect()
    }

    async fn ids(backend: &PostgresBackend) -> Vec<i64> {
        let rows = backend.read().await.unwrap().query("SELECT id FROM t ORDER BY id", &[]).await.unwrap();
        rows.iter().filter_map(|r| r.int("id")).collect()
    }

    fn queued(backend: &PostgresBackend, mailbox: &str) -> usize {
        backend.groups.queues.lock().unwrap().get(mailbox).map_or(0, Vec::len)
    }

    /// Jobs of one mailbox queued while its previous write waits share one transaction; the one
    /// that fails (after a write of its own) is rolled back alone and its neighbours commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_leaves_its_mailbox_group_committed() {
        let url = rolo_testkit::postgres_server().fresh_database();
        let backend = Arc::new(PostgresBackend::connect(&url, 4, &[]).await.unwrap());
        let mut setup = backend.begin().await.unwrap();
        setup.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)", &[]).await.unwrap();
        setup.execute("CREATE TABLE lock_row (id BIGINT PRIMARY KEY)", &[]).await.unwrap();
        setup.execute("INSERT INTO t (id) VALUES (1)", &[]).await.unwrap();
        setup.execute("INSERT INTO lock_row (id) VALUES (1)", &[]).await.unwrap();
        setup.commit().await.unwrap();
        // A transaction outside the queue holds a row the mailbox's first job needs: that job
        // waits, and the three queued behind it then run as one group.
        let mut holder = backend.begin().await.unwrap();
        holder.execute("UPDATE lock_row SET id = 1 WHERE id = 1", &[]).await.unwrap();
        let first: WriteJob = Box::new(|tx| {
            Box::pin(async move { tx.execute("UPDATE lock_row SET id = 1 WHERE id = 1", &[]).await.map(drop) })
        });
        let jobs: Vec<WriteJob> = vec![
            first,
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
        let mut running = Vec::new();
        for (n, job) in jobs.into_iter().enumerate() {
            let b = backend.clone();
            running.push(tokio::spawn(async move { b.run_mailbox_write("m", job).await }));
            // The first job is taken off the queue (and blocks); each later one is queued
            // before the next is sent, so the group keeps their order.
            loop {
                let taken = backend.groups.queues.lock().unwrap().get("m").map(Vec::len);
                if (n == 0 && taken == Some(0)) || (n > 0 && taken == Some(n)) {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(queued(&backend, "m"), 3);
        holder.commit().await.unwrap();
        let mut outcomes = Vec::new();
        for r in running {
            outcomes.push(r.await.unwrap());
        }
        assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
        assert!(outcomes[1].is_ok(), "{:?}", outcomes[1]);
        assert_eq!(outcomes[2].as_ref().unwrap_err().code, "ErrorDuplicateItem");
        assert!(outcomes[3].is_ok(), "{:?}", outcomes[3]);
        assert_eq!(ids(&backend).await, [1, 2, 4]);
        // What the failed job queued is forgotten with its work; its neighbours' is handed over.
        assert_eq!(handed(&backend), ["n2", "n4"]);
        // The queue is gone once empty, and the next write starts a new one.
        while backend.groups.queues.lock().unwrap().contains_key("m") {
            tokio::task::yield_now().await;
        }
        backend.run_mailbox_write("m", insert(5)).await.unwrap();
        assert_eq!(ids(&backend).await, [1, 2, 4, 5]);
        assert_eq!(handed(&backend), ["n5"]);
    }
}
