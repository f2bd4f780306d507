//! CardDAV beyond the basics, on SQLite and PostgreSQL: the `no-uid-conflict` precondition,
//! quota properties, partial `address-data`, `limit` in `addressbook-query` and
//! `sync-collection`, and `COPY`/`MOVE` of cards with `Overwrite`. Each answer is checked
//! with its exact status and body, and refused requests change nothing.

use serde_json::json;

use crate::carddav::{dav, dav_user, default_book, hrefs, responses};
use crate::common::TestServer;

const DECL: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;
const NS: &str = r#"xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/""#;

fn card(uid: &str, name: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=work:{uid}@example.com\r\nTEL;TYPE=cell:+1 555 0100\r\nEND:VCARD\r\n")
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}

fn dav_error(inner: &str, message: &str) -> String {
    format!("{DECL}\n<D:error {NS}>{inner}<D:responsedescription>{message}</D:responsedescription></D:error>")
}

async fn make_book(s: &TestServer, auth: &str, href: &str) {
    let body = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Other</D:displayname></D:prop></D:set></D:mkcol>"#;
    assert_eq!(dav(s, "MKCOL", href, Some(auth), &[], body).await.status, 201);
}

async fn uid_conflicts_and_quota(s: TestServer) {
    let (user, auth) = dav_user(&s, "uid@contoso.test").await;
    let token = s.token(&user, "Contacts.ReadWrite");
    let book = default_book(&s, "uid@contoso.test", &auth).await;
    assert_eq!(dav(&s, "PUT", &format!("{book}a.vcf"), Some(&auth), &[], &card("u1", "Ann")).await.status, 201);

    // A second card with the same UID: 403 naming the card that holds it; nothing stored.
    let r = dav(&s, "PUT", &format!("{book}b.vcf"), Some(&auth), &[], &card("u1", "Bea")).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("content-type"), Some("application/xml; charset=utf-8"));
    let conflict = dav_error(
        &format!("<C:no-uid-conflict><D:href>{book}a.vcf</D:href></C:no-uid-conflict>"),
        "Another card of this address book has the same UID.",
    );
    assert_eq!(r.text, conflict);
    assert_eq!(dav(&s, "GET", &format!("{book}b.vcf"), Some(&auth), &[], "").await.status, 404);
    assert_eq!(s.get("/me/contacts", &token).await.body["value"].as_array().unwrap().len(), 1);

    // Replacing the card that holds the UID is fine; taking another card's UID by a
    // replacement is refused and the card keeps what it had.
    assert_eq!(dav(&s, "PUT", &format!("{book}a.vcf"), Some(&auth), &[], &card("u1", "Ann B")).await.status, 204);
    assert_eq!(dav(&s, "PUT", &format!("{book}c.vcf"), Some(&auth), &[], &card("u2", "Cy")).await.status, 201);
    let r = dav(&s, "PUT", &format!("{book}c.vcf"), Some(&auth), &[], &card("u1", "Cy")).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (403, conflict.as_str()));
    let got = dav(&s, "GET", &format!("{book}c.vcf"), Some(&auth), &[], "").await;
    assert_eq!(got.text, card("u2", "Cy"));

    // Another book may hold the same UID.
    let other = "/dav/addressbooks/uid@contoso.test/other/";
    make_book(&s, &auth, other).await;
    let quota = r#"<propfind xmlns="DAV:"><prop><quota-used-bytes/><quota-available-bytes/></prop></propfind>"#;
    let r = dav(&s, "PROPFIND", other, Some(&auth), &[("Depth", "0")], quota).await;
    assert_eq!(r.status, 207);
    assert_eq!(
        r.text,
        format!(
            "{DECL}\n<D:multistatus {NS}><D:response><D:href>{other}</D:href><D:propstat><D:prop>\
             <D:quota-used-bytes>0</D:quota-used-bytes><D:quota-available-bytes>10737418240</D:quota-available-bytes>\
             </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>\n"
        )
    );
    assert_eq!(dav(&s, "PUT", &format!("{other}a.vcf"), Some(&auth), &[], &card("u1", "Ann")).await.status, 201);

    // The quota follows what the book holds, and used + available is the nominal quota.
    let r = dav(&s, "PROPFIND", &book, Some(&auth), &[("Depth", "0")], quota).await;
    let used: i64 = between(&r.text, "<D:quota-used-bytes>", "<").unwrap().parse().unwrap();
    let available: i64 = between(&r.text, "<D:quota-available-bytes>", "<").unwrap().parse().unwrap();
    assert!(used > 100, "{}", r.text);
    assert_eq!(used + available, 10 * 1024 * 1024 * 1024);
    let r = dav(&s, "PROPFIND", other, Some(&auth), &[("Depth", "0")], quota).await;
    let other_used: i64 = between(&r.text, "<D:quota-used-bytes>", "<").unwrap().parse().unwrap();
    assert!(other_used > 0 && other_used < used, "{other_used} {used}");
    // Not part of allprop (it reads every card's size).
    let r = dav(&s, "PROPFIND", &book, Some(&auth), &[("Depth", "0")], "").await;
    assert!(!r.text.contains("quota"), "{}", r.text);
}

