//! The directory (`/me`, `/users`, `/organization`) and the wire (compression, HTTP/2), over
//! HTTP on SQLite and PostgreSQL. Included from `errors_and_auth.rs` (one test binary less to link).

use std::io::{Read, Write};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{into_resp, Resp, TestServer};

fn roles(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| (*s).to_owned()).collect()
}

/// Graph's default user projection, for a Rolo user.
fn user_body(u: &rolo_store::User) -> Value {
    json!({
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": null,
        "jobTitle": null,
        "mail": u.user_principal_name,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": null,
        "userPrincipalName": u.user_principal_name,
        "id": u.id,
    })
}

fn with_context(context: String, body: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("@odata.context".into(), json!(context));
    out.extend(body.as_object().cloned().unwrap_or_default());
    Value::Object(out)
}

/// Asserts the exact body, key order included (Graph's order is what SDK snapshots see).
fn assert_body(r: &Resp, expected: &Value) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(&r.body, expected, "{}", r.text);
    let keys = |v: &Value| v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(keys(&r.body), keys(expected), "key order: {}", r.text);
}

fn names(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
        .collect()
}

const EVENTUAL: &[(&str, &str)] = &[("ConsistencyLevel", "eventual")];

/// `/me`, `/users/{id | upn}`, `/users` with its query options, `/users/$count` and
/// `/organization`: exact bodies.
pub async fn directory_bodies(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let team = s.user("team@contoso.test").await;
    s.store.set_mailbox_kind(&team.id, rolo_store::MailboxKind::Shared).await.unwrap();
    let archive = s.user("archive@contoso.test").await;
    s.store.set_mailbox_kind(&archive.id, rolo_store::MailboxKind::Archive).await.unwrap();
    s.user("carol@fabrikam.test").await;
    let me = s.token(&ada, "User.Read");
    let all = s.token(&ada, "User.Read.All");
    let entity = format!("{}/$metadata#users/$entity", s.base);

    assert_body(&s.get("/me", &me).await, &with_context(entity.clone(), user_body(&ada)));
    assert_body(&s.get("/me/", &me).await, &with_context(entity.clone(), user_body(&ada)));
    let r = s.get("/me?$select=mail,displayName", &me).await;
    assert_body(
        &r,
        &json!({"@odata.context": format!("{}/$metadata#users(mail,displayName)/$entity", s.base),
                "mail": "ada@contoso.test", "displayName": "ada"}),
    );
    s.get("/me?$select=nickname", &me).await.assert_error(400, "Request_BadRequest");
    for key in [bob.id.clone(), "BOB@contoso.test".to_owned(), "'bob@contoso.test'".to_owned()] {
        let path = if key.starts_with('\'') { format!("/users({key})") } else { format!("/users/{key}") };
        assert_body(&s.get(&path, &all).await, &with_context(entity.clone(), user_body(&bob)));
    }
    let r = s.get(&format!("/users/{}?$select=id,accountEnabled,userType", team.id), &all).await;
    assert_eq!(
        r.body,
        json!({"@odata.context": format!("{}/$metadata#users(id,accountEnabled,userType)/$entity", s.base),
        "id": team.id, "accountEnabled": false, "userType": "Member"})
    );
    for missing in ["nobody@contoso.test", archive.id.as_str()] {
        let r = s.get(&format!("/users/{missing}"), &all).await;
        r.assert_error(404, "Request_ResourceNotFound");
        assert_eq!(
            r.body["error"]["message"],
            format!(
                "Resource '{missing}' does not exist or one of its queried reference-property objects are not present."
            )
        );
    }
    // Only GET is served (and POST /users, see access.rs); deeper paths are still the mailbox's.
    s.send(Method::PATCH, "/me", Some(&all), Some(json!({})), &[]).await.assert_error(405, "ErrorInvalidRequest");
    s.send(Method::PATCH, "/users", Some(&all), Some(json!({})), &[]).await.assert_error(405, "ErrorInvalidRequest");
    s.send(Method::POST, "/users", Some(&all), Some(json!({})), &[])
        .await
        .assert_error(403, "Authorization_RequestDenied");
    s.get("/me/contacts", &all).await.assert_error(403, "ErrorAccessDenied");

    // The list: by user principal name, shared mailboxes included, archives not.
    let r = s.get("/users", &all).await;
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#users", s.base));
    assert_eq!(r.body["value"][0], user_body(&ada));
    assert_eq!(names(&r), ["ada@contoso.test", "bob@contoso.test", "carol@fabrikam.test", "team@contoso.test"]);
    let r = s.get("/users?$select=displayName&$orderby=displayName%20desc", &all).await;
    assert_eq!(
        r.body,
        json!({"@odata.context": format!("{}/$metadata#users(displayName)", s.base),
        "value": [{"displayName": "team"}, {"displayName": "carol"}, {"displayName": "bob"}, {"displayName": "ada"}]})
    );
    for (filter, expected) in [
        ("startswith(displayName,'B')", vec!["bob@contoso.test"]),
        ("userPrincipalName eq 'CAROL@fabrikam.test'", vec!["carol@fabrikam.test"]),
        ("mail in ('ada@contoso.test','team@contoso.test')", vec!["ada@contoso.test", "team@contoso.test"]),
        (&format!("id eq '{}' or startswith(mail,'car')", bob.id), vec!["bob@contoso.test", "carol@fabrikam.test"]),
        ("accountEnabled eq false", vec!["team@contoso.test"]),
    ] {
        let r = s.get(&format!("/users?$filter={}", crate::common::enc(filter)), &all).await;
        assert_eq!(names(&r), expected, "{filter}");
    }
    s.get("/users?$filter=jobTitle2%20eq%20'x'", &all).await.assert_error(400, "Request_BadRequest");
    s.get("/users?$filter=endswith(mail,'test')", &all).await.assert_error(400, "Request_UnsupportedQuery");
    for top in ["0", "1000"] {
        let r = s.get(&format!("/users?$top={top}"), &all).await;
        r.assert_error(400, "Request_BadRequest");
        assert_eq!(
            r.body["error"]["message"],
            format!("Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.")
        );
    }
    let (items, sizes) = s.list_all("/users?$top=3&$select=userPrincipalName", &all, &[]).await;
    assert_eq!(sizes, [3, 1]);
    assert_eq!(items[3], json!({"userPrincipalName": "team@contoso.test"}));

    // $search and $count need `ConsistencyLevel: eventual`, as on Graph.
    let search = "/users?$search=%22displayName:bo%22";
    let r = s.get(search, &all).await;
    r.assert_error(400, "Request_UnsupportedQuery");
    let r = s.send(Method::GET, search, Some(&all), None, EVENTUAL).await;
    assert_eq!(names(&r), ["bob@contoso.test"]);
    let either = "/users?$search=%22mail:fabrikam%22%20OR%20%22displayName:ad%22&$count=true";
    let r = s.send(Method::GET, either, Some(&all), None, EVENTUAL).await;
    assert_eq!(names(&r), ["ada@contoso.test", "carol@fabrikam.test"]);
    assert_eq!(r.body["@odata.count"], 2);
    s.send(Method::GET, "/users?$search=bob", Some(&all), None, EVENTUAL)
        .await
        .assert_error(400, "Request_UnsupportedQuery");
    s.get("/users?$count=true", &all).await.assert_error(400, "Request_BadRequest");
    let r = s.send(Method::GET, "/users?$count=true&$top=1", Some(&all), None, EVENTUAL).await;
    assert_eq!(r.body["@odata.count"], 4);
    assert_eq!(
        r.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["@odata.context", "@odata.count", "@odata.nextLink", "value"]
    );
    s.get("/users/$count", &all).await.assert_error(400, "Request_BadRequest");
    let r = s.send(Method::GET, "/users/$count?$filter=endswith(mail,'x')", Some(&all), None, EVENTUAL).await;
    r.assert_error(400, "Request_UnsupportedQuery");
    let r = s.send(Method::GET, "/users/$count?$filter=startswith(mail,'b')", Some(&all), None, EVENTUAL).await;
    assert_eq!((r.status.as_u16(), r.text.as_str(), r.header("content-type")), (200, "1", Some("text/plain")));

    // The tenant.
    let tenant = s.authority.tenant_id.clone();
    let org = json!({
        "id": tenant, "deletedDateTime": null, "businessPhones": [], "city": null, "country": null,
        "countryLetterCode": null, "createdDateTime": null, "displayName": "Rolo",
        "marketingNotificationEmails": [], "postalCode": null, "preferredLanguage": null, "state": null,
        "street": null, "technicalNotificationMails": [], "tenantType": "AAD",
        "verifiedDomains": [
            {"capabilities": "Email", "isDefault": true, "isInitial": true, "name": "contoso.test", "type": "Managed"},
            {"capabilities": "Email", "isDefault": false, "isInitial": false, "name": "fabrikam.test", "type": "Managed"},
        ],
    });
    let r = s.get("/organization", &me).await;
    assert_body(&r, &json!({"@odata.context": format!("{}/$metadata#organization", s.base), "value": [org.clone()]}));
    let r = s.get(&format!("/organization/{tenant}"), &me).await;
    assert_body(&r, &with_context(format!("{}/$metadata#organization/$entity", s.base), org));
    s.get("/organization/00000000-0000-0000-0000-000000000000", &me)
        .await
        .assert_error(404, "Request_ResourceNotFound");
}

