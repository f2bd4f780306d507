//! CardDAV over raw HTTP, on SQLite and PostgreSQL: discovery and authentication, cards with
//! their ETags and conditions, multiget, query, sync-collection fed by the Graph change log,
//! MKCOL and DELETE of address books, and the rights of delegates and folder grantees.

use base64::Engine;
use reqwest::Method;
use rolo_domain::{FolderId, Grant};
use rolo_store::User;
use serde_json::json;

use crate::common::{Resp, TestServer};

pub fn root(s: &TestServer) -> String {
    s.base.trim_end_matches("/v1.0").to_owned()
}

pub fn basic(upn: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{upn}:{password}")))
}

/// A user with an app password; returns the user and its Basic `Authorization` value.
pub async fn dav_user(s: &TestServer, upn: &str) -> (User, String) {
    let user = s.user(upn).await;
    let password = rolo_server::dav::auth::add_app_password(s.store.as_ref(), &user, "test").await.unwrap();
    (user, basic(upn, &password))
}

pub async fn dav(
    s: &TestServer,
    method: &str,
    path: &str,
    auth: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", root(s)) };
    let mut req = s.client.request(Method::from_bytes(method.as_bytes()).unwrap(), url).body(body.to_owned());
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    crate::common::into_resp(req.send().await.expect("request")).await
}

const PROPFIND_BOOK: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:c="urn:ietf:params:xml:ns:carddav">
<d:prop><d:resourcetype/><d:displayname/><cs:getctag/><d:sync-token/><c:supported-address-data/><d:current-user-privilege-set/><d:getetag/><d:getcontenttype/><x:unknown xmlns:x="urn:x"/></d:prop></d:propfind>"#;

fn home(upn: &str) -> String {
    format!("/dav/addressbooks/{upn}/")
}

/// The text of every `<D:href>` in a multistatus, in order.
pub fn hrefs(xml: &str) -> Vec<String> {
    xml.split("<D:href>").skip(1).filter_map(|p| p.split("</D:href>").next()).map(str::to_owned).collect()
}

/// The `<D:response>` blocks of a multistatus.
pub fn responses(xml: &str) -> Vec<String> {
    xml.split("<D:response>").skip(1).map(|p| p.split("</D:response>").next().unwrap_or("").to_owned()).collect()
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}

/// The default book's href of `upn`, found by listing the home.
pub async fn default_book(s: &TestServer, upn: &str, auth: &str) -> String {
    let r = dav(s, "PROPFIND", &home(upn), Some(auth), &[("Depth", "1")], PROPFIND_BOOK).await;
    assert_eq!(r.status, 207, "{}", r.text);
    let books: Vec<String> = responses(&r.text).into_iter().filter(|x| x.contains("<C:addressbook/>")).collect();
    let first = books.first().expect("a book");
    hrefs(first)[0].clone()
}

fn card(uid: &str, given: &str, family: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{given} {family}\r\nN:{family};{given};;;\r\nEMAIL;TYPE=work:{}@example.com\r\nX-CUSTOM:kept\r\nEND:VCARD\r\n", given.to_lowercase())
}

