//! The master category list over HTTP, on SQLite and PostgreSQL.

use crate::common::TestServer;
use serde_json::json;

async fn master_category_lifecycle(s: TestServer) {
    let user = s.user("ada@contoso.test").await;
    let t = s.token(&user, "MailboxSettings.ReadWrite Contacts.ReadWrite");
    let r = s
        .post("/me/outlook/masterCategories", &t, json!({"displayName": "Project expenses", "color": "preset9"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["displayName"], "Project expenses");
    assert_eq!(r.body["color"], "preset9");
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/$metadata#users('{}')/outlook/masterCategories/$entity", s.base, user.id)
    );
    let id = r.body["id"].as_str().unwrap().to_owned();

    // Names are unique ignoring case; colours are validated.
    s.post("/me/outlook/masterCategories", &t, json!({"displayName": "PROJECT EXPENSES"}))
        .await
        .assert_error(409, "ErrorDuplicateCategory");
    s.post("/me/outlook/masterCategories", &t, json!({"displayName": "X", "color": "preset25"}))
        .await
        .assert_error(400, "RequestBodyRead");
    s.post("/me/outlook/masterCategories", &t, json!({"color": "preset1"}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    s.post("/me/outlook/masterCategories", &t, json!({"displayName": "X", "nope": 1}))
        .await
        .assert_error(400, "RequestBodyRead");

    // Only the colour may change.
    let r = s.patch(&format!("/me/outlook/masterCategories/{id}"), &t, json!({"color": "preset15"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["color"], "preset15");
    s.patch(&format!("/me/outlook/masterCategories/{id}"), &t, json!({"displayName": "Other"}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    let r = s.get(&format!("/users/{}/outlook/masterCategories('{id}')", user.user_principal_name), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["displayName"], "Project expenses");
    assert_eq!(r.body["color"], "preset15");

    let list = s.get("/me/outlook/masterCategories", &t).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        list.body["@odata.context"],
        format!("{}/$metadata#users('{}')/outlook/masterCategories", s.base, user.id)
    );

    // A contact may carry a name that is not in the master list; deleting a category leaves items alone.
    let c =
        s.post("/me/contacts", &t, json!({"givenName": "P", "categories": ["Project expenses", "Not listed"]})).await;
    assert_eq!(c.status, 201);
    assert_eq!(s.delete(&format!("/me/outlook/masterCategories/{id}"), &t).await.status, 204);
    s.get(&format!("/me/outlook/masterCategories/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("/me/outlook/masterCategories/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get("/me/outlook/masterCategories/not-a-guid", &t).await.assert_error(400, "ErrorInvalidIdMalformed");
    let cid = c.body["id"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/me/contacts/{cid}"), &t).await.body["categories"],
        json!(["Project expenses", "Not listed"])
    );
    let r = s.get("/me/contacts?$filter=categories/any(c:c%20eq%20'project%20expenses')", &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
}

async fn category_scopes(s: TestServer) {
    let user = s.user("bob@contoso.test").await;
    let other = s.user("cy@contoso.test").await;
    let contacts_only = s.token(&user, "Contacts.ReadWrite");
    s.get("/me/outlook/masterCategories", &contacts_only).await.assert_error(403, "ErrorAccessDenied");
    let read = s.token(&user, "MailboxSettings.Read");
    assert_eq!(s.get("/me/outlook/masterCategories", &read).await.status, 200);
    s.post("/me/outlook/masterCategories", &read, json!({"displayName": "A"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    let write = s.token(&user, "MailboxSettings.ReadWrite");
    s.get(&format!("/users/{}/outlook/masterCategories", other.user_principal_name), &write)
        .await
        .assert_error(403, "ErrorAccessDenied");
}

both_backends!(master_category_lifecycle, category_scopes);
