//! OData query options on contact lists over HTTP, on SQLite and PostgreSQL: $select, $filter,
//! $orderby, paging ($top, $skip, $skiptoken, nextLink, Prefer: odata.maxpagesize), $count, and
//! the options Graph refuses.

use std::collections::HashSet;

use crate::common::{enc, sorted, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

/// Five well-known people; returns their ids in creation order.
async fn people(s: &TestServer, t: &str) -> Vec<String> {
    let bodies = [
        json!({"givenName": "Ada", "surname": "Lovelace", "companyName": "Analytical Engines", "jobTitle": "Mathematician", "categories": ["Red"]}),
        json!({"givenName": "Alan", "surname": "Turing", "companyName": "Bletchley Park", "jobTitle": "Cryptanalyst", "categories": ["Blue", "Red"]}),
        json!({"givenName": "Grace", "surname": "Hopper", "companyName": "US Navy"}),
        json!({"givenName": "Edsger", "surname": "Dijkstra", "companyName": "Eindhoven University", "categories": ["Green"]}),
        json!({"givenName": "Barbara", "surname": "Liskov", "companyName": "MIT", "jobTitle": "Professor", "categories": ["Blue"]}),
    ];
    let mut ids = Vec::new();
    for b in bodies {
        ids.push(s.create_contact(t, b).await);
    }
    ids
}

/// The ids matching a `$filter` (one page of up to 1000).
async fn filtered(s: &TestServer, t: &str, filter: &str) -> Vec<String> {
    sorted(s.ids_at(&format!("/me/contacts?$top=1000&$filter={}", enc(filter)), t).await)
}

fn pick(ids: &[String], idx: &[usize]) -> Vec<String> {
    sorted(idx.iter().map(|i| ids[*i].clone()).collect())
}

/// $select returns only id, @odata.etag and the selected properties; the context names them.
async fn select_projects_properties(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let ids = people(&s, &t).await;
    let r = s.get("/me/contacts?$select=givenName,displayName&$orderby=givenName", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], s.context_of(&user, "contacts(displayName,givenName)"));
    let items = r.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for item in items {
        let keys: HashSet<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["@odata.etag", "id", "displayName", "givenName"]), "{item}");
        assert!(item["@odata.etag"].as_str().unwrap().starts_with("W/\""));
    }
    assert_eq!(items[0]["givenName"], "Ada");
    assert_eq!(items[0]["displayName"], "Ada Lovelace");
    assert_eq!(items[0]["id"], ids[0].as_str());

    // Case-insensitive property names; a single GET honours $select too.
    let r = s.get(&format!("/me/contacts/{}?$select=JOBTITLE", ids[1]), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], s.context_of(&user, "contacts(jobTitle)/$entity"));
    let keys: HashSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["@odata.context", "@odata.etag", "id", "jobTitle"]), "{}", r.text);
    assert_eq!(r.body["jobTitle"], "Cryptanalyst");
    // Unset values are still present: null scalars, empty collections.
    let r = s.get(&format!("/me/contacts/{}?$select=jobTitle,categories,homeAddress", ids[2]), &t).await;
    assert_eq!(r.body["jobTitle"], Value::Null);
    assert_eq!(r.body["categories"], json!([]));
    assert_eq!(r.body["homeAddress"], json!({}));
    // $select=id alone.
    let r = s.get("/me/contacts?$select=id&$top=1", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"][0].as_object().unwrap().len(), 2, "{}", r.text);

    // Unknown properties: 400 BadRequest naming the property, on lists and single gets.
    let r = s.get("/me/contacts?$select=displayName,shoeSize", &t).await;
    r.assert_error(400, "BadRequest");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("shoeSize") && msg.contains("microsoft.graph.contact"), "{msg}");
    s.get(&format!("/me/contacts/{}?$select=shoeSize", ids[0]), &t).await.assert_error(400, "BadRequest");
    // Malformed $select.
    s.get("/me/contacts?$select=displayName,,", &t).await.assert_error(400, "BadRequest");
}

