//! Adversarial bodies and queries: hand-picked hostile inputs, each expected to get Graph's
//! error envelope (or success), never a 500.

use super::*;

/// 1c. Deterministic adversarial bodies: long values in indexed fields, NULs, deep nesting,
/// huge numbers, garbage dates, non-JSON bytes.
pub(super) async fn adversarial_bodies(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let c = fx.contacts[0].clone();
    let f = fx.folders[0].clone();

    let long_values: Vec<(String, String)> = vec![
        ("3k".into(), "q".repeat(3_000)),
        ("10k".into(), "r".repeat(10_000)),
        ("100k".into(), "s".repeat(100_000)),
        ("10k-multibyte".into(), "é".repeat(5_000)),
        ("10k-random".into(), random_unicode(&mut rng_for(3), 4_000)),
    ];
    for (_, v) in &long_values {
        let bodies = [
            json!({"displayName": v}),
            json!({"givenName": v}),
            json!({"surname": v}),
            json!({"companyName": v}),
            json!({"givenName": "G", "emailAddresses": [{"address": v, "name": "N"}]}),
            json!({"givenName": "G", "categories": [v]}),
            json!({"givenName": "G", "primaryEmailAddress": {"address": v}}),
            json!({"givenName": v, "surname": v, "middleName": v, "generation": v}),
        ];
        for b in &bodies {
            p.send(Req::new(Method::POST, "/me/contacts").json(b)).await;
            p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).json(b)).await;
        }
        p.send(Req::new(Method::POST, "/me/contactFolders").json(&json!({"displayName": v}))).await;
        p.send(Req::new(Method::PATCH, format!("/me/contactFolders/{f}")).json(&json!({"displayName": v}))).await;
    }
    // NUL characters in every kind of field (indexed, JSON-only, nested, folder name).
    for v in ["a\u{0}b", "\u{0}", "x\u{0}"] {
        let bodies = [
            json!({"displayName": v}),
            json!({"givenName": v}),
            json!({"surname": v}),
            json!({"companyName": v}),
            json!({"jobTitle": v}),
            json!({"personalNotes": v}),
            json!({"givenName": "G", "emailAddresses": [{"address": v}]}),
            json!({"givenName": "G", "emailAddresses": [{"address": "ok@x.test", "name": v}]}),
            json!({"givenName": "G", "categories": [v]}),
            json!({"givenName": "G", "homeAddress": {"city": v}}),
            json!({"givenName": "G", "businessPhones": [v]}),
            json!({"birthday": v}),
        ];
        for b in &bodies {
            p.send(Req::new(Method::POST, "/me/contacts").json(b)).await;
            p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).json(b)).await;
        }
        p.send(Req::new(Method::POST, "/me/contactFolders").json(&json!({"displayName": v}))).await;
        p.send(Req::new(Method::PATCH, format!("/me/contactFolders/{f}")).json(&json!({"displayName": v}))).await;
    }
    // A NUL in a property name and as an unknown key.
    for raw in [
        &b"{\"given\\u0000Name\": \"x\"}"[..],
        b"{\"\\u0000\": 1}",
        b"{\"givenName\": \"a\\u0000\", \"surname\": \"\\u0000\"}",
    ] {
        p.send(Req::new(Method::POST, "/me/contacts").raw(raw.to_vec(), Some("application/json"))).await;
    }
    // Emoji, RTL, combining marks, case-expanding letters.
    for v in NASTY {
        p.send(Req::new(Method::POST, "/me/contacts").json(
            &json!({"givenName": v, "surname": v, "companyName": v, "categories": [v], "emailAddresses": [{"address": v}]}),
        ))
        .await;
    }
    // Garbage birthdays.
    let mut rng = rng_for(4);
    for _ in 0..30 {
        let b = json!({"givenName": "B", "birthday": garbage_date(&mut rng)});
        p.send(Req::new(Method::POST, "/me/contacts").json(&b)).await;
        p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).json(&b)).await;
    }
    // Deep nesting: arrays and objects 200, 1000 and 100000 levels deep, at the top and inside
    // a property.
    for depth in [129usize, 200, 1_000, 100_000] {
        let arr = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let obj = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let in_prop = format!("{{\"givenName\": {arr}}}");
        let in_cat = format!("{{\"categories\": {arr}}}");
        let in_email = format!("{{\"emailAddresses\": [{{\"address\": {obj}}}]}}");
        for body in [&arr, &obj, &in_prop, &in_cat, &in_email] {
            p.send(Req::new(Method::POST, "/me/contacts").raw(body.clone().into_bytes(), Some("application/json")))
                .await;
            p.send(
                Req::new(Method::PATCH, format!("/me/contacts/{c}"))
                    .raw(body.clone().into_bytes(), Some("application/json")),
            )
            .await;
            p.send(
                Req::new(Method::POST, "/me/contactFolders").raw(body.clone().into_bytes(), Some("application/json")),
            )
            .await;
        }
        // Unterminated.
        p.send(Req::new(Method::POST, "/me/contacts").raw("[".repeat(depth).into_bytes(), Some("application/json")))
            .await;
    }
    // Huge numbers and odd literals, as raw text.
    for lit in [
        "1e999999",
        "-1e999999",
        "18446744073709551616",
        "-9223372036854775809",
        "123456789012345678901234567890123456789012345678901234567890",
        "0.000000000000000000000000000000000000000000000000000000000001",
        "1E400",
        "NaN",
        "Infinity",
        "-0",
        "01",
        "1.",
        ".5",
        "0x10",
    ] {
        for key in ["givenName", "birthday", "categories", "emailAddresses", "parentFolderId", "zzz"] {
            let body = format!("{{\"{key}\": {lit}}}");
            p.send(Req::new(Method::POST, "/me/contacts").raw(body.into_bytes(), Some("application/json"))).await;
        }
        let body = format!("{{\"displayName\": {lit}}}");
        p.send(Req::new(Method::POST, "/me/contactFolders").raw(body.into_bytes(), Some("application/json"))).await;
    }
    // Bodies that are not (clean) JSON.
    let raws: Vec<Vec<u8>> = vec![
        vec![],
        b"   ".to_vec(),
        b"null".to_vec(),
        b"0".to_vec(),
        b"\"\\u0000\"".to_vec(),
        b"{}garbage".to_vec(),
        b"{} {}".to_vec(),
        b"{\"givenName\":\"a\",\"givenName\":5}".to_vec(),
        b"{\"givenName\":\"\\ud800\"}".to_vec(),
        b"{\"givenName\":\"\\udc00\\ud800\"}".to_vec(),
        b"{\"givenName\":\"\\u00\"}".to_vec(),
        b"\xEF\xBB\xBF{\"givenName\":\"bom\"}".to_vec(),
        b"\xFF\xFE{\x00}\x00".to_vec(),
        b"{\"givenName\":\"\xC3\x28\"}".to_vec(),
        b"{\"givenName\":\"\xED\xA0\x80\"}".to_vec(),
        b"{\"givenName\":\"raw\x00nul\"}".to_vec(),
        b"{\"givenName\":\"raw\nnewline\"}".to_vec(),
        b"\x00\x00\x00\x00".to_vec(),
        b"{'givenName': 'x'}".to_vec(),
        b"{givenName: x}".to_vec(),
        b"{\"givenName\":\"x\",}".to_vec(),
        b"[".to_vec(),
        b"}".to_vec(),
        random_bytes(&mut rng, 2_000),
    ];
    for raw in &raws {
        for ct in [Some("application/json"), Some("text/plain"), None] {
            p.send(Req::new(Method::POST, "/me/contacts").raw(raw.clone(), ct)).await;
        }
        p.send(Req::new(Method::PATCH, format!("/me/contacts/{c}")).raw(raw.clone(), Some("application/json"))).await;
        p.send(Req::new(Method::POST, "/me/contactFolders").raw(raw.clone(), Some("application/json"))).await;
        p.send(Req::new(Method::PATCH, format!("/me/contactFolders/{f}")).raw(raw.clone(), Some("application/json")))
            .await;
    }
    // Many values at once: 5,000 emails, categories and phones.
    let many: Vec<String> = (0..5_000).map(|i| format!("m{i}@x.test")).collect();
    let emails: Vec<Value> = many.iter().map(|a| json!({"address": a})).collect();
    p.send(
        Req::new(Method::POST, "/me/contacts")
            .json(&json!({"emailAddresses": emails, "categories": many, "businessPhones": many})),
    )
    .await;
    // The same category and address many times over (primary key collisions in side tables).
    p.send(Req::new(Method::POST, "/me/contacts").json(&json!({
        "categories": ["Dup", "dup", "DUP", "Dup"],
        "emailAddresses": [{"address": "d@x.test"}, {"address": "D@X.TEST"}, {"address": "d@x.test"}]
    })))
    .await;
    // Folder moves that would make cycles, the default folder, and deleted folders.
    let (f1, f2, f3, default) = (&fx.folders[0], &fx.folders[1], &fx.folders[2], &fx.folders[3]);
    let gone = s.create_folder_at("/me/contactFolders", &fx.token, "Gone").await;
    p.send(Req::new(Method::DELETE, format!("/me/contactFolders/{gone}"))).await;
    let folder_cases: Vec<(Method, String, Value)> = vec![
        (Method::PATCH, format!("/me/contactFolders/{f1}"), json!({"parentFolderId": f2})),
        (Method::PATCH, format!("/me/contactFolders/{f1}"), json!({"parentFolderId": f1})),
        (Method::PATCH, format!("/me/contactFolders/{f2}"), json!({"parentFolderId": f2})),
        (Method::PATCH, format!("/me/contactFolders/{f1}"), json!({"parentFolderId": gone})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"parentFolderId": default})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": "F1"})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": "f1"})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": ""})),
        (Method::PATCH, format!("/me/contactFolders/{f3}"), json!({"displayName": null})),
        (Method::PATCH, format!("/me/contactFolders/{default}"), json!({"displayName": "Renamed"})),
        (Method::PATCH, format!("/me/contactFolders/{default}"), json!({"parentFolderId": f1})),
        (Method::PATCH, "/me/contactFolders/contacts".into(), json!({"parentFolderId": f1})),
        (Method::DELETE, format!("/me/contactFolders/{default}"), Value::Null),
        (Method::DELETE, "/me/contactFolders/contacts".into(), Value::Null),
        (Method::POST, format!("/me/contactFolders/{default}/permanentDelete"), Value::Null),
        (
            Method::POST,
            format!("/me/contactFolders/{f1}/childFolders"),
            json!({"displayName": "X", "parentFolderId": f2}),
        ),
        (Method::POST, format!("/me/contactFolders/{gone}/childFolders"), json!({"displayName": "X"})),
        (Method::POST, format!("/me/contactFolders/{gone}/contacts"), json!({"givenName": "X"})),
        (Method::POST, "/me/contacts".into(), json!({"givenName": "X", "parentFolderId": gone})),
        (Method::PATCH, format!("/me/contacts/{c}"), json!({"parentFolderId": gone})),
        (Method::PATCH, format!("/me/contacts/{c}"), json!({"parentFolderId": "AAAAAAAAAAAAAAAAAAAAAA"})),
        (Method::PATCH, format!("/me/contacts/{c}"), json!({"parentFolderId": ""})),
        (Method::PATCH, format!("/me/contactFolders/{f2}/contacts/{c}"), json!({"givenName": "WrongFolder"})),
        (Method::GET, format!("/me/contactFolders/{f2}/childFolders/{f1}"), Value::Null),
        (Method::GET, format!("/me/contactFolders/{gone}/contacts"), Value::Null),
        (Method::DELETE, format!("/me/contactFolders/{gone}"), Value::Null),
    ];
    for (m, path, body) in folder_cases {
        let mut req = Req::new(m, path);
        if !body.is_null() {
            req = req.json(&body);
        }
        p.send(req).await;
    }
    p.finish("adversarial_bodies").await;

    // Contacts with long, nearly equal values in the sort keys (a mailbox of their own), then
    // paging over them one by one in each sortable order: every page must work, and each
    // contact must be served exactly once.
    let (_, t2) = s.login("pager@contoso.test").await;
    let mut p = Probe::new(&s, &t2);
    let stem = "w".repeat(5_000);
    let mut made = Vec::new();
    for tail in ["c", "a", "b"] {
        let v = format!("{stem}{tail}");
        let body = json!({"displayName": v, "givenName": v, "surname": v, "companyName": v});
        if let Some(r) = p.send(Req::new(Method::POST, "/me/contacts").json(&body)).await {
            if let Some(id) = r.body["id"].as_str() {
                made.push(id.to_owned());
            }
        }
    }
    made.sort();
    for order in ["displayName", "givenName%20desc", "surname", "companyName%20desc"] {
        let mut next = Some(format!("/me/contacts?$top=1&$orderby={order}&$select=id"));
        let mut seen = Vec::new();
        while let Some(url) = next.take() {
            if seen.len() > 10 {
                p.failures.push(format!("paging by {order} does not terminate: {seen:?}"));
                break;
            }
            let Some(r) = p.send(Req::new(Method::GET, url)).await else { break };
            if r.status != 200 {
                break;
            }
            for c in r.body["value"].as_array().into_iter().flatten() {
                seen.push(c["id"].as_str().unwrap_or_default().to_owned());
            }
            next = r.body["@odata.nextLink"].as_str().map(str::to_owned);
        }
        seen.sort();
        if seen != made {
            p.failures.push(format!("paging by {order} over long keys served {seen:?}, expected {made:?}"));
        }
    }
    p.finish("adversarial_bodies/long-key paging").await;
}

