//! Test support for Rolo: a PostgreSQL server for the test suites.
//!
//! [`postgres_server`] returns the server named by `ROLO_TEST_DATABASE_URL` when that is set, and
//! otherwise a throwaway cluster that is `initdb`-ed and started once per test process from the
//! machine's PostgreSQL server binaries. Tests then call [`PgServer::fresh_database`] to get an
//! empty database of their own, so they never see each other's data.
//!
//! Missing binaries are a hard failure (a panic with instructions), never a silent skip: a test
//! suite that quietly stops testing the PostgreSQL backend is worse than a red build.
//!
//! SQL is run by shelling out to `psql` so that this crate needs no PostgreSQL client library.

use std::env;
use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod replication;
pub use replication::ReplicatedCluster;

/// Use this server instead of starting one (`postgres://user@host:port/db`).
const URL_ENV: &str = "ROLO_TEST_DATABASE_URL";
/// Directory holding `initdb` and `postgres`, overriding the search.
const BIN_ENV: &str = "ROLO_PG_BIN";
/// OS user that runs the cluster when the tests run as root (PostgreSQL refuses to run as root).
const PG_OS_USER: &str = "postgres";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The free port is found by binding and releasing it, so another process can grab it before
/// postgres binds it; such a lost race is retried with a new port.
const START_ATTEMPTS: usize = 3;

const INSTALL_HINT: &str = "install them with `apt-get install -y postgresql` or set ROLO_TEST_DATABASE_URL";

/// Runs postgres (`$2...`) in the background and tears it down when the test process exits.
///
/// Statics are never dropped, so the test process cannot stop the cluster itself, and without
/// libc there is no `PR_SET_PDEATHSIG`. Instead the test process keeps the write end of this
/// script's stdin open for its whole life (std creates pipes close-on-exec, so no other child
/// inherits it). The kernel closes it however the process ends, even on SIGKILL, so `cat` sees
/// EOF; the script then asks postgres for a fast shutdown (SIGINT) and deletes the cluster's
/// directory (`$1`). Unlike polling the parent's pid this cannot be fooled by pid reuse and also
/// works when the script runs as another user than the test process.
///
/// If postgres exits on its own (e.g. it could not bind the port), the main shell exits with its
/// status so the test process notices; `exited` tells the EOF handler not to signal a stale pid.
/// Asynchronous lists get /dev/null as stdin in a non-interactive shell, hence the copy on fd 3.
const WATCHDOG_SCRIPT: &str = r#"
dir=$1; shift
exec 3<&0 </dev/null
"$@" 3<&- &
pg=$!
{
  cat <&3 >/dev/null
  : >"$dir/stop"
  [ -e "$dir/exited" ] || kill -INT "$pg" 2>/dev/null
  n=0
  while kill -0 "$pg" 2>/dev/null && [ "$n" -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
  rm -rf "$dir"
} &
exec 3<&-
wait "$pg"
status=$?
[ -e "$dir/stop" ] || : >"$dir/exited"
exit "$status"
"#;

/// A PostgreSQL server for tests: either the one named by `ROLO_TEST_DATABASE_URL`, or a
/// throwaway cluster started once per test process from the machine's PostgreSQL binaries.
#[derive(Debug)]
pub struct PgServer {
    /// URL of a database that always exists, used to run `CREATE DATABASE`.
    admin_url: String,
    psql: PathBuf,
    /// The throwaway cluster, if we started one. Never dropped (it lives in a static); it is
    /// held only to keep the watchdog's stdin open.
    _cluster: Option<LocalCluster>,
}

#[derive(Debug)]
struct LocalCluster {
    /// Never read: holding it keeps the watchdog's stdin open (see [`WATCHDOG_SCRIPT`]).
    _watchdog: Child,
}

/// Returns the process-wide test server, starting it on first use. Safe to call from many
/// threads at once; later callers wait for the first start-up to finish.
///
/// # Panics
///
/// If no server can be provided (no PostgreSQL binaries, start-up failure, unreachable
/// `ROLO_TEST_DATABASE_URL`). The failure is remembered, so every test fails fast with the
/// same message instead of retrying a slow start-up.
pub fn postgres_server() -> &'static PgServer {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    match SERVER.get_or_init(PgServer::start) {
        Ok(server) => server,
        Err(message) => panic!("rolo-testkit: {message}"),
    }
}

impl PgServer {
    /// Creates a fresh, empty database with a unique name and returns its URL
    /// (`postgres://user@127.0.0.1:PORT/dbname` form, usable by tokio-postgres).
    ///
    /// # Panics
    ///
    /// If `CREATE DATABASE` fails.
    pub fn fresh_database(&self) -> String {
        let name = unique_database_name();
        if let Err(message) = run_sql(&self.psql, &self.admin_url, &format!("CREATE DATABASE {name}")) {
            panic!("rolo-testkit: could not create test database {name}: {message}");
        }
        with_database(&self.admin_url, &name)
    }

