//! The Store trait suite: the same scenarios against SQLite and PostgreSQL.

use std::sync::Arc;

use rolo_domain::{ContactData, GraphResult};
use rolo_odata::{parse_filter, parse_orderby};
use rolo_store::prelude::*;
use rolo_store::{ListQuery, OpenOptions, Scope, SqlStore};
use serde_json::json;

async fn sqlite() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = rolo_store::open(&dir.path().join("t.db").to_string_lossy(), &OpenOptions::default()).await.unwrap();
    (store, dir)
}

async fn postgres() -> (SqlStore, tempfile::TempDir) {
    let url = rolo_testkit::postgres_server().fresh_database();
    (rolo_store::open(&url, &OpenOptions::default()).await.unwrap(), tempfile::tempdir().unwrap())
}

fn data(body: serde_json::Value) -> ContactData {
    let mut d = ContactData::default();
    d.apply_v1(&body, true).unwrap();
    d
}

/// Pages through a whole list with the store's cursors.
async fn all_pages(store: &SqlStore, mb: &rolo_store::Mailbox, mut q: ListQuery) -> Vec<String> {
    let folder = mb.default_folder_id.clone();
    let mut names = Vec::new();
    loop {
        let page = store.list_contacts(mb, &Scope::Folder(folder.clone()), &q).await.unwrap();
        names.extend(page.items.iter().map(|c| c.data.display_name.clone().unwrap_or_default()));
        match page.next {
            Some(cursor) => q.after = Some(cursor),
            None => return names,
        }
    }
}

/// Dense filters take SQLite's other plan; both plans and both databases give the same pages.
async fn dense_and_sparse_filters_page_identically(store: SqlStore) {
    let user = store.create_user("a@x.test", "A").await.unwrap();
    let mb = &user.mailbox;
    for i in 0..700 {
        let surname = if i % 3 == 0 { format!("Babbage {i:03}") } else { format!("Lovelace {i:03}") };
        store
            .create_contact(
                mb,
                &mb.default_folder_id,
                data(json!({"givenName": format!("G{}", 700 - i), "surname": surname})),
            )
            .await
            .unwrap();
    }
    for (filter, expected_len) in [("startswith(surname,'L')", 466), ("startswith(surname,'Babbage 00')", 4)] {
        let q = ListQuery {
            filter: Some(parse_filter(filter).unwrap()),
            orderby: parse_orderby("displayName desc").unwrap(),
            page_size: 37,
            ..Default::default()
        };
        let names = all_pages(&store, mb, q).await;
        assert_eq!(names.len(), expected_len, "{filter}");
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
        assert_eq!(names, sorted, "{filter}");
    }
}

