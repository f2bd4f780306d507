//! Arbitrary Unicode everywhere a client can put text: every query option, `$search`, filter
//! literal, path segment and body string of every route, on both databases. The strings come
//! from proptest strategies (any `String`, plus the shapes that broke servers before: multi-byte
//! characters straddling a byte offset, combining marks, astral planes, NUL, bidi controls, and
//! lone surrogates spelled as JSON escapes). Requirement: every answer is < 500 and carries
//! Graph's envelope when it is an error (issue: a `$search` term panicked the People handler).

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use super::{enc_all, Fixture, Probe, Req};
use crate::common::TestServer;

/// Strings that are valid UTF-8 (so they can travel in a URL or a JSON string).
fn unicode_strings(n: usize) -> Vec<String> {
    let fixed = [
        "ÒÙgÐx",                           // the reported panic: byte 7 inside 'Ð'
        "topic:ÒÙgÐx",                     // past the prefix, still multi-byte
        "TOPIC:é",                         // a prefix then one two-byte character
        "e\u{301}\u{301}\u{301}a\u{20DD}", // stacked combining marks
        "😀𝔸\u{10FFFF}",                   // astral planes
        "a\u{0}b",                         // NUL
        "\u{202E}evil\u{202C}",            // bidi override
        "\u{FEFF}\u{200D}\u{200B}",        // BOM, zero-width joiner and space
        "\u{212A}elvin",                   // the Kelvin sign
        "'",
        "''\"\\",
        "ÿ",
    ];
    let mut out: Vec<String> = fixed.iter().map(|s| (*s).to_owned()).collect();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let strategy = prop_oneof![
        any::<String>(),
        "\\PC{1,8}",
        "[a-z]{0,5}[\\u{80}-\\u{10FFFF}]{1,4}",
        "[\\p{M}\\p{Cf}\\p{Co}]{1,6}",
        ".{5,7}[\\u{800}-\\u{FFFF}]",
    ];
    while out.len() < n {
        let tree = strategy.new_tree(&mut runner).expect("a value");
        let s = tree.current();
        if !s.is_empty() {
            out.push(s);
        }
    }
    out
}

/// `s` for a single-quoted OData literal.
fn lit(s: &str) -> String {
    s.replace('\'', "''")
}

fn q(s: &str) -> String {
    enc_all(s.as_bytes())
}

/// Collections that take query options.
fn collections(fx: &Fixture) -> Vec<String> {
    let (c, f) = (&fx.contacts[0], &fx.folders[0]);
    vec![
        "/me/contacts".into(),
        format!("/me/contactFolders/{f}/contacts"),
        format!("/me/contactFolders/{f}/childFolders"),
        "/me/contactFolders".into(),
        "/me/contacts/delta".into(),
        "/me/contactFolders/delta".into(),
        "/me/people".into(),
        format!("/users/{}/people", fx.upn),
        format!("/users/{}/contacts", fx.user_id),
        "/me/outlook/masterCategories".into(),
        "/me/messages".into(),
        "/me/mailFolders/inbox/messages".into(),
        "/me/events".into(),
        format!("/me/contacts/{c}/extensions"),
        format!("/me/contactFolders/{f}/permissions"),
        "/subscriptions".into(),
        "/schemaExtensions".into(),
        format!("/me/contacts/{c}"),
        format!("/me/contactFolders/{f}"),
        "/me/photo".into(),
        "/beta/me/contacts".into(),
    ]
}

/// Every query option with `s` placed where a client puts text.
fn query_options(s: &str) -> Vec<String> {
    let l = q(&lit(s));
    vec![
        format!("$search={}", q(s)),
        format!("$search=%22{}%22", q(s)),
        format!("$search=%22emailAddresses:{}%22", q(s)),
        format!("$filter=givenName%20eq%20'{l}'"),
        format!("$filter=startswith(displayName,'{l}')"),
        format!("$filter=contains(subject,'{l}')"),
        format!("$filter=emailAddresses/any(a:a/address%20eq%20'{l}')"),
        format!("$filter=categories/any(c:c%20eq%20'{l}')"),
        format!("$filter={}", q(s)),
        format!("$filter=displayName%20eq%20{}", q(s)),
        format!("$select={}", q(s)),
        format!("$orderby={}", q(s)),
        format!("$expand={}", q(s)),
        format!("$expand=extensions($filter=id%20eq%20'{l}')"),
        format!("$top={}", q(s)),
        format!("$skip={}", q(s)),
        format!("$count={}", q(s)),
        format!("$skiptoken={}", q(s)),
        format!("$deltatoken={}", q(s)),
        format!("{}={}", q(s), q(s)),
    ]
}

/// Paths with `s` as an id or a segment.
fn segment_paths(fx: &Fixture, s: &str) -> Vec<String> {
    let (c, f, x) = (&fx.contacts[0], &fx.folders[0], q(s));
    vec![
        format!("/me/contacts/{x}"),
        format!("/me/contacts('{}')", q(&lit(s))),
        format!("/me/contactFolders/{x}"),
        format!("/me/contactFolders/{f}/childFolders/{x}/contacts"),
        format!("/users/{x}/contacts"),
        format!("/users/{x}/people"),
        format!("/users/{x}/photo"),
        format!("/me/outlook/masterCategories/{x}"),
        format!("/me/contacts/{c}/extensions/{x}"),
        format!("/me/contacts/{c}/photos/{x}"),
        format!("/me/messages/{x}"),
        format!("/me/events/{x}"),
        format!("/subscriptions/{x}"),
        format!("/schemaExtensions/{x}"),
        format!("/me/{x}"),
        format!("/{x}/me/contacts"),
        format!("/v1.0/{x}"),
    ]
}

