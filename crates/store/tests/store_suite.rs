//! The Store trait suite: the same scenarios against SQLite and PostgreSQL.

use std::sync::Arc;

use rolo_domain::{ContactData, GraphResult};
use rolo_odata::{parse_filter, parse_orderby};
use rolo_store::prelude::*;
use rolo_store::{ChangeType, DeltaItem, DeltaQuery, DeltaScope, ListQuery, OpenOptions, Scope, SqlStore};
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

/// Refresh-token families rotate once per token, a replay revokes the family, families idle past
/// their tokens' lifetime are dropped; one-time keys are one-time; a decided device code is read once.
async fn sign_in_state(store: SqlStore) {
    use rolo_store::{DeviceCode, DeviceStatus, Rotation, SignIns};
    store.start_family("fam-1", "jti-1", 3600).await.unwrap();
    assert_eq!(store.rotate_family("fam-1", "jti-1", "jti-2").await.unwrap(), Rotation::Rotated);
    assert_eq!(store.rotate_family("fam-1", "jti-2", "jti-3").await.unwrap(), Rotation::Rotated);
    assert_eq!(store.rotate_family("fam-1", "jti-1", "jti-x").await.unwrap(), Rotation::Reused);
    assert_eq!(
        store.rotate_family("fam-1", "jti-3", "jti-4").await.unwrap(),
        Rotation::Revoked,
        "revoked, newest included"
    );
    assert_eq!(store.rotate_family("nope", "a", "b").await.unwrap(), Rotation::Revoked);
    // A family idle past the limit goes when another starts.
    store.start_family("fam-2", "jti-1", 3600).await.unwrap();
    store.start_family("fam-3", "jti-1", -10).await.unwrap();
    assert_eq!(store.rotate_family("fam-2", "jti-1", "jti-2").await.unwrap(), Rotation::Revoked);

    assert!(store.redeem_once("code:1", i64::MAX).await.unwrap());
    assert!(!store.redeem_once("code:1", i64::MAX).await.unwrap());

    let code = DeviceCode {
        device_code: "dc".into(),
        user_code: "abcdefghj".into(),
        client_id: "c".into(),
        scope: "openid".into(),
        status: DeviceStatus::Pending,
        user_id: None,
        expires_at: i64::MAX,
        last_poll: 0,
    };
    store.create_device_code(&code).await.unwrap();
    let found = store.device_code_by_user_code(" AbCdEfGhJ ").await.unwrap().expect("by user code, any case");
    assert_eq!(found.user_code, "ABCDEFGHJ");
    assert_eq!(store.poll_device_code("dc", 100).await.unwrap().unwrap().last_poll, 0);
    assert_eq!(store.poll_device_code("dc", 101).await.unwrap().unwrap().last_poll, 100);
    assert!(store
        .decide_device_code("abcdefghj", DeviceStatus::Approved, Some("u1"), Some("Contacts.Read"))
        .await
        .unwrap());
    assert!(!store.decide_device_code("abcdefghj", DeviceStatus::Declined, None, None).await.unwrap(), "decided once");
    let read = store.poll_device_code("dc", 102).await.unwrap().unwrap();
    assert_eq!(
        (read.status, read.user_id.as_deref(), read.scope.as_str()),
        (DeviceStatus::Approved, Some("u1"), "Contacts.Read")
    );
    assert!(store.poll_device_code("dc", 103).await.unwrap().is_none(), "consumed");
}

