//! Change notifications end to end: subscriptions over HTTP, the validation handshake, and
//! deliveries to real HTTP receivers started by the test, on SQLite and PostgreSQL.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{database_url, Backend, TestServer};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde_json::{json, Value};

/// A webhook receiver: echoes validation tokens (unless told not to), records notification
/// batches, and answers 503 while `down`.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    batches: Arc<Mutex<Vec<Value>>>,
    validations: Arc<Mutex<Vec<String>>>,
    down: Arc<AtomicBool>,
    /// Notification requests answered 503 while `down`.
    refused: Arc<AtomicUsize>,
    /// 0: echo the token; otherwise answer the validation with this status.
    validation_status: Arc<AtomicU16>,
    pub(crate) url: String,
}

async fn receive(
    State(r): State<Receiver>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: Bytes,
) -> (StatusCode, String) {
    if let Some(token) = q.get("validationToken") {
        r.validations.lock().unwrap().push(token.clone());
        return match r.validation_status.load(Ordering::SeqCst) {
            0 => (StatusCode::OK, token.clone()),
            s => (StatusCode::from_u16(s).unwrap(), "no".into()),
        };
    }
    if r.down.load(Ordering::SeqCst) {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.batches.lock().unwrap().push(v);
    (StatusCode::ACCEPTED, String::new())
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut r = Receiver { url: format!("http://{}/hook", listener.local_addr().unwrap()), ..Receiver::default() };
        let app = axum::Router::new().fallback(receive).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r.url = r.url.clone();
        r
    }

    /// Every notification received so far, in order.
    fn notifications(&self) -> Vec<Value> {
        self.batches.lock().unwrap().iter().flat_map(|b| b["value"].as_array().cloned().unwrap_or_default()).collect()
    }

    /// Waits until `n` notifications arrived (or fails after `secs`).
    async fn wait_for(&self, n: usize, secs: u64) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.notifications();
            if got.len() >= n {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "expected {n} notifications, got {}: {got:?}", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits until `done` holds (or fails after `secs`, saying `what`), checking every 20 ms.
async fn until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the outbox is empty: every queued notification has been delivered (or given
/// up on). After it, a receiver holds everything it will ever get for the writes made so far.
async fn drained(s: &TestServer) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let depth = s.store.outbox_depth().await.unwrap();
        if depth.pending == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the outbox did not drain: {depth:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn in_a_day() -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::hours(24);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

pub(crate) fn subscription(resource: &str, url: &str) -> Value {
    json!({"changeType": "created,updated,deleted", "notificationUrl": url, "resource": resource,
           "expirationDateTime": in_a_day(), "clientState": "secret"})
}

/// Creating, reading, renewing and deleting subscriptions, with Graph's rules.
async fn subscription_lifecycle(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    let created = s.post("/subscriptions", &t, subscription("me/contacts", &r.url)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(r.validations.lock().unwrap().len(), 1, "one validation request");
    assert_eq!(created.body["clientState"], "secret");
    assert_eq!(created.body["changeType"], "created,updated,deleted");
    assert_eq!(created.body["resource"], "me/contacts");
    assert_eq!(created.body["creatorId"], user.id);
    assert_eq!(created.body["@odata.context"], format!("{}/$metadata#subscriptions/$entity", s.base));
    let id = created.body["id"].as_str().unwrap().to_owned();

    // clientState is never returned on reads.
    let got = s.get(&format!("/subscriptions/{id}"), &t).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["clientState"], Value::Null);
    let list = s.get("/subscriptions", &t).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["value"][0]["clientState"], Value::Null);

    // Renewal; the expiry bounds; lifecycle URL only at creation.
    let far = (time::OffsetDateTime::now_utc() + time::Duration::days(8))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    s.patch(&format!("/subscriptions/{id}"), &t, json!({"expirationDateTime": far}))
        .await
        .assert_error(400, "ExtensionError");
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::minutes(5))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let renewed = s.patch(&format!("/subscriptions/{id}"), &t, json!({"expirationDateTime": soon})).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    let expiry = time::OffsetDateTime::parse(
        renewed.body["expirationDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expiry > time::OffsetDateTime::now_utc() + time::Duration::minutes(44), "raised to 45 minutes");
    s.patch(&format!("/subscriptions/{id}"), &t, json!({"lifecycleNotificationUrl": r.url}))
        .await
        .assert_error(400, "InvalidRequest");
    assert_eq!(s.post(&format!("/subscriptions/{id}/reauthorize"), &t, json!({})).await.status, 204);

    // Someone else's subscription does not exist for them.
    let (_, other) = s.login("bob@contoso.test").await;
    s.get(&format!("/subscriptions/{id}"), &other).await.assert_error(404, "ResourceNotFound");
    s.delete(&format!("/subscriptions/{id}"), &other).await.assert_error(404, "ResourceNotFound");
    assert_eq!(s.get("/subscriptions", &other).await.body["value"], json!([]));

    // Refused creations.
    for (body, status, code) in [
        (subscription("me/contacts", "http://example.com/hook"), 400, "InvalidRequest"),
        (subscription("me/contactFolders", &r.url), 400, "InvalidRequest"),
        (subscription("me/events", &r.url), 400, "InvalidRequest"),
        (
            json!({"resource": "me/contacts", "notificationUrl": r.url, "expirationDateTime": in_a_day()}),
            400,
            "InvalidRequest",
        ),
        (
            json!({"resource": "me/contacts", "changeType": "moved", "notificationUrl": r.url, "expirationDateTime": in_a_day()}),
            400,
            "InvalidRequest",
        ),
    ] {
        s.post("/subscriptions", &t, body).await.assert_error(status, code);
    }
    let u2 = s.user("carol@contoso.test").await;
    s.post("/subscriptions", &t, subscription(&format!("users/{}/contacts", u2.id), &r.url))
        .await
        .assert_error(403, "ErrorAccessDenied");
    let read_only = s.token(&user, "Contacts.Read.Shared");
    s.post("/subscriptions", &read_only, subscription("me/contacts", &r.url))
        .await
        .assert_error(403, "ErrorAccessDenied");

    // A failed handshake fails the create.
    r.validation_status.store(500, Ordering::SeqCst);
    let e = s.post("/subscriptions", &t, subscription("me/contacts", &r.url)).await;
    e.assert_error(400, "InvalidRequest");
    assert!(e.body["error"]["message"].as_str().unwrap().contains("must respond with 200 OK"));
    r.validation_status.store(0, Ordering::SeqCst);

    assert_eq!(s.delete(&format!("/subscriptions/{id}"), &t).await.status, 204);
    s.get(&format!("/subscriptions/{id}"), &t).await.assert_error(404, "ResourceNotFound");
}

/// Contact changes reach the receiver in Graph's payload shape; folder subscriptions hear only
/// their folder; changeType filters.
async fn notifications_are_delivered(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let all = Receiver::start().await;
    let folder_rx = Receiver::start().await;
    let folder = s.create_folder_at("/me/contactFolders", &t, "Work").await;
    let sub = s.post("/subscriptions", &t, subscription("/me/contacts", &all.url)).await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    let sub_id = sub.body["id"].as_str().unwrap().to_owned();
    let mut only_created = subscription(&format!("users/{}/contactFolders/{folder}/contacts", user.id), &folder_rx.url);
    only_created["changeType"] = json!("created");
    assert_eq!(s.post("/subscriptions", &t, only_created).await.status, 201);

    let id = s.create_contact(&t, json!({"givenName": "Pavel"})).await;
    let got = all.wait_for(1, 10).await;
    let n = &got[0];
    assert_eq!(n["subscriptionId"], sub_id);
    assert_eq!(n["changeType"], "created");
    assert_eq!(n["clientState"], "secret");
    assert_eq!(n["tenantId"], s.authority.tenant_id);
    assert_eq!(n["resource"], format!("Users/{}/Contacts/{id}", user.id));
    assert_eq!(n["resourceData"]["id"], id);
    assert_eq!(n["resourceData"]["@odata.type"], "#Microsoft.Graph.Contact");
    let contact = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(n["resourceData"]["@odata.etag"], contact.body["@odata.etag"]);

    s.patch(&format!("/me/contacts/{id}"), &t, json!({"surname": "B"})).await;
    s.delete(&format!("/me/contacts/{id}"), &t).await;
    let got = all.wait_for(3, 10).await;
    // Each commit wakes the worker, so the three may travel in separate, concurrent POSTs and
    // arrive in any order (as on Graph, which does not promise an order either).
    let mut kinds: Vec<&str> = got.iter().map(|n| n["changeType"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["created", "deleted", "updated"]);

    // The folder subscription hears creations in its folder only.
    let in_folder =
        s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &t, json!({"givenName": "F"})).await;
    let in_folder = in_folder["id"].as_str().unwrap().to_owned();
    s.patch(&format!("/me/contacts/{in_folder}"), &t, json!({"surname": "X"})).await;
    let got = folder_rx.wait_for(1, 10).await;
    all.wait_for(5, 10).await;
    drained(&s).await;
    let got_now = folder_rx.notifications();
    assert_eq!(got_now.len(), 1, "{got_now:?}");
    assert_eq!(got[0]["resourceData"]["id"], in_folder);
    assert_eq!(got[0]["changeType"], "created");

    // After the subscription is deleted, nothing more comes.
    assert_eq!(s.delete(&format!("/subscriptions/{sub_id}"), &t).await.status, 204);
    s.create_contact(&t, json!({"givenName": "Quiet"})).await;
    drained(&s).await;
    assert_eq!(all.notifications().len(), 5);
}

/// A receiver that is down for a while gets everything once it is back, batched.
async fn retries_until_the_receiver_is_back(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    assert_eq!(s.post("/subscriptions", &t, subscription("me/contacts", &r.url)).await.status, 201);
    r.down.store(true, Ordering::SeqCst);
    for i in 0..5 {
        s.create_contact(&t, json!({"givenName": format!("C{i}")})).await;
    }
    // The receiver refused a delivery: every notification is still queued, none dropped.
    until("a refused delivery", 10, || s.state.worker.retried.load(Ordering::SeqCst) > 0).await;
    assert!(r.refused.load(Ordering::SeqCst) >= 1);
    assert_eq!(s.store.outbox_depth().await.unwrap().pending, 5);
    assert_eq!(s.state.worker.delivered.load(Ordering::SeqCst), 0);
    r.down.store(false, Ordering::SeqCst);
    r.wait_for(5, 20).await;
    drained(&s).await;
    let got = r.notifications();
    assert_eq!(got.len(), 5);
    let mut ids: Vec<&str> = got.iter().map(|n| n["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each notification once");
}

/// A delivery that keeps failing past the retry window becomes a `missed` lifecycle event.
async fn missed_after_giving_up(backend: Backend) {
    let s = TestServer::start_configured(backend, |st| {
        st.webhooks.give_up_after = Duration::from_millis(800);
        st.webhooks.retry_base = Duration::from_millis(100);
    })
    .await;
    let (_, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    let lifecycle = Receiver::start().await;
    let mut body = subscription("me/contacts", &r.url);
    body["lifecycleNotificationUrl"] = json!(lifecycle.url);
    let sub = s.post("/subscriptions", &t, body).await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    assert_eq!(lifecycle.validations.lock().unwrap().len(), 1, "the lifecycle URL is validated too");
    r.down.store(true, Ordering::SeqCst);
    s.create_contact(&t, json!({"givenName": "Lost"})).await;
    let got = lifecycle.wait_for(1, 15).await;
    assert_eq!(got[0]["lifecycleEvent"], "missed");
    assert_eq!(got[0]["subscriptionId"], sub.body["id"]);
    assert_eq!(got[0]["clientState"], "secret");
}

/// A subscription in its last hour gets `reauthorizationRequired`; `reauthorize` answers it and
/// a renewal ends the challenges.
async fn reauthorization_challenges(backend: Backend) {
    let s = TestServer::start_configured(backend, |st| st.webhooks.sweep_interval = Duration::from_millis(200)).await;
    let (_, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    let lifecycle = Receiver::start().await;
    let mut body = subscription("me/contacts", &r.url);
    body["lifecycleNotificationUrl"] = json!(lifecycle.url);
    // Under 45 minutes is raised to 45: within the last hour at once.
    body["expirationDateTime"] = json!((time::OffsetDateTime::now_utc() + time::Duration::minutes(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap());
    let sub = s.post("/subscriptions", &t, body).await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    let got = lifecycle.wait_for(1, 10).await;
    assert_eq!(got[0]["lifecycleEvent"], "reauthorizationRequired");
    assert_eq!(got[0]["subscriptionId"], sub.body["id"]);
    // Answered: the next challenge waits 15 minutes, so none comes now.
    let id = sub.body["id"].as_str().unwrap();
    assert_eq!(s.post(&format!("/subscriptions/{id}/reauthorize"), &t, json!({})).await.status, 204);
    // Two full sweeps after the answer, and the deliveries they queued, add no challenge.
    let sweeps = s.state.worker.sweeps.load(Ordering::SeqCst);
    until("two sweeps", 10, || s.state.worker.sweeps.load(Ordering::SeqCst) >= sweeps + 2).await;
    drained(&s).await;
    assert_eq!(lifecycle.notifications().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthorization_sqlite() {
    reauthorization_challenges(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauthorization_postgres() {
    reauthorization_challenges(Backend::Postgres).await;
}

/// Deleting the folder a subscription watches removes the subscription, with
/// `subscriptionRemoved`.
async fn folder_deletion_removes_its_subscriptions(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    let lifecycle = Receiver::start().await;
    let folder = s.create_folder_at("/me/contactFolders", &t, "Temp").await;
    s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &t, json!({"givenName": "In"})).await;
    let mut body = subscription(&format!("me/contactFolders/{folder}/contacts"), &r.url);
    body["lifecycleNotificationUrl"] = json!(lifecycle.url);
    let sub = s.post("/subscriptions", &t, body).await;
    let id = sub.body["id"].as_str().unwrap().to_owned();
    assert_eq!(s.delete(&format!("/me/contactFolders/{folder}"), &t).await.status, 204);
    let got = r.wait_for(1, 10).await;
    assert_eq!(got[0]["changeType"], "deleted");
    let life = lifecycle.wait_for(1, 10).await;
    assert_eq!(life[0]["lifecycleEvent"], "subscriptionRemoved");
    s.get(&format!("/subscriptions/{id}"), &t).await.assert_error(404, "ResourceNotFound");
}

/// Deliveries pending when the server stops are sent by the next one on the same database.
async fn pending_deliveries_survive_a_restart(backend: Backend) {
    let (url, dir) = database_url(backend);
    let r = Receiver::start().await;
    r.down.store(true, Ordering::SeqCst);
    let first = TestServer::start_at(&url, tempfile::tempdir().unwrap(), |_| {}).await;
    let (user, t) = first.login("ada@contoso.test").await;
    assert_eq!(first.post("/subscriptions", &t, subscription("me/contacts", &r.url)).await.status, 201);
    for i in 0..3 {
        first.create_contact(&t, json!({"givenName": format!("R{i}")})).await;
    }
    // The first server tried, was refused, and stops with its deliveries still queued (the next
    // attempt is a second away, well after it has stopped).
    // All three refused and queued for a retry, so none is in flight when it stops (a delivery
    // under way at shutdown is finished, and the receiver is back by then).
    until("three refused deliveries", 10, || first.state.worker.retried.load(Ordering::SeqCst) >= 3).await;
    assert!(r.refused.load(Ordering::SeqCst) > 0);
    // A receiver answering 503 records nothing whatever the worker does: what shows the three
    // are owed is the outbox.
    assert_eq!(first.store.outbox_depth().await.unwrap().pending, 3);
    let first_state = first.state.clone();
    drop(first);
    assert_eq!(first_state.worker.delivered.load(Ordering::SeqCst), 0);
    r.down.store(false, Ordering::SeqCst);
    let second = TestServer::start_at(&url, dir, |_| {}).await;
    let got = r.wait_for(3, 20).await;
    drained(&second).await;
    assert_eq!(r.notifications().len(), 3, "each once");
    assert_eq!(second.state.worker.delivered.load(Ordering::SeqCst), 3, "the second server delivered them");
    assert_eq!(first_state.worker.delivered.load(Ordering::SeqCst), 0);
    assert!(got.iter().all(|n| n["resource"].as_str().unwrap().starts_with(&format!("Users/{}/", user.id))));
    drop(second);
}

/// Two servers on one PostgreSQL database deliver each notification once.
async fn two_processes_deliver_once() {
    let (url, dir) = database_url(Backend::Postgres);
    let a = TestServer::start_at(&url, dir, |_| {}).await;
    let b = TestServer::start_at(&url, tempfile::tempdir().unwrap(), |_| {}).await;
    let (_, t) = a.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    assert_eq!(a.post("/subscriptions", &t, subscription("me/contacts", &r.url)).await.status, 201);
    for i in 0..20 {
        let server = if i % 2 == 0 { &a } else { &b };
        server.create_contact(&t, json!({"givenName": format!("P{i}")})).await;
    }
    let got = r.wait_for(20, 20).await;
    drained(&a).await;
    let got_now = r.notifications();
    assert_eq!(got_now.len(), 20, "no duplicates: {}", got_now.len());
    let by_a = a.state.worker.delivered.load(Ordering::SeqCst);
    let by_b = b.state.worker.delivered.load(Ordering::SeqCst);
    assert_eq!(by_a + by_b, 20, "each notification delivered by one process");
    let mut ids: Vec<String> = got.iter().map(|n| n["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

/// The base64 DER of a PEM certificate, as `encryptionCertificate` carries it.
fn certificate_b64(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Rich notifications: the selected properties arrive encrypted for the subscriber's certificate,
/// decryptable with its private key, signed, and with a validation token.
async fn rich_notifications_decrypt(s: TestServer) {
    use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;

    let (user, t) = s.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    let cert = certificate_b64(include_str!("../fixtures/notify-cert.pem"));
    let mut body = subscription(&format!("users/{}/contacts?$select=displayName,emailAddresses", user.id), &r.url);
    body["includeResourceData"] = json!(true);
    body["encryptionCertificate"] = json!(cert);
    body["encryptionCertificateId"] = json!("cert-1");

    // Graph's preconditions: $select, a usable certificate, a day at most.
    let mut no_select = body.clone();
    no_select["resource"] = json!("me/contacts");
    s.post("/subscriptions", &t, no_select).await.assert_error(400, "InvalidRequest");
    let mut small = body.clone();
    small["encryptionCertificate"] = json!(certificate_b64(include_str!("../fixtures/small-cert.pem")));
    s.post("/subscriptions", &t, small).await.assert_error(400, "InvalidRequest");
    let mut no_id = body.clone();
    no_id.as_object_mut().unwrap().remove("encryptionCertificateId");
    s.post("/subscriptions", &t, no_id).await.assert_error(400, "InvalidRequest");
    let mut long = body.clone();
    long["expirationDateTime"] = json!((time::OffsetDateTime::now_utc() + time::Duration::hours(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap());
    s.post("/subscriptions", &t, long).await.assert_error(400, "ExtensionError");

    let created = s.post("/subscriptions", &t, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["includeResourceData"], true);
    assert_eq!(created.body["encryptionCertificateId"], "cert-1");
    let id = s
        .create_contact(
            &t,
            json!({"givenName": "Secret", "surname": "Agent", "jobTitle": "Spy",
        "emailAddresses": [{"address": "s@x.test", "name": "S"}]}),
        )
        .await;
    r.wait_for(1, 10).await;
    let batch = r.batches.lock().unwrap()[0].clone();
    let n = &batch["value"][0];
    assert_eq!(n["resourceData"]["id"], id);
    let content = &n["encryptedContent"];
    assert_eq!(content["encryptionCertificateId"], "cert-1");
    let der = STANDARD.decode(&cert).unwrap();
    let thumb: String = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(content["encryptionCertificateThumbprint"], thumb);

    let private = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../fixtures/notify-key.pem")).unwrap();
    let key = private
        .decrypt(rsa::Oaep::new::<sha1::Sha1>(), &STANDARD.decode(content["dataKey"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);
    let ciphertext = STANDARD.decode(content["data"].as_str().unwrap()).unwrap();
    let signature = STANDARD.decode(content["dataSignature"].as_str().unwrap()).unwrap();
    ring::hmac::verify(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key), &ciphertext, &signature)
        .expect("the signature matches");
    let iv: [u8; 16] = key[..16].try_into().unwrap();
    let key: [u8; 32] = key[..].try_into().unwrap();
    let plain = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .unwrap();
    let data: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(data["displayName"], "Secret Agent");
    assert_eq!(data["emailAddresses"], json!([{"name": "S", "address": "s@x.test"}]));
    assert_eq!(data["id"], id);
    assert_eq!(data["@odata.type"], "#microsoft.graph.contact");
    assert!(data.get("jobTitle").is_none(), "only the selected properties");

    // One validation token for the app, issued by Rolo to it.
    let tokens = batch["validationTokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tokens[0].as_str().unwrap().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], created.body["applicationId"]);
    assert_eq!(claims["appid"], "0bf30f3b-4a52-48df-9a82-234910c4a086");
    assert_eq!(claims["iss"], s.authority.issuer);
}

/// A receiver that accepts connections and never answers.
async fn silent_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    url
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const REFUSED: &str =
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.";

/// The outbound policy: by default only public https receivers; loopback, private, link-local
/// (metadata) and unique-local addresses are refused, literal or behind a name, before anything is
/// sent; and every refusal or failed handshake gets one answer, so they cannot map a network.
async fn outbound_policy(backend: Backend) {
    let strict = TestServer::start_configured(backend, |st| {
        st.webhooks.policy = rolo_server::outbound::OutboundPolicy::default();
    })
    .await;
    let (_, t) = strict.login("ada@contoso.test").await;
    let r = Receiver::start().await;
    let port = r.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    for url in [
        r.url.clone(),
        format!("https://127.0.0.1:{port}/hook"),
        // A name is resolved and its addresses filtered when connecting.
        format!("https://localhost:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        format!("https://[::1]:{port}/hook"),
        format!("http://127.0.0.1:{}/hook", closed_port()),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.0.0.1/hook".to_owned(),
        "https://192.168.1.1/hook".to_owned(),
        "https://100.64.0.1/hook".to_owned(),
        "https://[fd00::1]/hook".to_owned(),
        "https://0.0.0.0/hook".to_owned(),
        "http://example.com/hook".to_owned(),
    ] {
        let e = strict.post("/subscriptions", &t, subscription("me/contacts", &url)).await;
        e.assert_error(400, "InvalidRequest");
        assert_eq!(e.body["error"]["message"], REFUSED, "{url}");
    }
    assert!(r.validations.lock().unwrap().is_empty(), "nothing reached the loopback receiver");
    assert_eq!(strict.get("/subscriptions", &t).await.body["value"], json!([]));

    // Where loopback is allowed (the emulator, these tests), a closed port, a wrong status and a
    // wrong echo still get the same answer; a receiver that never answers holds the request no
    // longer than the validation timeout, for both URLs together.
    let s =
        TestServer::start_configured(backend, |st| st.webhooks.validation_timeout = Duration::from_millis(1500)).await;
    let (_, t) = s.login("ada@contoso.test").await;
    let wrong_status = Receiver::start().await;
    wrong_status.validation_status.store(500, Ordering::SeqCst);
    let wrong_echo = Receiver::start().await;
    wrong_echo.validation_status.store(200, Ordering::SeqCst);
    for url in [
        format!("http://127.0.0.1:{}/hook", closed_port()),
        wrong_status.url.clone(),
        wrong_echo.url.clone(),
        "http://10.0.0.1/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let e = s.post("/subscriptions", &t, subscription("me/contacts", &url)).await;
        e.assert_error(400, "InvalidRequest");
        assert_eq!(e.body["error"]["message"], REFUSED, "{url}");
    }
    let mut hanging = subscription("me/contacts", &silent_receiver().await);
    hanging["lifecycleNotificationUrl"] = json!(silent_receiver().await);
    let started = std::time::Instant::now();
    let e = s.post("/subscriptions", &t, hanging).await;
    let took = started.elapsed();
    e.assert_error(400, "InvalidRequest");
    assert_eq!(e.body["error"]["message"], REFUSED);
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(2900), "took {took:?}");

    // A new notificationUrl goes through the same policy.
    let created = s.post("/subscriptions", &t, subscription("me/contacts", &r.url)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    let e = s.patch(&format!("/subscriptions/{id}"), &t, json!({"notificationUrl": "https://169.254.169.254/x"})).await;
    e.assert_error(400, "InvalidRequest");
    assert_eq!(e.body["error"]["message"], REFUSED);
    assert_eq!(s.get(&format!("/subscriptions/{id}"), &t).await.body["notificationUrl"], r.url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_policy_sqlite() {
    outbound_policy(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_policy_postgres() {
    outbound_policy(Backend::Postgres).await;
}

both_backends!(
    rich_notifications_decrypt,
    subscription_lifecycle,
    notifications_are_delivered,
    retries_until_the_receiver_is_back,
    folder_deletion_removes_its_subscriptions,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_after_giving_up_sqlite() {
    missed_after_giving_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_after_giving_up_postgres() {
    missed_after_giving_up(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sqlite() {
    pending_deliveries_survive_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_postgres() {
    pending_deliveries_survive_a_restart(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_postgres() {
    two_processes_deliver_once().await;
}
