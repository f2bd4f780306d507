//! Read replicas end to end (docs/SCALING.md): a real primary and hot standby started by the
//! test (`pg_basebackup -R`), Rolo serving with `--database-replica`. Reads come from the standby
//! when it has the mailbox's last change; a client reads its own writes while the standby lags
//! (replay paused) and while it is down; reads return to the standby once it is back. Which pool
//! served each read is read from `/metrics`.

use std::sync::Arc;

use rolo_server::AppState;
use rolo_testkit::ReplicatedCluster;
use serde_json::{json, Value};

use crate::common::TestServer;

/// Mailbox reads served so far, by pool: (replica, primary as replicas were behind, primary as
/// none could be reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reads {
    replica: u64,
    behind: u64,
    unavailable: u64,
}

async fn metrics_url(state: Arc<AppState>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(rolo_server::metrics::serve(listener, state, std::future::pending()));
    url
}

async fn reads(metrics: &str) -> Reads {
    let text = reqwest::get(metrics).await.unwrap().text().await.unwrap();
    let value = |pool: &str| {
        let key = format!("rolo_db_mailbox_reads_total{{pool=\"{pool}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("no {key} in\n{text}"))
            .parse::<u64>()
            .unwrap()
    };
    Reads {
        replica: value("replica"),
        behind: value("primary_replicas_behind"),
        unavailable: value("primary_replicas_unavailable"),
    }
}

/// Runs blocking cluster control (psql, pg_ctl) off the async workers' backs.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn names(body: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        body["value"].as_array().unwrap().iter().filter_map(|c| c["displayName"].as_str().map(str::to_owned)).collect();
    v.sort();
    v
}

