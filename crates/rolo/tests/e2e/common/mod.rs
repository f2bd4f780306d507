//! End-to-end test harness: starts the real Rolo HTTP server on a free port over SQLite (a temp
//! file) or PostgreSQL (a fresh database on the testkit's server) and speaks HTTP to it.
#![allow(dead_code)]

pub mod tls;

use std::sync::Arc;

use reqwest::{Client, Method, StatusCode};
use rolo_server::auth::Authority;
use rolo_server::AppState;
use rolo_store::{OpenOptions, Store, User};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub base: String,
    /// The server's shared state (settings such as throttling can be switched through it).
    pub state: Arc<AppState>,
    pub store: Arc<dyn Store>,
    pub authority: Arc<Authority>,
    pub client: Client,
    /// Over TLS: the PEM file of the certificate authority that signed the server's certificate.
    pub ca_file: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A fresh database for `backend`: a SQLite file in a new temp dir (returned, to keep it alive),
/// or a new database on the testkit's PostgreSQL server.
pub fn database_url(backend: Backend) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match backend {
        Backend::Sqlite => dir.path().join("rolo.db").to_string_lossy().into_owned(),
        Backend::Postgres => rolo_testkit::postgres_server().fresh_database(),
    };
    (url, dir)
}

/// A response with its status, headers and parsed JSON body (Null when empty).
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a Graph error envelope with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["error"]["code"], code, "unexpected code; body: {}", self.text);
        assert!(self.body["error"]["message"].is_string(), "error without message: {}", self.text);
        let inner = &self.body["error"]["innerError"];
        assert!(
            inner["request-id"].is_string() && inner["client-request-id"].is_string() && inner["date"].is_string(),
            "bad innerError: {}",
            self.text
        );
        assert_eq!(self.header("request-id"), inner["request-id"].as_str());
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_configured(backend, |_| {}).await
    }

    /// Starts a server whose state `configure` may adjust first (webhook settings, ...).
    pub async fn start_configured(backend: Backend, configure: impl FnOnce(&mut AppState)) -> TestServer {
        let (url, dir) = database_url(backend);
        Self::start_at(&url, dir, configure).await
    }

    /// Starts a server on an existing database (another server's, for restarts and for several
    /// processes sharing one database).
    pub async fn start_at(url: &str, dir: tempfile::TempDir, configure: impl FnOnce(&mut AppState)) -> TestServer {
        Self::start_serving(url, dir, configure, false, Vec::new()).await
    }

    /// Starts a server on a PostgreSQL database whose mailbox reads may go to these replicas.
    pub async fn start_with_replicas(
        url: &str,
        replicas: Vec<String>,
        configure: impl FnOnce(&mut AppState),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_serving(url, dir, configure, false, replicas).await
    }

    /// Starts a server over TLS at `https://localhost:PORT`, with a certificate from a test
    /// certificate authority (`ca_file`) that `client` trusts.
    pub async fn start_tls(backend: Backend) -> TestServer {
        let (url, dir) = database_url(backend);
        Self::start_serving(&url, dir, |_| {}, true, Vec::new()).await
    }

    async fn start_serving(
        url: &str,
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut AppState),
        tls: bool,
        replicas: Vec<String>,
    ) -> TestServer {
        let store = rolo_store::open(url, &OpenOptions { max_connections: 8, full_sync: false, replicas })
            .await
            .expect("open store");
        let store = Arc::new(store);
        let mut state = AppState::new(store.clone(), None).await.expect("state");
        let store: Arc<dyn Store> = store;
        // Tests race many requests on one mailbox; Outlook's 4-in-flight limit would answer some
        // with 429. The throttling tests switch it on with their own limits.
        state.throttle.set_enabled(false);
        // The tests' webhook receivers listen on loopback, which only the emulator reaches by
        // default; the outbound-policy tests put the default back.
        state.webhooks.policy = rolo_server::outbound::OutboundPolicy::loopback();
        configure(&mut state);
        let state = Arc::new(state);
        let authority = state.authority.clone();
        let shared = state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = rx.await;
        };
        let (base, client, ca_file) = if tls {
            let pki = tls::TestPki::new();
            let ca_file = dir.path().join("test-ca.pem");
            std::fs::write(&ca_file, &pki.ca_pem).expect("write the CA file");
            let config = rolo_server::tls::server_config(pki.leaf_pem.as_bytes(), pki.leaf_key_pem.as_bytes())
                .expect("TLS config");
            tokio::spawn(rolo_server::tls::serve(listener, state, config, stopped));
            let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).expect("CA certificate");
            let client = Client::builder().add_root_certificate(ca).build().expect("client");
            (format!("https://localhost:{}/v1.0", addr.port()), client, Some(ca_file))
        } else {
            tokio::spawn(rolo_server::serve(listener, state, stopped));
            (format!("http://{addr}/v1.0"), Client::new(), None)
        };
        TestServer { base, state: shared, store, authority, client, ca_file, _dir: dir, shutdown: Some(tx) }
    }

    pub async fn user(&self, upn: &str) -> User {
        self.store.create_user(upn, upn.split('@').next().unwrap_or(upn)).await.expect("create user")
    }

    pub fn token(&self, user: &User, scopes: &str) -> String {
        let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
        self.authority.issue_delegated(user, &scopes, 3600).expect("token")
    }

    /// A user with a Contacts.ReadWrite token.
    pub async fn login(&self, upn: &str) -> (User, String) {
        let u = self.user(upn).await;
        let t = self.token(&u, "Contacts.ReadWrite");
        (u, t)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
        Resp { status, headers, body, text }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(Method::GET, path, Some(token), None, &[]).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(token), Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(token), Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(Method::DELETE, path, Some(token), None, &[]).await
    }
}