/// Every change since a delta position is reported once, in change order, as its latest state:
/// an edited contact once, a deleted one as removed, and a `changeType` filter keeps only its kind.
async fn delta_reports_each_change_once(store: SqlStore) {
    let user = store.create_user("d@x.test", "D").await.unwrap();
    let mb = &user.mailbox;
    let folder = mb.default_folder_id.clone();
    let mut ids = Vec::new();
    for name in ["Kept", "Edited", "Gone"] {
        ids.push(store.create_contact(mb, &folder, data(json!({"givenName": name}))).await.unwrap().id);
    }
    let since = store.change_state(mb).await.unwrap().current;
    for round in 0..3 {
        let edit = Box::new(move |d: &mut ContactData| -> GraphResult<_> {
            d.surname = Some(format!("R{round}"));
            Ok(None)
        });
        store.update_contact(mb, &ids[1], &Scope::Mailbox, None, edit).await.unwrap();
    }
    store.delete_contact(mb, &ids[2], &Scope::Mailbox, None).await.unwrap();
    let fresh = store.create_contact(mb, &folder, data(json!({"givenName": "New"}))).await.unwrap().id;
    let upto = store.change_state(mb).await.unwrap().current;
    assert!(upto > since);
    let query = |change_type| DeltaQuery {
        scope: DeltaScope::FolderContacts(folder.clone()),
        since,
        upto,
        after: None,
        page_size: 100,
        change_type,
        max_bytes: None,
    };
    let page = store.delta(mb, &query(None)).await.unwrap();
    assert!(!page.more);
    let seen: Vec<String> = page
        .items
        .iter()
        .map(|(_, item)| match item {
            DeltaItem::Contact(c) => {
                let c = c.clone().parse().unwrap();
                format!("{}:{}", c.data.given_name.as_deref().unwrap_or(""), c.data.surname.as_deref().unwrap_or(""))
            }
            DeltaItem::Removed(id) => format!("removed:{}", (id == ids[2].as_str())),
            other => panic!("not a contact change: {other:?}"),
        })
        .collect();
    assert_eq!(seen, ["Edited:R2", "removed:true", "New:"]);
    let deleted = store.delta(mb, &query(Some(ChangeType::Deleted))).await.unwrap();
    assert_eq!(deleted.items.len(), 1);
    let created = store.delta(mb, &query(Some(ChangeType::Created))).await.unwrap();
    assert!(matches!(&created.items[..], [(_, DeltaItem::Contact(c))] if c.id == fresh));
    // Nothing changed in this folder since `upto`: the next round is empty, though the mailbox
    // changed in another folder, which that folder's round reports. (A round from `upto` to
    // `upto` would be empty whatever the store did.)
    let elsewhere = store.create_folder(mb, &folder, "Elsewhere").await.unwrap().id;
    let later = store.create_contact(mb, &elsewhere, data(json!({"givenName": "Later"}))).await.unwrap().id;
    let now = store.change_state(mb).await.unwrap().current;
    let next = |scope| DeltaQuery { scope, since: upto, upto: now, ..query(None) };
    assert!(store.delta(mb, &next(DeltaScope::FolderContacts(folder.clone()))).await.unwrap().items.is_empty());
    let there = store.delta(mb, &next(DeltaScope::FolderContacts(elsewhere))).await.unwrap().items;
    assert!(matches!(&there[..], [(_, DeltaItem::Contact(c))] if c.id == later), "{there:?}");
}

/// A write naming a change key that is no longer current is refused with 412 and changes nothing;
/// the current key is accepted and replaced.
async fn stale_change_keys_are_refused(store: SqlStore) {
    let user = store.create_user("e@x.test", "E").await.unwrap();
    let mb = &user.mailbox;
    let c = store.create_contact(mb, &mb.default_folder_id, data(json!({"givenName": "Old"}))).await.unwrap();
    let rename = |name: &'static str| {
        Box::new(move |d: &mut ContactData| -> GraphResult<_> {
            d.given_name = Some(name.into());
            Ok(None)
        })
    };
    let e =
        store.update_contact(mb, &c.id, &Scope::Mailbox, Some(vec!["stale".into()]), rename("Lost")).await.unwrap_err();
    assert_eq!(e.kind.status(), 412, "{e:?}");
    let e = store.delete_contact(mb, &c.id, &Scope::Mailbox, Some(vec!["stale".into()])).await.unwrap_err();
    assert_eq!(e.kind.status(), 412, "{e:?}");
    let same = store.get_contact(mb, &c.id, &Scope::Mailbox).await.unwrap().unwrap();
    assert_eq!((same.data.given_name.as_deref(), same.change_key.as_str()), (Some("Old"), c.change_key.as_str()));
    let edited = store
        .update_contact(mb, &c.id, &Scope::Mailbox, Some(vec![c.change_key.clone()]), rename("New"))
        .await
        .unwrap();
    assert_ne!(edited.change_key, c.change_key);
    assert_eq!(edited.data.given_name.as_deref(), Some("New"));
    store.delete_contact(mb, &c.id, &Scope::Mailbox, Some(vec![edited.change_key])).await.unwrap();
    assert!(store.get_contact(mb, &c.id, &Scope::Mailbox).await.unwrap().is_none());
}