async fn discovery_and_authentication(s: TestServer) {
    let (user, auth) = dav_user(&s, "ada@contoso.test").await;
    // Before credentials: a Basic challenge, never a DAV body.
    let r = dav(&s, "PROPFIND", "/dav/", None, &[("Depth", "0")], "").await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"), "{:?}", r.headers);
    let r = dav(&s, "PROPFIND", "/dav/", Some(&basic("ada@contoso.test", "wrong")), &[], "").await;
    assert_eq!(r.status, 401);
    // The well-known URL redirects whatever the method, before authentication.
    let r = s.client.request(Method::from_bytes(b"PROPFIND").unwrap(), format!("{}/.well-known/carddav", root(&s)));
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .execute(r.build().unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/dav/");
    let r = dav(&s, "OPTIONS", "/dav/", None, &[], "").await;
    assert_eq!(r.status, 200);
    assert!(r.header("dav").unwrap().contains("addressbook"));

    // The root carries current-user-principal; the principal names the home.
    let body = r#"<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#;
    let r = dav(&s, "PROPFIND", "/dav/", Some(&auth), &[("Depth", "0")], body).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("application/xml"));
    assert!(
        r.text.contains("<D:current-user-principal><D:href>/dav/principals/ada@contoso.test/</D:href>"),
        "{}",
        r.text
    );
    assert!(r.text.contains("HTTP/1.1 200 OK"));
    // Apple and DAVx5 also ask the host's root.
    let r = dav(&s, "PROPFIND", "/", Some(&auth), &[("Depth", "0")], body).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert!(
        r.text.contains("<D:current-user-principal><D:href>/dav/principals/ada@contoso.test/</D:href>"),
        "{}",
        r.text
    );
    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><C:addressbook-home-set/><resourcetype/></prop></propfind>"#;
    let r = dav(&s, "PROPFIND", "/dav/principals/ada@contoso.test/", Some(&auth), &[("Depth", "0")], body).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert!(
        r.text.contains("<C:addressbook-home-set><D:href>/dav/addressbooks/ada@contoso.test/</D:href>"),
        "{}",
        r.text
    );

    // The home lists the default folder as a book, with what clients read.
    let r = dav(&s, "PROPFIND", &home("ada@contoso.test"), Some(&auth), &[("Depth", "1")], PROPFIND_BOOK).await;
    assert_eq!(r.status, 207, "{}", r.text);
    let books: Vec<String> = responses(&r.text).into_iter().filter(|x| x.contains("<C:addressbook/>")).collect();
    assert_eq!(books.len(), 1, "{}", r.text);
    let b = &books[0];
    assert!(hrefs(b)[0].ends_with(&format!("/{}/", user.mailbox.default_folder_id.as_str())), "{b}");
    for needle in [
        "<CS:getctag>",
        "<D:sync-token>",
        "version=\"3.0\"",
        "version=\"4.0\"",
        "<D:write-content/>",
        "HTTP/1.1 404 Not Found",
    ] {
        assert!(b.contains(needle), "{needle} in {b}");
    }

    // A bearer token from Rolo's token endpoint works too.
    let token = s.token(&user, "Contacts.ReadWrite");
    let r =
        dav(&s, "PROPFIND", &home("ada@contoso.test"), Some(&format!("Bearer {token}")), &[("Depth", "0")], "").await;
    assert_eq!(r.status, 207, "{}", r.text);

    // A revoked app password stops working at once.
    assert!(s.store.remove_app_password(&user.id, "test").await.unwrap());
    let r = dav(&s, "PROPFIND", "/dav/", Some(&auth), &[("Depth", "0")], "").await;
    assert_eq!(r.status, 401);
}

