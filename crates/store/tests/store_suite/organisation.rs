//! Loading a whole organisation: `create_users` (one transaction) against `create_user` one at a
//! time, and `import_mailboxes_bulk` (many mailboxes, one transaction, the indexes rebuilt
//! once) against `import_contacts_bulk` per mailbox. On SQLite and PostgreSQL.

use rolo_odata::{parse_filter, parse_orderby};
use rolo_store::prelude::*;
use rolo_store::{BatchCounts, ImportOutcome, ListQuery, Mailbox, MailboxBatch, Scope, SqlStore};
use serde_json::json;

use super::{data, import_items, postgres, sqlite};

/// What a test can see of a new user: its fields but the generated ids, and its default folder.
async fn shape(store: &SqlStore, upn: &str) -> (String, String, String, bool, Vec<String>) {
    let u = store.find_user(upn).await.unwrap().expect(upn);
    let q = ListQuery { page_size: 100, ..Default::default() };
    let folders = store.list_folders(&u.mailbox, &u.mailbox.root_folder_id, &q).await.unwrap();
    let names = folders.items.iter().map(|f| f.display_name.clone()).collect();
    assert!(folders.items.iter().any(|f| f.id == u.mailbox.default_folder_id), "{upn}: default folder listed");
    (u.user_principal_name, u.display_name, format!("{:?}", u.kind), u.disabled, names)
}

async fn create_users_matches_create_user(store: SqlStore) {
    store.create_user("one@x.test", "Same Name").await.unwrap();
    let batch = vec![("two@x.test".to_owned(), "Same Name".to_owned()), ("Three@x.test".to_owned(), "T".to_owned())];
    let made = store.create_users(&batch).await.unwrap();
    assert_eq!(made.len(), 2);
    assert_eq!(store.find_user(&made[1].id).await.unwrap().as_ref(), Some(&made[1]));
    let (one, two) = (shape(&store, "one@x.test").await, shape(&store, "TWO@x.test").await);
    assert_eq!((&one.1, &one.2, one.3, &one.4), (&two.1, &two.2, two.3, &two.4));
    // The new mailboxes take contacts like any other.
    let mb = &made[0].mailbox;
    store.create_contact(mb, &mb.default_folder_id, data(json!({"givenName": "In"}))).await.unwrap();
    // All or none: a taken name, or one repeated in the batch, fails the batch.
    let before = store.list_users().await.unwrap().len();
    for bad in [
        vec![("four@x.test".to_owned(), "F".to_owned()), ("ONE@x.test".to_owned(), "Again".to_owned())],
        vec![("five@x.test".to_owned(), "F".to_owned()), ("five@X.test".to_owned(), "F".to_owned())],
    ] {
        store.create_users(&bad).await.unwrap_err();
        assert_eq!(store.list_users().await.unwrap().len(), before);
    }
}

/// (given names in surname order, given names under a filter, `$search` hits, change number) of a
/// mailbox's default folder.
async fn contents(store: &SqlStore, mb: &Mailbox) -> (Vec<String>, Vec<String>, usize, i64) {
    let scope = Scope::Folder(mb.default_folder_id.clone());
    let q = |filter: Option<&str>| ListQuery {
        filter: filter.map(|f| parse_filter(f).unwrap()),
        orderby: parse_orderby("surname desc").unwrap(),
        page_size: 1000,
        ..Default::default()
    };
    let names = |items: Vec<rolo_domain::Contact>| items.into_iter().map(|c| c.data.given_name.unwrap_or_default());
    let all = names(store.list_contacts(mb, &scope, &q(None)).await.unwrap().items).collect();
    let some = store.list_contacts(mb, &scope, &q(Some("startswith(surname,'Bulk 01')"))).await.unwrap().items;
    let search = ListQuery { search: rolo_domain::search::parse("b42").unwrap(), page_size: 10, ..Default::default() };
    let hits = store.list_contacts(mb, &scope, &search).await.unwrap().items.len();
    (all, names(some).collect(), hits, store.change_state(mb).await.unwrap().current)
}

async fn many_mailboxes_match_one_at_a_time(store: SqlStore) {
    let key_prop = rolo_domain::vcard::uid_property();
    let upns: Vec<(String, String)> = (0..6).map(|i| (format!("u{i}@x.test"), format!("U{i}"))).collect();
    let users = store.create_users(&upns).await.unwrap();
    let (one_by_one, together) = users.split_at(3);
    // A mailbox that already holds the first file's contacts: its batch merges them all.
    for mb in [&one_by_one[2].mailbox, &together[2].mailbox] {
        store.import_contacts_bulk(mb, &mb.default_folder_id, &key_prop, import_items(120, "Bulk")).await.unwrap();
    }
    let files = [import_items(120, "Bulk"), import_items(60, "Other"), import_items(120, "Bulk")];
    let mut expected = Vec::new();
    for (u, items) in one_by_one.iter().zip(files.clone()) {
        let mb = &u.mailbox;
        let outcomes = store.import_contacts_bulk(mb, &mb.default_folder_id, &key_prop, items).await.unwrap();
        let created = outcomes.iter().filter(|o| matches!(o, ImportOutcome::Created(_))).count();
        expected.push(BatchCounts { created, merged: outcomes.len() - created });
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let batches: Vec<MailboxBatch> = together
        .iter()
        .zip(files)
        .map(|(u, items)| MailboxBatch {
            mailbox: u.mailbox.clone(),
            folder: u.mailbox.default_folder_id.clone(),
            items,
        })
        .collect();
    let send = async move {
        for b in batches {
            tx.send(Ok(b)).await.unwrap();
        }
    };
    let (counts, ()) = tokio::join!(store.import_mailboxes_bulk(&key_prop, rx), send);
    assert_eq!(counts.unwrap(), expected);
    assert_eq!(expected[2], BatchCounts { created: 0, merged: 120 });
    for (a, b) in one_by_one.iter().zip(together) {
        let (a, b) = (contents(&store, &a.mailbox).await, contents(&store, &b.mailbox).await);
        assert_eq!(a, b);
        assert!(!a.0.is_empty() && !a.1.is_empty(), "{a:?}");
    }

    // An error from the caller rolls back every batch before it.
    let fresh = store.create_user("late@x.test", "Late").await.unwrap().mailbox;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let batch =
        MailboxBatch { mailbox: fresh.clone(), folder: fresh.default_folder_id.clone(), items: import_items(5, "X") };
    let send = async move {
        tx.send(Ok(batch)).await.unwrap();
        tx.send(Err(rolo_domain::GraphError::bad_request("BadRequest", "unreadable file"))).await.unwrap();
    };
    let (result, ()) = tokio::join!(store.import_mailboxes_bulk(&key_prop, rx), send);
    assert_eq!(result.unwrap_err().message, "unreadable file");
    assert_eq!(contents(&store, &fresh).await.0.len(), 0);
    // The indexes are back after the rollback too: a later bulk load still works.
    store.import_contacts_bulk(&fresh, &fresh.default_folder_id, &key_prop, import_items(5, "X")).await.unwrap();
    assert_eq!(contents(&store, &fresh).await.0.len(), 5);
}

suite!(create_users_matches_create_user, many_mailboxes_match_one_at_a_time);
