//! Random paths and garbage headers: the URL space and the request head under attack.

use super::*;

/// 3. Random and adversarial paths, with every method.
pub(super) async fn random_paths(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let mut rng = rng_for(7);
    let methods =
        [Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE, Method::OPTIONS, Method::HEAD];
    let long_id = "A".repeat(10_000);
    let fixed_segments: Vec<String> = vec![
        "contacts".into(),
        "contactFolders".into(),
        "childFolders".into(),
        "permanentDelete".into(),
        "microsoft.graph.permanentDelete".into(),
        "CONTACTS".into(),
        "contacts('')".into(),
        "contacts('".into(),
        "contacts(')".into(),
        "contacts(''')".into(),
        "contacts('a''b')".into(),
        "contacts(\"x\")".into(),
        "contacts(x)".into(),
        "contacts()".into(),
        "contacts((()))".into(),
        format!("contacts('{}')", fx.contacts[0]),
        format!("contacts('{long_id}')"),
        format!("contactFolders('{}')", fx.folders[0]),
        "contactFolders('contacts')".into(),
        "contactFolders('%00')".into(),
        "childFolders('')".into(),
        "%00".into(),
        "%ff".into(),
        "%FF%FE".into(),
        "%C0%AF".into(),
        "%ED%A0%80".into(),
        "%2e%2e".into(),
        "..".into(),
        ".".into(),
        "%2F".into(),
        "%5C".into(),
        "%".into(),
        "%z".into(),
        "%zz".into(),
        "%%".into(),
        "%27".into(),
        "%28%27x%27%29".into(),
        long_id.clone(),
        "AAAAAAAAAAAAAAAAAAAAAA".into(),
        "AAAAAAAAAAAAAAAAAAAA%00A".into(),
        "$value".into(),
        "$count".into(),
        "$ref".into(),
        "$metadata".into(),
        "photo".into(),
        "extensions".into(),
        "delta()".into(),
        "microsoft.graph.delta()".into(),
        "contacts".into(),
        "%E2%80%AE".into(),
        "%F0%9F%99%82".into(),
        fx.contacts[0].clone(),
        fx.contacts[1].to_lowercase(),
        fx.folders[0].clone(),
        fx.folders[1].clone(),
        fx.folders[3].clone(),
    ];
    let owners: Vec<String> = vec![
        "/me".into(),
        "/ME".into(),
        format!("/users/{}", fx.upn),
        format!("/users/{}", fx.user_id),
        format!("/users('{}')", fx.upn),
        format!("/users('{}')", fx.user_id),
        "/users/%00".into(),
        "/users('%00')".into(),
        "/users/%ff".into(),
        "/users/a%00b@x.test".into(),
        "/users/00000000-0000-0000-0000-000000000000".into(),
        format!("/users/{}", "u".repeat(10_000)),
        "/users/'".into(),
        "/users('')".into(),
        "/users(".into(),
        "/users".into(),
        "/users/%27%27".into(),
        "/me('x')".into(),
        "/me%00".into(),
        "".into(),
        "/".into(),
        "//me".into(),
        "/%2e%2e/me".into(),
        "/groups/x".into(),
    ];
    for i in 0..420 {
        let owner = if i % 3 == 0 { owners.choose(&mut rng).unwrap().clone() } else { "/me".to_owned() };
        let n = rng.gen_range(0..5);
        let mut segs = Vec::new();
        for _ in 0..n {
            let seg = match rng.gen_range(0..10) {
                0 => format!("users/{}", enc_all(&random_bytes(&mut rng, 20))),
                1 => enc_all(&random_bytes(&mut rng, 30)),
                2 => enc(&adv_string(&mut rng).chars().take(200).collect::<String>()),
                3 => format!("contacts('{}')", enc(&adv_string(&mut rng).chars().take(60).collect::<String>())),
                _ => fixed_segments.choose(&mut rng).unwrap().clone(),
            };
            segs.push(seg);
        }
        let path = format!("{owner}/{}", segs.join("/"));
        let method = methods[i % methods.len()].clone();
        let mut req = Req::new(method.clone(), path);
        if matches!(method, Method::POST | Method::PATCH | Method::PUT) {
            let body = if rng.gen_bool(0.6) {
                json!({"givenName": "P", "displayName": "PathFolder"})
            } else {
                random_contact_body(&mut rng, &fx.folders)
            };
            req = req.json(&body);
        }
        p.send(req).await;
    }
    // The fixed, named shapes, with every method.
    let root = s.base.trim_end_matches("/v1.0").to_owned();
    let named: Vec<String> = vec![
        "/me/contacts/%00".into(),
        "/me/contacts/%ff".into(),
        "/me/contacts/a%00b".into(),
        format!("/me/contacts/{long_id}"),
        format!("/me/contacts('{long_id}')"),
        "/me/contacts('a''b')".into(),
        "/me/contacts('''')".into(),
        "/me/contacts('%00')".into(),
        "/me/contacts(%27x%27)".into(),
        "/me/contacts('x')/permanentDelete".into(),
        "/me/contactFolders/%00/contacts".into(),
        "/me/contactFolders/%00/childFolders/%00".into(),
        format!("/me/contactFolders/{long_id}/childFolders"),
        format!("/me/contactFolders/{}/childFolders/{}/childFolders/%00/contacts", fx.folders[0], fx.folders[1]),
        format!("/me/contactFolders/{}{}", fx.folders[0], "/childFolders/AAAAAAAAAAAAAAAAAAAAAA".repeat(200)),
        "/users/%00/contacts".into(),
        "/users/%00/contactFolders".into(),
        "/users('%00')/contacts".into(),
        "/users/%ff/contacts".into(),
        "/users/a%00/contacts".into(),
        format!("/users/{}/contacts", "x".repeat(10_000)),
        format!("/users/{}@x.test/contacts", "x".repeat(3_000)),
        "/users/%27/contacts".into(),
        "/users('a''b')/contacts".into(),
        "/users/%2e%2e/contacts".into(),
        "/me/contacts/..".into(),
        "/me/contacts/%2e%2e/%2e%2e/%2e%2e".into(),
        format!("{root}/v1.0%00/me/contacts"),
        format!("{root}/%00/me/contacts"),
        format!("{root}/V1.0/me/contacts"),
        format!("{root}/v1.0//me//contacts//"),
        format!("{root}/"),
        format!("{root}/v1.0"),
        format!("{root}/v1.0/"),
        format!("{root}/beta/me/contacts"),
    ];
    for path in &named {
        for m in &methods {
            let mut req = Req::new(m.clone(), path.clone());
            if matches!(*m, Method::POST | Method::PATCH | Method::PUT) {
                req = req.json(&json!({"givenName": "N"}));
            }
            p.send(req).await;
        }
    }
    // Unauthenticated, on garbage paths too: still the envelope.
    for path in ["/me/contacts/%00", "/users/%00/contacts", "/%ff", "/me/contacts?$filter=%00"] {
        let mut req = Req::new(Method::GET, path);
        req.auth = false;
        p.send(req).await;
    }
    p.finish("random_paths").await;
}