async fn cards_etags_and_conditions(s: TestServer) {
    let (user, auth) = dav_user(&s, "bo@contoso.test").await;
    let token = s.token(&user, "Contacts.ReadWrite");
    let book = default_book(&s, "bo@contoso.test", &auth).await;
    let href = format!("{book}client-name%201.vcf");

    // An unconditional PUT without Content-Type creates; the card is kept as sent, so its ETag
    // comes back. A card stored otherwise than sent (vCard 2.1, here) gets none.
    let r = dav(&s, "PUT", &href, Some(&auth), &[], &card("uid-1", "Grace", "Hopper")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let put_etag = r.header("etag").expect("an ETag for a card kept verbatim").to_owned();
    let old = "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Old;Card\r\nFN:Old Card\r\nEND:VCARD\r\n";
    let r = dav(&s, "PUT", &format!("{book}old.vcf"), Some(&auth), &[], old).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.header("etag").is_none());
    let r = dav(&s, "GET", &format!("{book}old.vcf"), Some(&auth), &[], "").await;
    assert!(r.text.contains("VERSION:3.0") && r.text.contains("FN:Old Card"), "{}", r.text);
    assert_eq!(dav(&s, "DELETE", &format!("{book}old.vcf"), Some(&auth), &[], "").await.status, 204);
    let graph = s.get("/me/contacts", &token).await;
    assert_eq!(graph.body["value"][0]["givenName"], "Grace", "{}", graph.text);

    // Depth 1 lists the card under the name it was PUT as, with getetag and getcontenttype.
    let r = dav(&s, "PROPFIND", &book, Some(&auth), &[("Depth", "1")], PROPFIND_BOOK).await;
    let cards: Vec<String> = responses(&r.text).into_iter().filter(|x| !x.contains("<C:addressbook/>")).collect();
    assert_eq!(cards.len(), 1, "{}", r.text);
    assert_eq!(hrefs(&cards[0])[0], href);
    assert!(cards[0].contains("<D:getcontenttype>text/vcard; charset=utf-8</D:getcontenttype>"));
    assert!(cards[0].contains("<D:resourcetype/>"));
    let listed_etag = between(&cards[0], "<D:getetag>", "</D:getetag>").unwrap().replace("&quot;", "\"");

    // GET and multiget give the same strong ETag; multiget echoes hrefs as asked.
    let r = dav(&s, "GET", &href, Some(&auth), &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag").unwrap(), listed_etag);
    assert_eq!(put_etag, listed_etag);
    assert!(listed_etag.starts_with('"') && !listed_etag.starts_with("W/"));
    assert_eq!(r.text, card("uid-1", "Grace", "Hopper"), "kept byte for byte");
    assert!(r.header("content-type").unwrap().starts_with("text/vcard"));
    let r4 = dav(&s, "GET", &href, Some(&auth), &[("Accept", "text/vcard; version=4.0")], "").await;
    assert!(r4.text.contains("VERSION:4.0") && r4.text.contains("X-CUSTOM:kept"), "{}", r4.text);
    assert_eq!(r4.header("etag").unwrap(), listed_etag);
    let full = format!("{}{href}", root(&s));
    let missing = format!("{book}nope.vcf");
    let body = format!(
        r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/></D:prop><D:href>{full}</D:href><D:href>{missing}</D:href></C:addressbook-multiget>"#
    );
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "1")], &body).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(hrefs(&r.text), vec![full.clone(), missing.clone()]);
    let got = responses(&r.text);
    assert_eq!(between(&got[0], "<D:getetag>", "</D:getetag>").unwrap().replace("&quot;", "\""), listed_etag);
    assert!(got[0].contains("FN:Grace Hopper"));
    assert!(got[1].contains("HTTP/1.1 404 Not Found"));

    // Conditions: If-None-Match * on an existing card, a stale If-Match, If-Match on a missing card.
    let edit = card("uid-1", "Grace", "Brewster");
    let r = dav(&s, "PUT", &href, Some(&auth), &[("If-None-Match", "*")], &edit).await;
    assert_eq!(r.status, 412);
    let r = dav(&s, "PUT", &href, Some(&auth), &[("If-Match", "\"stale\"")], &edit).await;
    assert_eq!(r.status, 412);
    let r = dav(&s, "PUT", &missing, Some(&auth), &[("If-Match", &listed_etag)], &edit).await;
    assert_eq!(r.status, 412);
    let r =
        dav(&s, "PUT", &href, Some(&auth), &[("If-Match", &listed_etag), ("Content-Type", "text/vcard")], &edit).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(s.get("/me/contacts", &token).await.body["value"][0]["surname"], "Brewster");
    // A Graph edit moves the ETag; the card is then rendered from the Graph model, the
    // properties Graph has no place for kept.
    let id = s.get("/me/contacts", &token).await.body["value"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(s.patch(&format!("/me/contacts/{id}"), &token, json!({"jobTitle": "Admiral"})).await.status, 200);
    let r = dav(&s, "GET", &href, Some(&auth), &[], "").await;
    assert!(
        r.text.contains("TITLE:Admiral") && r.text.contains("X-CUSTOM:kept") && r.text.contains("UID:uid-1"),
        "{}",
        r.text
    );
    // Unconditional updates are accepted too; the ETag moves.
    let r = dav(&s, "PUT", &href, Some(&auth), &[], &card("uid-1", "Grace", "Murray")).await;
    assert_eq!(r.status, 204);
    let new_etag = dav(&s, "GET", &href, Some(&auth), &[], "").await.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, listed_etag);

    // Bad vCards and bad XML: 4xx with a DAV error body, nothing changed.
    for bad in [
        "not a vcard",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:B\r\nEND:VCARD\r\n",
        "",
    ] {
        let r = dav(&s, "PUT", &href, Some(&auth), &[], bad).await;
        assert_eq!(r.status, 403, "{bad}: {}", r.text);
        assert!(r.text.contains("<C:valid-address-data/>"), "{}", r.text);
    }
    let r = dav(&s, "PUT", &href, Some(&auth), &[("Content-Type", "application/json")], "{}").await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("<C:supported-address-data/>"));
    let r = dav(&s, "PROPFIND", &book, Some(&auth), &[("Depth", "1")], "<propfind xmlns=\"DAV:\"><prop>").await;
    assert_eq!(r.status, 400);
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], "<x xmlns=\"urn:x\"/>").await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("<D:supported-report/>"));
    assert_eq!(dav(&s, "GET", &href, Some(&auth), &[], "").await.header("etag").unwrap(), new_etag);
    assert_eq!(s.get("/me/contacts", &token).await.body["value"].as_array().unwrap().len(), 1);

    // DELETE honours If-Match, and works without it.
    let r = dav(&s, "DELETE", &href, Some(&auth), &[("If-Match", "\"stale\"")], "").await;
    assert_eq!(r.status, 412);
    let r = dav(&s, "DELETE", &href, Some(&auth), &[], "").await;
    assert_eq!(r.status, 204);
    assert_eq!(dav(&s, "GET", &href, Some(&auth), &[], "").await.status, 404);
    assert_eq!(s.get("/me/contacts", &token).await.body["value"].as_array().unwrap().len(), 0);
}

