//! Limits a fleet holds together: the request count, counted locally and added to the database
//! in batches, and the sign-in lockout, counted in the database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use rolo_server::throttle::{Throttle, ThrottleSettings};
use rolo_store::prelude::*;
use rolo_store::OpenOptions;
use serde_json::{json, Value};

use crate::carddav::basic;
use crate::cli::{add_user, assert_success, run, serve, stdout};
use crate::common::{database_url, into_resp, Backend, Resp, TestServer};

/// Two servers on one fresh PostgreSQL database, each counting its throttling in the database.
async fn two_servers(limits: ThrottleSettings) -> (TestServer, TestServer) {
    let (url, dir) = database_url(Backend::Postgres);
    let open = || async {
        let store = rolo_store::open(&url, &OpenOptions { max_connections: 4, ..OpenOptions::default() }).await;
        Arc::new(store.unwrap()) as Arc<dyn Store>
    };
    let (a_store, b_store) = (open().await, open().await);
    let settings = limits.clone();
    let a = TestServer::start_at(&url, dir, move |state| {
        state.throttle = Arc::new(Throttle::new(settings).with_database(a_store));
    })
    .await;
    let b = TestServer::start_at(&url, tempfile::tempdir().unwrap(), move |state| {
        state.throttle = Arc::new(Throttle::new(limits).with_database(b_store));
    })
    .await;
    (a, b)
}

