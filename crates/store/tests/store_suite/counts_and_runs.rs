//! The maintained folder counts (`folder_counts`, kept by triggers) against `COUNT(*)`, after
//! every kind of write that adds, removes or moves a contact; and the merge of runs
//! (`startswith(surname,…)&$orderby=displayName`) against the other plans and a reference
//! computed here, page by page. On SQLite and PostgreSQL.

use rolo_domain::FolderId;
use rolo_odata::{parse_filter, parse_orderby};
use rolo_store::prelude::*;
use rolo_store::{CardWrite, ImportItem, ListQuery, Mailbox, MovedFrom, Scope, SqlStore};
use serde_json::json;

use super::{data, postgres, sqlite};

fn card(name: &str, moved_from: Option<MovedFrom>) -> CardWrite {
    CardWrite { name: name.into(), card: None, uid: None, photo: None, moved_from }
}

/// (maintained count, `COUNT(*)`) of a scope: the unfiltered count reads `folder_counts`, a
/// filter every contact passes makes the store count the rows.
async fn counts(store: &SqlStore, mb: &Mailbox, scope: &Scope) -> (u64, u64) {
    let kept = ListQuery { count: true, page_size: 1, ..Default::default() };
    let all =
        ListQuery { filter: Some(parse_filter("createdDateTime ge 2000-01-01T00:00:00Z").unwrap()), ..kept.clone() };
    let kept = store.list_contacts(mb, scope, &kept).await.unwrap().count.unwrap();
    let all = store.list_contacts(mb, scope, &all).await.unwrap().count.unwrap();
    (kept, all)
}

async fn assert_counts(store: &SqlStore, mb: &Mailbox, folders: &[&FolderId], expected: &[u64], when: &str) {
    for (folder, n) in folders.iter().zip(expected) {
        let scope = Scope::Folder((*folder).clone());
        assert_eq!(counts(store, mb, &scope).await, (*n, *n), "{when}: folder {folder}");
    }
    let total: u64 = expected.iter().sum();
    assert_eq!(counts(store, mb, &Scope::Mailbox).await, (total, total), "{when}: mailbox");
}