/// Who may read what, as Graph checks it: `User.Read` the signed-in user, `User.ReadBasic.All`
/// everyone's basic profile, `User.Read.All` / `Directory.Read.All` everything; app-only tokens
/// need the `User.Read.All` or `Directory.Read.All` role.
pub async fn directory_scopes(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let denied = |r: Resp| {
        r.assert_error(403, "Authorization_RequestDenied");
        assert_eq!(r.body["error"]["message"], "Insufficient privileges to complete the operation.");
    };
    let own_path = format!("/users/{}", ada.id);
    let bob_path = format!("/users/{}?$select=displayName,accountEnabled,mail", bob.id);

    let contacts = s.token(&ada, "Contacts.ReadWrite");
    for path in ["/me", own_path.as_str(), "/users", "/organization", bob_path.as_str()] {
        denied(s.get(path, &contacts).await);
    }

    let user_read = s.token(&ada, "User.Read");
    assert_eq!(s.get("/me", &user_read).await.status, 200);
    assert_eq!(s.get(&own_path, &user_read).await.body["id"], ada.id.as_str());
    assert_eq!(s.get("/organization", &user_read).await.status, 200);
    // Someone else, existing or not, and the list: 403, so nothing leaks about who exists.
    for path in [bob_path.as_str(), "/users/nobody@contoso.test", "/users"] {
        denied(s.get(path, &user_read).await);
    }

    // The basic profile of others; the full profile of oneself.
    let basic = s.token(&ada, "User.ReadBasic.All");
    let r = s.get(&bob_path, &basic).await;
    assert_eq!(r.body["displayName"], "bob");
    assert_eq!(r.body["mail"], "bob@contoso.test");
    assert_eq!(r.body["accountEnabled"], Value::Null, "{}", r.text);
    assert_eq!(s.get("/me?$select=accountEnabled", &basic).await.body["accountEnabled"], true);
    assert_eq!(names(&s.get("/users", &basic).await), ["ada@contoso.test", "bob@contoso.test"]);
    s.get("/users/nobody@contoso.test", &basic).await.assert_error(404, "Request_ResourceNotFound");
    denied(s.get("/organization", &basic).await);

    for scope in ["User.Read.All", "Directory.Read.All"] {
        let full = s.token(&ada, scope);
        assert_eq!(s.get(&bob_path, &full).await.body["accountEnabled"], true, "{scope}");
    }

    // App-only: roles, and no `/me`.
    let app =
        |r: &[&str]| s.authority.issue_app_token("11111111-0000-0000-0000-0000000000a1", &roles(r), 3600).unwrap();
    let weak = app(&["Contacts.ReadWrite", "User.ReadBasic.All"]);
    denied(s.get("/users", &weak).await);
    denied(s.get(&bob_path, &weak).await);
    let r = s.get("/me", &weak).await;
    r.assert_error(400, "BadRequest");
    assert_eq!(r.body["error"]["message"], "/me request is only valid with delegated authentication flow.");
    let reader = app(&["User.Read.All"]);
    assert_eq!(names(&s.get("/users", &reader).await), ["ada@contoso.test", "bob@contoso.test"]);
    assert_eq!(s.get(&bob_path, &reader).await.body["accountEnabled"], true);
    denied(s.get("/organization", &reader).await);
    let directory = app(&["Directory.Read.All"]);
    assert_eq!(s.get(&bob_path, &directory).await.status, 200);
    assert_eq!(s.get("/organization", &directory).await.status, 200);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gzip body");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).expect("brotli body");
    out
}