fn sync_body(token: &str) -> String {
    format!(
        r#"<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

async fn sync_collection_follows_graph(s: TestServer) {
    let (user, auth) = dav_user(&s, "cy@contoso.test").await;
    let token = s.token(&user, "Contacts.ReadWrite");
    let book = default_book(&s, "cy@contoso.test", &auth).await;
    let early = s.create_contact(&token, json!({"givenName": "Early"})).await;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "1")], &sync_body("")).await;
    assert_eq!(r.status, 207, "{}", r.text);
    assert_eq!(responses(&r.text).len(), 1);
    assert!(r.text.contains(&format!("{early}.vcf")));
    let t1 = between(&r.text, "<D:sync-token>", "</D:sync-token>").unwrap().to_owned();
    assert!(r.text.trim_end().ends_with("</D:sync-token></D:multistatus>"));

    // No change: only the token, the same one.
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "0")], &sync_body(&t1)).await;
    assert_eq!(responses(&r.text).len(), 0, "{}", r.text);
    assert_eq!(between(&r.text, "<D:sync-token>", "</D:sync-token>").unwrap(), t1);

    // A Graph create and a Graph delete show up, the removal as a 404 under the card's href.
    let created = s.create_contact(&token, json!({"givenName": "Later"})).await;
    assert_eq!(s.delete(&format!("/me/contacts/{early}"), &token).await.status, 204);
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync_body(&t1)).await;
    let got = responses(&r.text);
    assert_eq!(got.len(), 2, "{}", r.text);
    let live = got.iter().find(|x| x.contains(&created)).unwrap();
    assert!(live.contains("<D:getetag>"));
    let gone = got.iter().find(|x| x.contains(&early)).unwrap();
    assert!(gone.contains("HTTP/1.1 404 Not Found") && !gone.contains("propstat"));
    let t2 = between(&r.text, "<D:sync-token>", "</D:sync-token>").unwrap().to_owned();
    assert_ne!(t1, t2);

    // A card PUT over DAV is removed under its client name; the change shows in Graph delta.
    let delta = s.get("/me/contactFolders/contacts/contacts/delta", &token).await;
    let next = delta.body["@odata.deltaLink"].as_str().unwrap().to_owned();
    let r = dav(&s, "PUT", &format!("{book}mine.vcf"), Some(&auth), &[], &card("u-9", "Dav", "Made")).await;
    assert_eq!(r.status, 201);
    let d = s.get(&next, &token).await;
    assert_eq!(d.body["value"][0]["givenName"], "Dav", "{}", d.text);
    assert_eq!(dav(&s, "DELETE", &format!("{book}mine.vcf"), Some(&auth), &[], "").await.status, 204);
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync_body(&t2)).await;
    assert!(hrefs(&r.text).contains(&format!("{book}mine.vcf")), "{}", r.text);

    // A token the server never gave: 403 valid-sync-token.
    for bad in ["urn:x-rolo:sync:999999", "garbage"] {
        let r = dav(&s, "REPORT", &book, Some(&auth), &[], &sync_body(bad)).await;
        assert_eq!(r.status, 403);
        assert!(r.text.contains("<D:valid-sync-token/>"));
    }
}

