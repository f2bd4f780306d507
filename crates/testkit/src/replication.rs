//! A primary and a hot standby fed by streaming replication, for the read-replica tests.
//!
//! Unlike [`crate::postgres_server`], each call starts a cluster of its own (the tests pause,
//! stop and restart the standby, which no other test may share). The primary is `initdb`-ed
//! with the default `wal_level=replica` and initdb's trust rules for replication connections;
//! the standby is a `pg_basebackup -R` copy of it. Both run under the same watchdog as the shared
//! cluster, so they go away with the test process however it ends, and when the value is
//! dropped.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{
    find_bindir, find_psql, free_port, initdb, run_sql, spawn_watched, unique_database_name, with_database, Postgres,
    RunAs, StartError, START_ATTEMPTS,
};

/// How long the standby may take to apply what the primary wrote, or to come up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ReplicatedCluster {
    top: PathBuf,
    bindir: PathBuf,
    psql: PathBuf,
    run_as: RunAs,
    primary_port: u16,
    standby_port: u16,
    /// One watchdog per time the standby was started; the current one last. Stopped ones are
    /// kept: dropping a watchdog deletes its directory.
    standby_runs: Vec<Child>,
    /// Owns `top` (the primary's and the standby's data): dropped last.
    primary: Option<Child>,
}

impl Drop for ReplicatedCluster {
    fn drop(&mut self) {
        // Standbys first, so the primary's watchdog does not delete their data under them.
        self.standby_runs.clear();
        self.primary.take();
    }
}

impl ReplicatedCluster {
    /// Starts a primary and a standby streaming from it.
    ///
    /// # Panics
    ///
    /// When either cannot be started (missing binaries included: never a silent skip).
    pub fn start() -> ReplicatedCluster {
        Self::try_start().unwrap_or_else(|e| panic!("rolo-testkit: replicated cluster: {e}"))
    }