    /// URL of the server's maintenance database (the one fresh databases are created from).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    fn start() -> Result<PgServer, String> {
        if let Some(url) = env::var(URL_ENV).ok().filter(|url| !url.trim().is_empty()) {
            let psql = find_psql(None)?;
            run_sql(&psql, &url, "SELECT 1").map_err(|e| format!("cannot reach {URL_ENV}: {e}"))?;
            return Ok(PgServer { admin_url: url, psql, _cluster: None });
        }

        let bindir = find_bindir()?;
        let psql = find_psql(Some(&bindir))?;
        let run_as = RunAs::detect()?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match LocalCluster::start(&bindir, &run_as, &psql) {
                Ok((cluster, admin_url)) => return Ok(PgServer { admin_url, psql, _cluster: Some(cluster) }),
                Err(StartError::PortTaken(message)) => last_error = message,
                Err(StartError::Fatal(message)) => return Err(message),
            }
        }
        Err(last_error)
    }
}

enum StartError {
    /// Another process took the port between our probe and postgres binding it: retry.
    PortTaken(String),
    Fatal(String),
}

impl From<String> for StartError {
    fn from(message: String) -> Self {
        StartError::Fatal(message)
    }
}

impl LocalCluster {
    fn start(bindir: &Path, run_as: &RunAs, psql: &Path) -> Result<(LocalCluster, String), StartError> {
        // `keep`: the directory must outlive this process's destructors (which never run for a
        // static anyway); the watchdog deletes it.
        let dir = tempfile::Builder::new()
            .prefix("rolo-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        let cluster = Self::start_in(&dir, bindir, run_as, psql);
        if cluster.is_err() {
            // A started watchdog removes the directory once its stdin closes; this covers
            // failures before that point (best effort: postgres-owned files need root or the
            // same user, which we are in both modes).
            let _ = fs::remove_dir_all(&dir);
        }
        cluster
    }

    fn start_in(dir: &Path, bindir: &Path, run_as: &RunAs, psql: &Path) -> Result<(LocalCluster, String), StartError> {
        run_as.prepare_dir(dir)?;
        let data = dir.join("data");
        let socket_dir = dir.join("socket");
        fs::create_dir(&socket_dir).map_err(|e| format!("cannot create {}: {e}", socket_dir.display()))?;
        run_as.prepare_dir(&socket_dir)?;

        initdb(dir, &data, bindir, run_as)?;
        let port = free_port()?;
        let watchdog =
            spawn_watched(&Postgres { dir, data: &data, socket_dir: &socket_dir, bindir, run_as, psql, port }, &[])?;
        Ok((LocalCluster { _watchdog: watchdog }, format!("postgres://postgres@127.0.0.1:{port}/postgres")))
    }
}

/// Creates a cluster in `data` (trust authentication, replication connections included).
fn initdb(dir: &Path, data: &Path, bindir: &Path, run_as: &RunAs) -> Result<(), String> {
    let initdb = run_as
        .command(&bindir.join("initdb"))
        .arg("-D")
        .arg(data)
        // C locale: independent of the machine's locale settings (a missing locale makes
        // initdb fail) and byte-order collation like SQLite's default.
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run initdb from {}: {e}", bindir.display()))?;
    if initdb.status.success() {
        Ok(())
    } else {
        Err(format!(
            "initdb failed ({}):\n{}{}",
            initdb.status,
            String::from_utf8_lossy(&initdb.stdout),
            String::from_utf8_lossy(&initdb.stderr)
        ))
    }
}

/// A postgres to start: its data directory, where its socket and log go, and its port.
struct Postgres<'a> {
    /// The watchdog's directory: it holds the log and is deleted when the watchdog ends.
    dir: &'a Path,
    data: &'a Path,
    socket_dir: &'a Path,
    bindir: &'a Path,
    run_as: &'a RunAs,
    psql: &'a Path,
    port: u16,
}