async fn query_and_limit(s: TestServer) {
    let (_user, auth) = dav_user(&s, "di@contoso.test").await;
    let book = default_book(&s, "di@contoso.test", &auth).await;
    for (i, (g, f)) in [("Ada", "Lovelace"), ("Adam", "Smith"), ("Bob", "Adams")].iter().enumerate() {
        let r = dav(&s, "PUT", &format!("{book}c{i}.vcf"), Some(&auth), &[], &card(&format!("q{i}"), g, f)).await;
        assert_eq!(r.status, 201);
    }
    let q = |filter: &str, limit: &str| {
        format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter>{filter}</C:filter>{limit}</C:addressbook-query>"#
        )
    };
    let fn_prefix =
        r#"<C:prop-filter name="FN"><C:text-match match-type="starts-with">ad</C:text-match></C:prop-filter>"#;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "1")], &q(fn_prefix, "")).await;
    assert_eq!(r.status, 207, "{}", r.text);
    let mut got = hrefs(&r.text);
    got.sort();
    assert_eq!(got, vec![format!("{book}c0.vcf"), format!("{book}c1.vcf")]);
    let email = r#"<C:prop-filter name="EMAIL"><C:text-match>BOB@</C:text-match></C:prop-filter>"#;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[("Depth", "1")], &q(email, "")).await;
    assert_eq!(hrefs(&r.text), vec![format!("{book}c2.vcf")]);
    let any = r#"<C:prop-filter name="FN"><C:text-match>ada</C:text-match></C:prop-filter>"#;
    let r = dav(
        &s,
        "REPORT",
        &book,
        Some(&auth),
        &[("Depth", "1")],
        &q(any, "<C:limit><C:nresults>1</C:nresults></C:limit>"),
    )
    .await;
    let got = responses(&r.text);
    assert_eq!(got.len(), 2, "{}", r.text);
    assert!(got[1].contains("507") && got[1].contains("number-of-matches-within-limits"));
    let bad = r#"<C:prop-filter name="FN"><C:text-match collation="i;klingon">a</C:text-match></C:prop-filter>"#;
    let r = dav(&s, "REPORT", &book, Some(&auth), &[], &q(bad, "")).await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("<C:supported-collation/>"));
}

