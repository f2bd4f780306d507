//! Operations end to end: `/metrics` scraped with exact names and labels, JSON log lines with
//! request ids, graceful shutdown (unready first, in-flight requests finish, outbox leases handed
//! back), and `rolo backup`/`rolo restore` under a write load.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use rolo_server::throttle::{Throttle, ThrottleSettings};
use rolo_server::AppState;
use rolo_store::prelude::*;
use rolo_store::OpenOptions;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{add_user, assert_success, call, command, free_port, mint_token, serve, sqlite_db, wait_exit};
use crate::common::{database_url, Backend, TestServer};

/// A webhook receiver: answers validations, then refuses (0), accepts (1) or never answers (2).
#[derive(Clone, Default)]
struct Receiver {
    mode: Arc<AtomicU8>,
    hits: Arc<AtomicUsize>,
    url: String,
}

const REFUSE: u8 = 0;
const ACCEPT: u8 = 1;
const HANG: u8 = 2;

async fn receive(
    State(r): State<Receiver>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    _body: Bytes,
) -> (StatusCode, String) {
    if let Some(token) = q.get("validationToken") {
        return (StatusCode::OK, token.clone());
    }
    r.hits.fetch_add(1, Ordering::SeqCst);
    match r.mode.load(Ordering::SeqCst) {
        REFUSE => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
        ACCEPT => (StatusCode::ACCEPTED, String::new()),
        _ => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            (StatusCode::ACCEPTED, String::new())
        }
    }
}

impl Receiver {
    async fn start(mode: u8) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver { url: format!("http://{}/hook", listener.local_addr().unwrap()), ..Receiver::default() };
        r.mode.store(mode, Ordering::SeqCst);
        let app = axum::Router::new().fallback(receive).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }
}

/// Waits until `done` holds, checking every 20 ms, or fails after `secs` saying `what`.
async fn until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn subscription(url: &str) -> Value {
    let expiry = (time::OffsetDateTime::now_utc() + time::Duration::hours(24))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    json!({"changeType": "created,updated,deleted", "notificationUrl": url, "resource": "me/contacts",
           "expirationDateTime": expiry})
}

/// Starts a metrics listener for `state` and returns its scrape URL.
async fn metrics_url(state: Arc<AppState>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(rolo_server::metrics::serve(listener, state, std::future::pending()));
    url
}

/// One sample of a scrape: its name, its labels, its value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Scrapes `url` and parses the Prometheus text format (label values here hold no `"` or `,`).
async fn scrape(url: &str) -> Vec<Sample> {
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = resp.text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {l}"));
            let value = value.parse::<f64>().unwrap_or_else(|_| panic!("not a number: {l}"));
            let (name, labels) = match key.split_once('{') {
                None => (key, BTreeMap::new()),
                Some((name, rest)) => {
                    let labels = rest.trim_end_matches('}').split(',').filter(|p| !p.is_empty()).map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("bad label in {l}"));
                        (k.to_owned(), v.trim_matches('"').to_owned())
                    });
                    (name, labels.collect())
                }
            };
            (name.to_owned(), labels, value)
        })
        .collect()
}

/// The value of the sample `name` with exactly these labels.
fn sample(m: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    m.iter().find(|(n, l, _)| n == name && *l == want).map(|s| s.2).unwrap_or_else(|| {
        let names: Vec<String> = m.iter().map(|(n, l, _)| format!("{n}{l:?}")).collect();
        panic!("no sample {name}{want:?} among {names:#?}")
    })
}

