//! Authentication, permissions, URL and body errors, request ids and concurrency over HTTP, on
//! SQLite and PostgreSQL.

#[path = "wire/directory.rs"]
mod directory;

use std::collections::HashSet;
use std::sync::Arc;

use crate::common::{Backend, TestServer};
use crate::notifications::{subscription, Receiver};
use reqwest::Method;
use serde_json::json;

fn scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// Missing, malformed, garbage and expired bearer tokens are 401 with WWW-Authenticate.
async fn unauthenticated_requests(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "X"})).await;

    let r = s.send(Method::GET, "/me/contacts", None, None, &[]).await;
    r.assert_error(401, "InvalidAuthenticationToken");
    let www = r.header("WWW-Authenticate").expect("WWW-Authenticate header");
    assert!(www.starts_with("Bearer"), "{www}");
    // Also on writes and on unknown paths: authentication comes first.
    s.send(Method::POST, "/me/contacts", None, Some(json!({"givenName": "Y"})), &[])
        .await
        .assert_error(401, "InvalidAuthenticationToken");
    s.send(Method::DELETE, &format!("/me/contacts/{id}"), None, None, &[])
        .await
        .assert_error(401, "InvalidAuthenticationToken");

    for auth in [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer garbage",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        let r = s.send(Method::GET, "/me/contacts", None, None, &[("Authorization", auth)]).await;
        r.assert_error(401, "InvalidAuthenticationToken");
        assert!(r.header("WWW-Authenticate").is_some(), "no WWW-Authenticate for {auth:?}");
    }

    // Expired (an hour ago, beyond any leeway).
    let expired = s.authority.issue_delegated(&user, &scopes("Contacts.ReadWrite"), -3600).expect("expired token");
    let r = s.get("/me/contacts", &expired).await;
    r.assert_error(401, "InvalidAuthenticationToken");
    assert!(r.body["error"]["message"].as_str().unwrap().to_lowercase().contains("expired"), "{}", r.text);
    assert!(r.header("WWW-Authenticate").is_some());

    // A valid token with one signature byte changed.
    let mut forged: Vec<char> = t.chars().collect();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    s.get("/me/contacts", &forged).await.assert_error(401, "InvalidAuthenticationToken");

    // The genuine token still works, and nothing was written by the refused requests.
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id]);
}

/// A token signed by another Rolo installation is refused, even for a user of this one.
async fn token_from_another_installation(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    // The installation's identity does not depend on its database kind.
    let other = TestServer::start(Backend::Sqlite).await;
    let other_user = other.user("ada@contoso.test").await;
    let foreign = other.token(&other_user, "Contacts.ReadWrite");
    s.get("/me/contacts", &foreign).await.assert_error(401, "InvalidAuthenticationToken");
    // Same user object as this installation's, signed by the other authority.
    let foreign_same_user = other.authority.issue_delegated(&user, &scopes("Contacts.ReadWrite"), 3600).unwrap();
    s.get("/me/contacts", &foreign_same_user).await.assert_error(401, "InvalidAuthenticationToken");
    s.post("/me/contacts", &foreign_same_user, json!({"givenName": "Intruder"}))
        .await
        .assert_error(401, "InvalidAuthenticationToken");
    // And the other way round.
    other.get("/me/contacts", &t).await.assert_error(401, "InvalidAuthenticationToken");
    assert_eq!(s.ids_at("/me/contacts", &t).await, Vec::<String>::new());
}