async fn start(primary: &str, standby: &str) -> (TestServer, String) {
    let s = TestServer::start_with_replicas(primary, vec![standby.to_owned()], |state| {
        state.metrics = Some(Arc::default());
    })
    .await;
    let metrics = metrics_url(s.state.clone()).await;
    (s, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_follow_the_standby_and_never_go_back_in_time() {
    let started = std::time::Instant::now();
    let mut cluster = blocking(ReplicatedCluster::start);
    let (primary, standby) = blocking(|| cluster.fresh_database());
    let (s, metrics) = start(&primary, &standby).await;
    // A second process on the same databases: it learns of the first one's writes from their
    // commit hints.
    let (other, other_metrics) = start(&primary, &standby).await;
    let ada = s.user("ada@contoso.com").await;
    let t = s.token(&ada, "Contacts.ReadWrite People.Read");
    let (_bob, bob_t) = s.login("bob@contoso.com").await;
    let other_t = other.token(&ada, "Contacts.ReadWrite");
    blocking(|| cluster.wait_caught_up());

    // Caught up: reads come from the standby.
    let before = reads(&metrics).await;
    let r = s.get("/me/contacts", &t).await;
    assert_eq!((r.status.as_u16(), names(&r.body)), (200, Vec::<String>::new()), "{}", r.text);
    let after = reads(&metrics).await;
    assert!(after.replica > before.replica, "{before:?} -> {after:?}");
    assert_eq!((after.behind, after.unavailable), (before.behind, before.unavailable));

    // The standby lags: a write, then reads of it, of lists, of delta and of People.
    blocking(|| cluster.pause_replay());
    let created = s
        .post(
            "/me/contacts",
            &t,
            json!({"displayName": "Grace Hopper", "emailAddresses": [{"address": "grace@navy.mil"}]}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let on_standby = format!("SELECT count(*) FROM contacts WHERE id = '{id}'");
    assert_eq!(blocking(|| cluster.query(&standby, &on_standby)), "0", "the standby must really lag");

    let before = reads(&metrics).await;
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!((got.status.as_u16(), &got.body["displayName"]), (200, &json!("Grace Hopper")), "{}", got.text);
    assert_eq!(names(&s.get("/me/contacts", &t).await.body), ["Grace Hopper"]);
    let delta = s.get("/me/contacts/delta", &t).await;
    assert_eq!((delta.status.as_u16(), names(&delta.body)), (200, vec!["Grace Hopper".to_owned()]), "{}", delta.text);
    let people = s.get("/me/people", &t).await;
    assert_eq!(people.status.as_u16(), 200, "{}", people.text);
    assert!(people.text.contains("grace@navy.mil"), "People must see the new contact: {}", people.text);
    let after = reads(&metrics).await;
    assert_eq!(after.replica, before.replica, "no read of the written mailbox may come from the lagging standby");
    assert!(after.behind > before.behind, "{before:?} -> {after:?}");

    // Another mailbox, untouched since the standby stopped applying, still reads from it.
    let r = s.get("/me/contacts", &bob_t).await;
    assert_eq!((r.status.as_u16(), names(&r.body)), (200, Vec::<String>::new()));
    assert_eq!(reads(&metrics).await.replica, after.replica + 1);

    // The other process reads the write too, once the commit hint has reached it (the standby
    // cannot serve it while paused, so a 200 proves the primary did).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = other.get(&format!("/me/contacts/{id}"), &other_t).await;
        if r.status.as_u16() == 200 {
            assert_eq!(r.body["displayName"], "Grace Hopper");
            break;
        }
        assert_eq!(r.status.as_u16(), 404, "{}", r.text);
        assert!(std::time::Instant::now() < deadline, "the other process never saw the write");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Delta there reads the mailbox's counter from the primary first, hint or not.
    let delta = other.get("/me/contacts/delta", &other_t).await;
    assert_eq!(names(&delta.body), ["Grace Hopper"], "{}", delta.text);
    assert!(reads(&other_metrics).await.behind > 0);

    // Caught up again: the same reads come from the standby.
    blocking(|| {
        cluster.resume_replay();
        cluster.wait_caught_up();
    });
    let before = reads(&metrics).await;
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!((got.status.as_u16(), &got.body["displayName"]), (200, &json!("Grace Hopper")));
    let after = reads(&metrics).await;
    assert_eq!(after.replica, before.replica + 1, "{before:?} -> {after:?}");

    // The standby is down: every request still succeeds, on the primary.
    blocking(|| cluster.stop_standby());
    let before = reads(&metrics).await;
    let patched = s.patch(&format!("/me/contacts/{id}"), &t, json!({"jobTitle": "Rear Admiral"})).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!((got.status.as_u16(), &got.body["jobTitle"]), (200, &json!("Rear Admiral")), "{}", got.text);
    let list = s.get("/me/contacts", &bob_t).await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.text);
    let delta = s.get("/me/contacts/delta", &t).await;
    assert_eq!(delta.status.as_u16(), 200, "{}", delta.text);
    let after = reads(&metrics).await;
    assert_eq!(after.replica, before.replica, "{before:?} -> {after:?}");
    assert!(after.unavailable > before.unavailable, "{before:?} -> {after:?}");

    // Back up: after its retry delay the standby serves reads again.
    blocking(|| {
        cluster.start_standby();
        cluster.wait_caught_up();
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let before = reads(&metrics).await.replica;
        let got = s.get(&format!("/me/contacts/{id}"), &t).await;
        assert_eq!((got.status.as_u16(), &got.body["jobTitle"]), (200, &json!("Rear Admiral")), "{}", got.text);
        if reads(&metrics).await.replica > before {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "reads never returned to the restarted standby");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
}

/// The same through the real binary: `rolo serve --database PRIMARY --database-replica STANDBY`.
/// A write is read back at once while the standby lags (read-your-writes, from the primary);
/// once the standby has caught up it serves the read; with the standby stopped, reads and writes
/// still succeed, from the primary. Which pool served each read is scraped from the process's
/// `/metrics` listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolo_serve_with_a_replica_reads_its_writes_and_survives_the_standby() {
    use crate::cli::{add_user, call, free_port, mint_token, serve};
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let cluster = blocking(ReplicatedCluster::start);
    let (primary, standby) = blocking(|| cluster.fresh_database());
    add_user(&primary, "ada@x.test", "Ada", dir.path());
    let token = mint_token(&primary, "ada@x.test", "Contacts.ReadWrite", dir.path());
    let metrics_listen = format!("127.0.0.1:{}", free_port());
    let metrics = format!("http://{metrics_listen}/metrics");
    let rolo = serve(
        &["--database", &primary, "--database-replica", &standby],
        &[("ROLO_METRICS_LISTEN", &metrics_listen)],
        dir.path(),
    );
    let client = reqwest::Client::new();
    let contacts = format!("{}/me/contacts", rolo.base);
    blocking(|| cluster.wait_caught_up());

    // Caught up: the list comes from the standby.
    let before = reads(&metrics).await;
    let r = call(&client, Method::GET, &contacts, &token, None).await;
    assert_eq!((r.status.as_u16(), names(&r.body)), (200, Vec::<String>::new()), "{}", r.text);
    let after = reads(&metrics).await;
    assert_eq!(after.replica, before.replica + 1, "{before:?} -> {after:?}");

    // The standby lags: the write is read back at once, from the primary.
    blocking(|| cluster.pause_replay());
    let created = call(&client, Method::POST, &contacts, &token, Some(json!({"displayName": "Grace Hopper"}))).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let on_standby = format!("SELECT count(*) FROM contacts WHERE id = '{id}'");
    assert_eq!(blocking(|| cluster.query(&standby, &on_standby)), "0", "the standby must really lag");
    let before = reads(&metrics).await;
    let got = call(&client, Method::GET, &format!("{contacts}/{id}"), &token, None).await;
    assert_eq!((got.status.as_u16(), &got.body["displayName"]), (200, &json!("Grace Hopper")), "{}", got.text);
    let list = call(&client, Method::GET, &contacts, &token, None).await;
    assert_eq!(names(&list.body), ["Grace Hopper"], "{}", list.text);
    let after = reads(&metrics).await;
    assert_eq!(after.replica, before.replica, "not from the lagging standby: {before:?} -> {after:?}");
    assert!(after.behind >= before.behind + 2, "{before:?} -> {after:?}");

    // Caught up again: the standby serves the written contact.
    blocking(|| {
        cluster.resume_replay();
        cluster.wait_caught_up();
    });
    let before = reads(&metrics).await;
    let got = call(&client, Method::GET, &format!("{contacts}/{id}"), &token, None).await;
    assert_eq!((got.status.as_u16(), &got.body["displayName"]), (200, &json!("Grace Hopper")), "{}", got.text);
    assert_eq!(reads(&metrics).await.replica, before.replica + 1);

    // The standby is down: writes and reads succeed, on the primary.
    blocking(|| cluster.stop_standby());
    let before = reads(&metrics).await;
    let patched =
        call(&client, Method::PATCH, &format!("{contacts}/{id}"), &token, Some(json!({"jobTitle": "Rear Admiral"})))
            .await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    for _ in 0..3 {
        let got = call(&client, Method::GET, &format!("{contacts}/{id}"), &token, None).await;
        assert_eq!((got.status.as_u16(), &got.body["jobTitle"]), (200, &json!("Rear Admiral")), "{}", got.text);
    }
    let list = call(&client, Method::GET, &contacts, &token, None).await;
    assert_eq!((list.status.as_u16(), names(&list.body)), (200, vec!["Grace Hopper".to_owned()]), "{}", list.text);
    let after = reads(&metrics).await;
    assert_eq!(after.replica, before.replica, "{before:?} -> {after:?}");
    assert!(after.unavailable > before.unavailable, "{before:?} -> {after:?}");
    drop(rolo);
}

/// Replicas are a PostgreSQL feature: a SQLite database with one is refused at start-up.
#[tokio::test]
async fn sqlite_refuses_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let options = rolo_store::OpenOptions { replicas: vec!["postgres://127.0.0.1:1/x".into()], ..Default::default() };
    let err = rolo_store::open(&dir.path().join("rolo.db").to_string_lossy(), &options).await.err().unwrap();
    let cause = err.cause.unwrap_or_default();
    assert!(cause.contains("--database-replica"), "{cause}");
}
