//! Delta queries over HTTP, on SQLite and PostgreSQL.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

/// Follows a round from `url` to its deltaLink; returns the items and the deltaLink.
async fn round(s: &TestServer, t: &str, url: &str, page: usize) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut next = url.to_owned();
    let prefer = format!("odata.maxpagesize={page}");
    loop {
        let r = s.send(Method::GET, &next, Some(t), None, &[("Prefer", prefer.as_str())]).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let value = r.body["value"].as_array().unwrap();
        assert!(value.len() <= page, "page larger than maxpagesize");
        items.extend(value.iter().cloned());
        match (r.body["@odata.nextLink"].as_str(), r.body["@odata.deltaLink"].as_str()) {
            (Some(n), None) => next = n.to_owned(),
            (None, Some(d)) => return (items, d.to_owned()),
            other => panic!("exactly one of nextLink and deltaLink expected, got {other:?}"),
        }
    }
}

fn ids(items: &[Value]) -> BTreeSet<String> {
    items.iter().filter(|i| i.get("@removed").is_none()).map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

fn removed(items: &[Value]) -> BTreeSet<String> {
    items.iter().filter(|i| i.get("@removed").is_some()).map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

async fn folder(s: &TestServer, t: &str, name: &str) -> String {
    let r = s.post("/me/contactFolders", t, json!({"displayName": name})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn contact(s: &TestServer, t: &str, folder: &str, name: &str) -> String {
    let r = s.post(&format!("/me/contactFolders/{folder}/contacts"), t, json!({"givenName": name})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// The initial round pages through every contact once; later rounds carry exactly the changes.
async fn folder_rounds(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let f = folder(&s, &t, "Work").await;
    let other = folder(&s, &t, "Other").await;
    let mut all = Vec::new();
    for i in 0..25 {
        all.push(contact(&s, &t, &f, &format!("C{i}")).await);
    }
    let start = format!("{}/me/contactFolders/{f}/contacts/delta", s.base);
    let (items, link) = round(&s, &t, &start, 10).await;
    assert_eq!(items.len(), 25);
    assert_eq!(ids(&items), all.iter().cloned().collect());
    assert!(items.iter().all(|i| i["@odata.type"] == "#microsoft.graph.contact" && i["@odata.etag"].is_string()));

    // Nothing changed: an empty round.
    let (items, link) = round(&s, &t, &link, 10).await;
    assert!(items.is_empty(), "{items:?}");

    // Update one twice and another once, delete one, move one out, create one.
    for n in ["X", "Y"] {
        assert_eq!(s.patch(&format!("/me/contacts/{}", all[0]), &t, json!({"jobTitle": n})).await.status, 200);
    }
    assert_eq!(s.patch(&format!("/me/contacts/{}", all[1]), &t, json!({"jobTitle": "Z"})).await.status, 200);
    assert_eq!(s.delete(&format!("/me/contacts/{}", all[2]), &t).await.status, 204);
    assert_eq!(s.patch(&format!("/me/contacts/{}", all[3]), &t, json!({"parentFolderId": other})).await.status, 200);
    let fresh = contact(&s, &t, &f, "New").await;
    let (items, link) = round(&s, &t, &link, 2).await;
    assert_eq!(ids(&items), [all[0].clone(), all[1].clone(), fresh.clone()].into_iter().collect());
    assert_eq!(removed(&items), [all[2].clone(), all[3].clone()].into_iter().collect());
    assert_eq!(items.len(), 5, "each change appears once: {items:?}");
    let latest: BTreeMap<&str, &Value> = items.iter().map(|i| (i["id"].as_str().unwrap(), i)).collect();
    assert_eq!(latest[all[0].as_str()]["jobTitle"], "Y");
    assert_eq!(latest[all[2].as_str()]["@removed"], json!({"reason": "deleted"}));

    // Moving back in makes it live again (not a stale removal).
    assert_eq!(s.patch(&format!("/me/contacts/{}", all[3]), &t, json!({"parentFolderId": f})).await.status, 200);
    let (items, _) = round(&s, &t, &link, 10).await;
    assert_eq!(ids(&items), [all[3].clone()].into_iter().collect());
    assert!(removed(&items).is_empty());
}

/// `$select` and `changeType` are kept inside the tokens; the default folder has its own delta.
async fn select_and_change_type_are_kept(s: TestServer) {
    let (user, t) = s.login("bob@contoso.test").await;
    let a = s.post("/me/contacts", &t, json!({"givenName": "A", "surname": "One"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = s.post("/me/contacts", &t, json!({"givenName": "B"})).await.body["id"].as_str().unwrap().to_owned();
    let (items, link) = round(&s, &t, &format!("{}/me/contacts/delta()?$select=displayName", s.base), 10).await;
    assert_eq!(items.len(), 2);
    for i in &items {
        let keys: BTreeSet<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["@odata.etag", "@odata.type", "displayName", "id"].into_iter().collect(), "{i}");
    }
    assert_eq!(s.patch(&format!("/me/contacts/{a}"), &t, json!({"surname": "Two"})).await.status, 200);
    let (items, _) = round(&s, &t, &link, 10).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["displayName"], "A Two");
    assert!(items[0].get("surname").is_none(), "$select must survive the token: {}", items[0]);

    let start =
        format!("{}/users/{}/contacts/microsoft.graph.delta?changeType=deleted", s.base, user.user_principal_name);
    let (_, link) = round(&s, &t, &start, 10).await;
    assert_eq!(s.patch(&format!("/me/contacts/{a}"), &t, json!({"surname": "Three"})).await.status, 200);
    assert_eq!(s.delete(&format!("/me/contacts/{b}"), &t).await.status, 204);
    let (items, _) = round(&s, &t, &link, 10).await;
    assert_eq!(
        items,
        vec![json!({"@odata.type": "#microsoft.graph.contact", "id": b, "@removed": {"reason": "deleted"}})]
    );
}

/// Tokens that were altered, belong elsewhere or predate compaction get 410 with a Location.
async fn bad_tokens_get_410(s: TestServer) {
    let (_, t) = s.login("cy@contoso.test").await;
    let f = folder(&s, &t, "F").await;
    let g = folder(&s, &t, "G").await;
    let gone = contact(&s, &t, &f, "Gone").await;
    let (_, link) = round(&s, &t, &format!("{}/me/contactFolders/{f}/contacts/delta", s.base), 10).await;
    let token = link.split("$deltatoken=").nth(1).unwrap().to_owned();
    for url in [
        format!("{}/me/contactFolders/{f}/contacts/delta?$deltatoken=garbage", s.base),
        format!("{}/me/contactFolders/{f}/contacts/delta?$deltatoken={}x", s.base, token),
        format!("{}/me/contactFolders/{g}/contacts/delta?$deltatoken={token}", s.base),
    ] {
        let r = s.get(&url, &t).await;
        r.assert_error(410, "syncStateNotFound");
        assert!(r.header("location").unwrap().ends_with("/contacts/delta"), "{:?}", r.header("location"));
    }
    // Another user's token is not valid in this mailbox.
    let (_, t2) = s.login("dee@contoso.test").await;
    s.get(&format!("{}/me/contacts/delta?$deltatoken={token}", s.base), &t2)
        .await
        .assert_error(410, "syncStateNotFound");

    // After compaction past the token's start, it is refused; a fresh round works.
    assert_eq!(s.delete(&format!("/me/contacts/{gone}"), &t).await.status, 204);
    assert_eq!(s.store.compact_tombstones("9999-01-01T00:00:00Z").await.unwrap(), 2);
    s.get(&link, &t).await.assert_error(410, "syncStateNotFound");
    let (items, _) = round(&s, &t, &format!("{}/me/contactFolders/{f}/contacts/delta", s.base), 10).await;
    assert!(items.is_empty());
}

/// The mailbox-wide extension sees every folder; moves between folders are not removals.
async fn mailbox_wide_and_folder_delta(s: TestServer) {
    let (_, t) = s.login("eve@contoso.test").await;
    let f = folder(&s, &t, "F").await;
    let g = folder(&s, &t, "G").await;
    let a = contact(&s, &t, &f, "A").await;
    let b = contact(&s, &t, &g, "B").await;
    let start = format!("{}/me/contacts/delta?scope=mailbox", s.base);
    let (items, link) = round(&s, &t, &start, 1).await;
    assert_eq!(ids(&items), [a.clone(), b.clone()].into_iter().collect());
    assert!(link.contains("scope=mailbox"));
    assert_eq!(s.patch(&format!("/me/contacts/{a}"), &t, json!({"parentFolderId": g})).await.status, 200);
    assert_eq!(s.delete(&format!("/me/contacts/{b}"), &t).await.status, 204);
    let (items, _) = round(&s, &t, &link, 10).await;
    assert_eq!(ids(&items), [a.clone()].into_iter().collect());
    assert_eq!(removed(&items), [b.clone()].into_iter().collect());

    // Folder delta: the whole tree, then renames and deletions.
    let (items, link) = round(&s, &t, &format!("{}/me/contactFolders/delta", s.base), 10).await;
    assert_eq!(items.len(), 3, "default folder, F and G: {items:?}");
    assert!(items.iter().all(|i| i["@odata.type"] == "#microsoft.graph.contactFolder"));
    assert_eq!(s.patch(&format!("/me/contactFolders/{f}"), &t, json!({"displayName": "F2"})).await.status, 200);
    assert_eq!(s.delete(&format!("/me/contactFolders/{g}"), &t).await.status, 204);
    let (items, _) = round(&s, &t, &link, 10).await;
    assert_eq!(ids(&items), [f.clone()].into_iter().collect());
    assert_eq!(removed(&items), [g.clone()].into_iter().collect());
}

/// Compaction drops old removals without breaking a token taken after them.
async fn compaction_keeps_valid_tokens(s: TestServer) {
    let (_, t) = s.login("fay@contoso.test").await;
    let f = folder(&s, &t, "F").await;
    let a = contact(&s, &t, &f, "A").await;
    let b = contact(&s, &t, &f, "B").await;
    let start = format!("{}/me/contactFolders/{f}/contacts/delta", s.base);
    let (_, old) = round(&s, &t, &start, 10).await;
    assert_eq!(s.delete(&format!("/me/contacts/{a}"), &t).await.status, 204);
    let (items, current) = round(&s, &t, &old, 10).await;
    assert_eq!(removed(&items), [a.clone()].into_iter().collect());
    // One removal: its tombstone in the folder and in the whole mailbox.
    assert_eq!(s.store.compact_tombstones("9999-01-01T00:00:00Z").await.unwrap(), 2);
    // The token from before the removal now predates the floor; the later one still works.
    s.get(&old, &t).await.assert_error(410, "syncStateNotFound");
    assert_eq!(s.delete(&format!("/me/contacts/{b}"), &t).await.status, 204);
    let (items, _) = round(&s, &t, &current, 10).await;
    assert_eq!(removed(&items), [b.clone()].into_iter().collect());
    assert!(ids(&items).is_empty());
}

both_backends!(
    folder_rounds,
    select_and_change_type_are_kept,
    bad_tokens_get_410,
    mailbox_wide_and_folder_delta,
    compaction_keeps_valid_tokens
);