/// Contacts.Read reads but cannot write; an unrelated scope cannot even read.
async fn scopes_gate_operations(s: TestServer) {
    let (user, rw) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&rw, json!({"givenName": "Keep"})).await;
    let f = s.create_folder_at("/me/contactFolders", &rw, "F").await;
    let read = s.token(&user, "Contacts.Read");

    assert_eq!(s.ids_at("/me/contacts", &read).await, vec![id.clone()]);
    assert_eq!(s.get(&format!("/me/contacts/{id}"), &read).await.status, 200);
    assert_eq!(s.ids_at("/me/contactFolders", &read).await, vec![f.clone()]);
    assert_eq!(s.get(&format!("/me/contactFolders/{f}"), &read).await.status, 200);
    assert_eq!(s.ids_at(&format!("/me/contactFolders/{f}/contacts"), &read).await, Vec::<String>::new());

    s.post("/me/contacts", &read, json!({"givenName": "No"})).await.assert_error(403, "ErrorAccessDenied");
    s.patch(&format!("/me/contacts/{id}"), &read, json!({"givenName": "No"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.delete(&format!("/me/contacts/{id}"), &read).await.assert_error(403, "ErrorAccessDenied");
    s.send(Method::POST, &format!("/me/contacts/{id}/permanentDelete"), Some(&read), None, &[])
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.post("/me/contactFolders", &read, json!({"displayName": "No"})).await.assert_error(403, "ErrorAccessDenied");
    s.patch(&format!("/me/contactFolders/{f}"), &read, json!({"displayName": "No"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.delete(&format!("/me/contactFolders/{f}"), &read).await.assert_error(403, "ErrorAccessDenied");

    // Unrelated scope: even reads are denied.
    let unrelated = s.token(&user, "User.Read Mail.ReadWrite");
    s.get("/me/contacts", &unrelated).await.assert_error(403, "ErrorAccessDenied");
    s.get(&format!("/me/contacts/{id}"), &unrelated).await.assert_error(403, "ErrorAccessDenied");
    s.get("/me/contactFolders", &unrelated).await.assert_error(403, "ErrorAccessDenied");
    s.post("/me/contacts", &unrelated, json!({"givenName": "No"})).await.assert_error(403, "ErrorAccessDenied");
    let none = s.token(&user, "");
    s.get("/me/contacts", &none).await.assert_error(403, "ErrorAccessDenied");

    // Nothing changed.
    let got = s.get(&format!("/me/contacts/{id}"), &rw).await;
    assert_eq!(got.body["givenName"], "Keep");
    assert_eq!(s.ids_at("/me/contacts", &rw).await, vec![id]);
    assert_eq!(s.get(&format!("/me/contactFolders/{f}"), &rw).await.body["displayName"], "F");
}

/// /users/{other} is denied; /users/{unknown} is ErrorInvalidUser; /users/{self} works.
async fn other_users_and_unknown_users(s: TestServer) {
    let (ada, t) = s.login("ada@contoso.test").await;
    let (bob, tb) = s.login("bob@contoso.test").await;
    let bobs = s.create_contact(&tb, json!({"givenName": "BobsFriend"})).await;

    for path in [
        format!("/users/{}/contacts", bob.user_principal_name),
        format!("/users/{}/contacts", bob.id),
        format!("/users/{}/contacts/{bobs}", bob.user_principal_name),
        format!("/users/{}/contactFolders", bob.id),
        format!("/users('{}')/contacts", bob.user_principal_name),
    ] {
        s.get(&path, &t).await.assert_error(403, "ErrorAccessDenied");
    }
    s.post(&format!("/users/{}/contacts", bob.user_principal_name), &t, json!({"givenName": "Planted"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.delete(&format!("/users/{}/contacts/{bobs}", bob.id), &t).await.assert_error(403, "ErrorAccessDenied");
    assert_eq!(s.ids_at("/me/contacts", &tb).await, vec![bobs]);

    let r = s.get("/users/nobody@x.test/contacts", &t).await;
    r.assert_error(404, "ErrorInvalidUser");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("nobody@x.test"), "{}", r.text);
    s.get("/users/00000000-0000-0000-0000-000000000000/contacts", &t).await.assert_error(404, "ErrorInvalidUser");

    // Self by UPN (any case) and by id.
    let mine = s.create_contact(&t, json!({"givenName": "Mine"})).await;
    assert_eq!(s.ids_at(&format!("/users/{}/contacts", ada.user_principal_name), &t).await, vec![mine.clone()]);
    assert_eq!(s.ids_at("/users/ADA@CONTOSO.TEST/contacts", &t).await, vec![mine.clone()]);
    assert_eq!(s.ids_at(&format!("/users/{}/contacts", ada.id), &t).await, vec![mine.clone()]);
    let r = s.get(&format!("/users/{}/contacts/{mine}", ada.id.to_uppercase()), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The context names the user by object id whatever the URL said.
    assert_eq!(r.body["@odata.context"], s.context_of(&ada, "contacts/$entity"));

    // UPNs compare ignoring ASCII case only: the Kelvin sign (U+212A) is not a 'k', whether or
    // not the real user was looked up (and cached) first.
    let (kate, kt) = s.login("kate@contoso.test").await;
    assert_eq!(s.get("/users/KATE@contoso.test/contacts", &kt).await.status, 200);
    for lookalike in ["%E2%84%AAate@contoso.test", "%E2%84%AAATE@CONTOSO.TEST"] {
        s.get(&format!("/users/{lookalike}/contacts"), &kt).await.assert_error(404, "ErrorInvalidUser");
    }
    assert!(s.store.find_user("\u{212A}ate@contoso.test").await.unwrap().is_none());
    assert_eq!(s.store.find_user("KATE@CONTOSO.TEST").await.unwrap().map(|u| u.id), Some(kate.id));
}

/// Unknown segments, versions and methods.
async fn bad_urls_and_methods(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "X"})).await;

    let r = s.get("/me/drive", &t).await;
    r.assert_error(400, "BadRequest");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("drive"), "{}", r.text);
    s.get(&format!("/me/contacts/{id}/extra/more"), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("/me/contacts/{id}/nonsense"), &t).await.assert_error(400, "BadRequest");
    s.get("/groups/x/contacts", &t).await.assert_error(400, "BadRequest");
    let base_root = s.base.trim_end_matches("/v1.0").to_owned();
    let r = s.get(&format!("{base_root}/v2.0/me/contacts"), &t).await;
    r.assert_error(400, "BadRequest");
    s.get(&format!("{base_root}/beta2/me/contacts"), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("{base_root}/me/contacts"), &t).await.assert_error(400, "BadRequest");

    // Methods a resource does not support.
    s.send(Method::PUT, "/me/contacts", Some(&t), Some(json!({"givenName": "Y"})), &[])
        .await
        .assert_error(405, "ErrorInvalidRequest");
    s.send(Method::PUT, &format!("/me/contacts/{id}"), Some(&t), Some(json!({"givenName": "Y"})), &[])
        .await
        .assert_error(405, "ErrorInvalidRequest");
    s.patch("/me/contacts", &t, json!({"givenName": "Y"})).await.assert_error(405, "ErrorInvalidRequest");
    s.delete("/me/contacts", &t).await.assert_error(405, "ErrorInvalidRequest");
    s.post(&format!("/me/contacts/{id}"), &t, json!({"givenName": "Y"})).await.assert_error(405, "ErrorInvalidRequest");
    s.delete("/me/contactFolders", &t).await.assert_error(405, "ErrorInvalidRequest");
    // The contact is unchanged.
    assert_eq!(s.get(&format!("/me/contacts/{id}"), &t).await.body["givenName"], "X");
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id]);

    // Malformed and empty ids.
    s.get("/me/contacts/abc", &t).await.assert_error(400, "ErrorInvalidIdMalformed");
    s.get("/me/contacts('')", &t).await.assert_error(400, "ErrorInvalidIdEmpty");
    s.get("/me/contacts/%zz", &t).await.assert_error(400, "BadRequest");
}

/// Bodies that are not JSON objects, too large, or carry unknown, read-only or mistyped properties.
async fn bad_bodies(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Orig"})).await;
    let before = s.get(&format!("/me/contacts/{id}"), &t).await.body;

    let r = s
        .send_raw(Method::POST, "/me/contacts", Some(&t), b"{\"givenName\": ".to_vec(), Some("application/json"), &[])
        .await;
    r.assert_error(400, "BadRequest");
    s.send_raw(
        Method::PATCH,
        &format!("/me/contacts/{id}"),
        Some(&t),
        b"{givenName: 'x'}".to_vec(),
        Some("application/json"),
        &[],
    )
    .await
    .assert_error(400, "BadRequest");
    s.send_raw(Method::POST, "/me/contacts", Some(&t), vec![0xff, 0xfe, 0x00], Some("application/json"), &[])
        .await
        .assert_error(400, "BadRequest");
    s.send_raw(
        Method::POST,
        "/me/contacts",
        Some(&t),
        b"[{\"givenName\":\"A\"}]".to_vec(),
        Some("application/json"),
        &[],
    )
    .await
    .assert_error(400, "RequestBodyRead");
    s.send_raw(Method::POST, "/me/contacts", Some(&t), b"\"just a string\"".to_vec(), Some("application/json"), &[])
        .await
        .assert_error(400, "RequestBodyRead");
    s.send_raw(Method::POST, "/me/contactFolders", Some(&t), b"[]".to_vec(), Some("application/json"), &[])
        .await
        .assert_error(400, "RequestBodyRead");
    s.send_raw(Method::POST, "/me/contacts", Some(&t), b"<contact/>".to_vec(), Some("application/xml"), &[])
        .await
        .assert_error(415, "UnsupportedMediaType");

    // Unknown property.
    let r = s.post("/me/contacts", &t, json!({"givenName": "A", "shoeSize": 44})).await;
    r.assert_error(400, "RequestBodyRead");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("shoeSize"), "{}", r.text);
    s.patch(&format!("/me/contacts/{id}"), &t, json!({"shoeSize": 44})).await.assert_error(400, "RequestBodyRead");
    s.post("/me/contacts", &t, json!({"givenName": "A", "homeAddress": {"zip": "1"}}))
        .await
        .assert_error(400, "RequestBodyRead");
    s.post("/me/contacts", &t, json!({"givenName": "A", "emailAddresses": [{"address": "a@x.test", "kind": "work"}]}))
        .await
        .assert_error(400, "RequestBodyRead");
    s.post("/me/contacts", &t, json!({"givenName": "A", "@odata.type": "#microsoft.graph.event"}))
        .await
        .assert_error(400, "RequestBodyRead");

    // Read-only properties.
    for (k, v) in [
        ("id", json!("AAAAAAAAAAAAAAAAAAAAAA")),
        ("createdDateTime", json!("2020-01-01T00:00:00Z")),
        ("lastModifiedDateTime", json!("2020-01-01T00:00:00Z")),
        ("changeKey", json!("x")),
    ] {
        let mut body = json!({"givenName": "A"});
        body[k] = v;
        let r = s.post("/me/contacts", &t, body.clone()).await;
        r.assert_error(400, "ErrorInvalidProperty");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(k), "{}", r.text);
        s.patch(&format!("/me/contacts/{id}"), &t, body).await.assert_error(400, "ErrorInvalidProperty");
    }

    // Wrong types.
    for body in [
        json!({"givenName": 5}),
        json!({"givenName": true}),
        json!({"givenName": ["A"]}),
        json!({"categories": "Red"}),
        json!({"categories": [1, 2]}),
        json!({"emailAddresses": {"address": "a@x.test"}}),
        json!({"homeAddress": "Main St 1"}),
        json!({"mobilePhone": 5551234}),
        json!({"birthday": "not a date"}),
    ] {
        s.post("/me/contacts", &t, body.clone()).await.assert_error(400, "RequestBodyRead");
        s.patch(&format!("/me/contacts/{id}"), &t, body).await.assert_error(400, "RequestBodyRead");
    }

    // None of the refused requests changed or created anything.
    let after = s.get(&format!("/me/contacts/{id}"), &t).await.body;
    assert_eq!(after, before);
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id]);
}