/// Starts postgres under the watchdog (see [`WATCHDOG_SCRIPT`]) and waits until it accepts
/// connections. Dropping the returned child stops it and deletes `dir`. `settings` (`name=value`)
/// come after the defaults, so they override them.
fn spawn_watched(pg: &Postgres<'_>, settings: &[&str]) -> Result<Child, StartError> {
    let log_path = pg.dir.join("postgres.log");
    let log = File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| format!("cannot duplicate log handle: {e}"))?;
    let mut watchdog = pg
        .run_as
        .command(Path::new("/bin/sh"))
        .args(["-c", WATCHDOG_SCRIPT, "rolo-pg-watchdog"])
        .arg(pg.dir)
        .arg(pg.bindir.join("postgres"))
        .arg("-D")
        .arg(pg.data)
        .args(["-p", &pg.port.to_string()])
        .arg("-k")
        .arg(pg.socket_dir)
        // Durability is pointless for a throwaway cluster and costs seconds per test run.
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        .args(["-c", "max_connections=200"])
        .args(settings.iter().flat_map(|s| ["-c", s]))
        .current_dir(pg.dir)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        // Own process group: a Ctrl-C aimed at the test run must not kill postgres behind
        // the watchdog's back; the watchdog shuts it down when the test process is gone.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;

    let admin_url = format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = watchdog.try_wait() {
            let log = log_tail(&log_path);
            let message = format!("postgres exited during start-up ({status}); log tail:\n{log}");
            return Err(if log.contains("Address already in use") {
                StartError::PortTaken(message)
            } else {
                StartError::Fatal(message)
            });
        }
        if run_sql(pg.psql, &admin_url, "SELECT 1").is_ok() {
            return Ok(watchdog);
        }
        if Instant::now() >= deadline {
            // Dropping `watchdog` closes its stdin, which stops postgres.
            return Err(StartError::Fatal(format!(
                "postgres did not accept connections on port {} within {}s; log tail:\n{}",
                pg.port,
                START_TIMEOUT.as_secs(),
                log_tail(&log_path)
            )));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Whose identity runs `initdb` and `postgres`: ours, or the `postgres` OS user when we are root.
#[derive(Debug)]
enum RunAs {
    CurrentUser,
    Runuser { uid: u32, gid: u32, runuser: PathBuf },
    Su { uid: u32, gid: u32, su: PathBuf },
}

impl RunAs {
    fn detect() -> Result<RunAs, String> {
        if command_stdout(Command::new("id").arg("-u")).as_deref() != Some("0") {
            return Ok(RunAs::CurrentUser);
        }
        let id = |flag: &str| {
            command_stdout(Command::new("id").args([flag, PG_OS_USER])).and_then(|s| s.parse::<u32>().ok())
        };
        let (Some(uid), Some(gid)) = (id("-u"), id("-g")) else {
            return Err(format!(
                "the tests run as root, which initdb/postgres refuse, and there is no `{PG_OS_USER}` OS user \
                 to run them as: install the server with `apt-get install -y postgresql` (it creates the user), \
                 or `useradd --system --user-group {PG_OS_USER}`, or run the tests as a non-root user, \
                 or set {URL_ENV}"
            ));
        };
        if let Some(runuser) = find_on_path("runuser") {
            Ok(RunAs::Runuser { uid, gid, runuser })
        } else if let Some(su) = find_on_path("su") {
            Ok(RunAs::Su { uid, gid, su })
        } else {
            Err(format!(
                "the tests run as root but neither `runuser` nor `su` is available to switch to the \
                 `{PG_OS_USER}` user: install util-linux, run as a non-root user, or set {URL_ENV}"
            ))
        }
    }

    fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::CurrentUser => Command::new(program),
            RunAs::Runuser { runuser, .. } => {
                let mut command = Command::new(runuser);
                command.args(["-u", PG_OS_USER, "--"]).arg(program);
                command
            }
            RunAs::Su { su, .. } => {
                // su hands the arguments after the user name to the shell, so `exec "$0" "$@"`
                // runs the program with its arguments unquoted and unmangled.
                let mut command = Command::new(su);
                command.args(["-s", "/bin/sh", PG_OS_USER, "-c", "exec \"$0\" \"$@\""]).arg(program);
                command
            }
        }
    }

    /// Hands a directory we created to the user that runs postgres and checks it can write there
    /// (a TMPDIR under /root, say, is not reachable for it).
    fn prepare_dir(&self, dir: &Path) -> Result<(), String> {
        let (RunAs::Runuser { uid, gid, .. } | RunAs::Su { uid, gid, .. }) = self else {
            return Ok(());
        };
        std::os::unix::fs::chown(dir, Some(*uid), Some(*gid))
            .map_err(|e| format!("cannot chown {} to {PG_OS_USER}: {e}", dir.display()))?;
        let writable = self
            .command(Path::new("/bin/sh"))
            .args(["-c", "test -w \"$1\"", "sh"])
            .arg(dir)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if writable {
            Ok(())
        } else {
            Err(format!(
                "the `{PG_OS_USER}` OS user cannot write to {}: point TMPDIR at a directory it can reach \
                 (e.g. TMPDIR=/tmp)",
                dir.display()
            ))
        }
    }
}