/// String functions and equality on the indexed name properties, case-insensitively.
async fn filter_string_functions(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let ids = people(&s, &t).await;
    let cases: &[(&str, &[usize])] = &[
        ("startswith(displayName,'a')", &[0, 1]),
        ("startswith(displayName,'AL')", &[1]),
        ("startswith(givenName,'Gr')", &[2]),
        ("contains(surname,'OV')", &[0, 4]),
        ("contains(displayName,'a l')", &[0, 4]),
        ("endswith(companyName,'park')", &[1]),
        ("endswith(surname,'a')", &[3]),
        ("contains(companyName,'university')", &[3]),
        ("displayName eq 'ada lovelace'", &[0]),
        ("displayName eq 'ADA LOVELACE'", &[0]),
        ("givenName eq 'Grace'", &[2]),
        ("surname eq 'turing'", &[1]),
        ("companyName eq 'mit'", &[4]),
        ("givenName ne 'Ada'", &[1, 2, 3, 4]),
        ("startswith(displayName,'Z')", &[]),
        // LIKE wildcards in the needle are literal.
        ("contains(displayName,'%')", &[]),
        ("contains(displayName,'_')", &[]),
        ("startswith(displayName,'A_a')", &[]),
        // tolower() is accepted and changes nothing.
        ("tolower(givenName) eq 'barbara'", &[4]),
        // Bool comparisons of string functions.
        ("startswith(displayName,'a') eq true", &[0, 1]),
        ("startswith(displayName,'a') eq false", &[2, 3, 4]),
    ];
    for (filter, expected) in cases {
        assert_eq!(filtered(&s, &t, filter).await, pick(&ids, expected), "$filter={filter}");
    }
}