/// `(method, path, body)` for every write, with every string field set to `s`.
fn bodies(fx: &Fixture, s: &str) -> Vec<(Method, String, Value)> {
    let (c, f) = (&fx.contacts[1], &fx.folders[0]);
    let contact = json!({
        "givenName": s, "surname": s, "displayName": s, "nickName": s, "personalNotes": s,
        "companyName": s, "jobTitle": s, "categories": [s], "businessPhones": [s], "imAddresses": [s],
        "emailAddresses": [{"address": s, "name": s}],
        "homeAddress": {"street": s, "city": s, "postalCode": s, "countryOrRegion": s},
        "birthday": s, "parentFolderId": s,
    });
    let graph_string_fields = ["givenName", "surname", "personalNotes", "companyName", "nickName"];
    let mut out = vec![
        (Method::POST, "/me/contacts".to_owned(), contact.clone()),
        (Method::PATCH, format!("/me/contacts/{c}"), contact),
        (Method::POST, "/me/contactFolders".into(), json!({"displayName": s})),
        (Method::PATCH, format!("/me/contactFolders/{f}"), json!({"displayName": s, "parentFolderId": s})),
        (Method::POST, format!("/me/contactFolders/{f}/childFolders"), json!({"displayName": s})),
        (Method::POST, "/me/outlook/masterCategories".into(), json!({"displayName": s, "color": s})),
        (Method::POST, format!("/me/contacts/{c}/extensions"), json!({"extensionName": s, "value": s, s: s})),
        (
            Method::POST,
            "/me/messages".into(),
            json!({"subject": s, "body": {"contentType": s, "content": s},
            "toRecipients": [{"emailAddress": {"address": s, "name": s}}], "categories": [s]}),
        ),
        (
            Method::POST,
            "/me/events".into(),
            json!({"subject": s, "start": {"dateTime": s, "timeZone": s},
            "end": {"dateTime": s, "timeZone": s}, "attendees": [{"emailAddress": {"address": s}}]}),
        ),
        (
            Method::POST,
            "/me/sendMail".into(),
            json!({"message": {"subject": s,
            "toRecipients": [{"emailAddress": {"address": s}}]}}),
        ),
        (
            Method::POST,
            "/subscriptions".into(),
            json!({"changeType": s, "notificationUrl": s, "resource": s,
            "expirationDateTime": s, "clientState": s, "lifecycleNotificationUrl": s}),
        ),
        (
            Method::POST,
            "/schemaExtensions".into(),
            json!({"id": s, "description": s, "targetTypes": [s],
            "properties": [{"name": s, "type": s}]}),
        ),
        (Method::POST, format!("/me/contactFolders/{f}/permissions"), json!({"grantee": s, "role": s})),
        (
            Method::POST,
            "/$batch".into(),
            json!({"requests": [{"id": s, "method": "GET", "url": s},
            {"id": "2", "method": s, "url": "/me/contacts", "headers": {s: s}}]}),
        ),
    ];
    // Keys that are arbitrary text, too.
    for key in graph_string_fields {
        out.push((Method::POST, "/me/contacts".into(), json!({ key: s, s: key })));
    }
    out
}

/// Raw JSON texts with lone surrogates and other escapes serde's `Value` cannot carry.
fn raw_escapes() -> Vec<&'static str> {
    vec![
        r#"{"givenName":"\ud800"}"#,
        r#"{"givenName":"\udc00x"}"#,
        r#"{"givenName":"\ud83d"}"#,
        r#"{"givenName":"a\u0000b"}"#,
        r#"{"displayName":"\ud800\ud800"}"#,
        r#"{"categories":["\udfff"]}"#,
        r#"{"\ud800":"x"}"#,
        r#"{"emailAddresses":[{"address":"\ud800@x.test"}]}"#,
    ]
}

pub async fn arbitrary_unicode_everywhere(s: TestServer) {
    let fx = super::fixture(&s).await;
    // Every scope the routes above check, so requests reach the handlers' parsing.
    let token = s.token(
        &s.store.find_user(&fx.user_id).await.expect("lookup").expect("the fixture user"),
        "Contacts.ReadWrite MailboxSettings.ReadWrite People.Read Mail.ReadWrite Mail.Send Calendars.ReadWrite User.Read",
    );
    let mut p = Probe::new(&s, &token);
    let strings = unicode_strings(20);
    let paths = collections(&fx);
    for text in &strings {
        for path in &paths {
            for option in query_options(text) {
                let sep = if path.contains('?') { '&' } else { '?' };
                p.send(Req::new(Method::GET, format!("{path}{sep}{option}"))).await;
            }
        }
        for path in segment_paths(&fx, text) {
            p.send(Req::new(Method::GET, path.clone())).await;
            p.send(Req::new(Method::PATCH, path.clone()).json(&json!({"displayName": text}))).await;
            p.send(Req::new(Method::DELETE, path)).await;
        }
        for (method, path, body) in bodies(&fx, text) {
            p.send(Req::new(method, path).json(&body)).await;
        }
    }
    for raw in raw_escapes() {
        p.send(Req::new(Method::POST, "/me/contacts").raw(raw.as_bytes().to_vec(), Some("application/json"))).await;
        let patch = format!("/me/contacts/{}", fx.contacts[2]);
        p.send(Req::new(Method::PATCH, patch).raw(raw.as_bytes().to_vec(), Some("application/json"))).await;
    }
    p.finish("arbitrary_unicode_everywhere").await;
}