/// The master category list: names unique whatever their case, colours changed in place, and a
/// deleted category leaves the contacts that carry its name as they were.
async fn master_categories(store: SqlStore) {
    let user = store.create_user("f@x.test", "F").await.unwrap();
    let mb = &user.mailbox;
    let red = store.create_category(mb, "Red team", "preset0").await.unwrap();
    let e = store.create_category(mb, "RED TEAM", "preset1").await.unwrap_err();
    assert_eq!(e.kind.status(), 409, "{e:?}");
    let recoloured = store.update_category_color(mb, &red.id, "preset3").await.unwrap();
    assert_eq!((recoloured.display_name.as_str(), recoloured.color.as_str()), ("Red team", "preset3"));
    let c = store
        .create_contact(mb, &mb.default_folder_id, data(json!({"givenName": "T", "categories": ["Red team"]})))
        .await
        .unwrap();
    store.delete_category(mb, &red.id).await.unwrap();
    assert!(store.get_category(mb, &red.id).await.unwrap().is_none());
    assert!(store.list_categories(mb).await.unwrap().iter().all(|k| k.id != red.id));
    let kept = store.get_contact(mb, &c.id, &Scope::Mailbox).await.unwrap().unwrap();
    assert_eq!(kept.data.categories, ["Red team"]);
}

/// `$search` words follow a contact's edits and deletion: the old name stops matching, the new one
/// matches, and nothing matches once the contact is gone.
async fn search_words_follow_edits(store: SqlStore) {
    let user = store.create_user("g@x.test", "G").await.unwrap();
    let mb = &user.mailbox;
    let c = store
        .create_contact(
            mb,
            &mb.default_folder_id,
            data(json!({"givenName": "Émile", "surname": "Zola", "mobilePhone": "+33 1 23 45 67 89"})),
        )
        .await
        .unwrap();
    store.create_contact(mb, &mb.default_folder_id, data(json!({"givenName": "Other"}))).await.unwrap();
    let found = |text: &'static str| {
        let store = &store;
        async move {
            let q =
                ListQuery { search: rolo_domain::search::parse(text).unwrap(), page_size: 10, ..Default::default() };
            let page = store.list_contacts(mb, &Scope::Mailbox, &q).await.unwrap();
            page.items.into_iter().map(|c| c.id.as_str().to_owned()).collect::<Vec<_>>()
        }
    };
    let me = vec![c.id.as_str().to_owned()];
    assert_eq!(found("emile").await, me, "folded accents");
    assert_eq!(found("zol").await, me, "a prefix");
    assert_eq!(found("456789").await, me, "the end of a phone number");
    assert_eq!(found("emile zola").await, me, "every word must match");
    assert!(found("emile other").await.is_empty());
    let edit = Box::new(|d: &mut ContactData| -> GraphResult<_> {
        d.apply_v1(&json!({"surname": "Hugo"}), false)?;
        Ok(None)
    });
    store.update_contact(mb, &c.id, &Scope::Mailbox, None, edit).await.unwrap();
    assert!(found("zola").await.is_empty(), "the old word is gone");
    assert_eq!(found("hugo").await, me);
    store.delete_contact(mb, &c.id, &Scope::Mailbox, None).await.unwrap();
    assert!(found("hugo").await.is_empty());
    assert!(found("emile").await.is_empty());
}

