//! Microsoft's Graph SDK for Python (`msgraph-sdk` from PyPI, built on kiota) against the real
//! server over TLS, on SQLite and PostgreSQL. The scenarios live in
//! `clients/python/test_graph_sdk.py`; this test starts Rolo with a test certificate authority,
//! registers an app with `Contacts.ReadWrite`, and runs the script with the app's client id and
//! secret: the script signs in with azure-identity's `ClientSecretCredential` pointed at Rolo's
//! token endpoint, as an app would at Microsoft's.
//!
//! The packages come from a virtual environment, `clients/python/.venv`, which `.ci/run` makes;
//! without it the test fails and says how to make it.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Backend, TestServer};
use tokio::process::Command;

/// The whole script must finish within this (importing msgraph takes a few seconds).
const PYTHON_TIMEOUT: Duration = Duration::from_secs(180);

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/python")
}

fn show(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The virtual environment's Python; the test fails, saying how to make it, when it is missing.
pub(crate) fn venv_python() -> PathBuf {
    let python = python_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing. Create the virtual environment with the pinned Graph SDK first:\n  \
         python3 -m venv clients/python/.venv && clients/python/.venv/bin/pip install -r clients/python/requirements.txt\n\
         (`.ci/run` does this when it is missing)",
        python.display()
    );
    python
}

/// Runs `clients/python/{script}` against the TLS server `s` with `env`, trusting its test CA;
/// asserts it succeeded and printed `want` (its summary line), and returns its stdout.
pub(crate) async fn run_script(s: &TestServer, script: &str, env: &[(&str, String)], want: &str) -> String {
    let (dir, python) = (python_dir(), venv_python());
    let ca = s.ca_file.as_ref().expect("a TLS server");
    let mut cmd = Command::new(&python);
    cmd.arg(dir.join(script))
        .current_dir(&dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        // httpx and aiohttp (the SDK) read SSL_CERT_FILE; requests (under MSAL) reads REQUESTS_CA_BUNDLE.
        .env("SSL_CERT_FILE", ca)
        .env("REQUESTS_CA_BUNDLE", ca)
        .env_remove("PYTHONPATH")
        .env_remove("SSL_CERT_DIR")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let out = match tokio::time::timeout(PYTHON_TIMEOUT, child.wait_with_output()).await {
        Ok(out) => out.expect("python output"),
        Err(_) => panic!("{script} still running after {PYTHON_TIMEOUT:?}; killed"),
    };
    assert!(out.status.success(), "{script} failed against {}\n{}", s.base, show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains(want), "{script}: no '{want}' summary line\n{}", show(&out));
    eprintln!("{stdout}{script} passed in {:.1?}", started.elapsed());
    stdout
}

async fn graph_python_sdk(s: TestServer) {
    let user = s.user("adele@contoso.test").await;
    let roles = vec!["Contacts.ReadWrite".to_owned()];
    let (app, secret) =
        rolo_server::identity::register_app(s.store.as_ref(), "Python SDK", &roles).await.expect("register app");
    let root = s.base.strip_suffix("/v1.0").expect("base ends in /v1.0").to_owned();
    let photo = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(photo.path(), rolo_media::sample(64, 48, rolo_media::Format::Jpeg)).expect("write the photo");
    let env = [
        ("ROLO_BASE_URL", root),
        ("ROLO_TENANT_ID", s.authority.tenant_id.clone()),
        ("ROLO_CLIENT_ID", app.client_id.clone()),
        ("ROLO_CLIENT_SECRET", secret),
        ("ROLO_USER_ID", user.id.clone()),
        ("ROLO_PHOTO_FILE", photo.path().display().to_string()),
    ];
    run_script(&s, "test_graph_sdk.py", &env, " passed, 0 failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_python_sdk_sqlite() {
    graph_python_sdk(TestServer::start_tls(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_python_sdk_postgres() {
    graph_python_sdk(TestServer::start_tls(Backend::Postgres).await).await;
}
