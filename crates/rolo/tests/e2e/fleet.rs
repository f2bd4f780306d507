//! One Rolo, many processes, on one PostgreSQL (docs/SCALING.md), with real `rolo serve`
//! processes: the request limit counted in the database holds for the fleet, not per process; a
//! change made through one process (or on the database) reaches the others' caches within a
//! second; and (`rolling.rs`) three processes behind HAProxy, stopped and restarted in turn under
//! load, lose no request, no acknowledged write and no notification.

mod limits;
mod rolling;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use rolo_store::prelude::*;
use rolo_store::OpenOptions;
use serde_json::{json, Value};

use crate::cli::{add_user, assert_success, call, mint_token, run, serve};
use crate::common::{database_url, into_resp, Backend, Resp};

/// How soon a change made through one process must show on another.
const WITHIN: Duration = Duration::from_secs(1);

/// Polls `probe` every 20 ms until it holds; fails saying `what` once `limit` has passed.
/// Returns how long it took.
async fn within<F, Fut>(what: &str, limit: Duration, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not seen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two processes on one PostgreSQL database and no Redis: the (app, mailbox)'s requests through
/// either count against one budget, one after another and all at once, so together they allow
/// the limit exactly, not twice it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres_hold_one_request_limit() {
    const LIMIT: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let db = rolo_testkit::postgres_server().fresh_database();
    add_user(&db, "a@x.test", "A", dir.path());
    add_user(&db, "b@x.test", "B", dir.path());
    let token = mint_token(&db, "a@x.test", "Contacts.ReadWrite", dir.path());
    let cfg = dir.path().join("rolo.toml");
    std::fs::write(&cfg, format!("[throttling]\nrequests_per_10_minutes = {LIMIT}\n")).unwrap();
    let args = ["--database", db.as_str(), "--config", cfg.to_str().unwrap()];
    let (a, b) = (serve(&args, &[], dir.path()), serve(&args, &[], dir.path()));
    let client = reqwest::Client::new();

    for i in 0..LIMIT / 2 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let r = call(&client, Method::GET, &format!("{base}/me/contacts"), &token, None).await;
        assert_eq!(r.status, 200, "request {i} is within the limit: {}", r.text);
    }
    // Then two clients on each process at once (under the four-at-a-time limit), each until it
    // is refused: the rest of the budget goes through, and not one request more.
    let admitted = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for base in [&a.base, &a.base, &b.base, &b.base] {
        let (client, url, token, admitted) =
            (client.clone(), format!("{base}/me/contacts"), token.clone(), admitted.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let r = call(&client, Method::GET, &url, &token, None).await;
                match r.status.as_u16() {
                    200 => admitted.fetch_add(1, Ordering::SeqCst),
                    429 => {
                        assert!(r.text.contains("MailboxRequests"), "refused for the request limit: {}", r.text);
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
    assert_eq!(LIMIT / 2 + admitted.load(Ordering::SeqCst), LIMIT, "the two processes admitted one limit together");
    for base in [&a.base, &b.base] {
        let r = call(&client, Method::GET, &format!("{base}/me/contacts"), &token, None).await;
        r.assert_error(429, "ApplicationThrottled");
        let wait: u64 = r.header("Retry-After").unwrap().parse().unwrap();
        assert!((550..=600).contains(&wait), "the window's rest: {wait}");
    }
    // Another mailbox has its own budget.
    let other = mint_token(&db, "b@x.test", "Contacts.ReadWrite", dir.path());
    assert_eq!(call(&client, Method::GET, &format!("{}/me/contacts", b.base), &other, None).await.status, 200);
}

/// Where each backend counts: a PostgreSQL database is shared by processes, a SQLite file is not;
/// and the counts (which only PostgreSQL fleets use) are the same statements on both: requests
/// added one at a time or in a batch, windows that ran out pruned and the running one kept, and
/// failed sign-ins counted, locked, cleared and pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counts_live_in_postgres_and_not_in_sqlite() {
    for (backend, shared) in [(Backend::Sqlite, false), (Backend::Postgres, true)] {
        let (url, _dir) = database_url(backend);
        let store =
            rolo_store::open(&url, &OpenOptions { max_connections: 2, ..OpenOptions::default() }).await.unwrap();
        assert_eq!(store.shared_by_processes(), shared, "{backend:?}");
        let first = store.count_requests("app", "mb", 1, 60_000).await.unwrap();
        assert_eq!(first.count, 1);
        assert!((59_000..=60_000).contains(&first.window_left_ms), "{first:?}");
        assert_eq!(store.count_requests("app", "mb", 1, 60_000).await.unwrap().count, 2);
        assert_eq!(store.count_requests("app", "mb", 40, 60_000).await.unwrap().count, 42, "a batch adds up");
        assert_eq!(store.count_requests("other-app", "mb", 1, 60_000).await.unwrap().count, 1, "pairs count apart");
        // A window that has run out starts again with the next requests.
        assert_eq!(store.count_requests("app", "mb", 3, 0).await.unwrap().count, 3);

        // Pruning forgets the windows that started at or before the time given, and only them.
        let now = rolo_store::fleet::now_ms();
        assert_eq!(store.prune_request_counts(now - 60_000).await.unwrap(), 0, "{backend:?}: both windows run");
        assert_eq!(store.prune_request_counts(now + 1_000).await.unwrap(), 2, "{backend:?}");
        assert_eq!(store.count_requests("app", "mb", 1, 60_000).await.unwrap().count, 1, "pruned: counted afresh");

        // Failed sign-ins: counted per key, a lock only lengthens, cleared by a success, and a
        // key whose failures are old and whose lock is over is pruned.
        let keys = ["user:ada@x.test".to_owned(), "addr:10.0.0.1".to_owned()];
        assert_eq!(store.signin_locked_until(&keys).await.unwrap(), None, "no row yet");
        assert_eq!(store.signin_failed(&keys[0], now, 900_000).await.unwrap(), 1);
        assert_eq!(store.signin_failed(&keys[0], now + 1, 900_000).await.unwrap(), 2);
        assert_eq!(store.signin_failed(&keys[1], now, 900_000).await.unwrap(), 1);
        assert_eq!(store.signin_locked_until(&keys).await.unwrap(), Some(0), "{backend:?}: counted, not locked");
        store.lock_signin(&keys[1], now + 60_000).await.unwrap();
        store.lock_signin(&keys[1], now + 30_000).await.unwrap();
        assert_eq!(store.signin_locked_until(&keys).await.unwrap(), Some(now + 60_000), "the longer lock stays");
        // Failures older than the window start again at one, unless the key is locked.
        assert_eq!(store.signin_failed(&keys[0], now + 900_002, 900_000).await.unwrap(), 1);
        assert_eq!(store.signin_failed(&keys[1], now + 2, 1).await.unwrap(), 2, "locked: counted on");
        store.clear_signin(&keys[0]).await.unwrap();
        assert_eq!(store.signin_failed(&keys[0], now, 900_000).await.unwrap(), 1, "cleared");
        assert_eq!(store.prune_signin_failures(now + 10, now + 1).await.unwrap(), 1, "{backend:?}: the unlocked key");
        assert_eq!(store.prune_signin_failures(now + 10, now + 60_000).await.unwrap(), 1, "the lock is over");
        assert_eq!(store.signin_locked_until(&keys).await.unwrap(), None);
    }
}

/// A GET with extra headers, answering instead of panicking when nothing answers.
async fn get(client: &reqwest::Client, url: &str, token: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = client.get(url).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    into_resp(req.send().await.expect("request")).await
}

/// The emulator's ready-made token for `upn`, with `scopes`, from `root`'s admin controls.
async fn emulator_token(client: &reqwest::Client, root: &str, upn: &str, scopes: &str) -> String {
    let r = client.get(format!("{root}/rolo/admin/tokens?scopes={}", scopes.replace(' ', "%20"))).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    let found = body["value"].as_array().unwrap().iter().find(|u| u["userPrincipalName"] == upn);
    found.unwrap_or_else(|| panic!("no {upn} in {body}"))["token"].as_str().unwrap().to_owned()
}

/// Two emulator processes on one PostgreSQL database. Each change, made through process A or on
/// the database with the `rolo` command, shows on process B within a second: the emulator's
/// settings (injected faults), the directory (a user added, as the People API's directory cache
/// holds it; a user disabled), a mailbox's People index (a contact added), and the signing key
/// (rotated: B refuses tokens signed with the old key and accepts the new key's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_process_shows_on_the_other_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let db = rolo_testkit::postgres_server().fresh_database();
    let args = ["--emulator", "--database", db.as_str()];
    // A seeds the database; B starts on the seeded one.
    let a = serve(&args, &[], dir.path());
    let b = serve(&args, &[], dir.path());
    let (root_a, root_b) = (a.base.trim_end_matches("/v1.0").to_owned(), b.base.trim_end_matches("/v1.0").to_owned());
    let client = reqwest::Client::new();
    let scopes = "Contacts.ReadWrite People.Read User.ReadWrite.All";
    let megan = emulator_token(&client, &root_a, "megan.bowen@contoso.com", scopes).await;
    let contacts_b = format!("{}/me/contacts", b.base);
    assert_eq!(get(&client, &contacts_b, &megan, &[]).await.status, 200);

    // The emulator's settings: faults injected through A fail B's requests too, then stop.
    let patch = |rate: f64| {
        let body = json!({"faults": {"rate": rate, "status": 503, "retryAfterSeconds": 1}});
        client.patch(format!("{root_a}/rolo/admin/settings")).json(&body).send()
    };
    assert_eq!(patch(1.0).await.unwrap().status(), 200);
    within("faults set through A, on B", WITHIN, || async {
        get(&client, &contacts_b, &megan, &[]).await.status == 503
    })
    .await;
    assert_eq!(patch(0.0).await.unwrap().status(), 200);
    within("faults lifted through A, on B", WITHIN, || async {
        get(&client, &contacts_b, &megan, &[]).await.status == 200
    })
    .await;

    // The directory: B's People directory is built (without the newcomer), then a user is added
    // through A.
    let search = format!("{}/me/people?$search=Newcomer", b.base);
    let sources = [("X-PeopleQuery-QuerySources", "Mailbox,Directory")];
    let before = get(&client, &search, &megan, &sources).await;
    assert_eq!(
        (before.status.as_u16(), before.body["value"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{}",
        before.text
    );
    let body = json!({"accountEnabled": true, "displayName": "Zed Newcomer", "mailNickname": "zed",
        "userPrincipalName": "zed.newcomer@contoso.com", "passwordProfile": {"password": "Fleet-Pass-1!"}});
    let added = call(&client, Method::POST, &format!("{}/users", a.base), &megan, Some(body)).await;
    assert_eq!(added.status, 201, "{}", added.text);
    within("a user added through A, in B's People directory", WITHIN, || async {
        let r = get(&client, &search, &megan, &sources).await;
        r.body["value"].as_array().is_some_and(|v| v.iter().any(|p| p["displayName"] == "Zed Newcomer"))
    })
    .await;

    // A mailbox's People: B's index of Megan's people is built, then a contact is added
    // through A; B's next search finds it (the index follows the mailbox's change counter).
    let search = format!("{}/me/people?$search=Fleetcontact", b.base);
    let before = get(&client, &search, &megan, &[]).await;
    assert_eq!(before.body["value"].as_array().map(Vec::len), Some(0), "{}", before.text);
    let body = json!({"givenName": "Quill", "surname": "Fleetcontact",
        "emailAddresses": [{"address": "quill@fleet.test"}]});
    let added = call(&client, Method::POST, &format!("{}/me/contacts", a.base), &megan, Some(body)).await;
    assert_eq!(added.status, 201, "{}", added.text);
    within("a contact added through A, in B's People", WITHIN, || async {
        let r = get(&client, &search, &megan, &[]).await;
        r.body["value"].as_array().is_some_and(|v| v.iter().any(|p| p["displayName"] == "Quill Fleetcontact"))
    })
    .await;

    // A user disabled on the database: B refuses their token.
    let alex = emulator_token(&client, &root_a, "alex.wilber@contoso.com", scopes).await;
    assert_eq!(get(&client, &contacts_b, &alex, &[]).await.status, 200);
    assert_success(
        &run(&["users", "disable", "alex.wilber@contoso.com", "--database", &db], dir.path()),
        "users disable",
    );
    within("a user disabled on the database, on B", WITHIN, || async {
        get(&client, &contacts_b, &alex, &[]).await.status == 401
    })
    .await;

    // The signing key rotated on the database: B refuses tokens signed with the old key, and
    // accepts a token A signs with the new one.
    let rotated = run(&["keys", "rotate", "--database", &db], dir.path());
    assert_success(&rotated, "keys rotate");
    let kid = String::from_utf8(rotated.stdout).unwrap().trim().to_owned();
    within("the old key's tokens refused on B", WITHIN, || async {
        get(&client, &contacts_b, &megan, &[]).await.status == 401
    })
    .await;
    let kid_of = |token: &str| -> Value {
        use base64::Engine;
        let head = token.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
        header["kid"].clone()
    };
    let asked = Instant::now();
    let fresh = loop {
        let token = emulator_token(&client, &root_a, "megan.bowen@contoso.com", scopes).await;
        if kid_of(&token) == kid.as_str() {
            break token;
        }
        assert!(asked.elapsed() < WITHIN, "A signing with the rotated key: not seen within {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let fresh_on_b = get(&client, &contacts_b, &fresh, &[]).await;
    assert_eq!(fresh_on_b.status, 200, "{}", fresh_on_b.text);
    let keys = client.get(format!("{root_b}/common/discovery/v2.0/keys")).send().await.unwrap();
    let keys: Value = keys.json().await.unwrap();
    assert_eq!(keys["keys"][0]["kid"], kid.as_str(), "B publishes the rotated key");
}