/// With no subscriptions, writes queue nothing: the outbox stays empty.
async fn no_subscription_no_outbox(store: SqlStore) {
    let user = store.create_user("h@x.test", "H").await.unwrap();
    let mb = &user.mailbox;
    store.create_contact(mb, &mb.default_folder_id, data(json!({"givenName": "Q"}))).await.unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), rolo_store::OutboxDepth::default());
    assert!(store.claim_outbox(10, "9999-01-01T00:00:00.000Z").await.unwrap().is_empty());
}

/// Creates of one mailbox arriving together (group-committed: SQLite's one writer, a mailbox's
/// queue on PostgreSQL) are each answered on their own: a create into a missing folder fails
/// alone, and every other one is stored with its side tables and exactly one change number.
async fn concurrent_creates_fail_alone(store: SqlStore) {
    let store = Arc::new(store);
    let user = store.create_user("k@x.test", "K").await.unwrap();
    let mb = user.mailbox.clone();
    let before = store.change_state(&mb).await.unwrap().current;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (store, mb) = (store.clone(), mb.clone());
        tasks.push(tokio::spawn(async move {
            let folder =
                if i % 4 == 3 { rolo_domain::FolderId::from_stored("missing".into()) } else { mb.default_folder_id.clone() };
            let body = json!({
                "givenName": format!("Grouped{i}"),
                "emailAddresses": [{"address": format!("g{i}@x.test")}],
                "categories": [format!("Cat{}", i % 3)],
                "singleValueExtendedProperties": [{"id": "String {00020329-0000-0000-C000-000000000046} Name tier", "value": format!("v{i}")}],
            });
            (i, store.create_contact(&mb, &folder, data(body)).await)
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        let (i, outcome) = t.await.unwrap();
        match outcome {
            Ok(c) => {
                assert_ne!(i % 4, 3, "a create into a missing folder succeeded");
                created.push((i, c));
            }
            Err(e) => {
                assert_eq!(i % 4, 3, "create {i} failed: {e:?}");
                assert_eq!(e.code, "ErrorItemNotFound");
            }
        }
    }
    assert_eq!(created.len(), 24);
    let after = store.change_state(&mb).await.unwrap().current;
    assert_eq!(after - before, 24, "one change number per stored create, none for a failed one");
    let mut keys: Vec<&str> = created.iter().map(|(_, c)| c.change_key.as_str()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 24);
    let q = ListQuery { page_size: 100, ..Default::default() };
    let listed = store.list_contacts(&mb, &Scope::Mailbox, &q).await.unwrap().items;
    assert_eq!(listed.len(), 24);
    for (i, c) in &created {
        let q = ListQuery {
            filter: Some(parse_filter(&format!("emailAddresses/any(a:a/address eq 'g{i}@x.test')")).unwrap()),
            page_size: 10,
            ..Default::default()
        };
        let found = store.list_contacts(&mb, &Scope::Mailbox, &q).await.unwrap().items;
        assert_eq!(found.iter().map(|f| &f.id).collect::<Vec<_>>(), [&c.id], "email of {i}");
        let q = ListQuery {
            search: rolo_domain::search::parse(&format!("grouped{i}")).unwrap(),
            page_size: 10,
            ..Default::default()
        };
        let found = store.list_contacts(&mb, &Scope::Mailbox, &q).await.unwrap().items;
        // A prefix search: "grouped1" also finds Grouped10 to Grouped19.
        assert!(found.iter().any(|f| f.id == c.id), "$search of {i}");
    }
    let q = ListQuery {
        filter: Some(parse_filter("categories/any(c:c eq 'Cat1')").unwrap()),
        page_size: 100,
        ..Default::default()
    };
    let expected = created.iter().filter(|(i, _)| i % 3 == 1).count();
    assert_eq!(store.list_contacts(&mb, &Scope::Mailbox, &q).await.unwrap().items.len(), expected);
}

/// While a delivery worker is attached, a commit leases the notifications it queued to this
/// process and hands them over, so the worker sends them without a claim; a write that fails
/// hands nothing; without a worker they wait to be claimed.
async fn commits_hand_notifications_to_the_worker(store: SqlStore) {
    let store = Arc::new(store);
    let user = store.create_user("n@x.test", "N").await.unwrap();
    let mb = user.mailbox.clone();
    let sub = rolo_domain::subscription::Subscription {
        id: "sub-1".into(),
        resource: "me/contacts".into(),
        change_types: vec!["created".into(), "updated".into(), "deleted".into()],
        notification_url: "https://hooks.example/n".into(),
        lifecycle_notification_url: None,
        client_state: None,
        expiration: "9999-01-01T00:00:00Z".into(),
        application_id: "app".into(),
        creator_id: user.id.clone(),
        mailbox_id: mb.id.clone(),
        scope: "*".into(),
        include_resource_data: false,
        encryption_certificate: None,
        encryption_certificate_id: None,
        select: None,
    };
    store.create_subscription(sub).await.unwrap();
    let hub = store.outbox_signal();
    // No worker: the row waits for a claim, and the commit asks for one.
    store.create_contact(&mb, &mb.default_folder_id, data(json!({"givenName": "Unleased"}))).await.unwrap();
    let (handed, claim) = hub.take();
    assert!(handed.is_empty() && claim);
    let claimed = store.claim_outbox(10, "9999-01-01T00:00:00.000Z").await.unwrap();
    assert_eq!(claimed.len(), 1);
    store.ack_outbox(&[claimed[0].id.clone()]).await.unwrap();
    hub.attach(60_000);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (store, mb) = (store.clone(), mb.clone());
        tasks.push(tokio::spawn(async move {
            let folder = if i % 4 == 3 {
                rolo_domain::FolderId::from_stored("missing".into())
            } else {
                mb.default_folder_id.clone()
            };
            store.create_contact(&mb, &folder, data(json!({"givenName": format!("Leased{i}")}))).await
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        if let Ok(c) = t.await.unwrap() {
            created.push(c.id.as_str().to_owned());
        }
    }
    assert_eq!(created.len(), 9);
    let (handed, claim) = hub.take();
    assert!(!claim, "every row was leased: no claim needed");
    let mut about: Vec<String> = handed
        .iter()
        .map(|i| i.payload().unwrap().notification["resourceData"]["id"].as_str().unwrap().to_owned())
        .collect();
    about.sort();
    created.sort();
    assert_eq!(about, created, "one notification per stored create, none for a failed one");
    assert!(handed.iter().all(|i| i.url == "https://hooks.example/n" && i.attempts == 0));
    // Leased: no other worker claims them, yet they are owed until acknowledged.
    assert!(store.claim_outbox(100, &rolo_domain::time::millis_from_now(1000)).await.unwrap().is_empty());
    assert_eq!(store.outbox_depth().await.unwrap().pending, 9);
    // A stopping worker gets back what it never took, and hands the leases back.
    store.create_contact(&mb, &mb.default_folder_id, data(json!({"givenName": "Late"}))).await.unwrap();
    let left = hub.detach();
    assert_eq!(left.len(), 1);
    let ids: Vec<String> = handed.iter().chain(&left).map(|i| i.id.clone()).collect();
    store.release_outbox(&ids).await.unwrap();
    assert_eq!(store.claim_outbox(100, &rolo_domain::time::millis_from_now(1000)).await.unwrap().len(), 10);
}

fn import_items(n: usize, tag: &str) -> Vec<rolo_store::ImportItem> {
    let key_prop = rolo_domain::vcard::uid_property();
    (0..n)
        .map(|i| {
            let key = format!("uid-{i}");
            let mut d = data(json!({
                "givenName": format!("{tag}{i}"),
                "surname": format!("Bulk {:03}", n - i),
                "emailAddresses": [{"address": format!("b{i}@x.test")}],
                "categories": ["Imported"],
            }));
            d.single_value_extended_properties
                .push(rolo_domain::xprop::SingleValue { id: key_prop.clone(), value: key.clone() });
            rolo_store::ImportItem { data: d, key, photo: Vec::new() }
        })
        .collect()
}

/// `import_contacts_bulk` stores what `import_contacts` stores: the same contacts, side tables,
/// one change number each, and a re-run merges on the keys instead of duplicating; the rebuilt
/// indexes serve ordered and filtered lists.
async fn bulk_import_matches_import(store: SqlStore) {
    let key_prop = rolo_domain::vcard::uid_property();
    let a = store.create_user("l@x.test", "L").await.unwrap().mailbox;
    let b = store.create_user("m@x.test", "M").await.unwrap().mailbox;
    store.create_contact(&b, &b.default_folder_id, data(json!({"givenName": "Before"}))).await.unwrap();
    let before = store.change_state(&b).await.unwrap().current;
    let mut items = import_items(300, "Bulk");
    // A key repeated in the batch merges into the contact the batch creates.
    let mut again = items[7].clone();
    again.data.given_name = Some("Seventh".into());
    items.push(again);
    let normal = store.import_contacts(&a, &a.default_folder_id, &key_prop, items.clone()).await.unwrap();
    let bulk = store.import_contacts_bulk(&b, &b.default_folder_id, &key_prop, items.clone()).await.unwrap();
    let kinds = |o: &[rolo_store::ImportOutcome]| {
        o.iter().map(|o| matches!(o, rolo_store::ImportOutcome::Created(_))).collect::<Vec<_>>()
    };
    assert_eq!(kinds(&normal), kinds(&bulk));
    assert_eq!(store.change_state(&b).await.unwrap().current - before, 300);
    let names = |mb: rolo_store::Mailbox, filter: &'static str| {
        let store = &store;
        async move {
            let q = ListQuery {
                filter: (!filter.is_empty()).then(|| parse_filter(filter).unwrap()),
                orderby: parse_orderby("surname desc").unwrap(),
                page_size: 1000,
                ..Default::default()
            };
            let page = store.list_contacts(&mb, &Scope::Folder(mb.default_folder_id.clone()), &q).await.unwrap();
            page.items.into_iter().map(|c| c.data.given_name.unwrap_or_default()).collect::<Vec<_>>()
        }
    };
    let all_a = names(a.clone(), "").await;
    let mut all_b = names(b.clone(), "").await;
    assert_eq!(all_b.len(), 301);
    all_b.retain(|n| n != "Before");
    assert_eq!(all_a, all_b);
    assert!(all_b.contains(&"Seventh".to_owned()) && !all_b.contains(&"Bulk7".to_owned()));
    for filter in ["emailAddresses/any(a:a/address eq 'b42@x.test')", "startswith(surname,'Bulk 01')"] {
        assert_eq!(names(a.clone(), filter).await, names(b.clone(), filter).await, "{filter}");
        assert!(!names(b.clone(), filter).await.is_empty(), "{filter}");
    }
    let q = ListQuery { search: rolo_domain::search::parse("bulk42").unwrap(), page_size: 10, ..Default::default() };
    assert_eq!(store.list_contacts(&b, &Scope::Mailbox, &q).await.unwrap().items.len(), 1);
    // A re-run finds every key: nothing is created.
    let rerun =
        store.import_contacts_bulk(&b, &b.default_folder_id, &key_prop, import_items(300, "Bulk")).await.unwrap();
    assert_eq!(rerun.iter().filter(|o| matches!(o, rolo_store::ImportOutcome::Merged(_))).count(), 300);
    assert_eq!(names(b.clone(), "").await.len(), 301);
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
    interactions_follow_items,
    sign_in_state,
    delta_reports_each_change_once,
    stale_change_keys_are_refused,
    master_categories,
    search_words_follow_edits,
    no_subscription_no_outbox,
    concurrent_creates_fail_alone,
    commits_hand_notifications_to_the_worker,
    bulk_import_matches_import
);

/// The maintained folder counts and the merge of surname runs (a module here, so the suite stays one
/// test binary with one set of helpers).
#[path = "store_suite/counts_and_runs.rs"]
mod counts_and_runs;

/// Loading a whole organisation: users from a list, many mailboxes' files in one bulk load.
#[path = "store_suite/organisation.rs"]
mod organisation;

/// CardDAV's names and UIDs.
#[path = "store_suite/cards.rs"]
mod cards;

/// `any()` over the side tables: dense, sparse and deep matches, paged, on both plans.
#[path = "store_suite/lambda_walks.rs"]
mod lambda_walks;