async fn kept_counts_follow_every_write(store: SqlStore) {
    let user = store.create_user("count@x.test", "Count").await.unwrap();
    let other = store.create_user("other@x.test", "Other").await.unwrap();
    let mb = &user.mailbox;
    let home = mb.default_folder_id.clone();
    let a = store.create_folder(mb, &home, "A").await.unwrap().id;
    let b = store.create_folder(mb, &home, "B").await.unwrap().id;
    let folders = [&home, &a, &b];
    assert_counts(&store, mb, &folders, &[0, 0, 0], "empty").await;

    // Graph creates, and another mailbox's contacts that must not count here.
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(store.create_contact(mb, &home, data(json!({"givenName": format!("H{i}")}))).await.unwrap().id);
    }
    store.create_contact_with_extensions(mb, &a, data(json!({"givenName": "A0"})), Vec::new()).await.unwrap();
    store
        .create_contact(&other.mailbox, &other.mailbox.default_folder_id, data(json!({"givenName": "O"})))
        .await
        .unwrap();
    assert_counts(&store, mb, &folders, &[6, 1, 0], "creates").await;

    // An edit that keeps the folder, then moves to A and to B (Graph's move is an edit).
    let keep = store.update_contact(mb, &ids[0], &Scope::Mailbox, None, Box::new(|_| Ok(None))).await.unwrap();
    assert_eq!(keep.folder_id, home);
    let to_a = a.clone();
    store.update_contact(mb, &ids[1], &Scope::Mailbox, None, Box::new(move |_| Ok(Some(to_a)))).await.unwrap();
    let to_b = b.clone();
    store.update_contact(mb, &ids[2], &Scope::Mailbox, None, Box::new(move |_| Ok(Some(to_b)))).await.unwrap();
    assert_counts(&store, mb, &folders, &[4, 2, 1], "moves").await;

    // Deletes (a merge is an edit and deletes of the others).
    store.delete_contact(mb, &ids[3], &Scope::Mailbox, None).await.unwrap();
    assert_counts(&store, mb, &folders, &[3, 2, 1], "delete").await;

    // A bulk import into B: three created, then the same keys again (merged, no new rows) and one new.
    let key_property = rolo_domain::vcard::uid_property();
    let items = |keys: &[&str]| -> Vec<ImportItem> {
        keys.iter()
            .map(|k| ImportItem {
                data: data(json!({
                    "givenName": format!("I{k}"),
                    "singleValueExtendedProperties": [{"id": key_property.clone(), "value": k}],
                })),
                key: (*k).to_owned(),
                photo: Vec::new(),
            })
            .collect()
    };
    store.import_contacts(mb, &b, &key_property, items(&["k1", "k2", "k3"])).await.unwrap();
    assert_counts(&store, mb, &folders, &[3, 2, 4], "import").await;
    store.import_contacts(mb, &b, &key_property, items(&["k1", "k2", "k3", "k4"])).await.unwrap();
    assert_counts(&store, mb, &folders, &[3, 2, 5], "import again").await;

    // CardDAV: PUT of a new card into A, PUT over an existing card, MOVE from home to A (a create
    // in the target that deletes the source), then DELETE.
    let put = store.create_card(mb, &a, data(json!({"givenName": "D1"})), card("d1.vcf", None)).await.unwrap();
    let rolo_store::CardOutcome::Stored(put) = put else { panic!("the card was not stored") };
    store
        .replace_card(mb, &put.id, &Scope::Folder(a.clone()), None, Box::new(|_| Ok(None)), card("d1.vcf", None))
        .await
        .unwrap();
    assert_counts(&store, mb, &folders, &[3, 3, 5], "dav put").await;
    let moved = MovedFrom { id: ids[4].clone(), scope: Scope::Folder(home.clone()), if_match: None };
    store.create_card(mb, &a, data(json!({"givenName": "M"})), card("m.vcf", Some(moved))).await.unwrap();
    assert_counts(&store, mb, &folders, &[2, 4, 5], "dav move").await;
    store.delete_contact(mb, &put.id, &Scope::Folder(a.clone()), None).await.unwrap();
    assert_counts(&store, mb, &folders, &[2, 3, 5], "dav delete").await;

    // A folder deleted with its contacts; then a new folder starts from nothing.
    store.delete_folder(mb, &b).await.unwrap();
    assert_counts(&store, mb, &[&home, &a], &[2, 3], "folder delete").await;
    assert_eq!(counts(&store, mb, &Scope::Folder(b.clone())).await, (0, 0), "deleted folder");
    let c = store.create_folder(mb, &home, "C").await.unwrap().id;
    store.create_contact(mb, &c, data(json!({"givenName": "C0"}))).await.unwrap();
    assert_counts(&store, mb, &[&home, &a, &c], &[2, 3, 1], "new folder").await;

    // The other mailbox kept its own.
    let omb = &other.mailbox;
    assert_counts(&store, omb, &[&omb.default_folder_id], &[1], "other mailbox").await;

    // The emulator's reset empties every count.
    store.wipe().await.unwrap();
    assert_eq!(counts(&store, mb, &Scope::Mailbox).await, (0, 0), "wipe");
}

/// Surnames with shared prefixes, case and accents, LIKE's wildcards, and an empty one.
const SURNAMES: &[&str] = &[
    "Lamport", "lamport", "Lamb", "Lambert", "Lam", "Lovelace", "Léa", "LÉON", "Liskov", "la%x", "la_y", "L", "Knuth",
    "Babbage", "", "Mlam",
];
const DISPLAY: &[&str] = &["Ada", "ada", "Bob", "Émile", "Zed", "Lam", "", "ada b", "Ada B"];

/// Every id of a list, page by page through the store's cursors, with the first page's `$skip`.
async fn paged(store: &SqlStore, mb: &Mailbox, mut q: ListQuery) -> Vec<String> {
    let scope = Scope::Folder(mb.default_folder_id.clone());
    let mut ids = Vec::new();
    loop {
        let page = store.list_contacts(mb, &scope, &q).await.unwrap();
        assert!(page.items.len() <= q.page_size);
        ids.extend(page.items.iter().map(|c| c.id.to_string()));
        match page.next {
            Some(cursor) => {
                assert!(!page.items.is_empty(), "a cursor after an empty page");
                q.after = Some(cursor);
                q.skip = 0;
            }
            None => return ids,
        }
    }
}