/// and/or/not, lambdas on categories, timestamps, null and `in`.
async fn filter_logic_lambdas_dates_null_in(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let ids = people(&s, &t).await;
    let cases: &[(&str, &[usize])] = &[
        ("startswith(givenName,'A') and contains(surname,'ing')", &[1]),
        ("givenName eq 'Grace' or givenName eq 'Barbara'", &[2, 4]),
        ("not startswith(displayName,'A')", &[2, 3, 4]),
        ("not (givenName eq 'Grace' or givenName eq 'Barbara')", &[0, 1, 3]),
        ("(startswith(givenName,'A') or startswith(givenName,'B')) and not contains(surname,'ov')", &[1]),
        ("categories/any(c:c eq 'Red')", &[0, 1]),
        ("categories/any(c:c eq 'Blue')", &[1, 4]),
        ("categories/any(c:c eq 'Blue' or c eq 'Green')", &[1, 3, 4]),
        ("categories/any(c:c eq 'Purple')", &[]),
        ("categories/any()", &[0, 1, 3, 4]),
        ("categories/any(c:c eq 'Red') and startswith(givenName,'Ad')", &[0]),
        ("jobTitle eq null", &[2, 3]),
        ("jobTitle ne null", &[0, 1, 4]),
        ("jobTitle eq 'professor'", &[4]),
        ("givenName in ('Ada','Grace')", &[0, 2]),
        ("givenName in ('ada','nobody')", &[0]),
        ("createdDateTime ge 2000-01-01T00:00:00Z", &[0, 1, 2, 3, 4]),
        ("createdDateTime ge 2999-01-01T00:00:00Z", &[]),
        ("createdDateTime lt 2000-01-01T00:00:00Z", &[]),
        ("lastModifiedDateTime gt 2000-01-01T00:00:00Z", &[0, 1, 2, 3, 4]),
        ("true", &[0, 1, 2, 3, 4]),
        ("false", &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(filtered(&s, &t, filter).await, pick(&ids, expected), "$filter={filter}");
    }

    // createdDateTime separates contacts created a second apart (timestamps have second
    // precision, as Graph's): wait for the clock to pass the newest contact's second.
    let all = s.get("/me/contacts?$select=createdDateTime&$top=100", &t).await;
    let newest = all.body["value"].as_array().unwrap().iter().filter_map(|c| c["createdDateTime"].as_str()).max();
    let newest = newest.unwrap().to_owned();
    while rolo_domain::time::now_utc() <= newest {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let late = s.create_contact_at("/me/contacts", &t, json!({"givenName": "Late"})).await;
    let at = late["createdDateTime"].as_str().unwrap().to_owned();
    assert_eq!(
        filtered(&s, &t, &format!("createdDateTime ge {at}")).await,
        vec![late["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(filtered(&s, &t, &format!("createdDateTime lt {at}")).await, sorted(ids.clone()));
    // An offset date-time is normalised to UTC (percent-encoded '+').
    let r = s.get(&format!("/me/contacts?$filter={}", enc("createdDateTime ge 2000-01-01T02:00:00+02:00")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 6);
}

/// Filters Graph refuses on contacts, and syntax errors.
async fn filter_rejections(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    people(&s, &t).await;
    for f in [
        "emailAddresses/any(a:startswith(a/address,'x'))",
        "emailAddresses/any(a:a/name eq 'x')",
        "emailAddresses/any(a:contains(a/address,'x'))",
        "mobilePhone eq 'x'",
        "businessPhones/any(p:p eq '1')",
        "displayName eq 5",
        "categories eq 'Red'",
        "jobTitle gt null",
    ] {
        let r = s.get(&format!("/me/contacts?$filter={}", enc(f)), &t).await;
        r.assert_error(400, "ErrorInvalidUrlQueryFilter");
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty(), "{f}");
    }
    // Syntax errors are BadRequest with a message.
    for f in [
        "displayName eq",
        "startswith(displayName,'a'",
        "displayName eq 'unterminated",
        "displayName === 'a'",
        "and",
        "((",
    ] {
        let r = s.get(&format!("/me/contacts?$filter={}", enc(f)), &t).await;
        r.assert_error(400, "BadRequest");
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty(), "{f}: {}", r.text);
    }
    // Unknown property.
    let r = s.get(&format!("/me/contacts?$filter={}", enc("shoeSize eq 'x'")), &t).await;
    r.assert_error(400, "BadRequest");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("shoeSize"), "{}", r.text);
    // Repeated option.
    s.get(&format!("/me/contacts?$filter={}&$filter={}", enc("givenName eq 'a'"), enc("givenName eq 'b'")), &t)
        .await
        .assert_error(400, "BadRequest");
}

/// 35 contacts: $orderby asc/desc on displayName (case-insensitive) and on jobTitle (not indexed,
/// with nulls and duplicates), paged through nextLink with $top=4: the full sequence, no
/// duplicates and no gaps.
async fn orderby_with_keyset_paging(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let roles = ["Senior Engineer", "junior engineer", "Staff Engineer", "lead engineer", "Principal Engineer"];
    let mut all = Vec::new(); // (id, number, jobTitle)
    for i in 0..35usize {
        let n = (i * 17) % 35; // a permutation of 0..35, so creation order differs from name order
        let name = format!("{}{:02}", if i % 3 == 0 { "n" } else { "N" }, n);
        let job: Option<&str> = if i % 6 == 0 { None } else { Some(roles[i % 5]) };
        let id = s.create_contact(&t, json!({"displayName": name, "jobTitle": job})).await;
        all.push((id, n, job.map(str::to_owned)));
    }

    // displayName ascending, then descending.
    let mut by_name = all.clone();
    by_name.sort_by_key(|(_, n, _)| *n);
    let expected_asc: Vec<String> = by_name.iter().map(|(id, _, _)| id.clone()).collect();
    let (items, sizes) = s.list_all("/me/contacts?$orderby=displayName&$top=4&$select=displayName", &t, &[]).await;
    assert_eq!(sizes, vec![4, 4, 4, 4, 4, 4, 4, 4, 3]);
    let got: Vec<String> = items.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, expected_asc, "ascending by displayName");
    let (items, sizes) = s
        .list_all(&format!("/me/contacts?$orderby={}&$top=4&$select=displayName", enc("displayName desc")), &t, &[])
        .await;
    assert_eq!(sizes, vec![4, 4, 4, 4, 4, 4, 4, 4, 3]);
    let got: Vec<String> = items.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    let mut expected_desc = expected_asc.clone();
    expected_desc.reverse();
    assert_eq!(got, expected_desc, "descending by displayName");

    // jobTitle (JSON-only property): sorted case-insensitively, nulls first ascending and last
    // descending (OData), every contact exactly once.
    for desc in [false, true] {
        let order = if desc { "jobTitle desc" } else { "jobTitle asc" };
        let (items, sizes) =
            s.list_all(&format!("/me/contacts?$orderby={}&$top=4&$select=jobTitle", enc(order)), &t, &[]).await;
        assert_eq!(sizes.iter().sum::<usize>(), 35);
        // Exact: a single page of 35 (`$top` ignored) would leave nothing before the last page.
        assert_eq!(sizes, [4, 4, 4, 4, 4, 4, 4, 4, 3], "{order}");
        let got: Vec<String> = items.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 35, "duplicates in {order}");
        assert_eq!(sorted(got), sorted(all.iter().map(|(id, _, _)| id.clone()).collect()), "gaps in {order}");
        let keys: Vec<Option<String>> = items.iter().map(|c| c["jobTitle"].as_str().map(str::to_lowercase)).collect();
        let mut expected = keys.clone();
        expected.sort(); // None < Some
        if desc {
            expected.reverse();
        }
        assert_eq!(keys, expected, "order of {order}");
    }

    // Two sort keys: jobTitle desc, then displayName asc - an exact sequence.
    let mut two = all.clone();
    two.sort_by(|a, b| {
        let ka = a.2.as_ref().map(|s| s.to_lowercase());
        let kb = b.2.as_ref().map(|s| s.to_lowercase());
        kb.cmp(&ka).then(a.1.cmp(&b.1))
    });
    let (items, _) =
        s.list_all(&format!("/me/contacts?$orderby={}&$top=4", enc("jobTitle desc,displayName")), &t, &[]).await;
    let got: Vec<String> = items.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, two.iter().map(|(id, _, _)| id.clone()).collect::<Vec<_>>());

    // Ordering with a filter and $count, across pages.
    let (items, _) = s
        .list_all(
            &format!(
                "/me/contacts?$filter={}&$orderby={}&$top=4&$count=true",
                enc("jobTitle eq 'staff engineer'"),
                enc("displayName desc")
            ),
            &t,
            &[],
        )
        .await;
    let mut expected: Vec<&(String, usize, Option<String>)> =
        all.iter().filter(|c| c.2.as_deref() == Some("Staff Engineer")).collect();
    expected.sort_by_key(|c| std::cmp::Reverse(c.1));
    let got: Vec<&str> = items.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(got, expected.iter().map(|c| c.0.as_str()).collect::<Vec<_>>());

    // $orderby on a collection or an unknown property is refused.
    s.get("/me/contacts?$orderby=emailAddresses", &t).await.assert_error(400, "BadRequest");
    s.get("/me/contacts?$orderby=shoeSize", &t).await.assert_error(400, "BadRequest");
}

