//! Open extensions on contacts over HTTP, on SQLite and PostgreSQL.

use crate::common::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

const ID: &str = "Microsoft.OutlookServices.OpenTypeExtension.Com.Contoso.Referral";

async fn extension_lifecycle(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let c = s.post("/me/contacts", &t, json!({"givenName": "Pavel"})).await.body["id"].as_str().unwrap().to_owned();
    let base = format!("/me/contacts/{c}/extensions");
    let created = s
        .post(&base, &t, json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "Com.Contoso.Referral", "companyName": "Wingtip Toys", "dealValue": 500050, "tags": ["a", "b"]}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["@odata.type"], "#microsoft.graph.openTypeExtension");
    assert_eq!(created.body["id"], ID);
    assert_eq!(created.body["extensionName"], "Com.Contoso.Referral");
    assert_eq!(created.body["dealValue"], 500050);
    assert_eq!(
        created.body["@odata.context"],
        format!("{}/$metadata#users('{}')/contacts('{c}')/extensions/$entity", s.base, user.id)
    );
    s.post(&base, &t, json!({"extensionName": "com.contoso.referral"})).await.assert_error(409, "nameAlreadyExists");

    // Get by bare name or full id; PATCH merges and keeps what it does not name.
    for key in ["Com.Contoso.Referral", ID, "microsoft.graph.openTypeExtension.Com.Contoso.Referral"] {
        let r = s.get(&format!("{base}/{key}"), &t).await;
        assert_eq!(r.status, 200, "{key}: {}", r.text);
        assert_eq!(r.body["companyName"], "Wingtip Toys");
    }
    let r = s
        .patch(
            &format!("{base}/Com.Contoso.Referral"),
            &t,
            json!({"@odata.type": "microsoft.graph.openTypeExtension", "dealValue": 1, "stage": "won"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["dealValue"], 1);
    assert_eq!(r.body["stage"], "won");
    assert_eq!(r.body["companyName"], "Wingtip Toys");
    s.patch(&format!("{base}/Com.Contoso.Referral"), &t, json!({"dealValue": null}))
        .await
        .assert_error(400, "RequestBodyRead");
    s.patch(&format!("{base}/Com.Contoso.Missing"), &t, json!({"x": 1})).await.assert_error(404, "ErrorItemNotFound");

    // Not in the contact unless expanded; $expand with and without a filter; $filter on existence.
    let plain = s.get(&format!("/me/contacts/{c}"), &t).await;
    assert!(plain.body.get("extensions").is_none());
    let expanded = s.get(&format!("/me/contacts/{c}?$expand=extensions($filter=id%20eq%20'{ID}')"), &t).await;
    assert_eq!(expanded.status, 200, "{}", expanded.text);
    assert_eq!(expanded.body["extensions"][0]["id"], ID);
    let other = s.post("/me/contacts", &t, json!({"givenName": "Other"})).await;
    assert_eq!(other.status, 201);
    let listed = s.get(&format!("/me/contacts?$filter=Extensions/any(f:f/id%20eq%20'{ID}')&$expand=Extensions($filter=id%20eq%20'{ID}')"), &t).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], c.as_str());
    assert_eq!(items[0]["extensions"].as_array().unwrap().len(), 1);
    let all = s.get("/me/contacts?$expand=extensions", &t).await;
    let counts: Vec<usize> =
        all.body["value"].as_array().unwrap().iter().map(|i| i["extensions"].as_array().unwrap().len()).collect();
    assert_eq!(counts, vec![1, 0]);
    s.get(&format!("/me/contacts/{c}?$expand=extensions($top=1)"), &t).await.assert_error(400, "BadRequest");

    let list = s.get(&base, &t).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(s.delete(&format!("{base}/{ID}"), &t).await.status, 204);
    s.get(&format!("{base}/{ID}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("{base}/{ID}"), &t).await.assert_error(404, "ErrorItemNotFound");
}

async fn inline_extensions_and_rules(s: TestServer) {
    let (_, t) = s.login("bob@contoso.test").await;
    let r = s
        .post(
            "/me/contacts",
            &t,
            json!({"givenName": "Inline", "extensions": [{"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "Com.Contoso.A", "v": 1}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["extensions"][0]["extensionName"], "Com.Contoso.A");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(s.get(&format!("/me/contacts/{id}/extensions/Com.Contoso.A"), &t).await.body["v"], 1);

    // Reserved names, nested values, missing names, oversized data, and PATCH on the contact.
    let base = format!("/me/contacts/{id}/extensions");
    s.post(&base, &t, json!({"extensionName": "Com.Microsoft.X"})).await.assert_error(400, "RequestBodyRead");
    s.post(&base, &t, json!({"extensionName": "Com.B", "v": {"nested": 1}})).await.assert_error(400, "RequestBodyRead");
    s.post(&base, &t, json!({"v": 1})).await.assert_error(400, "RequestBodyRead");
    s.post(&base, &t, json!({"extensionName": "Com.C", "v": "x".repeat(40_000)}))
        .await
        .assert_error(413, "ErrorExtensionTooLarge");
    s.patch(&format!("/me/contacts/{id}"), &t, json!({"extensions": []})).await.assert_error(400, "BadRequest");
    // NUL characters are refused in extension values as in every other stored text: on create,
    // inline, in arrays and on PATCH; nothing is stored.
    for v in [json!("a\u{0}b"), json!(["ok", "\u{0}"])] {
        s.post(&base, &t, json!({"extensionName": "Com.Nul", "v": v})).await.assert_error(400, "RequestBodyRead");
        let inline = json!({"givenName": "N", "extensions": [{"extensionName": "Com.Nul", "v": v}]});
        s.post("/me/contacts", &t, inline).await.assert_error(400, "RequestBodyRead");
        s.patch(&format!("{base}/Com.Contoso.A"), &t, json!({"v": v})).await.assert_error(400, "RequestBodyRead");
    }
    s.get(&format!("{base}/Com.Nul"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_eq!(s.get(&format!("{base}/Com.Contoso.A"), &t).await.body["v"], 1);
    let dup = json!({"givenName": "D", "extensions": [{"extensionName": "Com.A"}, {"extensionName": "com.a"}]});
    s.post("/me/contacts", &t, dup).await.assert_error(409, "nameAlreadyExists");

    // Deleting the contact removes its extensions; read-only tokens may read but not write.
    let read = s.token(&s.store.find_user("bob@contoso.test").await.unwrap().unwrap(), "Contacts.Read");
    assert_eq!(s.get(&base, &read).await.status, 200);
    s.post(&base, &read, json!({"extensionName": "Com.R"})).await.assert_error(403, "ErrorAccessDenied");
    assert_eq!(s.delete(&format!("/me/contacts/{id}"), &t).await.status, 204);
    s.get(&base, &t).await.assert_error(404, "ErrorItemNotFound");
    let r = s.send(Method::PUT, &base, Some(&t), Some(json!({})), &[]).await;
    assert_eq!(r.status.as_u16(), 405, "{}", r.text);
    let _: Value = r.body;
}

both_backends!(extension_lifecycle, inline_extensions_and_rules);