/// Two servers on one PostgreSQL database with a limit large enough to count in batches (1,000
/// requests: the last 50 are counted one by one): four clients, two on each, each until it is
/// refused. Together the servers admit the limit and at most 5% more (never fewer: a refusal is
/// only ever for requests really admitted), and they asked the database far less often than
/// once a request: about once a flush interval each, plus the budget's counted end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_counts_hold_the_limit_within_five_percent() {
    const LIMIT: u64 = 1_000;
    let limits = ThrottleSettings { requests: LIMIT, ..ThrottleSettings::default() };
    let (a, b) = two_servers(limits).await;
    assert_eq!(a.state.throttle.counted_in(), "database");
    let (_, token) = a.login("ada@contoso.test").await;

    let started = Instant::now();
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for base in [&a.base, &a.base, &b.base, &b.base] {
        let (client, url, token, admitted) =
            (reqwest::Client::new(), format!("{base}/me/contacts"), token.clone(), admitted.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let r = into_resp(client.get(&url).bearer_auth(&token).send().await.unwrap()).await;
                match r.status.as_u16() {
                    200 => admitted.fetch_add(1, Ordering::SeqCst),
                    429 => {
                        r.assert_error(429, "ApplicationThrottled");
                        assert!(r.text.contains("MailboxRequests"), "refused for the request limit: {}", r.text);
                        let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
                        assert!((1..=600).contains(&wait), "{wait}");
                        break;
                    }
                    other => panic!("unexpected {other}: {}", r.text),
                };
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = started.elapsed();
    let admitted = admitted.load(Ordering::SeqCst) as u64;
    assert!(
        (LIMIT..=LIMIT + LIMIT / 20).contains(&admitted),
        "the two servers admitted {admitted} for a limit of {LIMIT}"
    );
    // Flushes: at most one a [`FLUSH`] per server; counted one by one: the budget's last 5%
    // (on each server at worst) and the few requests that found their knowledge stale.
    let trips = a.state.throttle.shared_round_trips() + b.state.throttle.shared_round_trips();
    let flushes = 2 * (elapsed.as_millis() as u64 / 100 + 2);
    eprintln!("{admitted} requests admitted in {elapsed:?} with {trips} round trips to the shared count");
    assert!(trips <= flushes + 2 * (LIMIT / 20) + 16, "{trips} round trips for {admitted} requests in {elapsed:?}");
    assert!(trips < admitted / 2, "{trips} round trips for {admitted} requests");
    // Both servers now refuse without asking the database.
    let before = a.state.throttle.shared_round_trips();
    a.get("/me/contacts", &token).await.assert_error(429, "ApplicationThrottled");
    assert_eq!(a.state.throttle.shared_round_trips(), before, "a known refusal costs no round trip");
    b.get("/me/contacts", &token).await.assert_error(429, "ApplicationThrottled");
}

/// The upload budget (bytes of request bodies per window) is the fleet's too: two servers on one
/// PostgreSQL database, a budget of 40,000 bytes, contacts of about 1,000 bytes posted through
/// each in turn. Together they admit the budget (a refusal is never early: at least the budget
/// less one body) and far less than the twice the budget two per-process budgets would allow;
/// once refused, both refuse with `IncomingBytes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_budget_is_counted_for_the_fleet() {
    const BUDGET: u64 = 40_000;
    let limits = ThrottleSettings { upload_bytes: BUDGET, ..ThrottleSettings::default() };
    let (a, b) = two_servers(limits).await;
    let (_, token) = a.login("ada@contoso.test").await;
    let body = json!({"givenName": "Padded", "personalNotes": "n".repeat(950)});
    let size = serde_json::to_vec(&body).unwrap().len() as u64;
    let mut admitted = 0u64;
    let mut refused_on = Vec::new();
    for i in 0..200 {
        let server = if i % 2 == 0 { &a } else { &b };
        let r = server.post("/me/contacts", &token, body.clone()).await;
        match r.status.as_u16() {
            201 => admitted += size,
            429 => {
                r.assert_error(429, "ApplicationThrottled");
                assert!(r.text.contains("IncomingBytes"), "refused for the upload budget: {}", r.text);
                refused_on.push(i % 2);
                if refused_on.contains(&0) && refused_on.contains(&1) {
                    break;
                }
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(refused_on.contains(&0) && refused_on.contains(&1), "both servers refuse in the end: {refused_on:?}");
    assert!(
        (BUDGET - size..=BUDGET + BUDGET / 2).contains(&admitted),
        "the two servers admitted {admitted} bytes for a budget of {BUDGET} (per-process budgets would allow {})",
        2 * BUDGET
    );
}

/// A form POST to `root`'s token endpoint.
async fn token_request(client: &reqwest::Client, root: &str, form: &[(&str, &str)]) -> Resp {
    into_resp(client.post(format!("{root}/common/oauth2/v2.0/token")).form(form).send().await.unwrap()).await
}

fn assert_oauth_error(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status.as_u16(), status, "unexpected status; body: {}", r.text);
    assert_eq!(r.body["error"], error, "unexpected error; body: {}", r.text);
    assert_eq!(r.body["error_codes"], json!([code]), "unexpected codes; body: {}", r.text);
}

async fn propfind(client: &reqwest::Client, root: &str, auth: &str) -> reqwest::Response {
    let method = Method::from_bytes(b"PROPFIND").unwrap();
    client
        .request(method, format!("{root}/dav/"))
        .header("Authorization", auth)
        .header("Depth", "0")
        .send()
        .await
        .unwrap()
}

/// Two `rolo serve` processes on one PostgreSQL database count failed sign-ins together: a
/// user's ten wrong passwords, five through each, lock the user on both (with per-process counts
/// neither would have locked), for the password grant and for CardDAV alike, even with the right
/// password; another user is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_lock_a_user_out_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = rolo_testkit::postgres_server().fresh_database();
    add_user(&db, "ada@x.test", "Ada", dir.path());
    add_user(&db, "bob@x.test", "Bob", dir.path());
    let mut app_passwords = Vec::new();
    for upn in ["ada@x.test", "bob@x.test"] {
        let o = run(&["users", "app-password", "add", upn, "phone", "--database", &db], dir.path());
        assert_success(&o, "users app-password add");
        app_passwords.push(basic(upn, stdout(&o).trim()));
    }
    let store = rolo_store::open(&db, &OpenOptions { max_connections: 2, ..OpenOptions::default() }).await.unwrap();
    let ada = store.find_user("ada@x.test").await.unwrap().unwrap();
    rolo_server::identity::set_password(&store, &ada, "Right-Pass-1!").await.unwrap();
    let app = rolo_server::identity::register_public_app(&store, "Fleet lockout").await.unwrap();

    let args = ["--database", db.as_str()];
    let (a, b) = (serve(&args, &[], dir.path()), serve(&args, &[], dir.path()));
    let roots: Vec<String> = [&a, &b].iter().map(|s| s.base.trim_end_matches("/v1.0").to_owned()).collect();
    let client = reqwest::Client::new();
    let grant = |root: String, password: &'static str| {
        let (client, cid) = (client.clone(), app.client_id.clone());
        async move {
            let form = [
                ("grant_type", "password"),
                ("client_id", cid.as_str()),
                ("username", "ada@x.test"),
                ("password", password),
                ("scope", "https://graph.microsoft.com/.default"),
            ];
            token_request(&client, &root, &form).await
        }
    };
    // Both processes answer CardDAV for both users before any failure.
    for root in &roots {
        for auth in &app_passwords {
            assert_eq!(propfind(&client, root, auth).await.status(), 207);
        }
    }
    // Ten wrong passwords (Microsoft's smart lockout threshold), alternating: each refused as
    // wrong, none as locked.
    for i in 0..10 {
        let r = grant(roots[i % 2].clone(), "wrong").await;
        assert_oauth_error(&r, 400, "invalid_grant", 50126);
    }
    // Locked on both processes: the right password is refused before it is checked...
    for root in &roots {
        let r = grant(root.clone(), "Right-Pass-1!").await;
        assert_oauth_error(&r, 400, "invalid_grant", 50053);
        // ... and so is the right app password over CardDAV, with how long to wait.
        let r = propfind(&client, root, &app_passwords[0]).await;
        assert_eq!(r.status(), 429, "{root}");
        let wait: u64 = r.headers()["Retry-After"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "the first lockout lasts a minute: {wait}");
        // Another user signs in.
        assert_eq!(propfind(&client, root, &app_passwords[1]).await.status(), 207, "{root}");
    }
    let locked: Value = json!(store.signin_locked_until(&["user:ada@x.test".to_owned()]).await.unwrap().is_some());
    assert_eq!(locked, json!(true), "the lock is in the database");
}

