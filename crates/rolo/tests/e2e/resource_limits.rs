//! Resource limits over HTTP, on SQLite and PostgreSQL: list pages bounded by bytes as well as
//! by count.

use crate::common::TestServer;
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

/// Delta pages are bounded by bytes too: a round of large contacts is served a few per page,
/// removals stay in (sequence) order with them, and the round ends with a delta link.
async fn delta_pages_bounded_by_bytes(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let notes = "n".repeat(900_000);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.create_contact(&t, json!({"givenName": format!("Big{i}"), "personalNotes": notes})).await);
    }
    ids.push(s.create_contact(&t, json!({"givenName": "Small"})).await);
    let mut limits = s.state.limits();
    limits.page_bytes = 2_000_000;
    s.state.set_limits(limits);

    let round = |url: String| {
        let (s, t) = (&s, &t);
        async move {
            let mut pages: Vec<Vec<(String, bool)>> = Vec::new();
            let mut next = url;
            loop {
                let r = s.get(&next, t).await;
                assert_eq!(r.status, 200, "{}", r.text);
                let page = r.body["value"].as_array().unwrap();
                pages.push(
                    page.iter().map(|c| (c["id"].as_str().unwrap().to_owned(), c.get("@removed").is_some())).collect(),
                );
                assert!(pages.len() < 20, "delta does not terminate");
                match (r.body["@odata.nextLink"].as_str(), r.body["@odata.deltaLink"].as_str()) {
                    (Some(n), None) => next = n.to_owned(),
                    (None, Some(d)) => return (pages, d.to_owned()),
                    _ => panic!("one of nextLink and deltaLink: {}", r.text),
                }
            }
        }
    };
    let (pages, delta) = round("/me/contacts/delta?$select=givenName,personalNotes".into()).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3], "the third contact passes 2 MB and ends the first page");
    let seen: Vec<String> = pages.concat().into_iter().map(|(id, _)| id).collect();
    assert_eq!(seen, ids);

    // The next round: a removal, four updates, another removal. The page ends at the third large
    // contact; the removal before it is on that page, the one after it waits for the next.
    assert_eq!(s.delete(&format!("/me/contacts/{}", ids[0]), &t).await.status, 204);
    for id in &ids[1..5] {
        assert_eq!(s.patch(&format!("/me/contacts/{id}"), &t, json!({"jobTitle": "x"})).await.status, 200);
    }
    assert_eq!(s.delete(&format!("/me/contacts/{}", ids[5]), &t).await.status, 204);
    let (pages, _) = round(delta).await;
    let entry = |i: usize, removed: bool| (ids[i].clone(), removed);
    assert_eq!(
        pages,
        [
            vec![entry(0, true), entry(1, false), entry(2, false), entry(3, false)],
            vec![entry(4, false), entry(5, true)]
        ]
    );
}

both_backends!(pages_bounded_by_bytes, delta_pages_bounded_by_bytes);