/// Graph's 4 MB request limit: a 4.5 MB body is 413 RequestEntityTooLarge - and the client must
/// actually receive that response (the server must not reset the connection while the client is
/// still sending the body). A 3 MB body is accepted and stored whole.
async fn body_size_limit(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "Small"})).await;
    let huge = json!({"personalNotes": "x".repeat(4_500_000)}).to_string().into_bytes();
    let mut outcomes = Vec::new();
    for i in 0..20 {
        // A fresh connection each time, alternating POST and PATCH.
        let client = reqwest::Client::new();
        let (method, url) = if i % 2 == 0 {
            (Method::POST, format!("{}/me/contacts", s.base))
        } else {
            (Method::PATCH, format!("{}/me/contacts/{id}", s.base))
        };
        let sent = client
            .request(method, url)
            .bearer_auth(&t)
            .header("Content-Type", "application/json")
            .body(huge.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let r = crate::common::into_resp(resp).await;
                r.assert_error(413, "RequestEntityTooLarge");
                outcomes.push("413".to_owned());
            }
            Err(e) => outcomes.push(format!("transport error: {e:?}")),
        }
    }
    let failures: Vec<&String> = outcomes.iter().filter(|o| *o != "413").collect();
    assert!(
        failures.is_empty(),
        "{} of 20 oversized requests did not receive the 413 response: {:?}",
        failures.len(),
        failures.first()
    );
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id.clone()]);
    assert_eq!(s.get(&format!("/me/contacts/{id}"), &t).await.body["personalNotes"], "");

    let large = "y".repeat(3_000_000);
    let r = s.patch(&format!("/me/contacts/{id}"), &t, json!({"personalNotes": large})).await;
    assert_eq!(r.status, 200, "{}", r.text.chars().take(300).collect::<String>());
    let got = s.get(&format!("/me/contacts/{id}?$select=personalNotes"), &t).await;
    assert_eq!(got.body["personalNotes"].as_str().map(str::len), Some(3_000_000));
}

