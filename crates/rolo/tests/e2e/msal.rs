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
use std::time::Duration;

use rolo_server::identity::{register, set_password, AppRegistration};
use tokio::process::Command;

use crate::common::{Backend, TestServer};
use crate::js_client;
use crate::python_client::run_script;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
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

const UPN: &str = "megan@contoso.test";
const PASSWORD: &str = "Correct horse 1";

/// The apps and the user the scripts sign in with, as `ROLO_*` environment variables.
async fn register_everything(s: &TestServer) -> Vec<(&'static str, String)> {
    let store = s.store.as_ref();
    let user = s.user(UPN).await;
    set_password(store, &user, PASSWORD).await.expect("set password");
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
    vec![
        ("ROLO_BASE_URL", root),
        ("ROLO_TENANT_ID", s.authority.tenant_id.clone()),
        ("ROLO_ISSUER", s.authority.issuer.clone()),
        ("ROLO_SECRET_APP_ID", secret_app.client_id),
        ("ROLO_SECRET_APP_SECRET", secret.expect("a client secret")),
        ("ROLO_CERT_APP_ID", cert_app.client_id),
        ("ROLO_CERT_FILE", fixture("notify-cert.pem").display().to_string()),
        ("ROLO_KEY_FILE", fixture("notify-key.pem").display().to_string()),
        ("ROLO_PUBLIC_APP_ID", public_app.client_id),
        ("ROLO_USER_ID", user.id),
        ("ROLO_USER_UPN", UPN.to_owned()),
        ("ROLO_USER_PASSWORD", PASSWORD.to_owned()),
    ]
}

async fn msal_python(s: TestServer) {
    let env = register_everything(&s).await;
    run_script(&s, "test_msal.py", &env, "6 passed, 0 failed").await;
}

/// MSAL Node's token handed to Microsoft's Graph JavaScript client (`clients/js/msal-node.mjs`).
async fn msal_node(s: TestServer) {
    let dir = js_client::js_dir();
    js_client::check_tools().await;
    js_client::ensure_packages(&dir).await;
    let env = register_everything(&s).await;
    let mut node = Command::new("node");
    node.args(["--test", "--test-reporter=spec", "msal-node.mjs"])
        .current_dir(&dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NODE_EXTRA_CA_CERTS", s.ca_file.as_ref().expect("a TLS server"))
        .env_remove("NODE_OPTIONS");
    let out = js_client::run(node, "node --test msal-node.mjs", Duration::from_secs(60)).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "MSAL Node failed against {}\n{}", s.base, js_client::show(&out));
    assert!(stdout.contains("pass 2") && stdout.contains("fail 0"), "not every test ran\n{}", js_client::show(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_sqlite() {
    msal_python(TestServer::start_tls(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_postgres() {
    msal_python(TestServer::start_tls(Backend::Postgres).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_node_sqlite() {
    msal_node(TestServer::start_tls(Backend::Sqlite).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_node_postgres() {
    msal_node(TestServer::start_tls(Backend::Postgres).await).await;
}
