//! Microsoft's Graph JavaScript client (`@microsoft/microsoft-graph-client` from npm) against the
//! real server, on SQLite and PostgreSQL. The scenarios live in `clients/js/*.test.mjs` and run
//! under `node --test`; this test starts Rolo, mints the tokens, installs the npm packages when
//! `clients/js/node_modules` is missing, and fails unless node reports success.
//! Node.js (18 or later) and npm are required: `apt-get install nodejs npm`.
//!
//! The same scenarios run a second time over TLS (`https://localhost`), with the test CA given
//! to node through `NODE_EXTRA_CA_CERTS`: there `clients/js/rolo.mjs` uses the SDK's stock
//! set-up (`Client.init` with an auth provider and `customHosts`) and none of its http middleware.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::TestServer;
use tokio::process::Command;

/// The whole `node --test` run must finish within this.
const NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// `npm ci` downloads three packages; allow for a slow registry.
const NPM_TIMEOUT: Duration = Duration::from_secs(300);

/// Serialises the one-time `npm ci` between the SQLite and PostgreSQL runs.
static NPM_INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/js")
}

pub(crate) fn show(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `cmd` to completion within `limit`, capturing its output; panics with `what` when it
/// cannot be started (not installed) or takes too long.
pub(crate) async fn run(mut cmd: Command, what: &str, limit: Duration) -> Output {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{what}: not installed ({e}). These tests need Node.js 18 or later and npm: \
             install them with `apt-get install nodejs npm`"
        ),
        Err(e) => panic!("{what}: cannot start: {e}"),
    };
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => output.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => panic!("{what}: still running after {limit:?}; killed"),
    }
}

/// Checks for node (18 or later, for its global fetch and `node --test`) and npm.
pub(crate) async fn check_tools() {
    let mut node = Command::new("node");
    node.arg("--version");
    let out = run(node, "node --version", Duration::from_secs(30)).await;
    assert!(out.status.success(), "node --version failed\n{}", show(&out));
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 18, "Node.js {version} is too old: 18 or later is needed (apt-get install nodejs npm)");
    let mut npm = Command::new("npm");
    npm.arg("--version");
    let out = run(npm, "npm --version", Duration::from_secs(30)).await;
    assert!(out.status.success(), "npm --version failed\n{}", show(&out));
}

/// Installs the pinned packages from `package-lock.json` unless they are there already.
pub(crate) async fn ensure_packages(dir: &Path) {
    let marker = dir.join("node_modules/@microsoft/microsoft-graph-client/package.json");
    // Added later: a node_modules from before it needs `npm ci` again.
    let msal = dir.join("node_modules/@azure/msal-node/package.json");
    let _guard = NPM_INSTALL.lock().await;
    if marker.exists() && msal.exists() {
        return;
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let out = run(npm, "npm ci (in clients/js)", NPM_TIMEOUT).await;
    assert!(out.status.success(), "npm ci failed in {}\n{}", dir.display(), show(&out));
    assert!(marker.exists(), "npm ci did not install @microsoft/microsoft-graph-client\n{}", show(&out));
}

/// The `*.test.mjs` files, sorted.
fn test_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs files in {}", dir.display());
    files
}

async fn graph_js_client(s: TestServer) {
    run_node(s).await;
}

async fn run_node(s: TestServer) {
    let dir = js_dir();
    check_tools().await;
    ensure_packages(&dir).await;

    let user = s.user("adele@contoso.test").await;
    let token = s.token(&user, "Contacts.ReadWrite MailboxSettings.ReadWrite User.Read");
    let (_, other) = s.login("alex@contoso.test").await;
    let root = s.base.strip_suffix("/v1.0").expect("base ends in /v1.0").to_owned();

    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=spec"])
        .args(test_files(&dir))
        .current_dir(&dir)
        .env("ROLO_BASE_URL", &root)
        .env("ROLO_TOKEN", &token)
        .env("ROLO_TOKEN_OTHER", &other)
        .env_remove("NODE_OPTIONS")
        .env_remove("NODE_EXTRA_CA_CERTS");
    if let Some(ca) = &s.ca_file {
        node.env("NODE_EXTRA_CA_CERTS", ca);
    }
    let started = Instant::now();
    let out = run(node, "node --test (in clients/js)", NODE_TIMEOUT).await;
    assert!(out.status.success(), "the Graph JavaScript client tests failed against {root}\n{}", show(&out));
    eprintln!("node --test passed in {:.1?}", started.elapsed());
}

both_backends!(graph_js_client);

/// Every scenario again over TLS, with the SDK as Microsoft documents it (no middleware).
mod over_tls {
    use crate::common::{Backend, TestServer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn graph_js_client_sqlite() {
        super::run_node(TestServer::start_tls(Backend::Sqlite).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn graph_js_client_postgres() {
        super::run_node(TestServer::start_tls(Backend::Postgres).await).await;
    }
}
