//! CardDAV's store role: a card URL's book and card found in one read (`resolve_names`), and a
//! vCard UID that stays unique in an address book when cards carrying it arrive together (on
//! PostgreSQL the UID check is part of the create's own statement). On SQLite and PostgreSQL.

use std::sync::Arc;

use rolo_domain::xprop::SingleValue;
use rolo_domain::ContactData;
use rolo_odata::parse_filter;
use rolo_store::prelude::*;
use rolo_store::{CardOutcome, CardWrite, ContactEdit, ListQuery, NameLookup, Scope, SqlStore};
use serde_json::json;

use super::{data, postgres, sqlite};

fn card_data(given: &str, uid: &str) -> rolo_domain::ContactData {
    let mut d = data(json!({ "givenName": given }));
    d.single_value_extended_properties.push(SingleValue { id: rolo_domain::vcard::uid_property(), value: uid.into() });
    d
}

fn card(name: &str, uid: &str) -> CardWrite {
    CardWrite {
        name: name.into(),
        card: Some(format!("card {name}")),
        uid: Some(uid.into()),
        photo: None,
        moved_from: None,
    }
}

/// Eight cards with one UID PUT into a book at once: one is stored, the other seven are told
/// which contact holds the UID and leave nothing behind (no contact, no name, no change
/// number); the same UID in another book is no conflict.
async fn one_uid_per_book(store: SqlStore) {
    let store = Arc::new(store);
    let user = store.create_user("u@x.test", "U").await.unwrap();
    let mb = user.mailbox.clone();
    let book = store.create_folder(&mb, &mb.default_folder_id, "Book").await.unwrap().id;
    let before = store.change_state(&mb).await.unwrap().current;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, mb, book) = (store.clone(), mb.clone(), book.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("c{i}.vcf");
            let outcome =
                store.create_card(&mb, &book, card_data(&format!("C{i}"), "Same-UID"), card(&name, "same-uid"));
            (name, outcome.await.unwrap())
        }));
    }
    let (mut stored, mut taken) = (Vec::new(), Vec::new());
    for t in tasks {
        match t.await.unwrap() {
            (name, CardOutcome::Stored(c)) => stored.push((name, c)),
            (name, CardOutcome::UidTaken(holder)) => taken.push((name, holder)),
        }
    }
    assert_eq!(stored.len(), 1, "exactly one card keeps the UID");
    let (name, kept) = &stored[0];
    assert!(taken.iter().all(|(_, holder)| *holder == kept.id), "{taken:?}");
    assert_eq!(store.change_state(&mb).await.unwrap().current - before, 1, "a refused card takes no change number");
    for (name, _) in &taken {
        assert!(store.ids_named(&mb, name).await.unwrap().is_empty(), "{name} was named");
    }
    assert_eq!(store.ids_named(&mb, name).await.unwrap(), [kept.id.as_str()]);
    assert_eq!(
        store.dav_card(&mb, kept.id.as_str()).await.unwrap(),
        Some((kept.change_key.clone(), format!("card {name}")))
    );
    let scope = rolo_store::Scope::Folder(book.clone());
    let q = rolo_store::ListQuery { page_size: 20, ..Default::default() };
    assert_eq!(store.list_contacts(&mb, &scope, &q).await.unwrap().items.len(), 1);
    let elsewhere =
        store.create_card(&mb, &mb.default_folder_id, card_data("D", "same-uid"), card("d.vcf", "same-uid"));
    assert!(matches!(elsewhere.await.unwrap(), CardOutcome::Stored(_)), "a UID is unique per book only");
}