/// Garbage headers (part 4): If-Match, Prefer, Content-Type, Accept, client-request-id, Authorization,
/// Host, including bytes that are not UTF-8.
pub(super) async fn garbage_headers(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let c = fx.contacts[0].clone();
    let f = fx.folders[2].clone();
    let long = "x".repeat(8_000);
    let long_etag = format!("W/\"{}\"", "y".repeat(8_000));
    let if_match: Vec<&[u8]> = vec![
        b"garbage",
        b"",
        b"W/",
        b"\"",
        b"W/\"\"",
        b",,,",
        b"*,*",
        b"* , W/\"x\"",
        b"W/\"\\u0000\"",
        b"\xff\xfe",
        b"W/\"\xff\"",
        b"\"'; DROP TABLE contacts; --\"",
        b"W/\"%00\"",
        long.as_bytes(),
        long_etag.as_bytes(),
    ];
    for v in &if_match {
        for m in [Method::PATCH, Method::DELETE, Method::GET] {
            let mut req = Req::new(m.clone(), format!("/me/contacts/{c}")).header("If-Match", v);
            if m == Method::PATCH {
                req = req.json(&json!({"jobTitle": "IfMatch"}));
            }
            p.send(req).await;
        }
        p.send(
            Req::new(Method::PATCH, format!("/me/contactFolders/{f}"))
                .header("If-Match", v)
                .json(&json!({"displayName": "F3"})),
        )
        .await;
        p.send(
            Req::new(Method::PATCH, format!("/me/contacts/{c}"))
                .header("If-None-Match", v)
                .json(&json!({"jobTitle": "x"})),
        )
        .await;
    }
    let prefer: Vec<&[u8]> = vec![
        b"odata.maxpagesize=0",
        b"odata.maxpagesize=-1",
        b"odata.maxpagesize=99999999999999999999",
        b"odata.maxpagesize=18446744073709551615",
        b"odata.maxpagesize",
        b"odata.maxpagesize=",
        b"odata.maxpagesize=\"\"",
        b"odata.maxpagesize=1, odata.maxpagesize=2",
        b"IdType=",
        b"IdType=\"ImmutableId\"",
        b"IdType=\"RestId\"",
        b"return=minimal",
        b"return=representation",
        b"respond-async",
        b"outlook.timezone=\"Mars/Olympus\"",
        b"outlook.body-content-type=\"xml\"",
        b",,,=,=",
        b"=",
        b"\xff\xfe",
        b"odata.maxpagesize=\xff",
        long.as_bytes(),
    ];
    for v in &prefer {
        p.send(Req::new(Method::GET, "/me/contacts").header("Prefer", v)).await;
        p.send(Req::new(Method::GET, "/me/contactFolders?$top=2").header("Prefer", v)).await;
        p.send(Req::new(Method::POST, "/me/contacts").header("Prefer", v).json(&json!({"givenName": "Pref"}))).await;
        p.send(Req::new(Method::GET, format!("/me/contacts/{c}")).header("Prefer", v)).await;
    }
    let content_types: &[&[u8]] = &[
        b"",
        b"application/json; charset=utf-16",
        b"application/json; charset=garbage",
        b"application/json;;;",
        b"application/json, text/html",
        b"APPLICATION/JSON",
        b"application/merge-patch+json",
        b"application/vnd.api+json",
        b"text/plain",
        b"text/html",
        b"application/xml",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"*/*",
        b"json",
        b";",
        b"/",
        b"\xff\xfe",
        b"application/\xffjson",
        long.as_bytes(),
    ];
    for ct in content_types {
        let body = serde_json::to_vec(&json!({"givenName": "CT"})).unwrap();
        for (m, path) in [
            (Method::POST, "/me/contacts".to_owned()),
            (Method::PATCH, format!("/me/contacts/{c}")),
            (Method::POST, "/me/contactFolders".to_owned()),
            (Method::DELETE, "/me/contacts/AAAAAAAAAAAAAAAAAAAAAA".to_owned()),
            (Method::GET, "/me/contacts".to_owned()),
        ] {
            let mut req = Req::new(m, path).header("Content-Type", ct);
            req.body = Some(body.clone());
            p.send(req).await;
        }
    }
    let others: Vec<(&str, &[u8])> = vec![
        ("Accept", b"application/xml"),
        ("Accept", b"text/html"),
        ("Accept", b"application/json;odata.metadata=none"),
        ("Accept", b"application/json;odata.metadata=full;IEEE754Compatible=true"),
        ("Accept", b"\xff"),
        ("Accept-Charset", b"utf-16"),
        ("Accept-Encoding", b"gzip, br, zstd, garbage"),
        ("Accept-Language", b"\xff\xfe"),
        ("client-request-id", b"\xff\xfe"),
        ("client-request-id", b"not-a-guid"),
        ("client-request-id", long.as_bytes()),
        ("client-request-id", b"\"quoted\" <tag>"),
        ("request-id", b"spoofed"),
        ("Authorization", b"Bearer \xff\xfe"),
        ("Authorization", b"\xff"),
        ("Authorization", long.as_bytes()),
        ("Host", b"evil.test:99999"),
        ("Host", b"[::1"),
        ("Host", b"a b"),
        ("Host", b"\xff"),
        ("Host", b"x'y\"z<>"),
        ("X-HTTP-Method-Override", b"DELETE"),
        ("X-HTTP-Method", b"PATCH"),
        ("Content-Encoding", b"gzip"),
        ("Content-Encoding", b"\xff"),
        ("OData-Version", b"2.0"),
        ("OData-MaxVersion", b"garbage"),
        ("ConsistencyLevel", b"eventual"),
        ("Range", b"bytes=0-1"),
        ("Expect", b"100-continue"),
        ("Cookie", b"\xff=\xff"),
    ];
    for (name, v) in &others {
        let mut get = Req::new(Method::GET, "/me/contacts?$top=1");
        let mut post = Req::new(Method::POST, "/me/contacts").json(&json!({"givenName": "Hdr"}));
        let mut err = Req::new(Method::GET, "/me/contacts/AAAAAAAAAAAAAAAAAAAAAA");
        if *name == "Authorization" {
            get.auth = false;
            post.auth = false;
            err.auth = false;
        }
        p.send(get.header(name, v)).await;
        p.send(post.header(name, v)).await;
        p.send(err.header(name, v)).await;
    }
    // Many repeated headers, within the HTTP layer's limit of 100 headers a request.
    let mut req = Req::new(Method::GET, "/me/contacts");
    for _ in 0..30 {
        req = req.header("Prefer", b"odata.maxpagesize=1").header("If-Match", b"*").header("client-request-id", b"x");
    }
    p.send(req).await;
    p.finish("garbage_headers").await;
    // Past that limit the request is refused by the HTTP layer before Rolo sees it, as a proxy
    // would: 431 with no body (documented in docs/COMPATIBILITY.md).
    let mut many = s.client.get(format!("{}/me/contacts", s.base));
    for i in 0..150 {
        many = many.header(format!("x-extra-{i}"), "1");
    }
    assert_eq!(many.send().await.expect("request").status().as_u16(), 431);
}