/// request-id on every response; client-request-id echoed in the header and in innerError.
async fn request_ids(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let ok = s.get("/me/contacts", &t).await;
    assert_eq!(ok.status, 200);
    let rid = ok.header("request-id").expect("request-id on success").to_owned();
    assert_eq!(rid.len(), 36, "{rid}");
    // Without a client value, client-request-id mirrors the request id.
    assert_eq!(ok.header("client-request-id"), Some(rid.as_str()));
    let ok2 = s.get("/me/contacts", &t).await;
    assert_ne!(ok2.header("request-id").expect("request-id on success"), rid, "request ids must differ");
    // Graph's standard headers on JSON responses.
    assert_eq!(ok.header("OData-Version"), Some("4.0"));
    assert!(ok.header("Content-Type").unwrap().starts_with("application/json"), "{:?}", ok.header("Content-Type"));

    let crid = "5d4f2a8e-1111-4222-8333-944455556666";
    let ok = s.send(Method::GET, "/me/contacts", Some(&t), None, &[("client-request-id", crid)]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("client-request-id"), Some(crid));
    assert!(ok.header("request-id").is_some());
    assert_ne!(ok.header("request-id"), Some(crid));

    let err = s
        .send(Method::GET, "/me/contacts/AAAAAAAAAAAAAAAAAAAAAA", Some(&t), None, &[("client-request-id", crid)])
        .await;
    err.assert_error(404, "ErrorItemNotFound");
    assert_eq!(err.header("client-request-id"), Some(crid));
    assert_eq!(err.body["error"]["innerError"]["client-request-id"], crid);
    assert_eq!(err.body["error"]["innerError"]["request-id"].as_str(), err.header("request-id"));
    let date = err.body["error"]["innerError"]["date"].as_str().unwrap();
    assert_eq!(date.len(), 19, "innerError.date is YYYY-MM-DDTHH:MM:SS: {date}");
    // Even on 401, before any authentication.
    let unauth = s.send(Method::GET, "/me/contacts", None, None, &[("client-request-id", crid)]).await;
    unauth.assert_error(401, "InvalidAuthenticationToken");
    assert_eq!(unauth.body["error"]["innerError"]["client-request-id"], crid);
    // 204 responses carry a request id too.
    let id = s.create_contact(&t, json!({"givenName": "D"})).await;
    let del =
        s.send(Method::DELETE, &format!("/me/contacts/{id}"), Some(&t), None, &[("client-request-id", crid)]).await;
    assert_eq!(del.status, 204);
    assert!(del.header("request-id").is_some());
    assert_eq!(del.header("client-request-id"), Some(crid));
}