async fn partial_address_data_and_limits(s: TestServer) {
    let (user, auth) = dav_user(&s, "part@contoso.test").await;
    let graph = s.token(&user, "Contacts.ReadWrite");
    let book = default_book(&s, "part@contoso.test", &auth).await;
    let long = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nitem1.EMAIL;TYPE=work:ada@exa\r\n mple.com\r\nTEL;TYPE=cell:+1 555 0100\r\nNOTE:{}\r\nEND:VCARD\r\n",
        "n".repeat(20)
    );
    assert_eq!(dav(&s, "PUT", &format!("{book}p1.vcf"), Some(&auth), &[], &long).await.status, 201);

    // Only the asked properties (folded lines kept whole, groups matched by name), BEGIN,
    // VERSION and END; novalue keeps the name and parameters only.
    let multiget = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data><C:prop name="EMAIL"/><C:prop name="fn"/><C:prop name="TEL" novalue="yes"/></C:address-data></D:prop><D:href>{book}p1.vcf</D:href></C:addressbook-multiget>"#
    );
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "1")], &multiget).await;
    assert_eq!(r.status, 207, "{}", r.text);
    let data = between(&r.text, "<C:address-data>", "</C:address-data>").unwrap();
    assert_eq!(
        data,
        "BEGIN:VCARD&#13;\nVERSION:3.0&#13;\nFN:Ada Lovelace&#13;\nitem1.EMAIL;TYPE=work:ada@exa&#13;\n mple.com&#13;\nTEL;TYPE=cell:&#13;\nEND:VCARD&#13;\n"
    );
    // The whole card with no C:prop, or C:allprop.
    for inner in ["", "<C:allprop/>"] {
        let body = format!(
            r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data>{inner}</C:address-data></D:prop><D:href>{book}p1.vcf</D:href></C:addressbook-multiget>"#
        );
        let r = dav(&s, "REPORT", &book, Some(&auth), &[], &body).await;
        let data = between(&r.text, "<C:address-data>", "</C:address-data>").unwrap();
        assert_eq!(data.replace("&#13;", "\r"), long);
    }
    // addressbook-query takes the same partial address-data.
    let query = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data><C:prop name="UID"/></C:address-data></D:prop><C:filter><C:prop-filter name="FN"><C:text-match match-type="starts-with">ada</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], query).await;
    assert_eq!(
        between(&r.text, "<C:address-data>", "</C:address-data>").unwrap(),
        "BEGIN:VCARD&#13;\nVERSION:3.0&#13;\nUID:p1&#13;\nEND:VCARD&#13;\n"
    );

    // addressbook-query with a limit: the first match, then a 507 for the book.
    for i in 2..=4 {
        let r = dav(&s, "PUT", &format!("{book}p{i}.vcf"), Some(&auth), &[], &card(&format!("p{i}"), "Ada Two")).await;
        assert_eq!(r.status, 201);
    }
    let limited = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter><C:prop-filter name="FN"><C:text-match match-type="starts-with">ada</C:text-match></C:prop-filter></C:filter><C:limit><C:nresults>2</C:nresults></C:limit></C:addressbook-query>"#;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "1")], limited).await;
    assert_eq!(r.status, 207);
    let got = responses(&r.text);
    assert_eq!(got.len(), 3, "{}", r.text);
    assert_eq!(
        got[2],
        format!("<D:href>{book}</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status><D:error><D:number-of-matches-within-limits/></D:error>")
    );
    let bad = limited.replace("<C:nresults>2", "<C:nresults>two");
    assert_eq!(dav(&s, "REPORT", &book, Some(&auth), &[], &bad).await.status, 400);

    // sync-collection with DAV:limit: rounds of at most 2 members, each token standing for
    // what came back, until a round without 507; removals come in later rounds.
    let sync = |token: &str, limit: &str| {
        format!(
            r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level><D:limit><D:nresults>{limit}</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>"#
        )
    };
    let mut token = String::new();
    let mut seen: Vec<String> = Vec::new();
    let mut rounds = 0;
    loop {
        let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync(&token, "2")).await;
        assert_eq!(r.status, 207, "{}", r.text);
        rounds += 1;
        let all = responses(&r.text);
        let truncated = all.iter().any(|x| x.contains("507"));
        let members: Vec<&String> = all.iter().filter(|x| !x.contains("507")).collect();
        assert!(members.len() <= 2, "{}", r.text);
        for m in &members {
            seen.push(hrefs(m)[0].clone());
        }
        token = between(&r.text, "<D:sync-token>", "</D:sync-token>").unwrap().to_owned();
        if truncated {
            assert_eq!(
                all.last().unwrap(),
                &format!("<D:href>{book}</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status><D:error><D:number-of-matches-within-limits/></D:error>")
            );
        } else {
            break;
        }
    }
    assert_eq!(rounds, 2);
    seen.sort();
    assert_eq!(seen, (1..=4).map(|i| format!("{book}p{i}.vcf")).collect::<Vec<_>>());
    // Then changes since the last token: a Graph edit and a DAV delete, one per round.
    let contacts = s.get("/me/contacts?$orderby=displayName", &graph).await;
    let ada = contacts.body["value"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(contacts.body["value"][0]["displayName"], "Ada Lovelace");
    assert_eq!(s.patch(&format!("/me/contacts/{ada}"), &graph, json!({"jobTitle": "Countess"})).await.status, 200);
    assert_eq!(dav(&s, "DELETE", &format!("{book}p2.vcf"), Some(&auth), &[], "").await.status, 204);
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync(&token, "1")).await;
    let all = responses(&r.text);
    assert_eq!(all.len(), 2, "{}", r.text);
    assert_eq!(hrefs(&all[0])[0], format!("{book}p1.vcf"));
    assert!(all[0].contains("<D:getetag>"));
    let t2 = between(&r.text, "<D:sync-token>", "</D:sync-token>").unwrap().to_owned();
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync(&t2, "1")).await;
    assert_eq!(
        responses(&r.text),
        vec![format!("<D:href>{book}p2.vcf</D:href><D:status>HTTP/1.1 404 Not Found</D:status>")]
    );
    // A limit of 0 cannot be met with any change: the request fails with 507.
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync(&token, "0")).await;
    assert_eq!(r.status, 507);
    assert_eq!(
        r.text,
        dav_error(
            "<D:number-of-matches-within-limits/>",
            "The changes cannot be cut at this limit; ask for more results."
        )
    );
}