/// Responses of 1 KB and more are compressed with gzip or brotli, as the client asks; smaller
/// ones and images are not. gzip request bodies are inflated, within the 4 MB limit.
pub async fn compression(s: TestServer) {
    let (ada, t) = s.login("ada@contoso.test").await;
    for i in 0..12 {
        s.create_contact(&t, json!({"givenName": format!("Person {i}"), "personalNotes": "n".repeat(50)})).await;
    }
    let plain = s.get("/me/contacts?$top=12", &t).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.text.len() > 1024);
    for (coding, decode) in [("gzip", gunzip as fn(&[u8]) -> Vec<u8>), ("br", unbrotli)] {
        let r = s.get_bytes("/me/contacts?$top=12", &t, &[("Accept-Encoding", coding)]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-encoding"), Some(coding));
        assert!(r.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        assert!(r.bytes.len() < plain.text.len(), "{coding} did not shrink the body");
        let decoded: Value = serde_json::from_slice(&decode(&r.bytes)).expect("JSON");
        assert_eq!(decoded, plain.body, "{coding}");
        // The request id and Graph's headers survive compression.
        assert!(r.header("request-id").is_some());
        assert_eq!(r.header("odata-version"), Some("4.0"));
    }
    // A client that accepts several codings gets one it prefers.
    let r = s.get_bytes("/me/contacts?$top=12", &t, &[("Accept-Encoding", "gzip;q=0.5, br")]).await;
    assert_eq!(r.header("content-encoding"), Some("br"));

    // Inside a batch, responses stay JSON whatever a request's own headers ask; the batch
    // response itself is compressed.
    let batch = json!({"requests": [{"id": "1", "method": "GET", "url": "/me/contacts?$top=12",
        "headers": {"Accept-Encoding": "gzip"}}]});
    let r = s.post("/$batch", &t, batch.clone()).await;
    assert_eq!(r.body["responses"][0]["body"], plain.body, "{}", r.text);
    let r = s
        .client
        .post(format!("{}/$batch", s.base))
        .bearer_auth(&t)
        .header("Accept-Encoding", "gzip")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("content-encoding").unwrap(), "gzip");
    let unzipped: Value = serde_json::from_slice(&gunzip(&r.bytes().await.unwrap())).unwrap();
    assert_eq!(unzipped["responses"][0]["body"], plain.body);

    // Small bodies go as they are.
    let small = s.get_bytes("/me?$select=id", &s.token(&ada, "User.Read"), &[("Accept-Encoding", "gzip, br")]).await;
    assert_eq!((small.status.as_u16(), small.header("content-encoding")), (200, None));
    assert_eq!(small.header("content-length"), Some(small.bytes.len().to_string().as_str()));

    // Images are compressed already (and an uncompressed BMP is still served byte for byte).
    let id = s.create_contact(&t, json!({"givenName": "Pic"})).await;
    let bmp = rolo_media::sample(300, 200, rolo_media::Format::Bmp);
    let r = s
        .send_raw(
            Method::PUT,
            &format!("/me/contacts/{id}/photo/$value"),
            Some(&t),
            bmp.clone(),
            Some("image/bmp"),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.get_bytes(&format!("/me/contacts/{id}/photo/$value"), &t, &[("Accept-Encoding", "gzip, br")]).await;
    assert_eq!((r.status.as_u16(), r.header("content-encoding")), (200, None));
    assert_eq!(r.bytes, bmp);

    // A gzip request body.
    let body = json!({"givenName": "Zipped", "personalNotes": "z".repeat(5000)}).to_string();
    let gz = |b: Vec<u8>| {
        s.client
            .post(format!("{}/me/contacts", s.base))
            .bearer_auth(&t)
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(b)
            .send()
    };
    let r = into_resp(gz(gzip(body.as_bytes())).await.unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["givenName"], "Zipped");
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("/me/contacts/{id}"), &t).await.body["personalNotes"], "z".repeat(5000));
    // A bomb: 40 KB on the wire, 40 MB inflated. The limit counts inflated bytes.
    let bomb = gzip(&vec![b' '; 40 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024);
    into_resp(gz(bomb).await.unwrap()).await.assert_error(413, "RequestEntityTooLarge");
    // Corrupt gzip, and codings Rolo does not speak.
    into_resp(gz(b"not gzip at all".to_vec()).await.unwrap()).await.assert_error(400, "BadRequest");
    let r = s
        .send_raw(
            Method::POST,
            "/me/contacts",
            Some(&t),
            body.into_bytes(),
            Some("application/json"),
            &[("Content-Encoding", "deflate")],
        )
        .await;
    r.assert_error(415, "UnsupportedMediaType");
    assert_eq!(s.ids_at("/me/contacts?$top=100", &t).await.len(), 14);
}

/// HTTP/2 without TLS (h2c, prior knowledge), as Graph's SDKs can speak it to a local server.
pub async fn http2_prior_knowledge(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let id = s.create_contact(&t, json!({"givenName": "Over h2"})).await;
    let resp = h2.get(format!("{}/me/contacts/{id}", s.base)).bearer_auth(&t).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let r = into_resp(resp).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["givenName"], "Over h2");
    let resp = h2
        .post(format!("{}/me/contacts", s.base))
        .bearer_auth(&t)
        .json(&json!({"givenName": "Posted over h2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 201);
    // HTTP/1.1 still works on the same port.
    assert_eq!(s.get(&format!("/me/contacts/{id}"), &t).await.status, 200);
}

crate::both_backends!(directory_bodies, directory_scopes, compression, http2_prior_knowledge);