/// If-Match: a stale etag is 412 for PATCH and DELETE; the current one and `*` succeed.
async fn if_match_preconditions(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let created = s.create_contact_at("/me/contacts", &t, json!({"givenName": "V1"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let etag1 = created["@odata.etag"].as_str().unwrap().to_owned();
    let p = format!("/me/contacts/{id}");
    let r = s.send(Method::PATCH, &p, Some(&t), Some(json!({"givenName": "V2"})), &[("If-Match", &etag1)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let etag2 = r.body["@odata.etag"].as_str().unwrap().to_owned();
    assert_eq!(r.header("ETag"), Some(etag2.as_str()));
    s.send(Method::PATCH, &p, Some(&t), Some(json!({"givenName": "V3"})), &[("If-Match", &etag1)])
        .await
        .assert_error(412, "ErrorIrresolvableConflict");
    s.send(Method::DELETE, &p, Some(&t), None, &[("If-Match", &etag1)])
        .await
        .assert_error(412, "ErrorIrresolvableConflict");
    assert_eq!(s.get(&p, &t).await.body["givenName"], "V2");
    // A list of etags, one of them current.
    let list = format!("{etag1}, {etag2}");
    let r = s.send(Method::PATCH, &p, Some(&t), Some(json!({"givenName": "V3"})), &[("If-Match", &list)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.send(Method::PATCH, &p, Some(&t), Some(json!({"givenName": "V4"})), &[("If-Match", "*")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let etag4 = r.body["@odata.etag"].as_str().unwrap().to_owned();
    let r = s.send(Method::DELETE, &p, Some(&t), None, &[("If-Match", &etag4)]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&p, &t).await.assert_error(404, "ErrorItemNotFound");
}

/// 20 concurrent PATCHes with the same If-Match: exactly one wins, 19 get 412; the stored contact
/// is the winner's. 20 concurrent PATCHes without If-Match all succeed with distinct change keys.
async fn concurrent_conditional_updates(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let created = s.create_contact_at("/me/contacts", &t, json!({"givenName": "Race"})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let etag = created["@odata.etag"].as_str().unwrap().to_owned();
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, t, id, etag) = (s.clone(), t.clone(), id.clone(), etag.clone());
        tasks.push(tokio::spawn(async move {
            let r = s
                .send(
                    Method::PATCH,
                    &format!("/me/contacts/{id}"),
                    Some(&t),
                    Some(json!({"jobTitle": format!("J{i}")})),
                    &[("If-Match", &etag)],
                )
                .await;
            (i, r.status.as_u16(), r.body)
        }));
    }
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (i, status, body) = task.await.unwrap();
        match status {
            200 => winners.push((i, body)),
            412 => {
                assert_eq!(body["error"]["code"], "ErrorIrresolvableConflict");
                conflicts += 1;
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one conditional update must win");
    assert_eq!(conflicts, 19);
    let (wi, wbody) = &winners[0];
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.body["jobTitle"], format!("J{wi}"));
    assert_eq!(got.body["changeKey"], wbody["changeKey"]);

    // Unconditional: all succeed, each with its own change key.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, t, id) = (s.clone(), t.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let r = s.patch(&format!("/me/contacts/{id}"), &t, json!({"department": format!("D{i}")})).await;
            (r.status.as_u16(), r.body)
        }));
    }
    let mut keys = HashSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
        keys.insert(body["changeKey"].as_str().unwrap().to_owned());
    }
    assert_eq!(keys.len(), 20, "change keys must be distinct");
    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert!(keys.contains(got.body["changeKey"].as_str().unwrap()));
    assert_eq!(got.body["jobTitle"], format!("J{wi}"));
}

/// 20 concurrent creates all succeed with distinct ids and are all listed.
async fn concurrent_creates(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (s, t) = (s.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let r = s.post("/me/contacts", &t, json!({"givenName": format!("C{i:02}"), "categories": ["Bulk"], "emailAddresses": [{"address": format!("c{i}@x.test")}]})).await;
            (r.status.as_u16(), r.body)
        }));
    }
    let mut ids = HashSet::new();
    let mut keys = HashSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 201, "{body}");
        ids.insert(body["id"].as_str().unwrap().to_owned());
        keys.insert(body["changeKey"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 20);
    assert_eq!(keys.len(), 20);
    let r = s.get("/me/contacts?$count=true&$top=100", &t).await;
    assert_eq!(r.body["@odata.count"], 20);
    let listed: HashSet<String> =
        r.body["value"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, ids);
    let r = s.get("/me/contacts?$count=true&$filter=categories/any(c:c%20eq%20'Bulk')", &t).await;
    assert_eq!(r.body["@odata.count"], 20, "{}", r.text);
    let r = s.get("/me/contacts?$filter=emailAddresses/any(a:a/address%20eq%20'c7@x.test')", &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["value"][0]["givenName"], "C07");
}

/// A method a route does not serve is 405 with `Allow`, decided before the query options are
/// read and before the mailbox is looked up.
async fn methods_not_served_name_the_allowed_ones(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "X"})).await;
    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    let root = s.base.trim_end_matches("/v1.0").to_owned();
    for (method, path, allow) in [
        (Method::TRACE, "/me/contacts?$expand=bogus(".to_owned(), "GET, POST"),
        (Method::PUT, "/me/contacts?$top=-1".to_owned(), "GET, POST"),
        (Method::OPTIONS, format!("/me/contacts/{id}?$select=nope"), "GET, PATCH, DELETE"),
        (Method::DELETE, format!("/me/contacts/{id}/permanentDelete"), "POST"),
        (Method::GET, format!("/me/contactFolders/{f}/permanentDelete"), "POST"),
        (Method::PUT, format!("/me/contactFolders/{f}"), "GET, PATCH, DELETE"),
        (Method::PATCH, "/me/contactFolders/delta()".to_owned(), "GET"),
        (Method::POST, format!("/me/contacts/{id}/photo"), "GET"),
        (Method::DELETE, format!("/me/contacts/{id}/photo/$value"), "GET, PUT, PATCH"),
        (Method::PUT, "/me/photo".to_owned(), "GET, DELETE"),
        (Method::POST, "/me/photo/$value".to_owned(), "GET, PUT, PATCH, DELETE"),
        (Method::POST, "/me/people?$search=x".to_owned(), "GET"),
        (Method::PUT, format!("/me/contacts/{id}/extensions"), "GET, POST"),
        (Method::POST, format!("/me/contacts/{id}/extensions/Com.X"), "GET, PATCH, DELETE"),
        (Method::PATCH, "/me/outlook/masterCategories".to_owned(), "GET, POST"),
        (Method::PUT, "/me/messages".to_owned(), "GET, POST"),
        (Method::GET, "/me/sendMail".to_owned(), "POST"),
        // Another user's mailbox, even one that does not exist: the method is wrong whatever.
        (Method::PUT, "/users/nobody@contoso.test/contacts".to_owned(), "GET, POST"),
        (Method::PUT, "/subscriptions".to_owned(), "GET, POST"),
        (Method::POST, "/subscriptions/00000000-0000-0000-0000-000000000002".to_owned(), "GET, PATCH, DELETE"),
        (Method::GET, "/subscriptions/00000000-0000-0000-0000-000000000002/reauthorize".to_owned(), "POST"),
        (Method::PUT, "/schemaExtensions".to_owned(), "GET, POST"),
        (Method::GET, "/$batch".to_owned(), "POST"),
        (Method::DELETE, "/$metadata".to_owned(), "GET"),
        (Method::POST, format!("{root}/v1.0/"), "GET"),
    ] {
        let body = (method == Method::PUT || method == Method::POST || method == Method::PATCH).then(|| json!({}));
        let r = s.send(method.clone(), &path, Some(&t), body, &[]).await;
        r.assert_error(405, "ErrorInvalidRequest");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(
            r.body["error"]["message"],
            format!("The OData request is not supported: method '{method}' is not allowed on this resource.")
        );
    }
    // The method is refused before the token's scopes are looked at (the token itself is checked).
    let (weak_user, _) = s.login("weak@contoso.test").await;
    let weak = s.token(&weak_user, "User.Read");
    for path in ["/me/contacts", "/subscriptions", "/users/ada@contoso.test/contacts"] {
        let r = s.send(Method::PUT, path, Some(&weak), Some(json!({})), &[]).await;
        r.assert_error(405, "ErrorInvalidRequest");
        assert_eq!(r.header("allow"), Some("GET, POST"), "{path}");
        s.send(Method::PUT, path, None, Some(json!({})), &[]).await.assert_error(401, "InvalidAuthenticationToken");
    }
    s.get("/me/contacts", &weak).await.assert_error(403, "ErrorAccessDenied");
    // Served methods still read their query options.
    s.get("/me/contacts?$expand=bogus(", &t).await.assert_error(400, "BadRequest");
    // Nothing changed.
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id.clone()]);
    assert_eq!(s.get(&format!("/me/contactFolders/{f}"), &t).await.status, 200);
}