/// Finds the directory holding `initdb` and `postgres`.
fn find_bindir() -> Result<PathBuf, String> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();

    if let Some(dir) = env::var_os(BIN_ENV).filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(format!("{BIN_ENV}={} holds no initdb and postgres binaries", dir.display()))
        };
    }

    // Debian/Ubuntu layout: /usr/lib/postgresql/<version>/bin; prefer the newest version.
    let debian = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = version_key(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0));
    if let Some((_, bin)) = debian {
        return Ok(bin);
    }

    if let Some(dir) = command_stdout(Command::new("pg_config").arg("--bindir")).map(PathBuf::from) {
        if has_server(&dir) {
            return Ok(dir);
        }
    }

    if let Some(dir) = find_on_path("initdb").and_then(|initdb| initdb.parent().map(Path::to_path_buf)) {
        if has_server(&dir) {
            return Ok(dir);
        }
    }

    Err(format!("PostgreSQL server binaries not found: {INSTALL_HINT}"))
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn find_psql(bindir: Option<&Path>) -> Result<PathBuf, String> {
    bindir
        .map(|dir| dir.join("psql"))
        .filter(|psql| psql.is_file())
        .or_else(|| find_on_path("psql"))
        .ok_or_else(|| "psql not found: install it with `apt-get install -y postgresql-client`".to_string())
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(program)).find(|path| path.is_file())
}

/// Runs one SQL statement with psql; the error carries psql's output.
fn run_sql(psql: &Path, url: &str, sql: &str) -> Result<(), String> {
    let output = Command::new(psql)
        // -X: ignore ~/.psqlrc, whose settings could change behaviour or output.
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(url)
        .args(["-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", psql.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("psql failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// Trimmed stdout of a successful command, `None` if it cannot run or fails.
fn command_stdout(command: &mut Command) -> Option<String> {
    let output = command.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free TCP port: {e}"))?;
    listener.local_addr().map(|addr| addr.port()).map_err(|e| format!("cannot find a free TCP port: {e}"))
}

fn log_tail(path: &Path) -> String {
    let log = fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A name no other test, thread or process uses: pid separates concurrent processes (nextest
/// runs one per test), the counter separates calls within one, and the clock separates
/// processes that reuse a pid against a long-lived shared server.
fn unique_database_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("rolo_t_{}_{count}_{nanos}", std::process::id())
}

/// Replaces the database (path) of a `postgres://` URL, keeping credentials, host and query.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let (authority, _path) = base
        .split_at(base.get(authority_start..).and_then(|a| a.find('/')).map_or(base.len(), |at| authority_start + at));
    format!("{authority}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_databases(server: &PgServer) -> Vec<String> {
        let output = Command::new(&server.psql)
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1"])
            .arg(server.admin_url())
            .args(["-c", "SELECT datname FROM pg_database"])
            .output()
            .expect("run psql");
        assert!(output.status.success(), "psql failed: {output:?}");
        String::from_utf8(output.stdout).expect("utf-8").lines().map(str::to_string).collect()
    }

    #[test]
    fn fresh_databases_exist_and_are_distinct() {
        // Concurrent first calls must share one server.
        let servers: Vec<usize> = thread::scope(|scope| {
            let handles: Vec<_> =
                (0..4).map(|_| scope.spawn(|| postgres_server() as *const PgServer as usize)).collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert!(servers.windows(2).all(|w| w[0] == w[1]));

        let server = postgres_server();
        let first = server.fresh_database();
        let second = server.fresh_database();
        assert_ne!(first, second);

        let databases = list_databases(server);
        for url in [&first, &second] {
            assert!(url.starts_with("postgres://"), "{url}");
            let name = url.rsplit('/').next().expect("database name");
            assert!(databases.iter().any(|db| db == name), "{name} not in {databases:?}");
            // The URL itself must be connectable.
            run_sql(&server.psql, url, "CREATE TABLE t (id int)").expect("connect to fresh database");
        }
    }

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(with_database("postgres://u@h:1/old", "new"), "postgres://u@h:1/new");
        assert_eq!(with_database("postgres://u:p@h:1", "new"), "postgres://u:p@h:1/new");
        assert_eq!(
            with_database("postgresql://u@h/old?sslmode=disable", "new"),
            "postgresql://u@h/new?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h/?x=1", "new"), "postgres://h/new?x=1");
    }

    #[test]
    fn version_directories_sort_numerically() {
        assert!(version_key("15") > version_key("9.6"));
        assert_eq!(version_key("main"), None);
    }

    #[test]
    fn database_names_are_unique_identifiers() {
        let a = unique_database_name();
        let b = unique_database_name();
        assert_ne!(a, b);
        assert!(a.len() <= 63, "{a} exceeds PostgreSQL's identifier limit");
        assert!(a.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }
}
