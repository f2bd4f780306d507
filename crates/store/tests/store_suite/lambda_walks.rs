//! `any()` filters over the side tables (extended properties, categories) page for page against
//! a reference computed here: dense matches (the list-order walk the density probe picks, a
//! per-row subquery on PostgreSQL), sparse matches deep in the list past the probe's window (the
//! filter's own index), with `$top`, cursors, `$skip` and `$count`, in a folder and mailbox-wide.
//! The extended-property filter's pages read from `contact_xprops`' list-order index
//! (query/seek.rs) follow every write that sets a contact's properties. On SQLite and PostgreSQL.

use rolo_domain::Contact;
use rolo_odata::parse_filter;
use rolo_store::prelude::*;
use rolo_store::{CardOutcome, CardWrite, ImportItem, ListQuery, Mailbox, Scope, SqlStore};
use serde_json::json;

use super::{data, postgres, sqlite};

const PROPERTY: &str = "String {0f9a3b7c-52e1-4c8e-9d6a-3f2b1c0d4e5a} Name Tier";
/// More contacts than the density probe's window (2,000), so matches can lie beyond it.
const CONTACTS: usize = 2300;

/// Contact `i` is named `N{i}`, carries tier `v{i % 100}`, category `C{i % 10}`, and `Deep` when
/// it lies past the probe's window and `i % 97 == 0`.
fn contact(i: usize) -> rolo_store::ImportItem {
    let mut categories = vec![format!("C{}", i % 10)];
    if i > 2000 && i.is_multiple_of(97) {
        categories.push("Deep".into());
    }
    let d = data(json!({
        "givenName": format!("N{i}"),
        "categories": categories,
        "singleValueExtendedProperties": [{"id": PROPERTY, "value": format!("v{}", i % 100)}],
    }));
    rolo_store::ImportItem { data: d, key: format!("k{i}"), photo: Vec::new() }
}

/// The given names of a whole list, page by page through the store's cursors; the first page's
/// count when asked for.
async fn pages(store: &SqlStore, mb: &Mailbox, scope: &Scope, mut q: ListQuery) -> (Vec<String>, Option<u64>) {
    let mut names = Vec::new();
    let mut count = None;
    loop {
        let page = store.list_contacts(mb, scope, &q).await.unwrap();
        count = count.or(page.count);
        assert!(page.items.len() <= q.page_size, "a page holds at most $top");
        names.extend(page.items.iter().map(|c| c.data.given_name.clone().unwrap_or_default()));
        match page.next {
            Some(cursor) => {
                q.after = Some(cursor);
                q.skip = 0;
            }
            None => return (names, count),
        }
    }
}

async fn any_filters_page_like_the_reference(store: SqlStore) {
    let user = store.create_user("walks@x.test", "Walks").await.unwrap();
    let mb = &user.mailbox;
    let key = rolo_domain::vcard::uid_property();
    store.import_contacts(mb, &mb.default_folder_id, &key, (0..CONTACTS).map(contact).collect()).await.unwrap();
    // The reference order: the unfiltered list, in the order the filtered lists keep.
    let folder = Scope::Folder(mb.default_folder_id.clone());
    let all = ListQuery { page_size: 1000, ..Default::default() };
    let (order, _) = pages(&store, mb, &folder, all).await;
    assert_eq!(order.len(), CONTACTS);
    let index = |name: &str| name.trim_start_matches('N').parse::<usize>().unwrap();
    let cases: [(&str, &dyn Fn(usize) -> bool); 4] = [
        (&format!("singleValueExtendedProperties/any(ep:ep/id eq '{PROPERTY}' and ep/value eq 'v7')"), &|i| {
            i % 100 == 7
        }),
        ("categories/any(c:c eq 'C3')", &|i| i % 10 == 3),
        ("categories/any(c:c eq 'deep')", &|i| i > 2000 && i.is_multiple_of(97)),
        (&format!("singleValueExtendedProperties/any(ep:ep/id eq '{PROPERTY}' and ep/value eq 'v100')"), &|_| false),
    ];
    for (filter, matches) in cases {
        let expected: Vec<String> = order.iter().filter(|n| matches(index(n))).cloned().collect();
        for scope in [&folder, &Scope::Mailbox] {
            for (top, skip) in [(10, 0), (7, 4)] {
                let q = ListQuery {
                    filter: Some(parse_filter(filter).unwrap()),
                    page_size: top,
                    skip,
                    count: true,
                    ..Default::default()
                };
                let (names, count) = pages(&store, mb, scope, q).await;
                let want: Vec<String> = expected.iter().skip(skip as usize).cloned().collect();
                assert_eq!(names, want, "{filter} top {top} skip {skip} in {scope:?}");
                assert_eq!(count, Some(expected.len() as u64), "{filter} $count in {scope:?}");
            }
        }
    }
}

/// The key property of the imports and cards below.
const KEY: &str = "String {7c1b2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d} Name Key";

/// A contact named `name` whose tier is `tier` and whose key is `name`.
fn tiered(name: &str, tier: &str) -> rolo_domain::ContactData {
    data(json!({
        "givenName": name,
        "singleValueExtendedProperties": [{"id": PROPERTY, "value": tier}, {"id": KEY, "value": name}],
    }))
}

fn tier_of(c: &Contact) -> Option<String> {
    let id = rolo_domain::xprop::canonical_id(PROPERTY, false).unwrap();
    c.data.single_value_extended_properties.iter().find(|p| p.id == id).map(|p| p.value.to_lowercase())
}

fn stored(outcome: CardOutcome) -> Contact {
    match outcome {
        CardOutcome::Stored(c) => *c,
        CardOutcome::UidTaken(holder) => panic!("UID taken by {holder:?}"),
    }
}