/// The lockout counted in Redis (`[throttling] redis`), as two processes would: two lockouts on
/// one Redis lock a user after three failures, two through one and one through the other, on
/// both; an address locks across user names; a success through either clears the user; another
/// user is not affected. The keys are unique to the run, so the shared Redis holds no leftovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lockouts_on_one_redis_lock_together() {
    use rolo_server::lockout::{Lockout, LockoutSettings};
    const REDIS_URL: &str = "redis://127.0.0.1:6379";
    let settings = LockoutSettings {
        user_threshold: 3,
        address_threshold: 4,
        base: std::time::Duration::from_secs(60),
        max: std::time::Duration::from_secs(240),
        window: std::time::Duration::from_secs(900),
    };
    let lockout = || async {
        let counts = rolo_server::throttle::RedisCounts::connect(REDIS_URL).await.unwrap_or_else(|e| {
            panic!("{e}: this test needs Redis at {REDIS_URL} (apt-get install redis-server; redis-server --daemonize yes)")
        });
        Lockout::new(settings).with_redis(counts.connection())
    };
    let (a, b) = (lockout().await, lockout().await);
    assert_eq!(a.counted_in(), "redis");
    let run = rolo_domain::ids::new_guid();
    let (ada, bob) = (format!("ada-{run}@x.test"), format!("bob-{run}@x.test"));
    let (here, there) = (format!("10.{run}.1"), format!("10.{run}.2"));
    a.failed(&ada, Some(&here)).await;
    a.failed(&ada, Some(&there)).await;
    assert_eq!(b.locked(&ada, None).await, None, "two failures: not yet");
    b.failed(&ada, None).await;
    for l in [&a, &b] {
        let wait = l.locked(&ada, None).await.expect("locked on both");
        assert!(wait > std::time::Duration::from_secs(55) && wait <= std::time::Duration::from_secs(60), "{wait:?}");
        assert_eq!(l.locked(&bob, None).await, None, "another user is not locked");
    }
    // A success through B clears the user on A too.
    b.succeeded(&ada).await;
    assert_eq!(a.locked(&ada, None).await, None);
    // Four failures from one address, across names and processes, lock the address.
    a.failed(&bob, Some(&here)).await;
    b.failed(&format!("carol-{run}@x.test"), Some(&here)).await;
    assert_eq!(a.locked(&format!("dan-{run}@x.test"), Some(&here)).await, None, "three: not yet");
    b.failed(&bob, Some(&here)).await;
    assert!(a.locked(&format!("dan-{run}@x.test"), Some(&here)).await.is_some(), "the address is locked");
    assert_eq!(a.locked(&format!("dan-{run}@x.test"), Some(&there)).await, None, "another address is not");
}
