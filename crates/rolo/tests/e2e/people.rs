//! The People API over HTTP on SQLite and PostgreSQL: crafted histories that pin the ranking of
//! docs/PEOPLE.md, merging by address, sources, `personType` filters, people-picker search
//! (prefixes, typos, diacritics, several words), `topic:` search, paging and permissions.

use crate::common::{enc, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

const SCOPES: &str = "Contacts.ReadWrite Mail.ReadWrite Mail.Send Calendars.ReadWrite People.Read";

fn days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn address(a: &str, name: &str) -> Value {
    json!({"emailAddress": {"address": a, "name": name}})
}

async fn received(s: &TestServer, me: &str, t: &str, from: &str, name: &str, subject: &str, days: i64) {
    let body = json!({"subject": subject, "from": address(from, name), "toRecipients": [address(me, "Me")],
                      "receivedDateTime": days_ago(days)});
    let r = s.post(&format!("/users/{me}/messages"), t, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn send(s: &TestServer, t: &str, to: &str, name: &str, subject: &str) {
    let body = json!({"message": {"subject": subject, "toRecipients": [address(to, name)]}, "saveToSentItems": true});
    let r = s.post("/me/sendMail", t, body).await;
    assert_eq!(r.status, 202, "{}", r.text);
}

/// The crafted mailbox of docs/PEOPLE.md's worked examples.
async fn history(s: &TestServer) -> String {
    let me = s.user("me@contoso.test").await;
    let t = s.token(&me, SCOPES);
    s.user("eve@contoso.test").await;
    s.user("ben@contoso.test").await;
    s.user("frank@contoso.test").await;
    for _ in 0..3 {
        send(s, &t, "ada@partner.test", "Ada Lovelace", "Engines").await;
        received(s, "me@contoso.test", &t, "cy@example.com", "Cy Twombly", "Quarterly budget", 0).await;
        received(s, "me@contoso.test", &t, "ben@contoso.test", "Ben", "Old news", 30).await;
    }
    let event = json!({"subject": "Planning", "start": {"dateTime": days_ago(0).trim_end_matches('Z'), "timeZone": "UTC"},
        "end": {"dateTime": days_ago(0).trim_end_matches('Z'), "timeZone": "UTC"},
        "attendees": [{"type": "required", "emailAddress": {"address": "eve@contoso.test", "name": "Eve"}}]});
    let r = s.post("/me/events", &t, event).await;
    assert_eq!(r.status, 201, "{}", r.text);
    s.create_contact(&t, json!({"displayName": "Dee", "emailAddresses": [{"address": "dee@example.com"}]})).await;
    s.create_contact(
        &t,
        json!({"givenName": "Zoë", "surname": "Núñez", "jobTitle": "Pilot",
        "emailAddresses": [{"address": "zoe.nunez@example.com"}, {"address": "zn@example.org"}]}),
    )
    .await;
    // A contact who is also a colleague is one person.
    s.create_contact(&t, json!({"displayName": "Eve (contact)", "jobTitle": "Engineer", "emailAddresses": [{"address": "EVE@contoso.test"}]})).await;
    t
}

fn names(r: &crate::common::Resp) -> Vec<String> {
    r.body["value"].as_array().unwrap().iter().map(|p| p["displayName"].as_str().unwrap().to_owned()).collect()
}

async fn ranking(s: TestServer) {
    let t = history(&s).await;
    let r = s.get("/me/people?$top=20", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r), ["Ada Lovelace", "eve", "Dee", "Zoë Núñez", "Cy Twombly", "ben"]);
    let v = r.body["value"].as_array().unwrap();
    let score = |i: usize| v[i]["scoredEmailAddresses"][0]["relevanceScore"].as_f64().unwrap();
    // Eve: a meeting (3 ln 2) + colleague (0.5) + saved contact (2).
    assert_eq!([score(0), score(1), score(2), score(4), score(5)], [5.55, 4.58, 2.0, 1.39, 1.19]);
    assert_eq!(v[0]["personType"], json!({"class": "Person", "subclass": "ImplicitContact"}));
    assert_eq!(v[1]["personType"]["subclass"], "OrganizationUser");
    assert_eq!(v[1]["jobTitle"], "Engineer", "the contact fills what the directory lacks");
    assert_eq!(v[2]["personType"]["subclass"], "PersonalContact");
    let zoe = &v[3];
    assert_eq!(zoe["scoredEmailAddresses"].as_array().unwrap().len(), 2);
    assert!(r.body["@odata.context"].as_str().unwrap().ends_with("/people"));

    // Directory users nobody wrote to appear only when the directory is asked for.
    assert!(!names(&r).contains(&"frank".to_owned()));
    let all = s
        .send(Method::GET, "/me/people?$top=50", Some(&t), None, &[("X-PeopleQuery-QuerySources", "Mailbox,Directory")])
        .await;
    assert!(names(&all).contains(&"frank".to_owned()), "{:?}", names(&all));
    assert!(!names(&all).contains(&"me".to_owned()), "never yourself");

    // New mail changes the ranking at once.
    for _ in 0..5 {
        send(&s, &t, "cy@example.com", "Cy Twombly", "More").await;
    }
    assert_eq!(names(&s.get("/me/people?$top=1", &t).await), ["Cy Twombly"]);

    // personType filters, $select, paging by $skip.
    let orgs = s.get(&format!("/me/people?$filter={}", enc("personType/subclass eq 'OrganizationUser'")), &t).await;
    assert_eq!(names(&orgs), ["eve", "ben"]);
    let orgs = s.get(&format!("/me/people?$filter={}", enc("PersonType/SubClass eq 'organizationuser'")), &t).await;
    assert_eq!(names(&orgs), ["eve", "ben"]);
    s.get(&format!("/me/people?$filter={}", enc("displayName eq 'x'")), &t)
        .await
        .assert_error(400, "ErrorInvalidUrlQueryFilter");
    let sel = s.get("/me/people?$select=displayName&$top=1", &t).await;
    let keys: Vec<&String> = sel.body["value"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "displayName"]);
    let first = s.get("/me/people?$top=2", &t).await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_owned();
    assert!(next.contains("$skip=2"), "{next}");
    let second = s.get(&next, &t).await;
    assert_eq!(names(&second), ["eve", "Dee"]);
}

async fn search(s: TestServer) {
    let t = history(&s).await;
    let q = |term: &str| format!("/me/people?$search={}", enc(&format!("\"{term}\"")));
    for (term, expected) in [
        ("nun", vec!["Zoë Núñez"]),
        ("nunez", vec!["Zoë Núñez"]),
        ("NÚÑEZ", vec!["Zoë Núñez"]),
        ("nunes", vec!["Zoë Núñez"]),
        ("zoe nunez", vec!["Zoë Núñez"]),
        ("nunez zoe", vec!["Zoë Núñez"]),
        ("lovelace", vec!["Ada Lovelace"]),
        ("lovelcae", vec!["Ada Lovelace"]),
        ("zn", vec!["Zoë Núñez"]),
        ("twombly cy", vec!["Cy Twombly"]),
        ("xq", vec![]),
    ] {
        let r = s.get(&q(term), &t).await;
        assert_eq!(r.status, 200, "{term}: {}", r.text);
        assert_eq!(names(&r), expected, "{term}");
    }
    // Ranked by relevance among matches.
    let r = s.get(&q("e"), &t).await;
    let got = names(&r);
    assert_eq!(got.first().map(String::as_str), Some("eve"), "{got:?}");
    // A smaller page is the head of the same order (the server selects a page's worth of hits
    // before sorting them): equal scores, ordered by match and then by name.
    for i in 0..8 {
        let n = (i * 5) % 8;
        let name = if i % 3 == 0 { format!("Topkx {n}") } else { format!("Topk {n}") };
        s.create_contact(
            &t,
            json!({"displayName": name, "emailAddresses": [{"address": format!("tk{i}@example.com")}]}),
        )
        .await;
    }
    let all = names(&s.get(&format!("{}&$top=50", q("topk")), &t).await);
    assert_eq!(all.len(), 8, "{all:?}");
    assert!(all[..5].iter().all(|n| n.starts_with("Topk ")), "exact matches first: {all:?}");
    for top in 1..all.len() {
        assert_eq!(names(&s.get(&format!("{}&$top={top}", q("topk")), &t).await), all[..top], "$top={top}");
    }
    // topic: over subjects.
    let r = s.get(&q("topic:budget"), &t).await;
    assert_eq!(names(&r), ["Cy Twombly"]);
    // Graph's rule: no $skip with $search.
    s.get(&format!("{}&$skip=1", q("ada")), &t).await.assert_error(400, "BadRequest");
}

async fn permissions(s: TestServer) {
    let t = history(&s).await;
    let me = s.store.find_user("me@contoso.test").await.unwrap().unwrap();
    let no_people = s.token(&me, "Contacts.ReadWrite");
    s.get("/me/people", &no_people).await.assert_error(403, "ErrorAccessDenied");
    let other = s.user("other@contoso.test").await;
    let ot = s.token(&other, "People.Read");
    s.get(&format!("/users/{}/people", me.id), &ot).await.assert_error(403, "ErrorAccessDenied");
    let all = s.token(&other, "People.Read.All");
    let r = s.get(&format!("/users/{}/people", me.id), &all).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(names(&r).first().map(String::as_str), Some("Ada Lovelace"));
    let _ = t;
    let app = s
        .authority
        .issue_app_token("22222222-0000-0000-0000-000000000001", &["People.Read.All".to_owned()], 3600)
        .unwrap();
    assert_eq!(s.get(&format!("/users/{}/people", me.id), &app).await.status, 200);
    s.get("/me/people", &app).await.assert_error(400, "BadRequest");
    s.post("/me/people", &s.token(&me, SCOPES), json!({})).await.assert_error(405, "ErrorInvalidRequest");
}

both_backends!(ranking, search, permissions);