/// Concurrent read-modify-write edits of one contact never lose an update.
async fn concurrent_edits_lose_nothing(store: SqlStore) {
    let store = Arc::new(store);
    let user = store.create_user("b@x.test", "B").await.unwrap();
    let mb = user.mailbox.clone();
    let c = store.create_contact(&mb, &mb.default_folder_id, data(json!({"givenName": "C"}))).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (store, mb, id) = (store.clone(), mb.clone(), c.id.clone());
        tasks.push(tokio::spawn(async move {
            let edit = Box::new(move |d: &mut ContactData| -> GraphResult<_> {
                d.categories.push(format!("c{i}"));
                Ok(None)
            });
            store.update_contact(&mb, &id, &Scope::Mailbox, None, edit).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = store.get_contact(&mb, &c.id, &Scope::Mailbox).await.unwrap().unwrap();
    assert_eq!(got.data.categories.len(), 20);
    let q = ListQuery {
        filter: Some(parse_filter("categories/any(x:x eq 'C7')").unwrap()),
        page_size: 10,
        ..Default::default()
    };
    assert_eq!(
        store.list_contacts(&mb, &Scope::Folder(mb.default_folder_id.clone()), &q).await.unwrap().items.len(),
        1
    );
}

/// Deleting a folder removes its subtree, its contacts and their index rows.
async fn folder_delete_cascades(store: SqlStore) {
    let user = store.create_user("c@x.test", "C").await.unwrap();
    let mb = &user.mailbox;
    let a = store.create_folder(mb, &mb.default_folder_id, "A").await.unwrap();
    let b = store.create_folder(mb, &a.id, "B").await.unwrap();
    let c = store
        .create_contact(mb, &b.id, data(json!({"givenName": "X", "emailAddresses": [{"address": "x@y.test"}]})))
        .await
        .unwrap();
    store.delete_folder(mb, &a.id).await.unwrap();
    assert!(store.get_folder(mb, &b.id).await.unwrap().is_none());
    assert!(store.get_contact(mb, &c.id, &Scope::Mailbox).await.unwrap().is_none());
    // The same address in a new contact is found once: no stale index rows survived.
    store
        .create_contact(mb, &mb.default_folder_id, data(json!({"emailAddresses": [{"address": "X@y.test"}]})))
        .await
        .unwrap();
    let q = ListQuery {
        filter: Some(parse_filter("emailAddresses/any(a:a/address eq 'x@y.test')").unwrap()),
        page_size: 10,
        ..Default::default()
    };
    assert_eq!(store.list_contacts(mb, &Scope::Folder(mb.default_folder_id.clone()), &q).await.unwrap().items.len(), 1);
}

fn msg(body: serde_json::Value, mode: rolo_domain::mail::MessageWrite) -> serde_json::Map<String, serde_json::Value> {
    let mut d = serde_json::Map::new();
    rolo_domain::mail::apply_message(&mut d, &body, mode).unwrap();
    d
}

/// The interactions aggregate follows every write: received and sent mail, meetings, edits that
/// change attendees, and deletes, which recompute counts and latest times exactly.
async fn interactions_follow_items(store: SqlStore) {
    use rolo_domain::mail::{apply_event, ItemKind, MessageWrite};
    let me = store.create_user("me@x.test", "Me").await.unwrap();
    let mb = &me.mailbox;
    let received = |from: &str, at: &str| {
        msg(
            json!({"from": {"emailAddress": {"address": from, "name": "Bea B"}},
                   "toRecipients": [{"emailAddress": {"address": "me@x.test"}}],
                   "receivedDateTime": at}),
            MessageWrite::Received,
        )
    };
    let r1 = store
        .create_item(mb, ItemKind::Message, "inbox", received("bea@x.test", "2024-01-01T09:00:00Z"))
        .await
        .unwrap();
    store.create_item(mb, ItemKind::Message, "inbox", received("BEA@x.test", "2024-03-01T09:00:00Z")).await.unwrap();
    let mut sent = msg(
        json!({"toRecipients": [{"emailAddress": {"address": "bea@x.test"}}, {"emailAddress": {"address": "cy@ext.test", "name": "Cy"}}],
               "ccRecipients": [{"emailAddress": {"address": "ME@x.test"}}]}),
        MessageWrite::Draft,
    );
    sent.insert("sentDateTime".into(), json!("2024-02-01T10:00:00Z"));
    store.create_item(mb, ItemKind::Message, "sentitems", sent.clone()).await.unwrap();
    // A draft says nothing about anyone.
    store.create_item(mb, ItemKind::Message, "drafts", sent).await.unwrap();
    let mut ev = serde_json::Map::new();
    let owner = json!({"name": "Me", "address": "me@x.test"});
    apply_event(
        &mut ev,
        &json!({"subject": "Sync", "start": {"dateTime": "2024-04-01T10:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2024-04-01T11:00:00", "timeZone": "UTC"},
                "attendees": [{"emailAddress": {"address": "cy@ext.test"}}]}),
        true,
        &owner,
    )
    .unwrap();
    let event = store.create_item(mb, ItemKind::Event, "calendar", ev).await.unwrap();

    let all = store.interactions(mb).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    // Most recent first: Cy met on April 1st, Bea wrote on March 1st.
    let (cy, bea) = (&all[0], &all[1]);
    assert_eq!(cy.address, "cy@ext.test");
    assert_eq!((cy.sent_count, cy.received_count, cy.meeting_count), (1, 0, 1));
    assert_eq!(cy.last_meeting_at.as_deref(), Some("2024-04-01T10:00:00Z"));
    assert_eq!(cy.display_name, "Cy", "a name that is only the address does not replace a real one");
    assert_eq!(bea.address, "bea@x.test");
    assert_eq!(bea.display_name, "Bea B");
    assert_eq!((bea.sent_count, bea.received_count, bea.meeting_count), (1, 2, 0));
    assert_eq!(bea.last_received_at.as_deref(), Some("2024-03-01T09:00:00Z"));
    assert_eq!(bea.last_sent_at.as_deref(), Some("2024-02-01T10:00:00Z"));

    // Deleting the older received message leaves the count and the latest time exact.
    store.delete_item(mb, ItemKind::Message, &r1.id, None).await.unwrap();
    let bea = store.interactions(mb).await.unwrap().into_iter().find(|i| i.address == "bea@x.test").unwrap();
    assert_eq!(bea.received_count, 1);
    assert_eq!(bea.last_received_at.as_deref(), Some("2024-03-01T09:00:00Z"));

    // An event edit moves the meeting from Cy to Dee.
    let edit = Box::new(move |item: &mut rolo_domain::mail::Item| {
        apply_event(
            &mut item.doc,
            &json!({"attendees": [{"emailAddress": {"address": "dee@x.test", "name": "Dee"}}]}),
            false,
            &owner,
        )
    });
    store.update_item(mb, ItemKind::Event, &event.id, None, edit).await.unwrap();
    let all = store.interactions(mb).await.unwrap();
    let cy = all.iter().find(|i| i.address == "cy@ext.test").unwrap();
    assert_eq!((cy.meeting_count, cy.last_meeting_at.as_deref()), (0, None));
    let dee = all.iter().find(|i| i.address == "dee@x.test").unwrap();
    assert_eq!((dee.meeting_count, dee.display_name.as_str()), (1, "Dee"));
    store.delete_item(mb, ItemKind::Event, &event.id, None).await.unwrap();
    let all = store.interactions(mb).await.unwrap();
    assert!(all.iter().all(|i| i.address != "dee@x.test"), "{all:?}");
    // Another mailbox sees none of it.
    let other = store.create_user("o@x.test", "O").await.unwrap();
    assert!(store.interactions(&other.mailbox).await.unwrap().is_empty());
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod on_sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _d) = super::sqlite().await; super::$name(s).await; })* }
        mod on_postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _d) = super::postgres().await; super::$name(s).await; })* }
    };
}

suite!(
    dense_and_sparse_filters_page_identically,
    concurrent_edits_lose_nothing,
    folder_delete_cascades,
    interactions_follow_items
);