    fn try_start() -> Result<ReplicatedCluster, String> {
        let bindir = find_bindir()?;
        let psql = find_psql(Some(&bindir))?;
        let run_as = RunAs::detect()?;
        let top = tempfile::Builder::new()
            .prefix("rolo-pg-replicated-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        run_as.prepare_dir(&top)?;
        let socket_dir = top.join("socket");
        fs::create_dir(&socket_dir).map_err(|e| format!("cannot create {}: {e}", socket_dir.display()))?;
        run_as.prepare_dir(&socket_dir)?;
        let primary_data = top.join("primary");
        initdb(&top, &primary_data, &bindir, &run_as)?;
        // Synchronous commit (cheap with fsync off): a commit's WAL is written when it returns,
        // so `pg_current_wal_lsn()` covers it and `wait_caught_up` waits for it.
        let (primary, primary_port) = with_free_port(|port| {
            spawn_watched(
                &Postgres {
                    dir: &top,
                    data: &primary_data,
                    socket_dir: &socket_dir,
                    bindir: &bindir,
                    run_as: &run_as,
                    psql: &psql,
                    port,
                },
                &["synchronous_commit=on"],
            )
        })?;
        let mut cluster = ReplicatedCluster {
            top,
            bindir,
            psql,
            run_as,
            primary_port,
            standby_port: 0,
            standby_runs: Vec::new(),
            primary: Some(primary),
        };
        let backup = cluster
            .run_as
            .command(&cluster.bindir.join("pg_basebackup"))
            .arg("-d")
            .arg(format!("host=127.0.0.1 port={primary_port} user=postgres"))
            .arg("-D")
            .arg(cluster.standby_data())
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
            .current_dir(&cluster.top)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run pg_basebackup: {e}"))?;
        if !backup.status.success() {
            return Err(format!("pg_basebackup failed: {}", String::from_utf8_lossy(&backup.stderr)));
        }
        let (standby, port) = with_free_port(|port| cluster.spawn_standby(port))?;
        cluster.standby_port = port;
        cluster.standby_runs.push(standby);
        Ok(cluster)
    }

    fn standby_data(&self) -> PathBuf {
        self.top.join("standby")
    }

    fn spawn_standby(&self, port: u16) -> Result<Child, StartError> {
        // Each run gets a directory of its own for the watchdog to delete.
        let run = self.top.join(format!("standby-run-{}", self.standby_runs.len()));
        fs::create_dir(&run).map_err(|e| format!("cannot create {}: {e}", run.display()))?;
        self.run_as.prepare_dir(&run)?;
        spawn_watched(
            &Postgres {
                dir: &run,
                data: &self.standby_data(),
                socket_dir: &self.top.join("socket"),
                bindir: &self.bindir,
                run_as: &self.run_as,
                psql: &self.psql,
                port,
            },
            &[],
        )
    }

    /// Creates an empty database on the primary and waits for it on the standby; returns its
    /// URLs on the primary and on the standby.
    pub fn fresh_database(&self) -> (String, String) {
        let name = unique_database_name();
        run_sql(&self.psql, &self.url(self.primary_port), &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("rolo-testkit: CREATE DATABASE {name}: {e}"));
        let (primary, standby) =
            (with_database(&self.url(self.primary_port), &name), with_database(&self.url(self.standby_port), &name));
        self.until("the new database on the standby", || run_sql(&self.psql, &standby, "SELECT 1").is_ok());
        (primary, standby)
    }

    fn url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// The first value of a query's answer, as psql prints it (`t`/`f` for booleans).
    ///
    /// # Panics
    ///
    /// When the query fails.
    pub fn query(&self, url: &str, sql: &str) -> String {
        self.try_query(url, sql).unwrap_or_else(|e| panic!("rolo-testkit: {sql}: {e}"))
    }

    fn try_query(&self, url: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(&self.psql)
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1"])
            .arg(url)
            .args(["-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// Stops applying WAL on the standby (it keeps receiving it): the standby lags from now on.
    pub fn pause_replay(&self) {
        self.query(&self.url(self.standby_port), "SELECT pg_wal_replay_pause()");
    }

    pub fn resume_replay(&self) {
        self.query(&self.url(self.standby_port), "SELECT pg_wal_replay_resume()");
    }

    /// Waits until the standby has applied everything the primary had written when called.
    pub fn wait_caught_up(&self) {
        let lsn = self.query(&self.url(self.primary_port), "SELECT pg_current_wal_lsn()");
        let check = format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn");
        self.until("the standby to catch up", || {
            self.try_query(&self.url(self.standby_port), &check).is_ok_and(|caught_up| caught_up == "t")
        });
    }

    /// Stops the standby (a fast shutdown); its data stays for [`ReplicatedCluster::start_standby`].
    pub fn stop_standby(&self) {
        let status = self
            .run_as
            .command(&self.bindir.join("pg_ctl"))
            .arg("stop")
            .arg("-D")
            .arg(self.standby_data())
            .args(["-m", "fast", "-w"])
            .current_dir(&self.top)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("rolo-testkit: cannot run pg_ctl: {e}"));
        assert!(status.success(), "pg_ctl stop failed: {status}");
    }

    /// Starts the stopped standby again on its port; it resumes streaming from the primary.
    pub fn start_standby(&mut self) {
        let run = self.spawn_standby(self.standby_port).unwrap_or_else(|e| match e {
            StartError::PortTaken(m) | StartError::Fatal(m) => panic!("rolo-testkit: restarting the standby: {m}"),
        });
        self.standby_runs.push(run);
    }

    fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        while !done() {
            assert!(Instant::now() < deadline, "rolo-testkit: timed out waiting for {what}");
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs `start` on a free port, retrying with another when the port was taken meanwhile.
fn with_free_port<T>(mut start: impl FnMut(u16) -> Result<T, StartError>) -> Result<(T, u16), String> {
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        match start(port) {
            Ok(t) => return Ok((t, port)),
            Err(StartError::PortTaken(m)) => last = m,
            Err(StartError::Fatal(m)) => return Err(m),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standby follows the primary, lags while paused, and comes back after a restart.
    #[test]
    fn standby_follows_pauses_and_restarts() {
        let mut cluster = ReplicatedCluster::start();
        let (primary, standby) = cluster.fresh_database();
        cluster.query(&primary, "CREATE TABLE t (n int); INSERT INTO t VALUES (1)");
        cluster.wait_caught_up();
        assert_eq!(cluster.query(&standby, "SELECT count(*) FROM t"), "1");
        assert_eq!(cluster.query(&standby, "SELECT pg_is_in_recovery()"), "t");

        cluster.pause_replay();
        cluster.query(&primary, "INSERT INTO t VALUES (2)");
        assert_eq!(cluster.query(&standby, "SELECT count(*) FROM t"), "1");
        cluster.resume_replay();
        cluster.wait_caught_up();
        assert_eq!(cluster.query(&standby, "SELECT count(*) FROM t"), "2");

        cluster.stop_standby();
        assert!(run_sql(&cluster.psql, &standby, "SELECT 1").is_err());
        cluster.query(&primary, "INSERT INTO t VALUES (3)");
        cluster.start_standby();
        cluster.wait_caught_up();
        assert_eq!(cluster.query(&standby, "SELECT count(*) FROM t"), "3");
    }
}
