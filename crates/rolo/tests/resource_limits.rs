//! Resource limits over HTTP, on SQLite and PostgreSQL: list pages bounded by bytes as well as
//! by count.

mod common;

use common::TestServer;
use serde_json::json;

/// Contacts of about 0.9 MB with a 2 MB page budget: each page ends at the contact that passes
/// the budget, with a next link that continues exactly where it stopped; `$top` still bounds
/// the count, and the default budget (16 MB) lets the same page through whole.
async fn pages_bounded_by_bytes(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let notes = "n".repeat(900_000);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.create_contact(&t, json!({"givenName": format!("Big{i}"), "personalNotes": notes})).await);
    }
    let small = s.create_contact(&t, json!({"givenName": "Small"})).await;
    ids.push(small);

    let whole = s.get("/me/contacts?$top=10", &t).await;
    assert_eq!(whole.body["value"].as_array().unwrap().len(), 6);
    assert!(whole.body.get("@odata.nextLink").is_none());

    let mut limits = s.state.limits();
    limits.page_bytes = 2_000_000;
    s.state.set_limits(limits);
    let first = s.get("/me/contacts?$top=10&$select=givenName,personalNotes", &t).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let got: Vec<&str> = first.body["value"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids[..3], "the third contact passes 2 MB and ends the page");
    assert!(first.text.len() < 3_000_000, "{}", first.text.len());
    let next = first.body["@odata.nextLink"].as_str().expect("a next link").to_owned();
    assert!(next.contains("$select=givenName,personalNotes") && next.contains("$top=10"), "{next}");
    let second = s.get(&next, &t).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let got: Vec<&str> = second.body["value"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids[3..], "the rest, small contact included, fits the budget");
    assert!(second.body.get("@odata.nextLink").is_none(), "{}", second.body["@odata.nextLink"]);
    assert_eq!(second.body["value"][0]["personalNotes"].as_str().map(str::len), Some(900_000));

    // A single contact larger than the budget is still served: one per page.
    limits.page_bytes = 1_000;
    s.state.set_limits(limits);
    let (items, sizes) = s.list_all("/me/contacts?$top=4", &t, &[]).await;
    assert_eq!(sizes, [1, 1, 1, 1, 1, 1]);
    let listed: Vec<&str> = items.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids);
    // $top still counts.
    limits.page_bytes = 2_000_000;
    s.state.set_limits(limits);
    let r = s.get("/me/contacts?$top=2", &t).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    assert!(r.body["@odata.nextLink"].is_string());
}

both_backends!(pages_bounded_by_bytes);