/// A book found by its client-given name or by its id, and in it a card by its name or by the
/// id its name spells, each with its client-given name; cards of other folders are not listed.
async fn names_resolve_in_one_read(store: SqlStore) {
    let user = store.create_user("r@x.test", "R").await.unwrap();
    let mb = &user.mailbox;
    let book = store.create_folder(mb, &mb.default_folder_id, "Named").await.unwrap().id;
    store.set_dav_name(mb, book.as_str(), "named/", None).await.unwrap();
    let CardOutcome::Stored(kept) =
        store.create_card(mb, &book, card_data("K", "k"), card("k.vcf", "k")).await.unwrap()
    else {
        panic!("not stored")
    };
    let plain = store.create_contact(mb, &book, data(json!({"givenName": "P"}))).await.unwrap();
    // The same card name in another folder.
    store.create_card(mb, &mb.default_folder_id, card_data("O", "o"), card("k.vcf", "o")).await.unwrap();

    let by_name = NameLookup { book_name: "named/", book_id: "named", card: Some(("k.vcf", None)) };
    let found = store.resolve_names(mb, by_name).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((&found[0].folder.id, found[0].name.as_deref()), (&book, Some("named/")));
    let cards: Vec<_> = found[0].cards.iter().map(|(c, n)| (c.id.clone(), c.change_key.clone(), n.clone())).collect();
    assert_eq!(cards, [(kept.id.clone(), kept.change_key.clone(), Some("k.vcf".to_owned()))]);
    assert_eq!(found[0].cards[0].0.data.given_name.as_deref(), Some("K"));

    let spelled = format!("{}.vcf", plain.id.as_str());
    let by_id =
        NameLookup { book_name: "none/", book_id: book.as_str(), card: Some((&spelled, Some(plain.id.as_str()))) };
    let found = store.resolve_names(mb, by_id).await.unwrap();
    assert_eq!(found.len(), 1);
    let cards: Vec<_> = found[0].cards.iter().map(|(c, n)| (c.id.clone(), n.clone())).collect();
    assert_eq!(cards, [(plain.id.clone(), None)]);

    let book_only = NameLookup { book_name: "named/", book_id: "other", card: None };
    let found = store.resolve_names(mb, book_only).await.unwrap();
    assert_eq!((found.len(), found[0].cards.len()), (1, 0));
    let nothing = NameLookup { book_name: "missing/", book_id: "missing", card: Some(("k.vcf", None)) };
    assert!(store.resolve_names(mb, nothing).await.unwrap().is_empty());

    // With the mailbox's change state in the same read.
    let (found, state) = store.resolve_names_with_state(mb, book_only).await.unwrap();
    assert_eq!((found.len(), &found[0].folder.id), (1, &book));
    let expected = store.change_state(mb).await.unwrap();
    assert_eq!((state.current, state.floor), (expected.current, expected.floor));
    let (found, _) = store.resolve_names_with_state(mb, nothing).await.unwrap();
    assert!(found.is_empty());
}

/// A card replacing its contact (on PostgreSQL one statement after the counter's and the
/// contact's read): the side tables follow the new card (kept rows, gone rows, new rows), the
/// name and card take the new change key, and a UID another card of the book holds refuses the
/// replacement with nothing changed.
async fn replaced_cards_rewrite_their_rows(store: SqlStore) {
    let user = store.create_user("p@x.test", "P").await.unwrap();
    let mb = &user.mailbox;
    let book = store.create_folder(mb, &mb.default_folder_id, "Book").await.unwrap().id;
    let scope = Scope::Folder(book.clone());
    let with = |given: &str, uid: &str, emails: &[&str], cats: &[&str]| {
        let mut d = card_data(given, uid);
        let more = data(json!({
            "emailAddresses": emails.iter().map(|a| json!({"address": a})).collect::<Vec<_>>(),
            "categories": cats,
        }));
        d.email_addresses = more.email_addresses;
        d.categories = more.categories;
        d
    };
    let stored = |o: CardOutcome| match o {
        CardOutcome::Stored(c) => *c,
        CardOutcome::UidTaken(h) => panic!("UID taken by {h:?}"),
    };
    let first =
        store.create_card(mb, &book, with("Ann", "a", &["a1@x.test", "a2@x.test"], &["Red"]), card("a.vcf", "a"));
    let first = stored(first.await.unwrap());
    stored(store.create_card(mb, &book, card_data("Bob", "b"), card("b.vcf", "b")).await.unwrap());
    let matching = |filter: &'static str| {
        let (store, scope) = (&store, &scope);
        async move {
            let q = ListQuery { filter: Some(parse_filter(filter).unwrap()), page_size: 10, ..Default::default() };
            let page = store.list_contacts(mb, scope, &q).await.unwrap();
            page.items.into_iter().map(|c| c.data.given_name.unwrap_or_default()).collect::<Vec<_>>()
        }
    };
    let replace = |d: ContactData, uid: &str, if_match: Option<Vec<String>>| {
        let edit: ContactEdit = Box::new(move |c: &mut ContactData| {
            *c = d;
            Ok(None)
        });
        store.replace_card(
            mb,
            &first.id,
            &scope,
            if_match,
            edit,
            CardWrite { photo: Some(Vec::new()), ..card("a.vcf", uid) },
        )
    };
    let new = with("Anna", "a", &["a2@x.test", "a3@x.test"], &["Blue"]);
    let second = stored(replace(new, "a", Some(vec![first.change_key.clone()])).await.unwrap());
    assert_ne!(second.change_key, first.change_key);
    assert!(matching("emailAddresses/any(e:e/address eq 'a1@x.test')").await.is_empty(), "a gone address");
    assert_eq!(matching("emailAddresses/any(e:e/address eq 'a2@x.test')").await, ["Anna"], "a kept address");
    assert_eq!(matching("emailAddresses/any(e:e/address eq 'a3@x.test')").await, ["Anna"], "a new address");
    assert!(matching("categories/any(c:c eq 'Red')").await.is_empty());
    assert_eq!(matching("categories/any(c:c eq 'Blue')").await, ["Anna"]);
    let q = ListQuery { search: rolo_domain::search::parse("anna").unwrap(), page_size: 10, ..Default::default() };
    assert_eq!(store.list_contacts(mb, &scope, &q).await.unwrap().items.len(), 1, "the search words follow");
    assert_eq!(
        store.dav_card(mb, first.id.as_str()).await.unwrap(),
        Some((second.change_key.clone(), "card a.vcf".into()))
    );

    // Bob's UID: refused, and nothing of it stays (no change number, the rows as they were).
    let before = store.change_state(mb).await.unwrap().current;
    let clash = replace(with("Clash", "b", &["c@x.test"], &[]), "b", None).await.unwrap();
    assert!(matches!(clash, CardOutcome::UidTaken(_)), "{clash:?}");
    assert_eq!(store.change_state(mb).await.unwrap().current, before);
    assert!(matching("emailAddresses/any(e:e/address eq 'c@x.test')").await.is_empty());
    assert_eq!(matching("emailAddresses/any(e:e/address eq 'a3@x.test')").await, ["Anna"]);
    assert_eq!(
        store.dav_card(mb, first.id.as_str()).await.unwrap(),
        Some((second.change_key.clone(), "card a.vcf".into()))
    );

    // A stale If-Match is refused.
    let stale = replace(with("Old", "a", &[], &[]), "a", Some(vec![first.change_key.clone()])).await;
    assert!(stale.is_err());
}