async fn copy_and_move(s: TestServer) {
    let (user, auth) = dav_user(&s, "mover@contoso.test").await;
    let graph = s.token(&user, "Contacts.ReadWrite");
    let book = default_book(&s, "mover@contoso.test", &auth).await;
    let work = "/dav/addressbooks/mover@contoso.test/work/";
    make_book(&s, &auth, work).await;
    let original = card("ua", "Ann");
    assert_eq!(dav(&s, "PUT", &format!("{book}a.vcf"), Some(&auth), &[], &original).await.status, 201);
    let sync = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token></D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], sync).await;
    let before = between(&r.text, "<D:sync-token>", "</D:sync-token>").unwrap().to_owned();
    let count = |folder: String| {
        let (s, graph) = (&s, graph.clone());
        async move { s.get(&folder, &graph).await.body["value"].as_array().unwrap().len() }
    };

    // COPY to another book: 201; the copy is the card as sent, the source stays.
    let to = |href: &str| format!("{}{href}", crate::carddav::root(&s));
    let dest = to(&format!("{work}a2.vcf"));
    let r = dav(&s, "COPY", &format!("{book}a.vcf"), Some(&auth), &[("Destination", &dest)], "").await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (201, ""));
    assert_eq!(dav(&s, "GET", &format!("{work}a2.vcf"), Some(&auth), &[], "").await.text, original);
    assert_eq!(dav(&s, "GET", &format!("{book}a.vcf"), Some(&auth), &[], "").await.text, original);
    // `/me/contacts` is the default folder's: the source is still there.
    assert_eq!(count("/me/contacts".into()).await, 1);
    // Overwrite: F onto an existing card is 412; a path Destination works as a URL does.
    let r = dav(
        &s,
        "COPY",
        &format!("{book}a.vcf"),
        Some(&auth),
        &[("Destination", &format!("{work}a2.vcf")), ("Overwrite", "F")],
        "",
    )
    .await;
    assert_eq!(r.status, 412);
    // A copy into the same book would give two cards one UID.
    let r =
        dav(&s, "COPY", &format!("{book}a.vcf"), Some(&auth), &[("Destination", &format!("{book}a3.vcf"))], "").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text,
        dav_error(
            &format!("<C:no-uid-conflict><D:href>{book}a.vcf</D:href></C:no-uid-conflict>"),
            "Another card of this address book has the same UID."
        )
    );

    // MOVE onto an existing card (Overwrite T by default): 204; the source is gone.
    let r = dav(&s, "MOVE", &format!("{book}a.vcf"), Some(&auth), &[("Destination", &dest)], "").await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (204, ""));
    assert_eq!(dav(&s, "GET", &format!("{book}a.vcf"), Some(&auth), &[], "").await.status, 404);
    assert_eq!(dav(&s, "GET", &format!("{work}a2.vcf"), Some(&auth), &[], "").await.text, original);
    assert_eq!(count("/me/contacts".into()).await, 0);
    // The source book's sync reports the removal under the name its client knew.
    let r = dav(
        &s,
        "REPORT",
        &book,
        Some(&auth),
        &[],
        &sync.replace("<D:sync-token></D:sync-token>", &format!("<D:sync-token>{before}</D:sync-token>")),
    )
    .await;
    assert_eq!(
        responses(&r.text),
        vec![format!("<D:href>{book}a.vcf</D:href><D:status>HTTP/1.1 404 Not Found</D:status>")]
    );
    // MOVE to a new name in the same book: 201.
    let r =
        dav(&s, "MOVE", &format!("{work}a2.vcf"), Some(&auth), &[("Destination", &format!("{work}b.vcf"))], "").await;
    assert_eq!(r.status, 201);
    assert_eq!(dav(&s, "GET", &format!("{work}a2.vcf"), Some(&auth), &[], "").await.status, 404);
    assert_eq!(dav(&s, "GET", &format!("{work}b.vcf"), Some(&auth), &[], "").await.text, original);

    // Bad requests change nothing.
    let src = format!("{work}b.vcf");
    let cases: Vec<(Vec<(&str, String)>, u16)> = vec![
        (vec![], 400),
        (vec![("Destination", src.clone())], 403),
        (vec![("Destination", format!("{book}x.vcf")), ("Overwrite", "maybe".into())], 400),
        (vec![("Destination", "/dav/addressbooks/mover@contoso.test/nope/x.vcf".into())], 409),
        (vec![("Destination", "https://elsewhere.example/other/x.vcf".into())], 502),
        (vec![("Destination", book.clone())], 403),
    ];
    for (headers, want) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for method in ["COPY", "MOVE"] {
            let r = dav(&s, method, &src, Some(&auth), &h, "").await;
            assert_eq!(r.status, want, "{method} {headers:?}: {}", r.text);
        }
    }
    let r = dav(
        &s,
        "COPY",
        &format!("{work}missing.vcf"),
        Some(&auth),
        &[("Destination", format!("{book}m.vcf").as_str())],
        "",
    )
    .await;
    assert_eq!(r.status, 404);
    let r = dav(
        &s,
        "MOVE",
        &src,
        Some(&auth),
        &[("Destination", format!("{book}m.vcf").as_str()), ("If-Match", "\"stale\"")],
        "",
    )
    .await;
    assert_eq!(r.status, 412);
    assert_eq!(count("/me/contacts".into()).await, 0);
    assert_eq!(dav(&s, "GET", &src, Some(&auth), &[], "").await.text, original);
}

both_backends!(uid_conflicts_and_quota, partial_address_data_and_limits, copy_and_move);
