//! The server under test: either a `rolo serve` child we spawn (and always
//! kill, via Drop) or an external server given by URL and token.

use std::fs::{self, File};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const USER: &str = "bench@rolo.test";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to send requests.
pub struct Target {
    /// `host:port` to dial.
    pub addr: String,
    /// Graph base path, e.g. `/v1.0`.
    pub base: String,
    pub token: String,
    /// Set when we spawned the server (enables the RSS check).
    pub spawned: Option<Spawned>,
    /// Human-readable database description for the report.
    pub database: String,
    /// The rolo binary and the `--database` argument it was started with, for CLI bulk work
    /// (`rolo import` in the million scenario); `None` for an external server.
    pub cli: Option<(PathBuf, String)>,
}

/// A spawned server. Field order matters: the child is killed before its
/// temp dir (database, log) is removed.
pub struct Spawned {
    child: ChildGuard,
    dir: TempDir,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Last lines of the server's log, to explain a failure.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.0.join("rolo.log"))
    }
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, String> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("rolo-bench-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `--rolo`, else `target/release/rolo` from the current directory, else the
/// `rolo` next to this binary (both live in target/release).
pub fn resolve_rolo(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() { Ok(p.to_path_buf()) } else { Err(format!("--rolo {}: no such file", p.display())) };
    }
    let mut candidates = vec![PathBuf::from("target/release/rolo")];
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        candidates.push(dir.join("rolo"));
    }
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        "rolo binary not found (looked in target/release/rolo and next to rolo-bench); \
         build it with `cargo build --release -p rolo` or pass --rolo PATH"
            .to_string()
    })
}

/// Creates the bench user and token with the rolo CLI, then starts
/// `rolo serve` on a free port and waits until it accepts connections.
pub fn spawn(rolo: &Path, database: &str, emulator: bool) -> Result<Target, String> {
    let dir = TempDir::new()?;
    let (db, description) = if database == "sqlite" {
        let path = dir.0.join("rolo.db");
        (path.to_string_lossy().into_owned(), "SQLite (fresh file)".to_string())
    } else if database.starts_with("postgres") {
        (database.to_string(), "PostgreSQL".to_string())
    } else {
        (database.to_string(), format!("SQLite ({database})"))
    };

    // On a reused database the user may already exist: that is fine as long
    // as a token can be issued, so only report this failure if that fails too.
    let add = run_cli(rolo, &["users", "add", USER, "--display-name", "Rolo Bench", "--database", &db]);
    // The people scenario (the emulator's) also reads a directory user to find a kept corpus.
    let scopes = if emulator {
        "Contacts.ReadWrite Mail.ReadWrite People.Read User.ReadBasic.All"
    } else {
        "Contacts.ReadWrite Mail.ReadWrite People.Read"
    };
    let token =
        run_cli(rolo, &["token", USER, "--scopes", scopes, "--ttl", "2h", "--database", &db]).map_err(
            |e| match &add {
                Err(a) => format!("{a}\n{e}"),
                Ok(_) => e,
            },
        )?;
    let token = token.trim().to_string();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(format!("`rolo token` printed {token:?}, expected a bare token"));
    }

    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let log_path = dir.0.join("rolo.log");
    let log = File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| format!("cloning log handle: {e}"))?;
    // The notify scenario's receiver listens on loopback, which a server reaches only when told.
    let config = dir.0.join("rolo.toml");
    std::fs::write(&config, "webhook_http_hosts = [\"127.0.0.1\"]\nwebhook_private_networks = [\"127.0.0.1\"]\n")
        .map_err(|e| format!("writing {}: {e}", config.display()))?;
    let config = config.to_string_lossy().into_owned();
    let mut cmd = Command::new(rolo);
    // Throughput is measured as a service deployment runs it: without Outlook's per-mailbox
    // throttling, which would cap one mailbox at 4 requests in flight.
    cmd.args(["serve", "--listen", &addr, "--database", &db, "--config", &config])
        .args(if emulator { &["--emulator"][..] } else { &[][..] })
        .env("ROLO_THROTTLING", "off")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // Per-request logging would cost the server CPU the benchmark should measure.
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let child = cmd.spawn().map_err(|e| format!("starting {} serve: {e}", rolo.display()))?;
    let mut spawned = Spawned { child: ChildGuard(child), dir };
    wait_ready(&mut spawned, &addr)?;
    Ok(Target {
        addr,
        base: "/v1.0".into(),
        token,
        spawned: Some(spawned),
        database: description,
        cli: Some((rolo.to_path_buf(), db)),
    })
}

/// Parses `http://host:port[/base]` (base defaults to /v1.0).
pub fn external(url: &str, token: &str) -> Result<Target, String> {
    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("--external {url}: only http:// URLs are supported"))?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let addr = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let base = match path.trim_end_matches('/') {
        "" => "/v1.0".to_string(),
        p => p.to_string(),
    };
    Ok(Target {
        addr,
        base,
        token: token.to_string(),
        spawned: None,
        database: format!("external server ({url})"),
        cli: None,
    })
}

pub fn run_cli(rolo: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(rolo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", rolo.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`rolo {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("`rolo {}` printed non-UTF-8", args[0]))
}

fn free_port() -> Result<u16, String> {
    // Bind port 0 and release it; the tiny race with other processes is
    // acceptable for a benchmark.
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}

fn wait_ready(s: &mut Spawned, addr: &str) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = s.child.0.try_wait() {
            return Err(format!("rolo serve exited early ({status}):\n{}", s.log_tail()));
        }
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "rolo serve did not accept connections on {addr} within {} s:\n{}",
                READY_TIMEOUT.as_secs(),
                s.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub fn memory_kib(pid: u32) -> Result<(u64, u64), String> {
    let path = format!("/proc/{pid}/status");
    let status = fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| format!("{name} missing in {path}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_urls() {
        let t = external("http://127.0.0.1:8080/v1.0/", "t").unwrap();
        assert_eq!((t.addr.as_str(), t.base.as_str()), ("127.0.0.1:8080", "/v1.0"));
        let t = external("http://localhost", "t").unwrap();
        assert_eq!((t.addr.as_str(), t.base.as_str()), ("localhost:80", "/v1.0"));
        assert!(external("https://x", "t").is_err());
    }

    #[test]
    fn reads_own_memory() {
        let (rss, hwm) = memory_kib(std::process::id()).unwrap();
        assert!(rss > 0 && hwm >= rss);
    }
}