async fn runs_page_like_the_other_plans(store: SqlStore) {
    let user = store.create_user("runs@x.test", "Runs").await.unwrap();
    let mb = &user.mailbox;
    // Another folder's Lamports must not appear.
    let other = store.create_folder(mb, &mb.default_folder_id, "Other").await.unwrap().id;
    store.create_contact(mb, &other, data(json!({"displayName": "Ada", "surname": "Lamport"}))).await.unwrap();
    // (id, folded display name, folded surname) in creation order.
    let mut all: Vec<(String, String, String)> = Vec::new();
    let mut seed = 7u64;
    for i in 0..240 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let r = (seed >> 33) as usize;
        let surname = if i % 4 == 0 { format!("Ly{}", r % 30) } else { SURNAMES[r % SURNAMES.len()].to_owned() };
        let display = DISPLAY[(r / 7) % DISPLAY.len()];
        let mut body = json!({"surname": surname});
        if !display.is_empty() {
            body["displayName"] = json!(display);
        }
        let c = store.create_contact(mb, &mb.default_folder_id, data(body)).await.unwrap();
        let dn = c.data.display_name.clone().unwrap_or_default().to_lowercase();
        all.push((c.id.to_string(), dn, surname.to_lowercase()));
    }
    // Prefixes under the merge's bound of values, over it ('l': 30 "Ly…" and more), matching
    // nothing, and with wildcards.
    // 'l' and 'L' (more values than the merge takes) are one run per initial; so is 'Ly' (30
    // values, dense enough among the Ls for the initial's probe).
    for prefix in ["Lam", "lamport", "La", "LÉ", "l", "L", "ly", "ly1", "la%", "la_", "zz", "", "Lx", "é"] {
        for desc in [false, true] {
            let mut expected: Vec<&(String, String, String)> =
                all.iter().filter(|(_, _, s)| s.starts_with(&prefix.to_lowercase())).collect();
            // Display name (folded, byte order) in the asked direction, then creation order.
            expected.sort_by(|a, b| {
                let by_name =
                    if desc { b.1.as_bytes().cmp(a.1.as_bytes()) } else { a.1.as_bytes().cmp(b.1.as_bytes()) };
                by_name
            });
            let expected: Vec<String> = expected.iter().map(|(id, _, _)| id.clone()).collect();
            let order = if desc { "displayName desc" } else { "displayName" };
            for (page_size, skip) in [(1, 0), (3, 2), (7, 5), (50, 0), (4, 1000)] {
                let query = |filter: String| ListQuery {
                    filter: Some(parse_filter(&filter).unwrap()),
                    orderby: parse_orderby(order).unwrap(),
                    page_size,
                    skip,
                    ..Default::default()
                };
                let want: Vec<String> = expected.iter().skip(skip as usize).cloned().collect();
                let merged = paged(&store, mb, query(format!("startswith(surname,'{prefix}')"))).await;
                assert_eq!(merged, want, "startswith(surname,'{prefix}') {order} top {page_size} skip {skip}");
                // The same filter in a shape the merge does not take: the walk or the filter's index.
                let other = format!("startswith(surname,'{prefix}') and startswith(surname,'{prefix}')");
                assert_eq!(paged(&store, mb, query(other)).await, want, "{prefix} {order} other plan");
            }
        }
    }
}

/// The store remembers for a while that a prefix with many values is read as its initial's run
/// (skipping the count of its values and the probe at the next page); a value added under the
/// prefix afterwards, and a contact that leaves it, show in the next list all the same.
async fn a_remembered_initial_run_sees_later_writes(store: SqlStore) {
    let user = store.create_user("initial@x.test", "Initial").await.unwrap();
    let mb = &user.mailbox;
    let scope = Scope::Folder(mb.default_folder_id.clone());
    // 30 surnames under "ly" (more than the merge takes), display names "b00".."b29".
    let mut ids = Vec::new();
    for i in 0..30 {
        let body = json!({"surname": format!("Ly{i:02}"), "displayName": format!("b{i:02}")});
        ids.push(store.create_contact(mb, &mb.default_folder_id, data(body)).await.unwrap().id);
    }
    let query = ListQuery {
        filter: Some(parse_filter("startswith(surname,'ly')").unwrap()),
        orderby: parse_orderby("displayName").unwrap(),
        page_size: 3,
        ..Default::default()
    };
    let page = store.list_contacts(mb, &scope, &query).await.unwrap();
    assert_eq!(page.items.iter().map(|c| &c.id).collect::<Vec<_>>(), [&ids[0], &ids[1], &ids[2]]);
    // A new value under the prefix that sorts first, and the first contact leaving the prefix.
    let new = store.create_contact(mb, &mb.default_folder_id, data(json!({"surname": "Lyz", "displayName": "a"})));
    let new = new.await.unwrap().id;
    let leave = Box::new(|d: &mut rolo_domain::ContactData| -> rolo_domain::GraphResult<_> {
        d.surname = Some("Other".into());
        Ok(None)
    });
    store.update_contact(mb, &ids[0], &Scope::Mailbox, None, leave).await.unwrap();
    let page = store.list_contacts(mb, &scope, &query).await.unwrap();
    assert_eq!(page.items.iter().map(|c| &c.id).collect::<Vec<_>>(), [&new, &ids[1], &ids[2]]);
}

suite!(kept_counts_follow_every_write, runs_page_like_the_other_plans, a_remembered_initial_run_sees_later_writes);
