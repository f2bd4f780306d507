//! The fleet test: three `rolo serve` processes on one PostgreSQL behind HAProxy (Debian's
//! `/usr/sbin/haproxy`, health-checking `/readyz`), several clients writing, reading and
//! following delta through the balancer while each process in turn is sent SIGTERM and
//! restarted. Then: no request failed, every acknowledged write is there, every notification
//! reached the webhook listener exactly once, every delta client holds the true state, and each
//! mailbox's requests were counted once, in one fleet-wide counter.

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use reqwest::Method;
use rolo_store::prelude::*;
use rolo_store::OpenOptions;
use serde_json::{json, Value};

use super::within;
use crate::cli::{add_user, free_port, mint_token, serve_on, wait_exit, Served};

const HAPROXY: &str = "/usr/sbin/haproxy";
const WRITERS: usize = 3;
/// The app id of `rolo token`'s tokens, which throttling counts requests under.
const CLI_APP_ID: &str = rolo_server::auth::CLI_APP_ID;

/// The webhook listener: every notification it was sent, in arrival order.
#[derive(Clone, Default)]
struct Listener {
    received: Arc<Mutex<Vec<Value>>>,
}

async fn listen(
    State(l): State<Listener>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> (StatusCode, String) {
    if let Some(token) = q.get("validationToken") {
        return (StatusCode::OK, token.clone());
    }
    let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut received = l.received.lock().unwrap();
    received.extend(doc["value"].as_array().cloned().unwrap_or_default());
    (StatusCode::ACCEPTED, String::new())
}

/// HAProxy, stopped when dropped.
struct Balancer {
    child: Child,
    stats: String,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Balancer {
    /// The backends HAProxy now sends requests to (status `UP`), by name.
    async fn up(&self) -> Vec<String> {
        let Ok(r) = reqwest::get(&self.stats).await else { return Vec::new() };
        let text = r.text().await.unwrap_or_default();
        // CSV: proxy name, server name, ..., status in the 18th column.
        text.lines()
            .filter(|l| l.starts_with("rolo,") && !l.starts_with("rolo,BACKEND"))
            .filter(|l| l.split(',').nth(17) == Some("UP"))
            .filter_map(|l| l.split(',').nth(1).map(str::to_owned))
            .collect()
    }
}

/// Starts HAProxy in front of `ports`: round robin, `/readyz` checked every 200 ms (two failures
/// take a process out, one success brings it back; a check may take a second, as on a loaded
/// machine), connection failures retried on another process, and no connection to a process
/// reused between requests.
fn balancer(dir: &std::path::Path, port: u16, ports: &[u16]) -> Balancer {
    assert!(
        std::path::Path::new(HAPROXY).exists(),
        "the fleet test needs HAProxy at {HAPROXY}: apt-get install -y haproxy"
    );
    let stats_port = free_port();
    let servers: String =
        ports.iter().enumerate().map(|(i, p)| format!("    server r{i} 127.0.0.1:{p} check\n")).collect();
    let cfg = format!(
        "global\n    maxconn 512\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n\
         \x20   retries 3\n    option redispatch 1\n    retry-on conn-failure empty-response\n\
         \x20   option http-server-close\n\
         frontend api\n    bind 127.0.0.1:{port}\n    default_backend rolo\n\
         backend rolo\n    balance roundrobin\n    option httpchk GET /readyz\n    http-check expect status 200\n\
         \x20   timeout check 1s\n    default-server inter 200ms fall 2 rise 1\n{servers}\
         frontend stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n"
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
    let child = Command::new(HAPROXY)
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start haproxy");
    Balancer { child, stats: format!("http://127.0.0.1:{stats_port}/stats;csv") }
}

/// A writer's acknowledged contacts: id -> (givenName, jobTitle), None once deleted.
type Acked = BTreeMap<String, Option<(String, String)>>;

/// What the clients saw: failures, and the writes acknowledged.
#[derive(Default)]
struct Ledger {
    failures: Mutex<Vec<String>>,
    /// Per writer: contact id -> (givenName, jobTitle) as last acknowledged; None once deleted.
    truth: Vec<Mutex<Acked>>,
    /// Every acknowledged create or update: (changeType, contact id, etag), and deletes: (deleted, id, "").
    changes: Mutex<Vec<(String, String, String)>>,
    /// Requests each writer's mailbox was sent (writes, reads, delta), to check the count.
    requests: Vec<AtomicUsize>,
    acked: AtomicUsize,
}

impl Ledger {
    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }
}

/// One request through the balancer; a transport error is an answer too (status 0), not a panic.
async fn send(client: &reqwest::Client, method: Method, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

/// A writer: creates, reads, updates, deletes and lists its mailbox's contacts until stopped,
/// recording each acknowledged write and any answer it did not expect.
async fn writer(i: usize, api: String, token: String, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    let mut live: Vec<String> = Vec::new();
    let mut n = 0usize;
    let count = || ledger.requests[i].fetch_add(1, Ordering::SeqCst);
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let name = format!("w{i}-{n}");
        count();
        let (status, body) = send(
            &client,
            Method::POST,
            &format!("{api}/me/contacts"),
            &token,
            Some(json!({"givenName": name, "surname": "Fleet"})),
        )
        .await;
        if status != 201 {
            ledger.fail(format!("create {name}: {status} {body}"));
            continue;
        }
        let id = body["id"].as_str().unwrap().to_owned();
        ledger.truth[i].lock().unwrap().insert(id.clone(), Some((name.clone(), String::new())));
        ledger.changes.lock().unwrap().push((
            "created".into(),
            id.clone(),
            body["@odata.etag"].as_str().unwrap().into(),
        ));
        ledger.acked.fetch_add(1, Ordering::SeqCst);
        live.push(id.clone());

        count();
        let (status, body) = send(&client, Method::GET, &format!("{api}/me/contacts/{id}"), &token, None).await;
        if status != 200 || body["givenName"] != name.as_str() {
            ledger.fail(format!("read {name} back: {status} {body}"));
        }
        if n.is_multiple_of(2) {
            let target = live[n % live.len()].clone();
            let title = format!("t{n}");
            count();
            let (status, body) = send(
                &client,
                Method::PATCH,
                &format!("{api}/me/contacts/{target}"),
                &token,
                Some(json!({"jobTitle": title})),
            )
            .await;
            if status == 200 {
                if let Some(Some((_, t))) = ledger.truth[i].lock().unwrap().get_mut(&target) {
                    *t = title;
                }
                let etag = body["@odata.etag"].as_str().unwrap().to_owned();
                ledger.changes.lock().unwrap().push(("updated".into(), target, etag));
            } else {
                ledger.fail(format!("update: {status} {body}"));
            }
        }
        if n.is_multiple_of(5) {
            let target = live.remove(0);
            count();
            let (status, body) =
                send(&client, Method::DELETE, &format!("{api}/me/contacts/{target}"), &token, None).await;
            if status == 204 {
                ledger.truth[i].lock().unwrap().insert(target.clone(), None);
                ledger.changes.lock().unwrap().push(("deleted".into(), target, String::new()));
            } else {
                ledger.fail(format!("delete: {status} {body}"));
            }
        }
        count();
        let (status, body) = send(&client, Method::GET, &format!("{api}/me/contacts?$top=5"), &token, None).await;
        if status != 200 {
            ledger.fail(format!("list: {status} {body}"));
        }
        // Paced, so three processes' worth of clients leave the two cores some room.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A delta client's view: id -> (givenName, jobTitle).
type View = BTreeMap<String, (String, String)>;

/// One delta round from `link` to its delta link, applied to `view`; the next round's link.
async fn delta_round(
    client: &reqwest::Client,
    link: &str,
    token: &str,
    view: &mut View,
    count: &AtomicUsize,
) -> Result<String, String> {
    let mut url = link.to_owned();
    loop {
        count.fetch_add(1, Ordering::SeqCst);
        let (status, body) = send(client, Method::GET, &url, token, None).await;
        if status != 200 {
            return Err(format!("delta: {status} {body}"));
        }
        for item in body["value"].as_array().into_iter().flatten() {
            let id = item["id"].as_str().unwrap_or_default().to_owned();
            if item.get("@removed").is_some() {
                view.remove(&id);
            } else {
                let text = |k: &str| item[k].as_str().unwrap_or_default().to_owned();
                view.insert(id, (text("givenName"), text("jobTitle")));
            }
        }
        if let Some(next) = body["@odata.nextLink"].as_str() {
            url = next.to_owned();
        } else if let Some(delta) = body["@odata.deltaLink"].as_str() {
            return Ok(delta.to_owned());
        } else {
            return Err(format!("delta page without a link: {body}"));
        }
    }
}

/// Follows the mailbox's delta until stopped; returns its view and next link.
async fn follower(i: usize, api: String, token: String, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) -> (View, String) {
    let client = reqwest::Client::new();
    let mut view = View::new();
    let mut link = format!("{api}/me/contacts/delta?$select=givenName,jobTitle");
    loop {
        match delta_round(&client, &link, &token, &mut view, &ledger.requests[i]).await {
            Ok(next) => link = next,
            Err(e) => ledger.fail(e),
        }
        if stop.load(Ordering::SeqCst) {
            return (view, link);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `SELECT`s one number with psql (the test reads the fleet's shared counter directly).
fn psql_number(db: &str, sql: &str) -> i64 {
    let o = Command::new("psql").args([db, "-Atc", sql]).output().expect("run psql");
    assert!(o.status.success(), "psql: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap_or_else(|_| panic!("not a number: {o:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_behind_haproxy_survive_a_rolling_restart() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = rolo_testkit::postgres_server().fresh_database();
    let users: Vec<String> =
        (0..WRITERS).map(|i| add_user(&db, &format!("w{i}@fleet.test"), &format!("Writer {i}"), dir.path())).collect();
    let tokens: Vec<String> =
        (0..WRITERS).map(|i| mint_token(&db, &format!("w{i}@fleet.test"), "Contacts.ReadWrite", dir.path())).collect();

    let hooks = Listener::default();
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(listen).with_state(hooks.clone());
    tokio::spawn(async move { axum::serve(hook_listener, app).await.unwrap() });

    let cfg = dir.path().join("rolo.toml");
    std::fs::write(
        &cfg,
        "webhook_http_hosts = [\"127.0.0.1\"]\nwebhook_private_networks = [\"127.0.0.0/8\"]\n\
         [shutdown]\ndrain_delay_seconds = 2\ngrace_seconds = 5\n",
    )
    .unwrap();
    let args = ["--database", db.as_str(), "--config", cfg.to_str().unwrap()];
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut procs: Vec<Served> = ports.iter().map(|p| serve_on(*p, &args, &[], dir.path())).collect();
    let front = free_port();
    let lb = balancer(dir.path(), front, &ports);
    within("HAProxy to see all three processes up", Duration::from_secs(10), || async { lb.up().await.len() == 3 })
        .await;
    let api = format!("http://127.0.0.1:{front}/v1.0");

    let client = reqwest::Client::new();
    let expiry = (time::OffsetDateTime::now_utc() + time::Duration::hours(24))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    for token in &tokens {
        let sub = json!({"changeType": "created,updated,deleted", "notificationUrl": hook_url,
            "resource": "me/contacts", "expirationDateTime": expiry, "clientState": "fleet"});
        let (status, body) = send(&client, Method::POST, &format!("{api}/subscriptions"), token, Some(sub)).await;
        assert_eq!(status, 201, "{body}");
    }

    let ledger = Arc::new(Ledger {
        truth: (0..WRITERS).map(|_| Mutex::default()).collect(),
        requests: (0..WRITERS).map(|_| AtomicUsize::new(0)).collect(),
        ..Ledger::default()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| tokio::spawn(writer(i, api.clone(), tokens[i].clone(), ledger.clone(), stop.clone())))
        .collect();
    let followers: Vec<_> = (0..WRITERS)
        .map(|i| tokio::spawn(follower(i, api.clone(), tokens[i].clone(), ledger.clone(), stop.clone())))
        .collect();

    // Each process in turn: SIGTERM, wait for its exit, start its replacement on the same port,
    // wait until HAProxy sends it requests again; the clients keep writing throughout.
    let progress = |at_least: usize| {
        let ledger = ledger.clone();
        async move {
            within("the clients to make progress", Duration::from_secs(20), || async {
                ledger.acked.load(Ordering::SeqCst) >= at_least
            })
            .await;
        }
    };
    progress(10).await;
    for (i, port) in ports.iter().enumerate() {
        let mut old = procs.remove(i);
        let pid = old.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let name = format!("r{i}");
        within("HAProxy to take the stopping process out", Duration::from_secs(5), || async {
            !lb.up().await.contains(&name)
        })
        .await;
        let status = tokio::task::spawn_blocking(move || wait_exit(&mut old.child, Duration::from_secs(15)))
            .await
            .unwrap()
            .expect("the stopped process exits within its grace");
        assert_eq!(status.code(), Some(0), "process {i} drained and exited cleanly");
        let (args, cwd, port) = (args.map(str::to_owned), dir.path().to_owned(), *port);
        let fresh = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            serve_on(port, &args, &[], &cwd)
        })
        .await
        .unwrap();
        procs.insert(i, fresh);
        within("HAProxy to send requests to the restarted process", Duration::from_secs(10), || async {
            lb.up().await.contains(&name)
        })
        .await;
        let now = ledger.acked.load(Ordering::SeqCst);
        progress(now + 10).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let mut views = Vec::new();
    for f in followers {
        views.push(f.await.unwrap());
    }

    // No request failed.
    let failures = ledger.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{} failed requests: {failures:#?}", failures.len());

    // Every acknowledged write is there, as last acknowledged: listed through the balancer.
    for (i, token) in tokens.iter().enumerate() {
        let truth: View =
            ledger.truth[i].lock().unwrap().iter().filter_map(|(id, v)| v.clone().map(|v| (id.clone(), v))).collect();
        let mut stored = View::new();
        let mut url = format!("{api}/me/contacts?$select=givenName,jobTitle&$top=100");
        loop {
            ledger.requests[i].fetch_add(1, Ordering::SeqCst);
            let (status, body) = send(&client, Method::GET, &url, token, None).await;
            assert_eq!(status, 200, "{body}");
            for c in body["value"].as_array().unwrap() {
                let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                stored.insert(text("id"), (text("givenName"), text("jobTitle")));
            }
            match body["@odata.nextLink"].as_str() {
                Some(next) => url = next.to_owned(),
                None => break,
            }
        }
        assert_eq!(stored, truth, "writer {i}'s mailbox holds exactly its acknowledged writes");

        // Its delta client, after one more round, holds the same.
        let (mut view, link) = views[i].clone();
        delta_round(&client, &link, token, &mut view, &ledger.requests[i]).await.unwrap();
        assert_eq!(view, truth, "writer {i}'s delta client converged to the true state");
    }

    // Every notification delivered exactly once: the outbox drains, the listener got one
    // notification per acknowledged change (matched by change key), and no notification twice.
    let store = rolo_store::open(&db, &OpenOptions { max_connections: 2, ..OpenOptions::default() }).await.unwrap();
    let expected = ledger.changes.lock().unwrap().len();
    within("every notification to be delivered", Duration::from_secs(20), || async {
        store.outbox_depth().await.unwrap().pending == 0 && hooks.received.lock().unwrap().len() >= expected
    })
    .await;
    let received = hooks.received.lock().unwrap().clone();
    let mut ids: Vec<&str> = received.iter().map(|n| n["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), received.len(), "a notification was delivered twice");
    let key = |change: &str, id: &str, etag: &str| {
        let etag = if change == "deleted" { "" } else { etag };
        (change.to_owned(), id.to_owned(), etag.to_owned())
    };
    let mut got: Vec<_> = received
        .iter()
        .map(|n| {
            let data = &n["resourceData"];
            key(
                n["changeType"].as_str().unwrap(),
                data["id"].as_str().unwrap(),
                data["@odata.etag"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let mut want = ledger.changes.lock().unwrap().clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "one notification per acknowledged change");
    assert!(received.iter().all(|n| n["clientState"] == "fleet"));

    // Throttling counted fleet-wide: each mailbox's one counter holds every request its clients
    // sent, through all three processes (each process adds what it counted every 100 ms, and at
    // shutdown; so the last requests' count arrives within a flush).
    for (i, user) in users.iter().enumerate() {
        let sql =
            format!("SELECT requests FROM throttle_counts WHERE mailbox_id = '{user}' AND app_id = '{CLI_APP_ID}'");
        let sent = ledger.requests[i].load(Ordering::SeqCst);
        let asked = Instant::now();
        loop {
            let counted = psql_number(&db, &sql) as usize;
            if counted == sent {
                break;
            }
            assert!(counted < sent, "writer {i}'s {sent} requests counted more than once: {counted}");
            assert!(asked.elapsed() < Duration::from_secs(2), "writer {i}'s {sent} requests, counted {counted}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(60), "the fleet test took {:?}", started.elapsed());
}