async fn mkcol_and_delete_books(s: TestServer) {
    let (user, auth) = dav_user(&s, "ed@contoso.test").await;
    let token = s.token(&user, "Contacts.ReadWrite");
    let body = r#"<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype><D:displayname>Work</D:displayname></D:prop></D:set></D:mkcol>"#;
    let r = dav(&s, "MKCOL", "/dav/addressbooks/ed@contoso.test/work-book/", Some(&auth), &[], body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let again = dav(&s, "MKCOL", "/dav/addressbooks/ed@contoso.test/work-book/", Some(&auth), &[], body).await;
    assert_eq!(again.status, 405);
    let folders = s.get("/me/contactFolders", &token).await;
    let work = folders.body["value"].as_array().unwrap().iter().find(|f| f["displayName"] == "Work").unwrap().clone();
    // A nested Graph folder is a book too.
    let wid = work["id"].as_str().unwrap();
    let child = s.create_folder_at(&format!("/me/contactFolders/{wid}/childFolders"), &token, "Nested").await;
    let r = dav(&s, "PROPFIND", &home("ed@contoso.test"), Some(&auth), &[("Depth", "1")], PROPFIND_BOOK).await;
    let all = hrefs(&r.text);
    assert!(all.contains(&"/dav/addressbooks/ed@contoso.test/work-book/".to_owned()), "{all:?}");
    assert!(all.contains(&format!("/dav/addressbooks/ed@contoso.test/{child}/")), "{all:?}");
    assert!(r.text.contains("<D:displayname>Work</D:displayname>"));
    let book = "/dav/addressbooks/ed@contoso.test/work-book/";
    assert_eq!(dav(&s, "PUT", &format!("{book}a.vcf"), Some(&auth), &[], &card("w1", "W", "One")).await.status, 201);
    assert_eq!(
        s.get(&format!("/me/contactFolders/{wid}/contacts"), &token).await.body["value"].as_array().unwrap().len(),
        1
    );
    // The default book cannot go; another can.
    let default = default_book(&s, "ed@contoso.test", &auth).await;
    assert_eq!(dav(&s, "DELETE", &default, Some(&auth), &[], "").await.status, 403);
    assert_eq!(dav(&s, "DELETE", book, Some(&auth), &[], "").await.status, 204);
    s.get(&format!("/me/contactFolders/{wid}"), &token).await.assert_error(404, "ErrorItemNotFound");
    assert_eq!(dav(&s, "PROPFIND", book, Some(&auth), &[("Depth", "0")], "").await.status, 404);
}

async fn delegates_and_grantees(s: TestServer) {
    let (owner, owner_auth) = dav_user(&s, "owner@contoso.test").await;
    let token = s.token(&owner, "Contacts.ReadWrite");
    let shared = s.create_folder_at("/me/contactFolders", &token, "Shared").await;
    s.create_contact(&token, json!({"givenName": "Private"})).await;
    let book = default_book(&s, "owner@contoso.test", &owner_auth).await;
    assert_eq!(dav(&s, "PUT", &format!("{book}p.vcf"), Some(&owner_auth), &[], &card("p", "P", "Q")).await.status, 201);

    let (reader, reader_auth) = dav_user(&s, "reader@contoso.test").await;
    s.store.set_mailbox_grant(&owner.mailbox, &reader.id, Some(Grant::Read)).await.unwrap();
    let (grantee, grantee_auth) = dav_user(&s, "grantee@contoso.test").await;
    s.store
        .add_folder_permission(&owner.mailbox, &FolderId::from_stored(shared.clone()), &grantee, Grant::Write)
        .await
        .unwrap();
    let (_stranger, stranger_auth) = dav_user(&s, "stranger@contoso.test").await;

    // A read-only delegate: the owner's home is in its home set; reads work, writes are refused
    // with need-privileges and change nothing.
    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><C:addressbook-home-set/></prop></propfind>"#;
    let r = dav(&s, "PROPFIND", "/dav/principals/reader@contoso.test/", Some(&reader_auth), &[], body).await;
    assert!(hrefs(&r.text).contains(&"/dav/addressbooks/owner@contoso.test/".to_owned()), "{}", r.text);
    let r = dav(&s, "PROPFIND", &book, Some(&reader_auth), &[("Depth", "1")], PROPFIND_BOOK).await;
    assert_eq!(r.status, 207);
    assert!(!r.text.contains("<D:write-content/>"), "{}", r.text);
    assert_eq!(dav(&s, "GET", &format!("{book}p.vcf"), Some(&reader_auth), &[], "").await.status, 200);
    let r = dav(&s, "PUT", &format!("{book}p.vcf"), Some(&reader_auth), &[], &card("p", "X", "Y")).await;
    assert_eq!(r.status, 403);
    assert!(r.text.contains("<D:need-privileges/>"));
    assert_eq!(dav(&s, "DELETE", &format!("{book}p.vcf"), Some(&reader_auth), &[], "").await.status, 403);
    assert!(dav(&s, "GET", &format!("{book}p.vcf"), Some(&owner_auth), &[], "").await.text.contains("FN:P Q"));

    // A folder grantee sees that folder only, and may write there.
    let r = dav(
        &s,
        "PROPFIND",
        "/dav/addressbooks/owner@contoso.test/",
        Some(&grantee_auth),
        &[("Depth", "1")],
        PROPFIND_BOOK,
    )
    .await;
    assert_eq!(r.status, 207, "{}", r.text);
    let books: Vec<String> = responses(&r.text).into_iter().filter(|x| x.contains("<C:addressbook/>")).collect();
    assert_eq!(books.len(), 1, "{}", r.text);
    assert!(hrefs(&books[0])[0].contains(&shared));
    assert_eq!(dav(&s, "PROPFIND", &book, Some(&grantee_auth), &[("Depth", "0")], "").await.status, 404);
    let sbook = format!("/dav/addressbooks/owner@contoso.test/{shared}/");
    assert_eq!(
        dav(&s, "PUT", &format!("{sbook}g.vcf"), Some(&grantee_auth), &[], &card("g", "G", "H")).await.status,
        201
    );

    // A stranger gets nothing.
    let r =
        dav(&s, "PROPFIND", "/dav/addressbooks/owner@contoso.test/", Some(&stranger_auth), &[("Depth", "1")], "").await;
    assert_eq!(r.status, 403);
    assert_eq!(dav(&s, "GET", &format!("{book}p.vcf"), Some(&stranger_auth), &[], "").await.status, 403);
}

both_backends!(
    discovery_and_authentication,
    cards_etags_and_conditions,
    sync_collection_follows_graph,
    query_and_limit,
    mkcol_and_delete_books,
    delegates_and_grantees,
);

/// `rolo users app-password add|list|remove` on the built binary, against a served database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_password_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rolo.db").to_string_lossy().into_owned();
    let rolo = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rolo"));
        cmd.args(args)
            .arg("--database")
            .arg(&db)
            .current_dir(dir.path())
            .env_remove("ROLO_DATABASE")
            .env("ROLO_LOG", "warn");
        let o = cmd.output().expect("run rolo");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert!(rolo(&["users", "add", "pat@x.test", "--display-name", "Pat"]).0);
    let (ok, out, err) = rolo(&["users", "app-password", "add", "pat@x.test", "phone"]);
    assert!(ok, "{err}");
    let password = out.trim().to_owned();
    assert_eq!(out.lines().count(), 1);
    assert!(password.len() >= 40, "{password}");
    assert!(err.contains("shown only now"));
    let (ok, _, err) = rolo(&["users", "app-password", "add", "pat@x.test", "phone"]);
    assert!(!ok && err.contains("phone"), "a name is taken once: {err}");
    let (ok, out, _) = rolo(&["users", "app-password", "list", "pat@x.test"]);
    assert!(ok && out.starts_with("phone\t") && !out.contains(&password), "{out}");

    let s = TestServer::start_at(&db, tempfile::tempdir().unwrap(), |_| {}).await;
    let auth = basic("pat@x.test", &password);
    assert_eq!(dav(&s, "PROPFIND", "/dav/", Some(&auth), &[("Depth", "0")], "").await.status, 207);
    let (ok, out, _) = rolo(&["users", "app-password", "remove", "pat@x.test", "phone"]);
    assert!(ok && out.contains("revoked"), "{out}");
    assert_eq!(dav(&s, "PROPFIND", "/dav/", Some(&auth), &[("Depth", "0")], "").await.status, 401);
    let (ok, _, err) = rolo(&["users", "app-password", "remove", "pat@x.test", "phone"]);
    assert!(!ok && err.contains("no app password"), "{err}");
    let (ok, _, err) = rolo(&["users", "app-password", "add", "nobody@x.test", "phone"]);
    assert!(!ok && err.contains("nobody@x.test"), "{err}");
}
