//! Contacts over HTTP, on SQLite and PostgreSQL.

#[path = "conformance/mod.rs"]
mod conformance;
#[path = "files/mod.rs"]
pub(crate) mod files;

use crate::common::{present_str, TestServer};
use files::http::{file_routes_refuse_bad_input_and_follow_access, vcard_and_csv_import_export_over_http};
use serde_json::json;

async fn create_get_update_delete(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let created = s
        .post("/me/contacts", &t, json!({"givenName": "Pavel", "surname": "Bansky", "emailAddresses": [{"address": "pavel@x.test", "name": "Pavel"}], "businessPhones": ["+1 555"]}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let c = &created.body;
    assert_eq!(c["displayName"], "Pavel Bansky");
    assert_eq!(c["primaryEmailAddress"], json!({"name": "Pavel", "address": "pavel@x.test"}));
    assert_eq!(c["@odata.etag"], format!("W/\"{}\"", c["changeKey"].as_str().unwrap()));
    assert_eq!(c["parentFolderId"], user.mailbox.default_folder_id.as_str());
    assert_eq!(c["@odata.context"], format!("{}/$metadata#users('{}')/contacts/$entity", s.base, user.id));
    let id = c["id"].as_str().unwrap().to_owned();

    let got = s.get(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["businessPhones"], json!(["+1 555"]));
    assert_eq!(got.header("etag"), c["@odata.etag"].as_str());

    let patched = s
        .patch(
            &format!("/users/{}/contacts/{id}", user.user_principal_name),
            &t,
            json!({"jobTitle": "PM", "surname": "Banski"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["jobTitle"], "PM");
    assert_eq!(patched.body["displayName"], "Pavel Banski");
    assert_ne!(present_str(&patched.body, "changeKey"), present_str(c, "changeKey"));

    let stale = s
        .send(
            reqwest::Method::PATCH,
            &format!("/me/contacts/{id}"),
            Some(&t),
            Some(json!({"jobTitle": "x"})),
            &[("If-Match", c["@odata.etag"].as_str().unwrap())],
        )
        .await;
    stale.assert_error(412, "ErrorIrresolvableConflict");

    let del = s.delete(&format!("/me/contacts/{id}"), &t).await;
    assert_eq!(del.status, 204);
    s.get(&format!("/me/contacts/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get("/me/contacts/not-an-id", &t).await.assert_error(400, "ErrorInvalidIdMalformed");
}

async fn email_filter_and_paging(s: TestServer) {
    let (_, t) = s.login("bob@contoso.test").await;
    for i in 0..25 {
        let r = s
            .post(
                "/me/contacts",
                &t,
                json!({"givenName": format!("G{i:02}"), "emailAddresses": [{"address": format!("p{i}@x.test")}]}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let r = s.get("/me/contacts?$filter=emailAddresses/any(a:a/address%20eq%20'P7@x.test')", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["value"][0]["givenName"], "G07");

    let mut seen = Vec::new();
    let mut next = Some(format!("{}/me/contacts?$orderby=givenName%20desc&$select=givenName&$count=true", s.base));
    while let Some(url) = next {
        let page = s.get(&url, &t).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert_eq!(page.body["@odata.count"], 25);
        for c in page.body["value"].as_array().unwrap() {
            seen.push(c["givenName"].as_str().unwrap().to_owned());
        }
        next = page.body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("G{i:02}")).collect();
    assert_eq!(seen, expected);
}

async fn collections_are_capped(s: TestServer) {
    let (_, t) = s.login("cap@contoso.test").await;
    let many: Vec<String> = (0..251).map(|i| format!("c{i}")).collect();
    s.post("/me/contacts", &t, json!({"givenName": "X", "categories": many}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    let ok: Vec<String> = (0..250).map(|i| format!("c{i}")).collect();
    let r = s.post("/me/contacts", &t, json!({"givenName": "X", "categories": ok})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["categories"].as_array().unwrap().len(), 250);
}

/// The examples of Graph's reference pages, replayed (see tests/conformance/mod.rs).
async fn graph_examples(s: TestServer) {
    conformance::replay_graph_examples(s).await;
}

both_backends!(
    create_get_update_delete,
    email_filter_and_paging,
    collections_are_capped,
    graph_examples,
    vcard_and_csv_import_export_over_http,
    file_routes_refuse_bad_input_and_follow_access
);
