//! `any()` filters over the side tables (extended properties, categories) page for page against
//! a reference computed here: dense matches (the list-order walk the density probe picks, a
//! per-row subquery on PostgreSQL), sparse matches deep in the list past the probe's window (the
//! filter's own index), with `$top`, cursors, `$skip` and `$count`, in a folder and mailbox-wide.
//! On SQLite and PostgreSQL.

use rolo_odata::parse_filter;
use rolo_store::prelude::*;
use rolo_store::{ListQuery, Mailbox, Scope, SqlStore};
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

macro_rules! suite {
    ($($name:ident),*) => {
        mod on_sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _d) = super::sqlite().await; super::$name(s).await; })* }
        mod on_postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { let (s, _d) = super::postgres().await; super::$name(s).await; })* }
    };
}

suite!(any_filters_page_like_the_reference);
