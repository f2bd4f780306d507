//! JSON batching over HTTP, on SQLite and PostgreSQL.

use crate::common::TestServer;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

fn by_id<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no response {id}: {body}"))
}

/// Inner requests run through the real router, in dependency order; a failed dependency gives 424.
async fn batch_runs_requests_in_order(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let (other, _) = s.login("bob@contoso.test").await;
    let r = s
        .post(
            "/$batch",
            &t,
            json!({"requests": [
                {"id": "1", "method": "POST", "url": "/me/contacts", "headers": {"Content-Type": "application/json"}, "body": {"givenName": "Pavel"}},
                {"id": "2", "dependsOn": ["1"], "method": "GET", "url": "me/contacts?$select=givenName"},
                {"id": "3", "method": "GET", "url": "/me/contacts/not-an-id"},
                {"id": "4", "dependsOn": ["3"], "method": "DELETE", "url": "/me/contacts/AAAAAAAAAAAAAAAAAAAAAA"},
                {"id": "5", "method": "GET", "url": format!("/users/{}/contacts", other.user_principal_name)},
                {"id": "6", "method": "POST", "url": "/$batch", "headers": {"Content-Type": "application/json"}, "body": {"requests": []}}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["responses"].as_array().unwrap().len(), 6);
    let created = by_id(&r.body, "1");
    assert_eq!(created["status"], 201);
    assert_eq!(created["body"]["givenName"], "Pavel");
    assert!(created["headers"]["ETag"].is_string(), "{created}");
    let listed = by_id(&r.body, "2");
    assert_eq!(listed["status"], 200);
    assert_eq!(listed["body"]["value"][0]["givenName"], "Pavel");
    assert_eq!(
        listed["body"]["@odata.context"],
        format!("{}/$metadata#users('{}')/contacts(givenName)", s.base, user.id)
    );
    assert_eq!(by_id(&r.body, "3")["status"], 400);
    assert_eq!(by_id(&r.body, "3")["body"]["error"]["code"], "ErrorInvalidIdMalformed");
    assert_eq!(by_id(&r.body, "4")["status"], 424);
    assert_eq!(by_id(&r.body, "5")["status"], 403);
    assert_eq!(by_id(&r.body, "5")["body"]["error"]["code"], "ErrorAccessDenied");
    assert_eq!(by_id(&r.body, "6")["status"], 400);
    // The effect of request 1 is real.
    assert_eq!(s.get("/me/contacts", &t).await.body["value"].as_array().unwrap().len(), 1);
}

/// Binary bodies travel base64-encoded both ways.
async fn batch_carries_binary_bodies(s: TestServer) {
    let (_, t) = s.login("cy@contoso.test").await;
    let id = s.post("/me/contacts", &t, json!({"givenName": "P"})).await.body["id"].as_str().unwrap().to_owned();
    let png = rolo_media::sample(64, 48, rolo_media::Format::Png);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let r = s
        .post(
            "/$batch",
            &t,
            json!({"requests": [
                {"id": "put", "method": "PUT", "url": format!("/me/contacts/{id}/photo/$value"), "headers": {"Content-Type": "image/png"}, "body": b64},
                {"id": "get", "dependsOn": ["put"], "method": "GET", "url": format!("/me/contacts/{id}/photo/$value")}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(by_id(&r.body, "put")["status"], 200);
    assert_eq!(by_id(&r.body, "get")["status"], 200);
    assert_eq!(by_id(&r.body, "get")["body"], b64);
}

/// A malformed batch is refused whole; a batch needs a token.
async fn malformed_batches_are_refused(s: TestServer) {
    let (_, t) = s.login("dee@contoso.test").await;
    let get = |id: &str| json!({"id": id, "method": "GET", "url": "/me/contacts"});
    let too_many: Vec<Value> = (0..21).map(|i| get(&i.to_string())).collect();
    for bad in [
        json!({"requests": too_many}),
        json!({"requests": [get("a"), get("A")]}),
        json!({"requests": []}),
        json!({"nope": 1}),
        json!({"requests": [{"id": "1", "method": "POST", "url": "/me/contacts", "body": {"givenName": "X"}}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "https://graph.microsoft.com/v1.0/me/contacts"}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "/me/contacts", "dependsOn": ["2"]}, {"id": "2", "method": "GET", "url": "/me/contacts", "dependsOn": ["1"]}]}),
        json!({"requests": [{"id": "1", "method": "GET", "url": "/me/contacts", "dependsOn": ["9"]}]}),
    ] {
        s.post("/$batch", &t, bad.clone()).await.assert_error(400, "BadRequest");
    }
    s.send(Method::POST, "/$batch", None, Some(json!({"requests": [get("1")]})), &[])
        .await
        .assert_error(401, "InvalidAuthenticationToken");
    s.get("/$batch", &t).await.assert_error(405, "ErrorInvalidRequest");
}

/// Inner URLs in every form the SDKs send: relative with or without `/`, with the batch's version
/// prefix (the JavaScript client), absolute on this server (the Python SDK, with `depends_on` and
/// lower-case, list-valued headers). Another version or another origin is refused.
async fn batch_urls_in_every_client_form(s: TestServer) {
    let (user, t) = s.login("eve@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Eve"})).await;
    let urls = [
        "/me/contacts".to_owned(),
        "me/contacts".to_owned(),
        "/v1.0/me/contacts".to_owned(),
        "V1.0/me/contacts".to_owned(),
        format!("{}/me/contacts", s.base),
        format!("{}/me/contacts?$select=givenName", s.base),
        format!("/v1.0/users/{}/contacts/{id}", user.user_principal_name),
    ];
    let count = s
        .post(
            "/$batch",
            &t,
            json!({"requests": [{"id": "n", "method": "GET", "url": format!("{}/me/contacts/$count", s.base)}]}),
        )
        .await;
    let n = by_id(&count.body, "n");
    assert_eq!((n["status"].as_u64(), n["body"].as_str()), (Some(200), Some("1")), "{n}");
    assert_eq!(n["headers"]["Content-Type"], "text/plain; charset=utf-8");
    let requests: Vec<Value> =
        urls.iter().enumerate().map(|(i, u)| json!({"id": i.to_string(), "method": "GET", "url": u})).collect();
    let r = s.post("/$batch", &t, json!({ "requests": requests })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (i, url) in urls.iter().enumerate() {
        let one = by_id(&r.body, &i.to_string());
        assert_eq!(one["status"], 200, "{url}: {one}");
        let first = if one["body"]["value"].is_array() { &one["body"]["value"][0] } else { &one["body"] };
        assert_eq!(first["id"], id.as_str(), "{url}: {one}");
        assert_eq!(first["givenName"], "Eve", "{url}: {one}");
    }
    assert_eq!(
        by_id(&r.body, "5")["body"]["@odata.context"],
        format!("{}/$metadata#users('{}')/contacts(givenName)", s.base, user.id)
    );

    // What the Python SDK sends: absolute URLs, `depends_on`, lower-case headers as lists.
    let r = s
        .post(
            "/$batch",
            &t,
            json!({"requests": [
                {"id": "a", "method": "POST", "url": format!("{}/me/contacts", s.base), "depends_on": [],
                 "headers": {"content-type": ["application/json"], "accept": "application/json"}, "body": {"givenName": "Py"}},
                {"id": "b", "method": "GET", "url": format!("{}/me/contacts?$filter=givenName%20eq%20'Py'", s.base),
                 "depends_on": ["a"], "headers": null}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(by_id(&r.body, "a")["status"], 201, "{}", r.text);
    let listed = by_id(&r.body, "b");
    assert_eq!(listed["status"], 200, "{listed}");
    assert_eq!(listed["body"]["value"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["body"]["value"][0]["givenName"], "Py");

    // A beta batch takes beta URLs.
    let beta = s.base.replace("/v1.0", "/beta");
    let r = s.post(&format!("{beta}/$batch"), &t, json!({"requests": [{"id": "1", "method": "GET", "url": "/beta/me/contacts"}, {"id": "2", "method": "GET", "url": format!("{beta}/me/contacts")}]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(by_id(&r.body, "1")["status"], 200, "{}", r.text);
    assert_eq!(by_id(&r.body, "2")["status"], 200, "{}", r.text);

    // Another version, another origin, an absolute URL without a version: the batch is refused.
    let origin = s.base.trim_end_matches("/v1.0");
    for url in [
        "/beta/me/contacts".to_owned(),
        format!("{origin}/beta/me/contacts"),
        "https://graph.microsoft.com/v1.0/me/contacts".to_owned(),
        "http://evil.example/v1.0/me/contacts".to_owned(),
        format!("{origin}/me/contacts"),
        format!("{origin}.evil.example/v1.0/me/contacts"),
    ] {
        let r = s.post("/$batch", &t, json!({"requests": [{"id": "1", "method": "GET", "url": url}]})).await;
        r.assert_error(400, "BadRequest");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(&url), "{url}: {}", r.text);
    }
    // Nothing was created by the refused batches, and the Python-style create happened once.
    assert_eq!(s.ids_at("/me/contacts?$top=100", &t).await.len(), 2);
}

/// Absolute URLs under the configured public URL are this server's too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_accepts_the_public_url() {
    let s = TestServer::start_configured(crate::common::Backend::Sqlite, |state| {
        state.public_url = Some("https://rolo.example.test/".into());
    })
    .await;
    let (_, t) = s.login("pub@contoso.test").await;
    let r = s
        .post(
            "/$batch",
            &t,
            json!({"requests": [{"id": "1", "method": "GET", "url": "https://ROLO.example.test/v1.0/me/contacts?$top=1"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let one = by_id(&r.body, "1");
    assert_eq!(one["status"], 200, "{one}");
    assert_eq!(
        one["body"]["@odata.context"].as_str().unwrap().split("/$metadata").next(),
        Some("https://rolo.example.test/v1.0")
    );
}

both_backends!(
    batch_runs_requests_in_order,
    batch_carries_binary_bodies,
    malformed_batches_are_refused,
    batch_urls_in_every_client_form
);