/// Default page size 10, $top bounds, $skip, $count, Prefer: odata.maxpagesize.
async fn paging_defaults_top_skip_count_prefer(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(s.create_contact(&t, json!({"givenName": format!("P{i:02}")})).await);
    }
    // Default page: 10 and a nextLink, then the last 2.
    let r = s.get("/me/contacts", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 10);
    assert!(r.body.get("@odata.count").is_none());
    let next = r.body["@odata.nextLink"].as_str().expect("nextLink").to_owned();
    assert!(next.starts_with(&format!("{}/me/contacts?", s.base)), "{next}");
    let r2 = s.get(&next, &t).await;
    assert_eq!(r2.status, 200, "{}", r2.text);
    assert_eq!(r2.body["value"].as_array().unwrap().len(), 2);
    assert!(r2.body.get("@odata.nextLink").is_none(), "{}", r2.text);
    let mut seen: Vec<String> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .chain(r2.body["value"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    seen = sorted(seen);
    assert_eq!(seen, sorted(ids.clone()));

    // $top bounds.
    let r = s.get("/me/contacts?$top=1001", &t).await;
    r.assert_error(400, "BadRequest");
    s.get("/me/contacts?$top=0", &t).await.assert_error(400, "BadRequest");
    s.get("/me/contacts?$top=-1", &t).await.assert_error(400, "BadRequest");
    s.get("/me/contacts?$top=abc", &t).await.assert_error(400, "BadRequest");
    let r = s.get("/me/contacts?$top=1000", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 12);
    assert!(r.body.get("@odata.nextLink").is_none());

    // $count=true, alone and with a filter; $count=false has no count.
    let r = s.get("/me/contacts?$count=true&$top=2", &t).await;
    assert_eq!(r.body["@odata.count"], 12, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    let r = s.get(&format!("/me/contacts?$count=true&$filter={}", enc("startswith(givenName,'P0')")), &t).await;
    assert_eq!(r.body["@odata.count"], 10, "{}", r.text);
    let r = s.get("/me/contacts?$count=false", &t).await;
    assert!(r.body.get("@odata.count").is_none(), "{}", r.text);
    s.get("/me/contacts?$count=maybe", &t).await.assert_error(400, "BadRequest");

    // $skip.
    let r = s.get("/me/contacts?$skip=5&$orderby=givenName", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> =
        r.body["value"].as_array().unwrap().iter().map(|c| c["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["P05", "P06", "P07", "P08", "P09", "P10", "P11"]);
    assert!(r.body.get("@odata.nextLink").is_none());
    // $skip with $top: the nextLink continues right after the page.
    let (items, sizes) = s.list_all("/me/contacts?$skip=5&$top=3&$orderby=givenName", &t, &[]).await;
    let names: Vec<&str> = items.iter().map(|c| c["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["P05", "P06", "P07", "P08", "P09", "P10", "P11"]);
    assert_eq!(sizes, vec![3, 3, 1]);
    let r = s.get("/me/contacts?$skip=50", &t).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["value"], json!([]));
    // $skip with $count counts everything.
    let r = s.get("/me/contacts?$skip=10&$count=true", &t).await;
    assert_eq!(r.body["@odata.count"], 12);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);

    // Prefer: odata.maxpagesize=3 → pages of 3, and the preference is reported as applied.
    let prefer = [("Prefer", "odata.maxpagesize=3")];
    let r = s.send(Method::GET, "/me/contacts?$orderby=givenName", Some(&t), None, &prefer).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 3);
    assert_eq!(r.header("Preference-Applied"), Some("odata.maxpagesize=3"));
    let (items, sizes) = s.list_all("/me/contacts?$orderby=givenName", &t, &prefer).await;
    assert_eq!(sizes, vec![3, 3, 3, 3]);
    let names: Vec<String> = items.iter().map(|c| c["givenName"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, (0..12).map(|i| format!("P{i:02}")).collect::<Vec<_>>());
    // A smaller $top wins over the preference (which is then not applied).
    let r = s.send(Method::GET, "/me/contacts?$top=2", Some(&t), None, &prefer).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    assert_eq!(r.header("Preference-Applied"), None);
    // Without a Prefer header there is no Preference-Applied.
    assert_eq!(s.get("/me/contacts", &t).await.header("Preference-Applied"), None);
}

/// $skiptoken: tampered, foreign or mismatched tokens are refused; $search and $expand=photo too.
async fn skiptoken_search_expand_refusals(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(s.create_contact(&t, json!({"givenName": format!("S{i}")})).await);
    }
    let r = s.get("/me/contacts?$top=2&$orderby=givenName", &t).await;
    let next = r.body["@odata.nextLink"].as_str().unwrap().to_owned();
    let (prefix, token) = next.split_once("$skiptoken=").expect("skiptoken in nextLink");
    assert!(!token.is_empty());
    // The genuine link works.
    assert_eq!(s.get(&next, &t).await.status, 200);

    // Flip one character of the token's body.
    let mut chars: Vec<char> = token.chars().collect();
    chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    s.get(&format!("{prefix}$skiptoken={tampered}"), &t).await.assert_error(400, "BadRequest");
    s.get("/me/contacts?$skiptoken=garbage", &t).await.assert_error(400, "BadRequest");
    s.get("/me/contacts?$skiptoken=", &t).await.assert_error(400, "BadRequest");
    // The same token with another $orderby or $filter is refused.
    s.get(&format!("/me/contacts?$top=2&$orderby={}&$skiptoken={token}", enc("givenName desc")), &t)
        .await
        .assert_error(400, "BadRequest");
    s.get(
        &format!("/me/contacts?$top=2&$orderby=givenName&$filter={}&$skiptoken={token}", enc("givenName ne 'x'")),
        &t,
    )
    .await
    .assert_error(400, "BadRequest");
    // ...and on another collection.
    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    s.get(&format!("/me/contactFolders/{f}/contacts?$top=2&$orderby=givenName&$skiptoken={token}"), &t)
        .await
        .assert_error(400, "BadRequest");
    // ...and by another user.
    let (_, tb) = s.login("bob@contoso.test").await;
    s.get(&next, &tb).await.assert_error(400, "BadRequest");

    // $search takes no $orderby (see search.rs for $search itself).
    s.get(&format!("/me/contacts?$orderby=givenName&$search={}", enc("\"S1\"")), &t)
        .await
        .assert_error(400, "BadRequest");
    // $expand=photo is not allowed by the schema; other expands are refused as well.
    let r = s.get("/me/contacts?$expand=photo", &t).await;
    r.assert_error(400, "ExpandNotSupported");
    s.get(&format!("/me/contacts/{}?$expand=photo", ids[0]), &t).await.assert_error(400, "ExpandNotSupported");
    s.get("/me/contacts?$expand=shoeSize", &t).await.assert_error(400, "BadRequest");
}

/// Query options on a folder's contacts mirror those on /me/contacts, scoped to the folder.
async fn query_options_in_a_folder(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    for i in 0..7 {
        s.create_contact_at(
            &format!("/me/contactFolders/{f}/contacts"),
            &t,
            json!({"givenName": format!("F{i}"), "surname": "InFolder"}),
        )
        .await;
        s.create_contact(&t, json!({"givenName": format!("D{i}"), "surname": "InFolder"})).await;
    }
    let path = format!(
        "/me/contactFolders/{f}/contacts?$filter={}&$orderby={}&$top=3&$count=true&$select=givenName",
        enc("surname eq 'infolder'"),
        enc("givenName desc")
    );
    let first = s.get(&path, &t).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["@odata.count"], 7);
    assert_eq!(
        first.body["@odata.context"],
        s.context_of(&user, &format!("contactFolders('{f}')/contacts(givenName)"))
    );
    let (items, sizes) = s.list_all(&path, &t, &[]).await;
    assert_eq!(sizes, vec![3, 3, 1]);
    let names: Vec<&str> = items.iter().map(|c| c["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["F6", "F5", "F4", "F3", "F2", "F1", "F0"]);
}

/// Case-insensitive comparisons hold beyond ASCII (Exchange folds Unicode case), for the indexed
/// name properties and for the other string properties alike; birthdays filter as dates.
async fn unicode_case_and_birthday_filters(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let a = s.create_contact(&t, json!({"givenName": "Émile", "surname": "Ørsted", "jobTitle": "Ingénieur Économiste", "department": "ÅLESUND", "birthday": "1974-07-22"})).await;
    let b = s.create_contact(&t, json!({"givenName": "Zoë", "surname": "Ångström", "jobTitle": "Ärztin", "birthday": "1990-01-31T10:00:00Z"})).await;
    let c = s.create_contact(&t, json!({"givenName": "Eve", "surname": "Plain", "jobTitle": "engineer"})).await;
    let cases: &[(&str, Vec<String>)] = &[
        ("givenName eq 'émile'", vec![a.clone()]),
        ("givenName eq 'ÉMILE'", vec![a.clone()]),
        ("startswith(surname,'ø')", vec![a.clone()]),
        ("startswith(surname,'ÅNG')", vec![b.clone()]),
        ("jobTitle eq 'Ingénieur Économiste'", vec![a.clone()]),
        ("jobTitle eq 'ingénieur économiste'", vec![a.clone()]),
        ("jobTitle eq 'INGÉNIEUR ÉCONOMISTE'", vec![a.clone()]),
        ("startswith(jobTitle,'är')", vec![b.clone()]),
        ("contains(jobTitle,'ÉCONOM')", vec![a.clone()]),
        ("department eq 'ålesund'", vec![a.clone()]),
        ("birthday eq 1974-07-22T00:00:00Z", vec![a.clone()]),
        ("birthday ge 1980-01-01T00:00:00Z", vec![b.clone()]),
        ("birthday eq null", vec![c.clone()]),
    ];
    let mut wrong = Vec::new();
    for (filter, expected) in cases {
        let got = filtered(&s, &t, filter).await;
        if got != sorted(expected.clone()) {
            wrong.push(format!("$filter={filter}: got {got:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} filters matched wrongly:\n{}", wrong.len(), wrong.join("\n"));
    let got = s.get(&format!("/me/contacts/{a}"), &t).await;
    assert_eq!(got.body["birthday"], "1974-07-22T00:00:00Z");
}

/// $orderby on a non-indexed string property sorts case-insensitively beyond ASCII as well.
async fn unicode_orderby_is_case_insensitive(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    for (g, job) in [("U1", "Étude"), ("U2", "ébène"), ("U3", "Zèbre"), ("U4", "engineer"), ("U5", "Ärztin")] {
        s.create_contact(&t, json!({"givenName": g, "displayName": job, "jobTitle": job})).await;
    }
    for prop in ["displayName", "jobTitle"] {
        let (items, _) = s.list_all(&format!("/me/contacts?$orderby={prop}&$select={prop}"), &t, &[]).await;
        let got: Vec<String> = items.iter().map(|c| c[prop].as_str().unwrap().to_owned()).collect();
        let mut expected = got.clone();
        expected.sort_by_key(|v| v.to_lowercase());
        assert_eq!(got, expected, "$orderby={prop} must sort case-insensitively");
    }
}

/// Property and lambda-member names match case-insensitively in `$filter`, `$orderby`, `$select`
/// and `$expand`, as Graph's own examples spell them.
async fn property_names_match_case_insensitively(s: TestServer) {
    let (user, t) = s.login("ada@contoso.test").await;
    let ids = people(&s, &t).await;
    let jan = s
        .create_contact(
            &t,
            json!({"givenName": "Jan", "emailAddresses": [{"address": "jan@x.test"}],
                   "singleValueExtendedProperties": [{"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color", "value": "Green"}]}),
        )
        .await;
    for (f, expected) in [
        ("GivenName eq 'Jan'", vec![jan.clone()]),
        ("GIVENNAME eq 'jan'", vec![jan.clone()]),
        ("EmailAddresses/any(a:a/Address eq 'jan@x.test')", vec![jan.clone()]),
        ("emailAddresses/any(a:a/ADDRESS eq 'JAN@x.test')", vec![jan.clone()]),
        ("Categories/any(c:c eq 'green')", vec![ids[3].clone()]),
        ("startswith(SurName,'Lov')", vec![ids[0].clone()]),
        (
            "SingleValueExtendedProperties/Any(ep: ep/Id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color' and contains(ep/Value,'ree'))",
            vec![jan.clone()],
        ),
    ] {
        assert_eq!(filtered(&s, &t, f).await, sorted(expected), "{f}");
    }
    // $orderby, and $select on a list: the context names the canonical spelling.
    let r = s.get(&format!("/me/contacts?$orderby={}&$select=GivenName&$top=2", enc("GivenName DESC")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], s.context_of(&user, "contacts(givenName)"));
    let names: Vec<&str> =
        r.body["value"].as_array().unwrap().iter().map(|c| c["givenName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Jan", "Grace"]);
    // Folders and $expand too.
    s.create_folder_at("/me/contactFolders", &t, "Zeta").await;
    let r =
        s.get(&format!("/me/contactFolders?$filter={}&$orderby=DisplayName", enc("DISPLAYNAME eq 'zeta'")), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1, "{}", r.text);
    let r = s.get(&format!("/me/contacts/{jan}?$expand=Extensions"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["extensions"], json!([]));
    // Unknown names are still refused, under the name the client wrote.
    let r = s.get(&format!("/me/contacts?$filter={}", enc("ShoeSize eq 'x'")), &t).await;
    r.assert_error(400, "BadRequest");
    assert!(r.text.contains("ShoeSize"), "{}", r.text);
}

/// `ne` inside `emailAddresses/any(...)` is refused, as Graph documents; `not ...any(eq)` says it.
async fn email_lambda_refuses_ne(s: TestServer) {
    let (_, t) = s.login("ada@contoso.test").await;
    let a = s.create_contact(&t, json!({"givenName": "A", "emailAddresses": [{"address": "a@x.test"}]})).await;
    let b = s.create_contact(&t, json!({"givenName": "B", "emailAddresses": [{"address": "b@x.test"}]})).await;
    for f in ["emailAddresses/any(a:a/address ne 'a@x.test')", "emailAddresses/any(a:not (a/address ne 'x'))"] {
        let r = s.get(&format!("/me/contacts?$filter={}", enc(f)), &t).await;
        r.assert_error(400, "ErrorInvalidUrlQueryFilter");
        assert_eq!(r.body["error"]["message"], "The query filter contains one or more invalid nodes.");
    }
    assert_eq!(filtered(&s, &t, "not emailAddresses/any(a:a/address eq 'a@x.test')").await, vec![b]);
    assert_eq!(filtered(&s, &t, "emailAddresses/any(a:a/address eq 'a@x.test')").await, vec![a]);
}

/// `/$count` on every collection: the bare number as text, after `$filter`.
async fn count_segments(s: TestServer) {
    let (user, _) = s.login("ada@contoso.test").await;
    let t = s.token(&user, "Contacts.ReadWrite MailboxSettings.ReadWrite Mail.ReadWrite Calendars.ReadWrite");
    people(&s, &t).await;
    let f = s.create_folder_at("/me/contactFolders", &t, "F").await;
    let g = s.create_folder_at(&format!("/me/contactFolders/{f}/childFolders"), &t, "G").await;
    s.create_folder_at("/me/contactFolders", &t, "H").await;
    let in_g = s
        .create_contact_at(
            &format!("/me/contactFolders/{f}/childFolders/{g}/contacts"),
            &t,
            json!({"givenName": "In G"}),
        )
        .await;
    let in_g = in_g["id"].as_str().unwrap();
    assert_eq!(
        s.post(
            &format!("/me/contacts/{}/extensions", s.ids_at("/me/contacts", &t).await[0]),
            &t,
            json!({"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "Com.Contoso.A", "x": 1})
        )
        .await
        .status,
        201
    );
    assert_eq!(
        s.post("/me/outlook/masterCategories", &t, json!({"displayName": "Work", "color": "preset1"})).await.status,
        201
    );
    assert_eq!(s.post("/me/events", &t, json!({"subject": "Meet", "start": {"dateTime": "2024-05-01T10:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2024-05-01T11:00:00", "timeZone": "UTC"}})).await.status, 201);
    let first = s.ids_at("/me/contacts", &t).await[0].clone();
    let uid = user.id.clone();
    for (path, expected) in [
        ("/me/contacts/$count".to_owned(), "5"),
        (format!("/me/contacts/$count?$filter={}", enc("categories/any(c:c eq 'Red')")), "2"),
        (
            format!(
                "/me/contacts/$count?$filter={}&$top=1&$skip=1&$orderby=givenName",
                enc("startswith(givenName,'A')")
            ),
            "2",
        ),
        (format!("/users/{uid}/contacts/$COUNT"), "5"),
        (format!("/me/contactFolders/{f}/childFolders/{g}/contacts/$count"), "1"),
        (format!("/me/contactFolders/{f}/contacts/$count"), "0"),
        ("/me/contactFolders/$count".to_owned(), "2"),
        (format!("/me/contactFolders/$count?$filter={}", enc("displayName eq 'h'")), "1"),
        (format!("/me/contactFolders/{f}/childFolders/$count"), "1"),
        ("/me/outlook/masterCategories/$count".to_owned(), "1"),
        ("/me/messages/$count".to_owned(), "0"),
        ("/me/mailFolders/inbox/messages/$count".to_owned(), "0"),
        ("/me/events/$count".to_owned(), "1"),
        (format!("/me/contacts/{first}/extensions/$count"), "1"),
        (format!("/me/contacts/{in_g}/extensions/$count"), "0"),
    ] {
        let r = s.get(&path, &t).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"), "{path}");
        assert_eq!(r.text, expected, "{path}");
    }
    // The unfiltered count is the maintained one: it follows a delete, a create and a move
    // (and `@odata.count` agrees), as the filtered count that counts rows does.
    assert_eq!(s.delete(&format!("/me/contacts/{first}"), &t).await.status, 204);
    s.create_contact_at(&format!("/me/contactFolders/{f}/contacts"), &t, json!({"givenName": "In F"})).await;
    let moved = s.ids_at("/me/contacts", &t).await[0].clone();
    let r = s.patch(&format!("/me/contacts/{moved}"), &t, json!({"parentFolderId": f})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (default_count, f_count) = ("3", "2");
    let everyone = enc("createdDateTime ge 2000-01-01T00:00:00Z");
    for (path, expected) in [
        ("/me/contacts/$count".to_owned(), default_count),
        (format!("/me/contacts/$count?$filter={everyone}"), default_count),
        (format!("/me/contactFolders/{f}/contacts/$count"), f_count),
        (format!("/me/contactFolders/{f}/contacts/$count?$filter={everyone}"), f_count),
    ] {
        let r = s.get(&path, &t).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.text, expected, "{path}");
    }
    let r = s.get("/me/contacts?$count=true&$top=1", &t).await;
    assert_eq!(r.body["@odata.count"].to_string(), default_count);
    // Only collections have a count; only GET reads it; the list's refusals hold.
    s.get(&format!("/me/contacts/{first}/$count"), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("/me/contactFolders/{f}/$count"), &t).await.assert_error(400, "BadRequest");
    s.get("/me/$count", &t).await.assert_error(400, "BadRequest");
    let r = s.post("/me/contacts/$count", &t, json!({"givenName": "X"})).await;
    r.assert_error(405, "ErrorInvalidRequest");
    assert_eq!(r.header("allow"), Some("GET"));
    s.get(&format!("/me/contactFolders/$count?$search={}", enc("\"A\"")), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("/me/contacts/$count?$filter={}", enc("shoeSize eq 1")), &t).await.assert_error(400, "BadRequest");
    s.get(&format!("/me/outlook/masterCategories/$count?$filter={}", enc("displayName eq 'x'")), &t)
        .await
        .assert_error(400, "BadRequest");
    s.get("/me/contacts/AAAAAAAAAAAAAAAAAAAAAA/extensions/$count", &t).await.assert_error(404, "ErrorItemNotFound");
    // Counting needs what listing needs.
    let (_, other) = s.login("bob@contoso.test").await;
    s.get(&format!("/users/{uid}/contacts/$count"), &other).await.assert_error(403, "ErrorAccessDenied");
    s.get("/me/outlook/masterCategories/$count", &s.token(&user, "Contacts.Read"))
        .await
        .assert_error(403, "ErrorAccessDenied");
}

both_backends!(
    property_names_match_case_insensitively,
    email_lambda_refuses_ne,
    count_segments,
    unicode_orderby_is_case_insensitive,
    unicode_case_and_birthday_filters,
    select_projects_properties,
    filter_string_functions,
    filter_logic_lambdas_dates_null_in,
    filter_rejections,
    orderby_with_keyset_paging,
    paging_defaults_top_skip_count_prefer,
    skiptoken_search_expand_refusals,
    query_options_in_a_folder,
);
