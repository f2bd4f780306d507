//! `$search` on contacts over HTTP, on SQLite and PostgreSQL: prefix matches on names, e-mail
//! addresses (whole, local part, domain labels), company and phone digits; quoted and
//! property-scoped terms; with `$filter`, `$count`, `/$count` and paging; diacritics; edits and
//! deletes; folder scope and folder grantees.

use crate::common::{enc, sorted, TestServer};
use rolo_domain::{FolderId, Grant};
use serde_json::json;

/// The ids `$search` finds at `path` (one page of up to 1000), sorted.
async fn found(s: &TestServer, path: &str, t: &str, search: &str) -> Vec<String> {
    sorted(s.ids_at(&format!("{path}?$top=1000&$search={}", enc(search)), t).await)
}

fn ids(v: &[&String]) -> Vec<String> {
    sorted(v.iter().map(|s| (*s).clone()).collect())
}

/// Names, addresses, company and phones match by word prefix, ignoring case and diacritics;
/// quoted and scoped terms; results come by display name.
async fn matches_words_by_prefix(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let ann = s
        .create_contact(
            &t,
            json!({"givenName": "Ann", "surname": "Lee", "companyName": "Fabrikam Inc",
                   "emailAddresses": [{"address": "ann.lee@fabrikam.com"}],
                   "mobilePhone": "+1 (425) 555-0100"}),
        )
        .await;
    let anna = s
        .create_contact(
            &t,
            json!({"givenName": "Anna", "surname": "Ångström", "emailAddresses": [{"address": "pavel@contoso.com"}]}),
        )
        .await;
    let zed = s
        .create_contact(
            &t,
            json!({"givenName": "Zed", "surname": "Annex", "businessPhones": ["020 7946 0000"], "companyName": "Contoso"}),
        )
        .await;
    let p = "/me/contacts";
    assert_eq!(found(&s, p, &t, "ann").await, ids(&[&ann, &anna, &zed]));
    assert_eq!(found(&s, p, &t, "\"ANN\"").await, ids(&[&ann, &anna, &zed]));
    assert_eq!(found(&s, p, &t, "anna").await, ids(&[&anna]));
    assert_eq!(found(&s, p, &t, "angstr").await, ids(&[&anna]), "diacritics fold");
    assert_eq!(found(&s, p, &t, "ÅNGSTRÖM").await, ids(&[&anna]));
    assert_eq!(found(&s, p, &t, "\"ann lee\"").await, ids(&[&ann]), "every word must match");
    assert_eq!(found(&s, p, &t, "ann AND lee").await, ids(&[&ann]));
    assert_eq!(found(&s, p, &t, "fabri").await, ids(&[&ann]), "company and domain");
    assert_eq!(found(&s, p, &t, "contoso").await, ids(&[&anna, &zed]));
    assert_eq!(found(&s, p, &t, "pavel").await, ids(&[&anna]), "address local part");
    assert_eq!(found(&s, p, &t, "pavel@contoso.com").await, ids(&[&anna]), "whole address");
    assert_eq!(found(&s, p, &t, "\"emailAddresses:pavel\"").await, ids(&[&anna]));
    assert_eq!(found(&s, p, &t, "\"emailAddresses:contoso\"").await, ids(&[&anna]), "scoped: not the company");
    assert_eq!(found(&s, p, &t, "\"companyName:contoso\"").await, ids(&[&zed]));
    assert_eq!(found(&s, p, &t, "surname:ann").await, ids(&[&zed]));
    assert_eq!(found(&s, p, &t, "425").await, ids(&[&ann]), "phone digits");
    assert_eq!(found(&s, p, &t, "555-0100").await, ids(&[&ann]), "last digits, punctuation ignored");
    assert_eq!(found(&s, p, &t, "\"mobilePhone:(425) 555\"").await, ids(&[&ann]));
    assert_eq!(found(&s, p, &t, "02079460000").await, ids(&[&zed]));
    assert_eq!(found(&s, p, &t, "nobody").await, Vec::<String>::new());
    assert_eq!(found(&s, p, &t, "nn").await, Vec::<String>::new(), "prefixes only, not infixes");

    // Ordered by display name.
    let r = s.get(&format!("{p}?$search={}&$select=displayName", enc("ann")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> =
        r.body["value"].as_array().unwrap().iter().map(|v| v["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Ann Lee", "Anna Ångström", "Zed Annex"]);

    // What Rolo refuses.
    for bad in ["", "\"\"", "\"ann", "ann OR zed", "jobTitle:boss"] {
        s.get(&format!("{p}?$search={}", enc(bad)), &t).await.assert_error(400, "BadRequest");
    }
    s.get(&format!("{p}?$search=ann&$orderby=givenName"), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("{p}?$search=ann&$skip=1"), &t).await.assert_error(400, "BadRequest");
    s.get("/me/contactFolders?$search=ann", &t).await.assert_error(400, "BadRequest");
}

/// `$search` with `$filter`, `$count=true`, `/$count`, and keyset paging through nextLinks.
async fn combines_with_filter_count_and_paging(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let mut smiths = Vec::new();
    for i in 0..7 {
        let company = if i % 2 == 0 { "Even Co" } else { "Odd Co" };
        smiths.push(
            s.create_contact(&t, json!({"givenName": format!("G{i}"), "surname": "Smith", "companyName": company}))
                .await,
        );
    }
    s.create_contact(&t, json!({"givenName": "Other", "surname": "Jones"})).await;
    let r = s
        .get(
            &format!("/me/contacts?$search=smith&$filter={}&$count=true&$top=100", enc("companyName eq 'Even Co'")),
            &t,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.count"], 4);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 4);
    let r = s.get("/me/contacts/$count?$search=smith", &t).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "7"));
    let r = s.get(&format!("/me/contacts/$count?$search=smith&$filter={}", enc("companyName eq 'Odd Co'")), &t).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "3"));

    let (items, sizes) = s.list_all("/me/contacts?$search=smith&$top=3&$count=true", &t, &[]).await;
    assert_eq!(sizes, [3, 3, 1]);
    let names: Vec<&str> = items.iter().map(|v| v["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["G0", "G1", "G2", "G3", "G4", "G5", "G6"]);
    // A page's token belongs to its search.
    let r = s.get("/me/contacts?$search=smith&$top=3", &t).await;
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_owned();
    let token = next.split_once("$skiptoken=").unwrap().1;
    s.get(&format!("/me/contacts?$search=jones&$top=3&$skiptoken={token}"), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("/me/contacts?$top=3&$skiptoken={token}"), &t).await.assert_error(400, "BadRequest");
}

/// Edits and deletes change what a search finds at once; folder deletes too.
async fn writes_update_results(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let id =
        s.create_contact(&t, json!({"givenName": "Marta", "emailAddresses": [{"address": "m@old.example"}]})).await;
    assert_eq!(found(&s, "/me/contacts", &t, "marta").await, std::slice::from_ref(&id));
    let r = s
        .patch(
            &format!("/me/contacts/{id}"),
            &t,
            json!({"givenName": "Berta", "emailAddresses": [{"address": "b@new.example"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(found(&s, "/me/contacts", &t, "marta").await.is_empty());
    assert!(found(&s, "/me/contacts", &t, "old").await.is_empty());
    assert_eq!(found(&s, "/me/contacts", &t, "berta").await, std::slice::from_ref(&id));
    assert_eq!(found(&s, "/me/contacts", &t, "new").await, std::slice::from_ref(&id));
    assert_eq!(s.delete(&format!("/me/contacts/{id}"), &t).await.status, 204);
    assert!(found(&s, "/me/contacts", &t, "berta").await.is_empty());

    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    let inf =
        s.create_contact_at(&format!("/me/contactFolders/{f}/contacts"), &t, json!({"givenName": "Folded"})).await;
    let inf = inf["id"].as_str().unwrap().to_owned();
    assert_eq!(found(&s, &format!("/me/contactFolders/{f}/contacts"), &t, "fold").await, std::slice::from_ref(&inf));
    // v1.0 `/me/contacts` is the default folder, which never held it: beta's lists the whole
    // mailbox, so it finds the contact before the delete and must not after.
    let whole_mailbox = format!("{}/me/contacts", s.base.replace("/v1.0", "/beta"));
    assert_eq!(found(&s, &whole_mailbox, &t, "fold").await, [inf]);
    assert_eq!(s.delete(&format!("/me/contactFolders/{f}"), &t).await.status, 204);
    assert!(found(&s, &whole_mailbox, &t, "fold").await.is_empty());
}

/// A folder's search sees that folder only; a folder grantee finds matches in shared folders
/// and nowhere else.
async fn folder_scope_and_grantees(s: TestServer) {
    let owner = s.user("owner@contoso.test").await;
    let t = s.token(&owner, "Contacts.ReadWrite");
    let a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let b = s.create_folder_at("/me/contactFolders", &t, "B").await;
    let in_a =
        s.create_contact_at(&format!("/me/contactFolders/{a}/contacts"), &t, json!({"givenName": "Kim A"})).await;
    let in_a = in_a["id"].as_str().unwrap().to_owned();
    s.create_contact_at(&format!("/me/contactFolders/{b}/contacts"), &t, json!({"givenName": "Kim B"})).await;
    s.create_contact(&t, json!({"givenName": "Kim Default"})).await;
    assert_eq!(found(&s, &format!("/me/contactFolders/{a}/contacts"), &t, "kim").await, std::slice::from_ref(&in_a));
    assert_eq!(found(&s, "/me/contacts", &t, "kim").await.len(), 1, "v1.0 /me/contacts is the default folder");

    let mb = s.store.find_user("owner@contoso.test").await.unwrap().unwrap().mailbox;
    let grantee = s.user("reader@contoso.test").await;
    s.store.add_folder_permission(&mb, &FolderId::from_stored(a.clone()), &grantee, Grant::Read).await.unwrap();
    let gt = s.token(&grantee, "Contacts.Read.Shared");
    let base = format!("/users/{}", owner.id);
    assert_eq!(found(&s, &format!("{base}/contactFolders/{a}/contacts"), &gt, "kim").await, [in_a]);
    // As the access matrix has it for a folder grantee: the unshared folders are refused.
    s.get(&format!("{base}/contactFolders/{b}/contacts?$search=kim"), &gt).await.assert_error(403, "ErrorAccessDenied");
    s.get(&format!("{base}/contacts?$search=kim"), &gt).await.assert_error(403, "ErrorAccessDenied");
}

both_backends!(
    matches_words_by_prefix,
    combines_with_filter_count_and_paging,
    writes_update_results,
    folder_scope_and_grantees,
);