/// 2b. The named adversarial query strings.
pub(super) async fn adversarial_queries(s: TestServer) {
    let fx = fixture(&s).await;
    let mut p = Probe::new(&s, &fx.token);
    let f = fx.folders[0].clone();
    let in_list: Vec<String> = (0..5_000).map(|i| format!("'v{i}'")).collect();
    let in_5000 = format!("displayName in ({})", in_list.join(","));
    let in_2000_id =
        format!("id in ({})", (0..2_000).map(|i| format!("'AAAAAAAAAAAAAAAAAA{i:04}'")).collect::<Vec<_>>().join(","));
    let in_997 = format!("jobTitle in ({})", (0..997).map(|i| format!("'j{i}'")).collect::<Vec<_>>().join(","));
    let in_998 = format!("jobTitle in ({})", (0..998).map(|i| format!("'j{i}'")).collect::<Vec<_>>().join(","));
    let in_2000_cat =
        format!("categories/any(c:{})", (0..2_000).map(|i| format!("c eq 'k{i}'")).collect::<Vec<_>>().join(" or "));
    let long_literal = format!("displayName eq '{}'", "a".repeat(60_000));
    let long_or = {
        let mut s = String::from("givenName eq 'x'");
        while s.len() < 50_000 {
            s.push_str(" or givenName eq 'x'");
        }
        s
    };
    let long_and_paren = format!("{}displayName eq 'a'{}", "(".repeat(30_000), ")".repeat(30_000));
    let long_not = format!("{}displayName eq 'a'", "not ".repeat(15_000));
    // About as long as a URI may be (65,534 bytes in the `http` crate, so the parser's own 64 KiB
    // limit cannot be reached through a query string). The URL encodes `'` as `%27`.
    let prefix_len = format!("{}/me/contacts?$filter=", s.base).len();
    let max_literal = format!("surname eq '{}'", "m".repeat(65_500 - prefix_len - "surname+eq+%27%27".len()));
    let mut rng = rng_for(6);
    let soup_60k = {
        let mut s = String::new();
        while enc_plus(&s).len() < 58_000 {
            s.push_str(&filter_soup(&mut rng));
            s.push(' ');
        }
        s
    };
    let mut filters: Vec<String> = vec![
        in_5000,
        in_2000_id,
        in_997,
        in_998,
        in_2000_cat,
        long_literal,
        long_or,
        long_and_paren,
        long_not,
        soup_60k,
        "displayName eq 'a\u{0}b'".into(),
        "startswith(displayName,'\u{0}')".into(),
        "contains(givenName,'\u{0}%_')".into(),
        "endswith(surname,'\u{0}')".into(),
        "emailAddresses/any(a:a/address eq '\u{0}')".into(),
        "categories/any(c:c eq '\u{0}')".into(),
        "id eq '\u{0}'".into(),
        "parentFolderId eq '\u{0}'".into(),
        "jobTitle eq '\u{0}'".into(),
        "birthday eq '\u{0}'".into(),
        "birthday ge 0001-01-01T00:00:00Z".into(),
        "birthday ge 9999-12-31T23:59:59.9999999Z".into(),
        "birthday lt 99999-01-01".into(),
        "createdDateTime gt 2020-01-01T00:00:00+99:00".into(),
        "lastModifiedDateTime eq '2020-02-30T00:00:00Z'".into(),
        "createdDateTime eq 2020-02-30".into(),
        format!("displayName eq '{}'", "é".repeat(3_000)),
        format!("startswith(displayName,'{}')", "z".repeat(20_000)),
        format!("emailAddresses/any(a:a/address eq '{}')", "m".repeat(20_000)),
        "displayName eq 99999999999999999999".into(),
        "displayName eq 1e999".into(),
        "displayName eq -9223372036854775809".into(),
        "displayName".into(),
        "true".into(),
        "null".into(),
        "'x'".into(),
        "".into(),
        " ".into(),
        "(".into(),
        ")".into(),
        "'".into(),
        "displayName eq 'unterminated".into(),
        "emailAddresses/any(".into(),
        "emailAddresses/any(a:".into(),
        "emailAddresses/any(a:a/address eq 'x'".into(),
        "emailAddresses/any(a:emailAddresses/any(b:b/address eq 'x'))".into(),
        "categories/any(c:categories/all(d:d eq c))".into(),
        "emailAddresses/all(a:a/address ne 'x') and categories/all(c:c eq 'Red')".into(),
        "displayName in ()".into(),
        "displayName in ('a',)".into(),
        "displayName in (displayName)".into(),
        "length(displayName) gt 3".into(),
        "tolower(tolower(tolower(displayName))) eq 'a'".into(),
        "displayName eq displayName".into(),
        "'a' eq 'a'".into(),
        "1 eq 1".into(),
        "not not not true".into(),
        "$it/displayName eq 'x'".into(),
        "@p1 eq 'x'".into(),
    ];
    let deep_parens = format!("{}displayName eq 'a'{}", "(".repeat(99), ")".repeat(99));
    filters.push(deep_parens);
    let deep_not = format!("{}true", "not ".repeat(99));
    filters.push(deep_not);

    for (i, flt) in filters.iter().enumerate() {
        let target = match i % 3 {
            0 => "/me/contacts".to_owned(),
            1 => format!("/me/contactFolders/{f}/contacts"),
            _ => "/me/contactFolders".to_owned(),
        };
        p.send(Req::new(Method::GET, format!("{target}?$filter={}", enc_plus(flt)))).await;
        if i % 3 != 0 {
            p.send(Req::new(Method::GET, format!("/me/contacts?$filter={}", enc_plus(flt)))).await;
        }
    }
    p.send(Req::new(Method::GET, format!("/me/contacts?$filter={}", enc_plus(&max_literal)))).await;
    // `%00` inside values of every option, raw in the URL.
    let raw_queries = [
        "$filter=displayName%20eq%20'a%00b'",
        "$filter=%00",
        "$filter=displayName%00eq%00'a'",
        "$orderby=displayName%00",
        "$orderby=%00",
        "$select=displayName,%00",
        "$select=%00",
        "$top=%00",
        "$top=1%00",
        "$skip=%00",
        "$count=%00",
        "$expand=%00",
        "$search=%00",
        "$skiptoken=%00",
        "$skiptoken=a%00.b",
        "%24filter%00=x",
        "%00=%00",
        "$filter=%ff%fe",
        "$filter=displayName%20eq%20'%ff'",
        "$filter=displayName%20eq%20'%C0%80'",
        "$filter=displayName%20eq%20'%ED%A0%80'",
        "$filter=%",
        "$filter=%%",
        "$filter=%zz",
        "$filter=displayName%20eq%20'%",
        "$top=-1",
        "$top=0",
        "$top=1001",
        "$top=99999999999999999999",
        "$top=18446744073709551615",
        "$top=4294967296",
        "$skip=-1",
        "$skip=18446744073709551615",
        "$skip=18446744073709551616",
        "$skip=9223372036854775808",
        "$skip=9223372036854775807",
        "$skip=9223372036854775806",
        "$skip=4294967296",
        "$skip=2147483648",
        "$skip=99999999999999999999",
        "$skip=1&$skiptoken=garbage",
        "$top=1&$skip=9223372036854775808&$count=true",
        "$orderby=shoeSize",
        "$orderby=shoeSize%20desc",
        "$orderby=displayName%20sideways",
        "$orderby=emailAddresses",
        "$orderby=categories",
        "$orderby=birthday,birthday,birthday",
        "$orderby=displayName,givenName,surname,companyName,birthday,createdDateTime,lastModifiedDateTime,id,jobTitle",
        "$orderby=",
        "$orderby=,",
        "$orderby=%20",
        "$select=",
        "$select=,",
        "$select=*,*",
        "$select=nope",
        "$select=emailAddresses/address",
        "$select=id,id,id",
        "$top=1&$top=2",
        "$filter=true&$filter=true",
        "$filter=true&%24filter=true",
        "$filter=true&filter=true",
        "$top=1&TOP=1",
        "$count=true&$count=false",
        "$skiptoken=",
        "$skiptoken=.",
        "$skiptoken=...",
        "$skiptoken=garbage",
        "$skiptoken=eyJrIjpbXSwicyI6LTF9.AAAAAAAAAAAAAAAAAAAAAA",
        "$skiptoken=%FF%FE.%FF",
        "$expand=",
        "$expand=photo",
        "$expand=extensions",
        "$expand=nonsense($filter=nope)",
        "$expand=a(",
        "$expand=a)",
        "$expand=*($levels=99999999999999999999)",
        "$search=",
        "$search=%22%22",
        "$search=%22",
        "$format=xml",
        "$format=%00",
        "$deltatoken=x",
        "$apply=groupby((displayName))",
        "$levels=max",
        "$=&$$=",
        "&&&",
        "=",
        "?",
        "$filter",
        "$top",
        "$count",
    ];
    for q in raw_queries {
        p.send(Req::new(Method::GET, format!("/me/contacts?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contactFolders?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contacts/{}?{q}", fx.contacts[0]))).await;
    }
    // A deeply nested $expand (beyond the limit) and a long $orderby and $select.
    let deep_expand = format!("{}{}", "a($expand=".repeat(500), ")".repeat(500));
    let long_orderby: Vec<&str> = std::iter::repeat_n("displayName desc", 3_000).collect();
    let orderby_1660: Vec<&str> = std::iter::repeat_n("displayName", 1_660).collect();
    let orderby_1999: Vec<&str> = std::iter::repeat_n("givenName", 1_999).collect();
    let long_select: Vec<&str> = std::iter::repeat_n("givenName", 5_000).collect();
    for q in [
        format!("$expand={}", enc(&deep_expand)),
        format!("$orderby={}", enc_plus(&long_orderby.join(","))),
        format!("$orderby={}", orderby_1660.join(",")),
        format!("$orderby={}", orderby_1999.join(",")),
        format!("$select={}", long_select.join(",")),
        format!("$skiptoken={}", "A".repeat(60_000)),
        format!("$search={}", "s".repeat(60_000)),
        format!("x={}", "y".repeat(60_000)),
    ] {
        p.send(Req::new(Method::GET, format!("/me/contacts?{q}"))).await;
    }
    // Random bytes, percent-encoded, as the whole query string and as option values.
    for _ in 0..40 {
        let b = random_bytes(&mut rng, 200);
        p.send(Req::new(Method::GET, format!("/me/contacts?{}", enc_all(&b)))).await;
        let opt = ["$filter", "$orderby", "$select", "$top", "$skip", "$expand", "$skiptoken", "$count"]
            .choose(&mut rng)
            .unwrap();
        p.send(Req::new(Method::GET, format!("/me/contactFolders?{opt}={}", enc_all(&b)))).await;
    }
    // Valid skiptokens replayed against other queries and collections.
    let first = p.send(Req::new(Method::GET, "/me/contacts?$top=1&$orderby=givenName")).await.unwrap();
    let link = first.body["@odata.nextLink"].as_str().expect("nextLink").to_owned();
    let tok = link.split_once("$skiptoken=").unwrap().1.to_owned();
    for q in [
        format!("$top=1&$orderby=surname&$skiptoken={tok}"),
        format!("$top=1&$skiptoken={tok}"),
        format!("$top=1&$orderby=givenName&$skiptoken={tok}&$skip=9223372036854775808"),
        format!("$top=1&$orderby=givenName&$skiptoken={tok}{tok}"),
        format!("$top=1&$orderby=givenName&$skiptoken={}", tok.get(..tok.len() / 2).unwrap_or_default()),
        format!("$top=1&$orderby=givenName&$skiptoken={tok}%00"),
    ] {
        p.send(Req::new(Method::GET, format!("/me/contacts?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contactFolders?{q}"))).await;
        p.send(Req::new(Method::GET, format!("/me/contactFolders/{f}/contacts?{q}"))).await;
    }
    p.finish("adversarial_queries").await;
}