async fn metrics_are_scraped(backend: Backend) {
    let s = TestServer::start_configured(backend, |state| {
        state.metrics = Some(Arc::default());
        // Twenty requests per window, so a test can run into the limit.
        state.throttle = Arc::new(Throttle::new(ThrottleSettings { requests: 20, ..ThrottleSettings::default() }));
        // Retries come quickly, so the delivery after the receiver is back is soon.
        state.webhooks.retry_base = Duration::from_millis(100);
        state.webhooks.max_retry_delay = Duration::from_millis(500);
    })
    .await;
    let url = metrics_url(s.state.clone()).await;
    let (_, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start(REFUSE).await;
    assert_eq!(s.post("/subscriptions", &t, subscription(&r.url)).await.status, 201);

    assert_eq!(s.get("/me/contacts", &t).await.status, 200);
    assert_eq!(s.get("/me/contacts", &t).await.status, 200);
    let id = s.create_contact(&t, json!({"givenName": "Metered"})).await;
    assert_eq!(s.get(&format!("/me/contacts/{id}"), &t).await.status, 200);
    let gone = s.create_contact(&t, json!({"givenName": "Gone"})).await;
    assert_eq!(s.delete(&format!("/me/contacts/{gone}"), &t).await.status, 204);
    assert_eq!(s.get(&format!("/me/contacts/{gone}"), &t).await.status, 404);
    // The receiver refuses: the notification waits in the outbox, to be retried.
    until("a refused delivery", 10, || s.state.worker.retried.load(Ordering::SeqCst) > 0).await;

    // Another mailbox runs into the request limit.
    let (_, t2) = s.login("bob@contoso.test").await;
    for _ in 0..20 {
        assert_eq!(s.get("/me/contacts", &t2).await.status, 200);
    }
    s.get("/me/contacts", &t2).await.assert_error(429, "ApplicationThrottled");

    let m = scrape(&url).await;
    let requests = |route: &str, method: &str, status: &str| {
        sample(&m, "rolo_http_requests_total", &[("route", route), ("method", method), ("status", status)])
    };
    assert_eq!(requests("/v1.0/me/contacts", "GET", "200"), 22.0);
    assert_eq!(requests("/v1.0/me/contacts", "GET", "429"), 1.0);
    assert_eq!(requests("/v1.0/me/contacts", "POST", "201"), 2.0);
    assert_eq!(requests("/v1.0/me/contacts/{id}", "DELETE", "204"), 1.0);
    assert_eq!(requests("/v1.0/me/contacts/{id}", "GET", "200"), 1.0);
    assert_eq!(requests("/v1.0/me/contacts/{id}", "GET", "404"), 1.0);
    assert_eq!(requests("/v1.0/subscriptions", "POST", "201"), 1.0);
    // Never a raw path: the ids in the URLs are nowhere among the labels.
    for (name, labels, _) in &m {
        assert!(labels.values().all(|v| !v.contains(&gone) && !v.contains(&id)), "{name}{labels:?}");
    }
    let contacts_get = [("route", "/v1.0/me/contacts"), ("method", "GET")];
    assert_eq!(sample(&m, "rolo_http_request_duration_seconds_count", &contacts_get), 23.0);
    assert!(sample(&m, "rolo_http_request_duration_seconds_sum", &contacts_get) > 0.0);
    let le = |bound: &str| {
        let mut labels = contacts_get.to_vec();
        labels.push(("le", bound));
        sample(&m, "rolo_http_request_duration_seconds_bucket", &labels)
    };
    assert_eq!(le("+Inf"), 23.0);
    assert!(le("0.001") <= le("0.1") && le("0.1") <= le("+Inf"));
    assert_eq!(sample(&m, "rolo_http_requests_in_flight", &[]), 0.0);

    assert_eq!(sample(&m, "rolo_database_up", &[]), 1.0);
    // Three notifications owed: two contacts created, one deleted.
    assert_eq!(sample(&m, "rolo_outbox_pending", &[]), 3.0);
    assert!(sample(&m, "rolo_outbox_oldest_pending_age_seconds", &[]) > 0.0);
    assert!(sample(&m, "rolo_webhook_deliveries_total", &[("outcome", "retried")]) >= 1.0);
    assert_eq!(sample(&m, "rolo_webhook_deliveries_total", &[("outcome", "delivered")]), 0.0);
    assert_eq!(sample(&m, "rolo_webhook_deliveries_total", &[("outcome", "given_up")]), 0.0);
    assert!(sample(&m, "rolo_subscription_sweeps_total", &[]) >= 1.0);
    assert_eq!(sample(&m, "rolo_throttled_requests_total", &[("limit", "requests")]), 1.0);
    assert_eq!(sample(&m, "rolo_throttled_requests_total", &[("limit", "concurrency")]), 0.0);
    assert_eq!(sample(&m, "rolo_throttled_requests_total", &[("limit", "upload")]), 0.0);
    assert!(sample(&m, "rolo_cache_invalidations_total", &[("cache", "directory")]) >= 1.0);
    match backend {
        // TestServer opens the pool with 8 connections.
        Backend::Postgres => {
            assert_eq!(sample(&m, "rolo_db_pool_max_connections", &[]), 8.0);
            let open = sample(&m, "rolo_db_pool_open_connections", &[]);
            let idle = sample(&m, "rolo_db_pool_idle_connections", &[]);
            assert!(open >= 1.0 && idle <= open, "open {open}, idle {idle}");
            assert_eq!(sample(&m, "rolo_db_pool_waiting", &[]), 0.0);
        }
        Backend::Sqlite => assert!(m.iter().all(|(n, _, _)| !n.starts_with("rolo_db_pool")), "SQLite has no pool"),
    }

    // The receiver comes back: the notification is delivered and the outbox is empty.
    r.mode.store(ACCEPT, Ordering::SeqCst);
    until("the deliveries", 20, || s.state.worker.delivered.load(Ordering::SeqCst) >= 3).await;
    let m = scrape(&url).await;
    assert_eq!(sample(&m, "rolo_webhook_deliveries_total", &[("outcome", "delivered")]), 3.0);
    assert_eq!(sample(&m, "rolo_outbox_pending", &[]), 0.0);
    assert_eq!(sample(&m, "rolo_outbox_oldest_pending_age_seconds", &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_sqlite() {
    metrics_are_scraped(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_postgres() {
    metrics_are_scraped(Backend::Postgres).await;
}

/// The real binary: metrics on their own address from `ROLO_METRICS_LISTEN` (nothing on the
/// API's port), and JSON log lines whose request id is the response's `request-id`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listener_and_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    add_user(&db, "a@x.test", "A", dir.path());
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let metrics_listen = format!("127.0.0.1:{}", free_port());
    let envs = [("ROLO_LOG_FORMAT", "json"), ("ROLO_LOG", "info"), ("ROLO_METRICS_LISTEN", metrics_listen.as_str())];
    let mut served = serve(&["--database", &db], &envs, dir.path());
    let client = reqwest::Client::new();
    let missing =
        call(&client, reqwest::Method::GET, &format!("{}/me/contacts/AAMkMissing", served.base), &token, None).await;
    assert_eq!(missing.status, 400, "a malformed id: {}", missing.text);
    let request_id = missing.header("request-id").unwrap().to_owned();

    // The metrics listener answers; the API's port has no /metrics.
    let m = scrape(&format!("http://{metrics_listen}/metrics")).await;
    let labels = [("route", "/v1.0/me/contacts/{id}"), ("method", "GET"), ("status", "400")];
    assert_eq!(sample(&m, "rolo_http_requests_total", &labels), 1.0);
    let api_root = served.base.trim_end_matches("/v1.0").to_owned();
    let on_api = reqwest::get(format!("{api_root}/metrics")).await.unwrap();
    assert_eq!(on_api.status(), 400, "the API's port serves no metrics");

    let pid = served.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = wait_exit(&mut served.child, Duration::from_secs(15)).expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let port = served.base.trim_end_matches("/v1.0").rsplit(':').next().unwrap().to_owned();
    let log = std::fs::read_to_string(dir.path().join(format!("serve-{port}.log"))).unwrap();
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    assert!(lines.iter().all(|l| l["timestamp"].is_string() && l["level"].is_string()), "{log}");
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["fields"]["message"] == "request failed" && l["fields"]["path"] == "/v1.0/me/contacts/AAMkMissing"
        })
        .collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert_eq!(failed[0]["span"]["request_id"], request_id.as_str(), "{log}");
    assert_eq!(failed[0]["fields"]["status"], 400);
    assert_eq!(failed[0]["level"], "INFO");
    assert!(lines.iter().any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains("metrics at"))), "{log}");
}

/// `/readyz`'s status, or the error when nothing answers.
async fn readyz(root: &str) -> Result<u16, reqwest::Error> {
    reqwest::get(format!("{root}/readyz")).await.map(|r| r.status().as_u16())
}

/// SIGTERM mid-request: `/readyz` turns 503 while the process drains, the request under way
/// completes (and its write is kept), and the process exits 0.
async fn sigterm_drains(db: String, dir: &std::path::Path) {
    add_user(&db, "a@x.test", "A", dir);
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir);
    let cfg = dir.join("rolo.toml");
    std::fs::write(&cfg, "[shutdown]\ndrain_delay_seconds = 3\ngrace_seconds = 10\n").unwrap();
    let mut served = serve(&["--database", &db, "--config", cfg.to_str().unwrap()], &[], dir);
    let root = served.base.trim_end_matches("/v1.0").to_owned();
    let addr = root.trim_start_matches("http://").to_owned();
    assert_eq!(readyz(&root).await.unwrap(), 200);

    // A request under way: the head and half the body sent.
    let body = json!({"givenName": "Inflight", "surname": "Request"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1.0/me/contacts HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first.as_bytes()).await.unwrap();
    conn.flush().await.unwrap();

    let pid = served.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // Unready first, while still answering.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match readyz(&root).await {
            Ok(503) => break,
            Ok(200) => {}
            other => panic!("readyz during the drain: {other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "readyz never turned 503");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The listener closes after the drain delay; the request under way still completes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while readyz(&root).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting connections");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = wait_exit(&mut served.child, Duration::from_secs(15)).expect("rolo serve did not exit");
    assert_eq!(status.code(), Some(0), "a drained process exits 0");

    // The write acknowledged during the drain is there on the next start.
    let again = serve(&["--database", &db], &[], dir);
    let client = reqwest::Client::new();
    let url = format!("{}/me/contacts?$filter=givenName%20eq%20'Inflight'", again.base);
    let found = call(&client, reqwest::Method::GET, &url, &token, None).await;
    assert_eq!(found.body["value"].as_array().map(Vec::len), Some(1), "{}", found.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    sigterm_drains(sqlite_db(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_postgres() {
    let dir = tempfile::tempdir().unwrap();
    sigterm_drains(rolo_testkit::postgres_server().fresh_database(), dir.path()).await;
}

/// A delivery still under way when the grace period ends is cut off, and its lease handed back:
/// another process may claim the row at once instead of after the lease (over a minute here).
async fn shutdown_hands_back_leases(backend: Backend) {
    let (url, _dir) = database_url(backend);
    let store = Arc::new(
        rolo_store::open(&url, &OpenOptions { max_connections: 4, full_sync: false, replicas: Vec::new() })
            .await
            .unwrap(),
    );
    let mut state = AppState::new(store.clone(), None).await.unwrap();
    state.throttle.set_enabled(false);
    state.webhooks.policy = rolo_server::outbound::OutboundPolicy::loopback();
    state.webhooks.delivery_timeout = Duration::from_secs(20);
    state.shutdown = rolo_server::shutdown::Shutdown::new(rolo_server::shutdown::ShutdownSettings {
        drain_delay: Duration::ZERO,
        grace: Duration::from_millis(300),
    });
    let state = Arc::new(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1.0", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rolo_server::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));

    let user = store.create_user("ada@contoso.test", "Ada").await.unwrap();
    let token = state.authority.issue_delegated(&user, &["Contacts.ReadWrite".to_owned()], 3600).unwrap();
    let r = Receiver::start(HANG).await;
    let client = reqwest::Client::new();
    let sub =
        call(&client, reqwest::Method::POST, &format!("{base}/subscriptions"), &token, Some(subscription(&r.url)))
            .await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    let created =
        call(&client, reqwest::Method::POST, &format!("{base}/me/contacts"), &token, Some(json!({"givenName": "X"})))
            .await;
    assert_eq!(created.status, 201);
    until("the delivery to reach the receiver", 10, || r.hits.load(Ordering::SeqCst) > 0).await;
    // Leased by the worker for longer than this test runs.
    assert!(store.claim_outbox(10, &rolo_domain::time::millis_from_now(60_000)).await.unwrap().is_empty());

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server).await.expect("stopped within the grace").unwrap().unwrap();
    assert_eq!(store.outbox_depth().await.unwrap().pending, 1, "the notification is still owed");
    let claimed = store.claim_outbox(10, &rolo_domain::time::millis_from_now(60_000)).await.unwrap();
    assert_eq!(claimed.len(), 1, "the lease was handed back");
    assert_eq!(state.worker.delivered.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_hands_back_leases_sqlite() {
    shutdown_hands_back_leases(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_hands_back_leases_postgres() {
    shutdown_hands_back_leases(Backend::Postgres).await;
}

/// `rolo backup` of a SQLite database while a server takes writes from several clients, then
/// `rolo restore` into a new file: every write acknowledged before the backup began is there,
/// and none sent after it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_db(dir.path());
    add_user(&db, "a@x.test", "A", dir.path());
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let served = serve(&["--database", &db], &[], dir.path());

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    // Writes sent once `rolo backup` had returned: the backup cannot hold them.
    let after_backup: Arc<Mutex<Vec<String>>> = Arc::default();
    let backed_up = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, token) = (acked.clone(), stop.clone(), token.clone());
        let (after_backup, backed_up) = (after_backup.clone(), backed_up.clone());
        let url = format!("{}/me/contacts", served.base);
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            // Bounded: at most 400 writes per client.
            for n in 0..400 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("w{w}-{n}");
                let sent_after_backup = backed_up.load(Ordering::SeqCst);
                let r = call(&client, reqwest::Method::POST, &url, &token, Some(json!({"givenName": name}))).await;
                assert_eq!(r.status, 201, "{}", r.text);
                if sent_after_backup {
                    after_backup.lock().unwrap().push(name.clone());
                }
                acked.lock().unwrap().push(name);
            }
        }));
    }
    until("writes under way", 30, || acked.lock().unwrap().len() >= 40).await;
    // Every write acknowledged now was acknowledged before the backup starts.
    let before: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let backup_file = dir.path().join("backup.db");
    let o = command(&["backup", "--to", backup_file.to_str().unwrap(), "--database", &db], &[], dir.path())
        .output()
        .unwrap();
    assert_success(&o, "rolo backup");
    backed_up.store(true, Ordering::SeqCst);
    // The load went on while the backup ran, and after it.
    until("writes after the backup", 30, || after_backup.lock().unwrap().len() >= 10).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let all: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let after_backup: BTreeSet<String> = after_backup.lock().unwrap().iter().cloned().collect();
    // A backup never overwrites a file.
    let again = command(&["backup", "--to", backup_file.to_str().unwrap(), "--database", &db], &[], dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("exists already"));
    drop(served);

    let restored_db = dir.path().join("restored").join("rolo.db").to_string_lossy().into_owned();
    let o = command(&["restore", "--from", backup_file.to_str().unwrap(), "--database", &restored_db], &[], dir.path())
        .output()
        .unwrap();
    assert_success(&o, "rolo restore");
    let again = serve(&["--database", &restored_db], &[], dir.path());
    let client = reqwest::Client::new();
    let mut found = BTreeSet::new();
    let mut next = Some(format!("{}/me/contacts?$select=givenName&$top=1000", again.base));
    while let Some(url) = next {
        let page = call(&client, reqwest::Method::GET, &url, &token, None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for c in page.body["value"].as_array().unwrap() {
            found.insert(c["givenName"].as_str().unwrap().to_owned());
        }
        next = page.body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    let lost: Vec<&String> = before.difference(&found).collect();
    assert!(lost.is_empty(), "acknowledged before the backup, missing after the restore: {lost:?}");
    // What was restored is the backup, not the live database: nothing sent after it is there.
    let later: Vec<&String> = after_backup.intersection(&found).collect();
    assert!(later.is_empty(), "sent after the backup, yet restored: {later:?}");
    // Nothing that was never written (every write the clients sent was answered).
    assert!(found.is_subset(&all), "contacts nobody wrote");
}

/// PostgreSQL is refused, with where to read instead; a stranger's file is not restored.
#[test]
fn backup_refuses_postgres_and_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let o = command(&["backup", "--to", "x.db", "--database", "postgres://u@localhost/rolo"], &[], dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("pg_dump") && err.contains("docs/OPERATIONS.md"), "{err}");
    let o = command(&["restore", "--from", "x.db", "--database", "postgresql://u@localhost/rolo"], &[], dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("docs/OPERATIONS.md"));
    let stranger = dir.path().join("stranger.db");
    rusqlite::Connection::open(&stranger).unwrap().execute_batch("CREATE TABLE t (x)").unwrap();
    let target = dir.path().join("rolo.db");
    let o = command(
        &["restore", "--from", stranger.to_str().unwrap(), "--database", target.to_str().unwrap()],
        &[],
        dir.path(),
    )
    .output()
    .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not a Rolo database"));
    assert!(!target.exists(), "nothing written");
}

/// The Redis server the fleet-throttling test counts in (the development machines run one).
const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// Two servers on one PostgreSQL database, counting requests in one Redis, hold one limit: the
/// (app, mailbox)'s requests through either count against the same budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_one_request_limit_through_redis() {
    let counts = || async {
        rolo_server::throttle::RedisCounts::connect(REDIS_URL).await.unwrap_or_else(|e| {
            panic!("{e}: this test needs Redis at {REDIS_URL} (apt-get install redis-server; redis-server --daemonize yes)")
        })
    };
    let limits = ThrottleSettings { requests: 10, ..ThrottleSettings::default() };
    let (a_counts, b_counts) = (counts().await, counts().await);
    let (url, dir) = database_url(Backend::Postgres);
    let settings = limits.clone();
    let a = TestServer::start_at(&url, dir, move |state| {
        state.throttle = Arc::new(Throttle::new(settings).with_redis(a_counts));
    })
    .await;
    let b = TestServer::start_at(&url, tempfile::tempdir().unwrap(), move |state| {
        state.throttle = Arc::new(Throttle::new(limits).with_redis(b_counts));
    })
    .await;
    let (_, t) = a.login("ada@contoso.test").await;
    for i in 0..10 {
        let server = if i % 2 == 0 { &a } else { &b };
        assert_eq!(server.get("/me/contacts", &t).await.status, 200, "request {i} is within the limit");
    }
    // Ten requests went through the fleet: the next is refused on either server.
    for server in [&a, &b] {
        let refused = server.get("/me/contacts", &t).await;
        refused.assert_error(429, "ApplicationThrottled");
        let wait: u64 = refused.header("Retry-After").unwrap().parse().unwrap();
        assert!((1..=600).contains(&wait), "{wait}");
        assert_eq!(server.state.throttle.refused.requests.load(Ordering::SeqCst), 1);
    }
    // Another mailbox has its own budget.
    let (_, other) = b.login("bob@contoso.test").await;
    assert_eq!(a.get("/me/contacts", &other).await.status, 200);
}