fn card(name: &str) -> CardWrite {
    CardWrite {
        name: format!("{name}.vcf"),
        card: Some(format!("card {name}")),
        uid: None,
        photo: None,
        moved_from: None,
    }
}

/// Contacts written by every path that writes extended properties (create, import and its
/// merge, the bulk import, a CardDAV card and its replacement), then PATCHed to and from the
/// filtered value, moved between folders and deleted: each page of
/// `singleValueExtendedProperties/any(ep: ep/id eq … and ep/value eq 'v7')` holds exactly the
/// contacts of the unfiltered list that carry `v7`, in its order, across cursors, `$skip` and
/// `$count`, in either folder and mailbox-wide.
async fn xprop_pages_follow_every_write(store: SqlStore) {
    let user = store.create_user("seeks@x.test", "Seeks").await.unwrap();
    let mb = &user.mailbox;
    let home = mb.default_folder_id.clone();
    let other = store.create_folder(mb, &mb.default_folder_id, "Other").await.unwrap().id;
    let key = rolo_domain::xprop::canonical_id(KEY, false).unwrap();
    let item = |name: &str, tier: &str| ImportItem { data: tiered(name, tier), key: name.into(), photo: Vec::new() };
    let mut ids = Vec::new();
    for i in 0..40 {
        // Every third contact starts at v7 (some spelled V7: values match ignoring case).
        let tier = match i % 6 {
            0 => "v7",
            3 => "V7",
            _ => "v3",
        };
        let name = format!("N{i}");
        let folder = if i % 4 == 1 { &other } else { &home };
        let c = match i % 5 {
            0 | 4 => store.create_contact(mb, folder, tiered(&name, tier)).await.unwrap(),
            1 => {
                store.import_contacts(mb, folder, &key, vec![item(&name, tier)]).await.unwrap();
                find(&store, mb, &name).await
            }
            2 => {
                store.import_contacts_bulk(mb, folder, &key, vec![item(&name, tier)]).await.unwrap();
                find(&store, mb, &name).await
            }
            _ => stored(store.create_card(mb, folder, tiered(&name, tier), card(&name)).await.unwrap()),
        };
        ids.push(c.id);
    }
    let edit = |tier: &'static str, to: Option<rolo_domain::FolderId>| -> rolo_store::ContactEdit {
        Box::new(move |d: &mut rolo_domain::ContactData| {
            let id = rolo_domain::xprop::canonical_id(PROPERTY, false).unwrap();
            d.single_value_extended_properties.iter_mut().filter(|p| p.id == id).for_each(|p| p.value = tier.into());
            Ok(to)
        })
    };
    let mailbox = Scope::Mailbox;
    // PATCH into and out of the filter; a move each way; a delete.
    store.update_contact(mb, &ids[1], &mailbox, None, edit("v7", None)).await.unwrap();
    store.update_contact(mb, &ids[0], &mailbox, None, edit("v3", None)).await.unwrap();
    store.update_contact(mb, &ids[6], &mailbox, None, edit("v7", Some(other.clone()))).await.unwrap();
    store.update_contact(mb, &ids[9], &mailbox, None, edit("v7", Some(home.clone()))).await.unwrap();
    store.delete_contact(mb, &ids[12], &mailbox, None).await.unwrap();
    // A card replaced into the filter, an import merged into it.
    let replaced = stored(store.replace_card(mb, &ids[8], &mailbox, None, edit("v7", None), card("N8")).await.unwrap());
    assert_eq!(tier_of(&replaced).as_deref(), Some("v7"));
    store.import_contacts(mb, &home, &key, vec![item("N10", "v7")]).await.unwrap();
    let filter = format!("singleValueExtendedProperties/any(ep:ep/id eq '{PROPERTY}' and ep/value eq 'v7')");
    for scope in [Scope::Folder(home.clone()), Scope::Folder(other.clone()), Scope::Mailbox] {
        let all = store.list_contacts(mb, &scope, &ListQuery { page_size: 1000, ..Default::default() }).await.unwrap();
        let expected: Vec<String> = all
            .items
            .iter()
            .filter(|c| tier_of(c).as_deref() == Some("v7"))
            .map(|c| c.data.given_name.clone().unwrap_or_default())
            .collect();
        assert!(expected.len() >= 4, "{scope:?}: {expected:?}");
        for (top, skip) in [(3, 0), (4, 2), (50, 0)] {
            let q = ListQuery {
                filter: Some(parse_filter(&filter).unwrap()),
                page_size: top,
                skip,
                count: true,
                ..Default::default()
            };
            let (names, count) = pages(&store, mb, &scope, q).await;
            let want: Vec<String> = expected.iter().skip(skip as usize).cloned().collect();
            assert_eq!(names, want, "top {top} skip {skip} in {scope:?}");
            assert_eq!(count, Some(expected.len() as u64), "$count in {scope:?}");
        }
    }
}

/// The contact named `name`, wherever it is.
async fn find(store: &SqlStore, mb: &Mailbox, name: &str) -> Contact {
    let q = ListQuery {
        filter: Some(parse_filter(&format!("givenName eq '{name}'")).unwrap()),
        page_size: 2,
        ..Default::default()
    };
    let mut page = store.list_contacts(mb, &Scope::Mailbox, &q).await.unwrap();
    assert_eq!(page.items.len(), 1, "{name}");
    page.items.remove(0)
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod on_sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _d) = super::sqlite().await; super::$name(s).await; })* }
        mod on_postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _d) = super::postgres().await; super::$name(s).await; })* }
    };
}

suite!(any_filters_page_like_the_reference, xprop_pages_follow_every_write);