suite!(one_uid_per_book, names_resolve_in_one_read, replaced_cards_rewrite_their_rows);

/// A statement marked [`rolo_store::sql::PLANNED_EACH_TIME`] is not prepared on its connection
/// (so no generic plan of it can be kept) and is planned for its table as it is at each run: on
/// a table never analyzed, warmed up while it held five rows and then grown to 5,000, its join
/// still probes the primary key, where the unmarked twin's prepared statement stays cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marked_statements_are_planned_each_time() {
    use rolo_store::sql::{planned_each_time, Backend, Value};
    let url = rolo_testkit::postgres_server().fresh_database();
    // One connection, so every statement below meets the same session's statement cache.
    let backend = rolo_store::backend::postgres::PostgresBackend::connect(&url, 1, &[]).await.unwrap();
    let mut conn = backend.read().await.unwrap();
    for ddl in [
        "CREATE TABLE names (m TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (m, id))",
        "CREATE INDEX names_by_name ON names (m, name)",
        "CREATE TABLE cards (m TEXT NOT NULL, id TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (m, id))",
        "CREATE INDEX cards_by_m ON cards (m, v)",
        "INSERT INTO names SELECT 'mb', 'c' || g, 'n' || g FROM generate_series(1, 5) g",
        "INSERT INTO cards SELECT 'mb', 'c' || g, 'v' FROM generate_series(1, 5) g",
    ] {
        conn.execute(ddl, &[]).await.unwrap();
    }
    let join = "SELECT c.id, n.name, CAST(? AS BIGINT) AS k FROM names n JOIN cards c ON c.m = n.m AND c.id = n.id \
                WHERE n.m = ? AND n.name = ?";
    let marked = planned_each_time(join);
    let params = |i: i64| [Value::Int(i), Value::text("mb"), Value::text(format!("n{}", i % 5 + 1))];
    for i in 0..8 {
        let rows = conn.query(&marked, &params(i)).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].get("id"), rows[0].get("k")), (&Value::text(format!("c{}", i % 5 + 1)), &Value::Int(i)));
        assert_eq!(conn.query(join, &params(i)).await.unwrap().len(), 1);
    }
    for grow in [
        "INSERT INTO names SELECT 'mb', 'c' || g, 'n' || g FROM generate_series(6, 5000) g",
        "INSERT INTO cards SELECT 'mb', 'c' || g, 'v' FROM generate_series(6, 5000) g",
    ] {
        conn.execute(grow, &[]).await.unwrap();
    }
    let prepared = conn
        .query(
            &planned_each_time("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%JOIN cards%'"),
            &[],
        )
        .await
        .unwrap();
    let texts: Vec<String> = prepared.into_iter().map(|mut r| r.text("statement")).collect();
    assert_eq!(texts.len(), 1, "only the unmarked twin is prepared: {texts:?}");
    assert!(!texts[0].contains("planned each time"), "{texts:?}");
    // The plan a marked run gets now: the name's index, then one primary-key probe of `cards`.
    let explain = planned_each_time(&format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {join}"));
    let plan: Vec<String> =
        conn.query(&explain, &params(4000)).await.unwrap().into_iter().map(|mut r| r.text("QUERY PLAN")).collect();
    let cards: Vec<&str> = plan.iter().map(|l| l.trim()).filter(|l| l.contains(" on cards")).collect();
    assert!(!cards.is_empty(), "{plan:#?}");
    for line in cards {
        assert!(line.contains("cards_pkey") || line.starts_with("Bitmap Heap Scan on cards"), "{plan:#?}");
        assert!(line.ends_with("(actual rows=1 loops=1)"), "{plan:#?}");
    }
}