/// Declares one async test per backend for a scenario `async fn name(s: TestServer)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestServer::start($crate::common::Backend::Sqlite).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestServer::start($crate::common::Backend::Postgres).await).await;
                }
            )*
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the folder, OData, error/auth and CLI suites.

/// Percent-encodes the characters of a query value that a URL must not carry raw.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'\''
            | b'('
            | b')'
            | b','
            | b'/'
            | b':'
            | b'$' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Turns a reqwest response into a [`Resp`].
pub async fn into_resp(resp: reqwest::Response) -> Resp {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::Null) };
    Resp { status, headers, body, text }
}

impl TestServer {
    /// Sends raw bytes as the body, with an optional Content-Type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.client.request(method, url).body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        into_resp(req.send().await.expect("request")).await
    }

    /// POSTs a contact to `path` (a contacts collection), asserts 201 and returns the body.
    pub async fn create_contact_at(&self, path: &str, token: &str, body: Value) -> Value {
        let r = self.post(path, token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "create contact at {path}: {}", r.text);
        r.body
    }

    /// POSTs a contact to `/me/contacts` and returns its id.
    pub async fn create_contact(&self, token: &str, body: Value) -> String {
        self.create_contact_at("/me/contacts", token, body).await["id"].as_str().expect("id").to_owned()
    }

    /// POSTs a folder named `name` to `path` (`/me/contactFolders` or a `childFolders` URL),
    /// asserts 201 and returns its id.
    pub async fn create_folder_at(&self, path: &str, token: &str, name: &str) -> String {
        let r = self.post(path, token, serde_json::json!({ "displayName": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "create folder at {path}: {}", r.text);
        r.body["id"].as_str().expect("folder id").to_owned()
    }

    /// Follows `@odata.nextLink` from `path`, returning every item and the size of each page.
    /// Each page must be 200; stops after 200 pages to catch loops.
    pub async fn list_all(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> (Vec<Value>, Vec<usize>) {
        let mut items = Vec::new();
        let mut sizes = Vec::new();
        let mut next = Some(path.to_owned());
        while let Some(url) = next {
            assert!(sizes.len() < 200, "paging does not terminate");
            let page = self.send(Method::GET, &url, Some(token), None, headers).await;
            assert_eq!(page.status, StatusCode::OK, "page {url}: {}", page.text);
            let value = page.body["value"].as_array().unwrap_or_else(|| panic!("no value array: {}", page.text));
            sizes.push(value.len());
            items.extend(value.iter().cloned());
            next = page.body["@odata.nextLink"].as_str().map(str::to_owned);
            if let Some(n) = &next {
                assert!(n.starts_with(&self.base), "nextLink not absolute under the base: {n}");
            }
        }
        (items, sizes)
    }

    /// The ids of the items of one page at `path` (asserting 200).
    pub async fn ids_at(&self, path: &str, token: &str) -> Vec<String> {
        let r = self.get(path, token).await;
        assert_eq!(r.status, StatusCode::OK, "list {path}: {}", r.text);
        r.body["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no value array: {}", r.text))
            .iter()
            .map(|v| v["id"].as_str().expect("id").to_owned())
            .collect()
    }

    /// `@odata.context` prefix for this server and user: `{base}/$metadata#users('{id}')/`.
    pub fn context_of(&self, user: &User, tail: &str) -> String {
        format!("{}/$metadata#users('{}')/{tail}", self.base, user.id)
    }
}

/// Sorted copy, for order-insensitive comparisons of id lists.
/// `v[key]` as a string, failing when it is absent: `assert_ne!` between an absent value (null)
/// and a present one would pass, and `assert_eq!` between two absent ones too.
pub fn present_str<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or_else(|| panic!("no string {key:?} in {v}"))
}

pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Helpers added for the photo suite.

/// A response whose body is kept as raw bytes (binary media), not decoded as text.
pub struct BytesResp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl BytesResp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestServer {
    /// GETs `path` and keeps the body as raw bytes.
    pub async fn get_bytes(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> BytesResp {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{}", self.base, path) };
        let mut req = self.client.get(url).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        BytesResp { status, headers, bytes }
    }
}
