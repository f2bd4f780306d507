//! Signing in with Microsoft's own client libraries (#13 §4), over TLS with the test CA, on
//! SQLite and PostgreSQL: MSAL for Python (client credentials with a secret and with a
//! certificate, the authorization-code flow with PKCE, the device-code flow, silent renewal with
//! the refresh token) and azure-identity's `ClientSecretCredential` and `DeviceCodeCredential`
//! handed to msgraph-sdk's `GraphServiceClient`. The scenarios live in `clients/python/test_msal.py`,
//! which plays the user's browser on Rolo's sign-in, consent and /devicelogin pages; this test
//! registers the apps and the user and runs it with their ids and secrets.
//!
//! The packages come from `clients/python/.venv` (see `python_client.rs`).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use rolo_server::identity::{register, set_password, AppRegistration};
use tokio::process::Command;

use crate::common::{Backend, TestServer};

/// The device-code scenarios wait out one polling interval (5 s) each.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(180);

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/python")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn show(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn registration(name: &str, public: bool, redirect_uris: &[&str], certificate: Option<String>) -> AppRegistration {
    AppRegistration {
        name: name.to_owned(),
        roles: if public { Vec::new() } else { vec!["Contacts.ReadWrite".to_owned()] },
        public,
        redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
        certificate,
    }
}

async fn msal_python(s: TestServer) {
    let dir = python_dir();
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing. Create the virtual environment first:\n  \
         python3 -m venv clients/python/.venv && clients/python/.venv/bin/pip install -r clients/python/requirements.txt",
        python.display()
    );
    let store = s.store.as_ref();
    let user = s.user("megan@contoso.test").await;
    set_password(store, &user, "Correct horse 1").await.expect("set password");
    let (secret_app, secret) =
        register(store, &registration("MSAL daemon", false, &[], None)).await.expect("register the secret app");
    let cert = std::fs::read_to_string(fixture("notify-cert.pem")).expect("read the certificate");
    let (cert_app, _) =
        register(store, &registration("MSAL certificate daemon", false, &[], Some(cert))).await.expect("register");
    // A loopback redirect URI matches on any port, as at Microsoft's for native apps.
    let (public_app, _) = register(store, &registration("MSAL desktop", true, &["http://localhost/cb"], None))
        .await
        .expect("register the public app");
    let root = s.base.strip_suffix("/v1.0").expect("base ends in /v1.0").to_owned();
    let ca = s.ca_file.as_ref().expect("a TLS server");

    let mut cmd = Command::new(&python);
    cmd.arg(dir.join("test_msal.py"))
        .current_dir(&dir)
        .env("ROLO_BASE_URL", &root)
        .env("ROLO_TENANT_ID", &s.authority.tenant_id)
        .env("ROLO_SECRET_APP_ID", &secret_app.client_id)
        .env("ROLO_SECRET_APP_SECRET", secret.expect("a client secret"))
        .env("ROLO_CERT_APP_ID", &cert_app.client_id)
        .env("ROLO_CERT_FILE", fixture("notify-cert.pem"))
        .env("ROLO_KEY_FILE", fixture("notify-key.pem"))
        .env("ROLO_PUBLIC_APP_ID", &public_app.client_id)
        .env("ROLO_USER_ID", &user.id)
        .env("ROLO_USER_UPN", "megan@contoso.test")
        .env("ROLO_USER_PASSWORD", "Correct horse 1")
        // httpx and aiohttp read SSL_CERT_FILE; requests (under MSAL) reads REQUESTS_CA_BUNDLE.
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
        Err(_) => panic!("test_msal.py still running after {PYTHON_TIMEOUT:?}; killed"),
    };
    assert!(out.status.success(), "the MSAL / azure-identity tests failed against {root}\n{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("6 passed, 0 failed"), "not every scenario ran\n{}", show(&out));
    eprintln!("{}MSAL Python tests passed in {:.1?}", stdout, started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_sqlite() {
    msal_python(TestServer::start_tls(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_postgres() {
    msal_python(TestServer::start_tls(Backend::Postgres).await).await;
}