/// A create or update without a body is refused, as on Graph; actions take none.
async fn missing_bodies_are_refused(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id = s.create_contact(&t, json!({"givenName": "X"})).await;
    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    for (method, path) in [
        (Method::POST, "/me/contacts".to_owned()),
        (Method::POST, format!("/me/contactFolders/{f}/contacts")),
        (Method::PATCH, format!("/me/contacts/{id}")),
        (Method::POST, "/me/contactFolders".to_owned()),
        (Method::PATCH, format!("/me/contactFolders/{f}")),
        (Method::POST, format!("/me/contacts/{id}/extensions")),
    ] {
        for body in [Vec::new(), b"  \r\n".to_vec()] {
            let r = s.send_raw(method.clone(), &path, Some(&t), body, Some("application/json"), &[]).await;
            r.assert_error(400, "BadRequest");
            assert_eq!(r.body["error"]["message"], "Empty Payload. JSON content expected.", "{method} {path}");
        }
    }
    // No contact was created; an empty object still is a (blank) contact.
    assert_eq!(s.ids_at("/me/contacts", &t).await, vec![id.clone()]);
    assert_eq!(s.post("/me/contacts", &t, json!({})).await.status, 201);
    // Actions need no body.
    let r =
        s.send_raw(Method::POST, &format!("/me/contacts/{id}/permanentDelete"), Some(&t), Vec::new(), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .send_raw(Method::POST, &format!("/me/contactFolders/{f}/permanentDelete"), Some(&t), Vec::new(), None, &[])
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// Query options on `/subscriptions` are checked as everywhere; `$top` is honoured.
async fn subscription_list_options(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    for bad in ["$top=-1", "$skip=-3", "$top=x", "$filter=("] {
        s.get(&format!("/subscriptions?{bad}"), &t).await.assert_error(400, "BadRequest");
    }
    // Two subscriptions, so that `$top=1` has one to leave out.
    let receiver = Receiver::start().await;
    for _ in 0..2 {
        let r = s.post("/subscriptions", &t, subscription("me/contacts", &receiver.url)).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let all = s.get("/subscriptions", &t).await;
    assert_eq!(all.body["value"].as_array().map(Vec::len), Some(2), "{}", all.text);
    let r = s.get("/subscriptions?$top=1", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"], json!([all.body["value"][0]]));
}

both_backends!(
    methods_not_served_name_the_allowed_ones,
    missing_bodies_are_refused,
    subscription_list_options,
    unauthenticated_requests,
    token_from_another_installation,
    scopes_gate_operations,
    other_users_and_unknown_users,
    bad_urls_and_methods,
    bad_bodies,
    body_size_limit,
    request_ids,
    if_match_preconditions,
    concurrent_conditional_updates,
    concurrent_creates,
);

/// Health endpoints answer without a token, outside the Graph URL space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints() {
    let s = TestServer::start(Backend::Sqlite).await;
    let root = s.base.trim_end_matches("/v1.0").to_owned();
    for (path, text) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = s.send(Method::GET, &format!("{root}{path}"), None, None, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text, text);
    }
}

/// The service document and `$metadata` are public and describe what is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_document_and_metadata() {
    let s = TestServer::start(Backend::Sqlite).await;
    let doc = s.send(Method::GET, "/", None, None, &[]).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert_eq!(doc.body["@odata.context"], format!("{}/$metadata", s.base));
    assert_eq!(doc.body["value"][1], json!({"name": "organization", "kind": "EntitySet", "url": "organization"}));
    assert_eq!(doc.body["value"][4], json!({"name": "groups", "kind": "EntitySet", "url": "groups"}));
    assert_eq!(doc.body["value"][5], json!({"name": "me", "kind": "Singleton", "url": "me"}));
    let meta = s.send(Method::GET, "/$metadata", None, None, &[]).await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.header("content-type"), Some("application/xml"));
    for needle in [
        r#"<EntityType Name="contact" BaseType="graph.outlookItem" OpenType="true">"#,
        r#"<Property Name="primaryEmailAddress" Type="graph.emailAddress" />"#,
        r#"<NavigationProperty Name="childFolders" Type="Collection(graph.contactFolder)" ContainsTarget="true" />"#,
        r#"<EntitySet Name="users" EntityType="graph.user" />"#,
        r#"<EntitySet Name="schemaExtensions" EntityType="graph.schemaExtension" />"#,
    ] {
        assert!(meta.text.contains(needle), "missing {needle}");
    }
    // Beta describes its own shape at its own root.
    let beta_root = s.base.replace("/v1.0", "/beta");
    let doc = s.send(Method::GET, &format!("{beta_root}/"), None, None, &[]).await;
    assert_eq!(doc.body["@odata.context"], format!("{beta_root}/$metadata"));
    let meta = s.send(Method::GET, &format!("{beta_root}/$metadata"), None, None, &[]).await;
    assert!(meta.text.contains(r#"<Property Name="flag" Type="graph.followupFlag" />"#));
    assert!(!meta.text.contains(r#"<Property Name="primaryEmailAddress""#));
}

/// `openapi.json` describes exactly what is served: every described operation reaches a handler
/// (never 405 or "Resource not found for the segment"), and every other method on a described
/// path answers 405. Other methods get real ids (a lookup may come before the method check);
/// described ones get made-up ids, so that DELETEs remove nothing the rest of the test needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_exactly_what_is_served() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (user, _) = s.login("openapi@contoso.com").await;
    let token = s.token(&user, "Contacts.ReadWrite MailboxSettings.ReadWrite User.ReadWrite Tasks.ReadWrite");
    let folder = s.create_folder_at("/me/contactFolders", &token, "F").await;
    let list =
        s.post("/me/todo/lists", &token, json!({"displayName": "L"})).await.body["id"].as_str().unwrap().to_owned();
    let task = s.post(&format!("/me/todo/lists/{list}/tasks"), &token, json!({"title": "T"})).await;
    let task = task.body["id"].as_str().unwrap().to_owned();
    let checklist = format!("/me/todo/lists/{list}/tasks/{task}/checklistItems");
    let item = s.post(&checklist, &token, json!({"displayName": "C"})).await.body["id"].as_str().unwrap().to_owned();
    let child = s.create_folder_at(&format!("/me/contactFolders/{folder}/childFolders"), &token, "G").await;
    let contact = s.create_contact(&token, json!({"givenName": "A"})).await;
    let doc = s.send(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert_eq!(doc.header("content-type"), Some("application/json"));
    assert_eq!(doc.body["openapi"], "3.0.3");
    let beta =
        s.send(Method::GET, &format!("{}/openapi.json", s.base.replace("/v1.0", "/beta")), None, None, &[]).await;
    assert!(beta.body["components"]["schemas"]["microsoft.graph.contact"]["properties"]["flag"].is_object());

    let ids = [
        ("{user-id}", user.id.clone()),
        ("{contactFolder-id}", folder),
        ("{contactFolder-id1}", child),
        ("{contact-id}", contact),
        ("{extension-id}", "Com.Contoso.X".to_owned()),
        ("{profilePhoto-id}", "48X48".to_owned()),
        ("{contactFolderPermission-id}", "P1".to_owned()),
        ("{outlookCategory-id}", "00000000-0000-0000-0000-000000000001".to_owned()),
        ("{subscription-id}", "00000000-0000-0000-0000-000000000002".to_owned()),
        ("{schemaExtension-id}", "extabcdefgh_x".to_owned()),
        ("{organization-id}", s.authority.tenant_id.clone()),
        ("{todoTaskList-id}", list),
        ("{todoTask-id}", task),
        ("{checklistItem-id}", item),
        // Group routes answer 405 before looking anything up, so made-up keys do here.
        ("{group-id}", "00000000-0000-0000-0000-000000000003".to_owned()),
        ("{conversation-id}", "AAAAAAAAAAAAAAAAAAAAAB".to_owned()),
        ("{conversationThread-id}", "AAAAAAAAAAAAAAAAAAAAAC".to_owned()),
        ("{post-id}", "AAAAAAAAAAAAAAAAAAAAAD".to_owned()),
    ];
    let paths = doc.body["paths"].as_object().expect("paths");
    assert!(paths.len() > 90, "{} paths", paths.len());
    for (template, item) in paths {
        let mut path = template.clone();
        let mut made_up = template.replace("{user-id}", &user.id);
        for (k, v) in &ids {
            path = path.replace(k, v);
            made_up = made_up.replace(k, "AAAAAAAAAAAAAAAAAAAAAA");
        }
        assert!(!path.contains('{'), "unknown parameter in {template}");
        for method in ["get", "post", "put", "patch", "delete"] {
            let described = item.get(method).is_some();
            let path = if described { &made_up } else { &path };
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let r = s.send(m, path, Some(&token), body, &[]).await;
            let status = r.status.as_u16();
            assert!(status < 500, "{method} {path}: {status} {}", r.text);
            let unrouted = status == 405 || (status == 400 && r.text.contains("Resource not found for the segment"));
            if described {
                assert!(!unrouted, "{method} {template} is described but not served: {status} {}", r.text);
            } else {
                assert_eq!(status, 405, "{method} {template} is served but not described: {}", r.text);
            }
        }
    }
}
