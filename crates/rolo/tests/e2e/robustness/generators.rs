//! Generators of random and adversarial values for the robustness scenarios.

use super::*;

// ---------------------------------------------------------------------------------------------
// Generators.

/// Every contact property of either version (from the domain's property table), plus
/// annotations and navigation properties a body might name.
pub(super) fn contact_props() -> &'static [&'static str] {
    static PROPS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    PROPS.get_or_init(|| {
        let mut names: Vec<&str> = CONTACT_PROPERTIES.iter().map(|p| p.name).collect();
        names.extend([
            "@odata.type",
            "@odata.etag",
            "@odata.context",
            "@odata.id",
            "extensions",
            "singleValueExtendedProperties",
            "multiValueExtendedProperties",
            "photo",
        ]);
        names
    })
}

/// The v1.0 EDM type of a property a client may write.
pub(super) fn writable_v1_type(prop: &str) -> Option<&'static str> {
    contact_property(prop, ApiVersion::V1).filter(|p| !p.read_only && p.name != "parentFolderId").map(|p| p.edm)
}
pub(super) const FOLDER_PROPS: &[&str] =
    &["displayName", "parentFolderId", "id", "wellKnownName", "@odata.type", "childFolders", "contacts", "@odata.etag"];

/// Keys that look like real ones but are not.
pub(super) const NEAR_KEYS: &[&str] = &[
    "GivenName",
    "givenname",
    "given_name",
    "",
    " ",
    "givenName ",
    "@odata.foo",
    "@odata.type ",
    "odata.type",
    "$ref",
    "__proto__",
    "constructor",
    "emailAddresses@odata.type",
    "givenName@odata.type",
    "\u{0}",
    "given\u{0}Name",
    "🙂",
    "emailAddresses/0",
    "homeAddress.city",
];

/// Fixed strings worth trying everywhere.
pub(super) const NASTY: &[&str] = &[
    "",
    " ",
    "\t\r\n",
    "a\u{0}b",
    "\u{0}",
    "\u{0}\u{0}\u{0}",
    "👩‍👩‍👧‍👦🏳️‍🌈🙂",
    "مرحبا بالعالم",
    "\u{202E}gnp.exe",
    "שלום עולם",
    "Z̷̢̛̮̙a̶l̷g̵o̴",
    "İİİ",
    "ẞß",
    "ǅ",
    "\u{FEFF}bom",
    "\u{FFFF}\u{FFFE}",
    "\u{10FFFF}",
    "\u{1}\u{2}\u{1f}\u{7f}",
    "'; DROP TABLE contacts; --",
    "\" OR 1=1 --",
    "%_\\",
    "\\",
    "'",
    "''",
    "a'b",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "null",
    "NaN",
    "2020-13-45",
];

pub(super) fn short_ascii(rng: &mut StdRng) -> String {
    let n = rng.gen_range(1..12);
    (0..n).map(|_| rng.gen_range(b'a'..=b'z') as char).collect()
}

pub(super) fn random_unicode(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| loop {
            let c = match rng.gen_range(0..5) {
                0 => rng.gen_range(0u32..0x80),
                1 => rng.gen_range(0x80u32..0x800),
                2 => rng.gen_range(0x800u32..0xD800),
                3 => rng.gen_range(0xE000u32..0x10000),
                _ => rng.gen_range(0x10000u32..0x110000),
            };
            if let Some(ch) = char::from_u32(c) {
                break ch;
            }
        })
        .collect()
}

pub(super) fn long_string(rng: &mut StdRng) -> String {
    let n = rng.gen_range(10_000..100_000);
    match rng.gen_range(0..5) {
        0 => "x".repeat(n),
        1 => "é".repeat(n / 2),
        2 => "İ".repeat(n / 2),
        3 => {
            let mut s = "y".repeat(n);
            s.insert(n / 2, '\u{0}');
            s
        }
        _ => random_unicode(rng, n / 3),
    }
}

/// A string drawn from the adversarial pool; long ones (10-100 KB) now and then.
pub(super) fn adv_string(rng: &mut StdRng) -> String {
    match rng.gen_range(0..16) {
        0..=4 => NASTY.choose(rng).unwrap().to_string(),
        5 | 6 => short_ascii(rng),
        7 => format!("{}\u{0}{}", short_ascii(rng), short_ascii(rng)),
        8 => {
            let n = rng.gen_range(1..40);
            random_unicode(rng, n)
        }
        9 => long_string(rng),
        10 => format!("{}@{}.test", short_ascii(rng), short_ascii(rng)),
        11 => {
            let n = rng.gen_range(2_000..4_000);
            "k".repeat(n)
        }
        _ => format!("{} {}", NASTY.choose(rng).unwrap(), short_ascii(rng)),
    }
}

/// Garbage (and some borderline valid) birthday values.
pub(super) fn garbage_date(rng: &mut StdRng) -> Value {
    const DATES: &[&str] = &[
        "",
        "2020-02-30",
        "2020-02-30T00:00:00Z",
        "0000-00-00",
        "0000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59.9999999+14:00",
        "10000-01-01T00:00:00Z",
        "99999999-01-01T00:00:00Z",
        "+275760-09-13T00:00:00Z",
        "2020-01-01T25:61:61Z",
        "2020-01-01T00:00:00.12345678901234567890Z",
        "2020-01-01T00:00:00+99:99",
        "2020-01-01T00:00:00-24:00",
        "2020-01-01 00:00:00",
        "2020-1-1",
        "1/2/2020",
        "yesterday",
        "T",
        "Z",
        "2020-01-01T",
        "2020-01-01\u{0}",
        "１９９０-０１-０１",
        "1990-01-01T00:00:00Z\u{0}",
        "1970-01-01T00:00:00Z",
        "1601-01-01T00:00:00Z",
        "1990-06-15T00:00:00Z",
        "2020-W01-1",
        "P1D",
    ];
    match rng.gen_range(0..8) {
        0 => json!(rng.gen::<i64>()),
        1 => Value::Null,
        2 => json!(adv_string(rng)),
        3 => json!({"dateTime": "2020-01-01"}),
        _ => json!(DATES.choose(rng).unwrap()),
    }
}

pub(super) fn random_number(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..9) {
        0 => json!(i64::MIN),
        1 => json!(u64::MAX),
        2 => json!(f64::MAX),
        3 => json!(f64::MIN_POSITIVE),
        4 => json!(-0.0),
        5 => json!(rng.gen::<f64>() * 1e300),
        6 => json!(0),
        _ => json!(rng.gen::<i32>()),
    }
}

/// A random JSON value: nested objects and arrays of everything, keys from the real names.
pub(super) fn random_value(rng: &mut StdRng, depth: usize) -> Value {
    let max = if depth >= 4 { 4 } else { 6 };
    match rng.gen_range(0..max) {
        0 => Value::Null,
        1 => Value::Bool(rng.gen()),
        2 => random_number(rng),
        3 => Value::String(adv_string(rng)),
        4 => {
            let n = rng.gen_range(0..5);
            Value::Array((0..n).map(|_| random_value(rng, depth + 1)).collect())
        }
        _ => {
            let n = rng.gen_range(0..5);
            let mut m = Map::new();
            for _ in 0..n {
                m.insert(random_key(rng, contact_props()), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

pub(super) fn random_key(rng: &mut StdRng, props: &[&str]) -> String {
    match rng.gen_range(0..10) {
        0..=6 => props.choose(rng).unwrap().to_string(),
        7 => NEAR_KEYS.choose(rng).unwrap().to_string(),
        8 => ["address", "name", "street", "city", "state", "countryOrRegion", "postalCode", "postOfficeBox", "type"]
            .choose(rng)
            .unwrap()
            .to_string(),
        _ => adv_string(rng).chars().take(64).collect(),
    }
}

pub(super) fn email_value(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..8) {
        0 => random_value(rng, 2),
        1 => Value::Null,
        _ => {
            let mut m = Map::new();
            if rng.gen_bool(0.8) {
                m.insert(
                    "address".into(),
                    if rng.gen_bool(0.85) { json!(adv_string(rng)) } else { random_value(rng, 3) },
                );
            }
            if rng.gen_bool(0.5) {
                m.insert("name".into(), json!(adv_string(rng)));
            }
            if rng.gen_bool(0.1) {
                m.insert(random_key(rng, &["type", "otherLabel", "@odata.type", "kind"]), random_value(rng, 3));
            }
            Value::Object(m)
        }
    }
}

/// A value of (mostly) the right type for `prop`, full of adversarial strings.
pub(super) fn typed_value(rng: &mut StdRng, prop: &str, folder_ids: &[String]) -> Value {
    if rng.gen_bool(0.2) {
        return random_value(rng, 1);
    }
    match prop {
        p if writable_v1_type(p) == Some("Edm.String") => json!(adv_string(rng)),
        "birthday" | "weddingAnniversary" => garbage_date(rng),
        "emailAddresses" => {
            let n = rng.gen_range(0..5);
            Value::Array((0..n).map(|_| email_value(rng)).collect())
        }
        p if writable_v1_type(p) == Some("Collection(Edm.String)") => {
            let n = rng.gen_range(0..6);
            Value::Array((0..n).map(|_| json!(adv_string(rng))).collect())
        }
        p if writable_v1_type(p) == Some("graph.physicalAddress") => {
            let mut m = Map::new();
            for k in ["street", "city", "state", "countryOrRegion", "postalCode"] {
                if rng.gen_bool(0.5) {
                    m.insert(k.into(), json!(adv_string(rng)));
                }
            }
            Value::Object(m)
        }
        p if writable_v1_type(p) == Some("graph.emailAddress") => email_value(rng),
        "parentFolderId" => json!(folder_id_like(rng, folder_ids)),
        "@odata.type" => {
            json!(["#microsoft.graph.contact", "microsoft.graph.contact", "#microsoft.graph.event", "", "#"]
                .choose(rng)
                .unwrap())
        }
        _ => random_value(rng, 1),
    }
}

/// Real folder ids, well-known names and ids of every wrong shape.
pub(super) fn folder_id_like(rng: &mut StdRng, folder_ids: &[String]) -> String {
    match rng.gen_range(0..8) {
        0 | 1 if !folder_ids.is_empty() => folder_ids.choose(rng).unwrap().clone(),
        2 => "contacts".into(),
        3 => "AAAAAAAAAAAAAAAAAAAAAA".into(),
        4 => "AAAAAAAAAAAAAAAAAAAA\u{0}A".into(),
        5 => "A".repeat(10_000),
        _ => adv_string(rng).chars().take(100).collect(),
    }
}

/// A random POST/PATCH contact body: mostly an object with real property names.
pub(super) fn random_contact_body(rng: &mut StdRng, folder_ids: &[String]) -> Value {
    if rng.gen_bool(0.05) {
        return random_value(rng, 0);
    }
    let n = rng.gen_range(0..7);
    let mut m = Map::new();
    for _ in 0..n {
        let key = random_key(rng, contact_props());
        let v = typed_value(rng, &key, folder_ids);
        m.insert(key, v);
    }
    Value::Object(m)
}

pub(super) fn random_folder_body(rng: &mut StdRng, folder_ids: &[String]) -> Value {
    if rng.gen_bool(0.05) {
        return random_value(rng, 0);
    }
    let n = rng.gen_range(0..4);
    let mut m = Map::new();
    for _ in 0..n {
        let key = random_key(rng, FOLDER_PROPS);
        let v = match key.as_str() {
            "displayName" if rng.gen_bool(0.85) => json!(adv_string(rng)),
            "parentFolderId" if rng.gen_bool(0.85) => json!(folder_id_like(rng, folder_ids)),
            _ => random_value(rng, 1),
        };
        m.insert(key, v);
    }
    Value::Object(m)
}

/// Encodes a query value as a form would (space as `+`), so long values stay within the
/// 65,534-byte URI limit of the `http` crate.
pub(super) fn enc_plus(s: &str) -> String {
    enc(s).replace("%20", "+")
}

/// Percent-encodes every byte.
pub(super) fn enc_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

pub(super) fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let n = rng.gen_range(0..max);
    (0..n).map(|_| rng.gen()).collect()
}

// --- $filter grammar ---------------------------------------------------------------------------

pub(super) const FILTER_PROPS: &[&str] = &[
    "displayName",
    "givenName",
    "surname",
    "companyName",
    "jobTitle",
    "middleName",
    "personalNotes",
    "department",
    "birthday",
    "createdDateTime",
    "lastModifiedDateTime",
    "id",
    "parentFolderId",
    "changeKey",
    "emailAddresses",
    "categories",
    "businessPhones",
    "mobilePhone",
    "homeAddress/city",
    "emailAddresses/address",
    "primaryEmailAddress/address",
    "nope",
    "a/address",
    "c",
    "DisplayName",
    "displayname",
    "wellKnownName",
    "childFolders",
];

pub(super) const OPS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le", "has", "add", "sub", "EQ", "Eq"];

pub(super) fn literal(rng: &mut StdRng) -> String {
    match rng.gen_range(0..22) {
        0 => "null".into(),
        1 => "true".into(),
        2 => "false".into(),
        3 => "42".into(),
        4 => "-1".into(),
        5 => "99999999999999999999".into(),
        6 => "1.5e308".into(),
        7 => "1e999".into(),
        8 => "2020-01-01".into(),
        9 => "2020-01-01T00:00:00Z".into(),
        10 => "9999-99-99T99:99:99Z".into(),
        11 => "01234567-89ab-cdef-0123-456789abcdef".into(),
        12 => "duration'P1D'".into(),
        13 => "binary'AA=='".into(),
        14 => "'with\u{0}nul'".into(),
        15 => "'2020-01-01T00:00:00Z'".into(),
        16 => "'AAAAAAAAAAAAAAAAAAAAAA'".into(),
        17 => "-9223372036854775808".into(),
        _ => {
            let s: String = adv_string(rng).chars().take(200).collect();
            format!("'{}'", s.replace('\'', "''"))
        }
    }
}

/// A (mostly) well-formed filter expression of random shape.
pub(super) fn filter_expr(rng: &mut StdRng, depth: usize) -> String {
    let leaf = depth >= 3 || rng.gen_bool(0.4);
    if leaf {
        let prop = FILTER_PROPS.choose(rng).unwrap();
        return match rng.gen_range(0..10) {
            0..=3 => format!("{prop} {} {}", OPS.choose(rng).unwrap(), literal(rng)),
            4 => format!("{} {} {prop}", literal(rng), OPS.choose(rng).unwrap()),
            5 => format!(
                "{}({prop},{})",
                ["startswith", "endswith", "contains", "substringof", "STARTSWITH"].choose(rng).unwrap(),
                literal(rng)
            ),
            6 => {
                let (coll, var, path) =
                    if rng.gen_bool(0.5) { ("emailAddresses", "a", "a/address") } else { ("categories", "c", "c") };
                let coll = if rng.gen_bool(0.2) { prop } else { coll };
                let kind = ["any", "all", "Any", "none"].choose(rng).unwrap();
                match rng.gen_range(0..4) {
                    0 => format!("{coll}/{kind}()"),
                    1 => format!("{coll}/{kind}({var}:{path} {} {})", OPS.choose(rng).unwrap(), literal(rng)),
                    2 => format!("{coll}/{kind}({var}:startswith({path},{}))", literal(rng)),
                    _ => format!("{coll}/{kind}({var}:{})", filter_expr(rng, depth + 1)),
                }
            }
            7 => {
                let n = rng.gen_range(0..6);
                let items: Vec<String> = (0..n).map(|_| literal(rng)).collect();
                format!("{prop} in ({})", items.join(","))
            }
            8 => format!(
                "{}({prop}) {} {}",
                ["tolower", "toupper", "trim", "length", "year", "concat"].choose(rng).unwrap(),
                OPS.choose(rng).unwrap(),
                literal(rng)
            ),
            _ => literal(rng),
        };
    }
    match rng.gen_range(0..4) {
        0 => format!("not ({})", filter_expr(rng, depth + 1)),
        1 => format!("({})", filter_expr(rng, depth + 1)),
        _ => format!(
            "{} {} {}",
            filter_expr(rng, depth + 1),
            ["and", "or", "AND", "Or"].choose(rng).unwrap(),
            filter_expr(rng, depth + 1)
        ),
    }
}

/// Random tokens of the grammar in random order: mostly invalid.
pub(super) fn filter_soup(rng: &mut StdRng) -> String {
    const TOKENS: &[&str] = &[
        "(",
        ")",
        "((",
        "))",
        ",",
        ":",
        "/",
        "'",
        "''",
        "and",
        "or",
        "not",
        "eq",
        "ne",
        "gt",
        "in",
        "any(",
        "all(",
        "/any(",
        "a:",
        "a/address",
        "startswith(",
        "contains(",
        "endswith(",
        "tolower(",
        "null",
        "true",
        "-",
        "$it",
        "$root",
        "@p",
        "*",
        "%",
        "displayName",
        "emailAddresses",
        "categories",
        "birthday",
        "id",
        "'x'",
        "'",
        "2020-01-01",
        "1e",
        "0x1F",
        "\u{0}",
        "\\",
        "\"",
        ";",
        "&",
        "=",
        "#",
        "..",
        "::",
        "()",
        "[]",
        "{}",
    ];
    let n = rng.gen_range(1..16);
    let sep = if rng.gen_bool(0.7) { " " } else { "" };
    (0..n)
        .map(|_| if rng.gen_bool(0.9) { TOKENS.choose(rng).unwrap().to_string() } else { literal(rng) })
        .collect::<Vec<_>>()
        .join(sep)
}

pub(super) fn orderby_value(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..4);
    let items: Vec<String> = (0..n)
        .map(|_| {
            let p = if rng.gen_bool(0.8) {
                FILTER_PROPS.choose(rng).unwrap().to_string()
            } else {
                adv_string(rng).chars().take(200).collect()
            };
            let dir = ["", " asc", " desc", " DESC", " sideways", " desc desc"].choose(rng).unwrap();
            format!("{p}{dir}")
        })
        .collect();
    items.join(",")
}

pub(super) fn select_value(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..5);
    let items: Vec<String> = (0..n)
        .map(|_| match rng.gen_range(0..6) {
            0 => "*".into(),
            1 => adv_string(rng).chars().take(40).collect(),
            2 => "emailAddresses/address".into(),
            _ => contact_props().choose(rng).unwrap().to_string(),
        })
        .collect();
    items.join(",")
}

pub(super) fn number_value(rng: &mut StdRng) -> String {
    [
        "-1",
        "0",
        "1",
        "5",
        "1000",
        "1001",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999",
        "+1",
        " 1",
        "1.0",
        "1e3",
        "0x10",
        "",
        "abc",
        "1\u{0}",
        "٣",
    ]
    .choose(rng)
    .unwrap()
    .to_string()
}

pub(super) fn expand_value(rng: &mut StdRng) -> String {
    match rng.gen_range(0..6) {
        0 => "photo".into(),
        1 => "extensions($filter=id eq 'x';$select=id)".into(),
        2 => {
            let d = rng.gen_range(1..300);
            format!("{}{}", "a($expand=".repeat(d), ")".repeat(d))
        }
        3 => "*".into(),
        4 => "childFolders($levels=max),contacts($top=-1)".into(),
        _ => filter_soup(rng),
    }
}

/// Encodes a query value: usually as a client would, sometimes every byte, sometimes raw.
pub(super) fn encode_value(rng: &mut StdRng, v: &str) -> String {
    match rng.gen_range(0..10) {
        0 => enc_all(v.as_bytes()),
        1 => v.replace(' ', "+").replace('&', "%26").replace('#', "%23").replace('%', "%25"),
        _ => enc(v),
    }
}

pub(super) fn random_query(rng: &mut StdRng, skiptokens: &[String]) -> String {
    let n = rng.gen_range(1..5);
    let mut parts = Vec::new();
    for _ in 0..n {
        let (name, value): (&str, String) = match rng.gen_range(0..14) {
            0..=3 => (
                "$filter",
                match rng.gen_range(0..10) {
                    0..=5 => filter_expr(rng, 0),
                    6..=8 => filter_soup(rng),
                    _ => String::from_utf8_lossy(&random_bytes(rng, 60)).into_owned(),
                },
            ),
            4 => ("$orderby", orderby_value(rng)),
            5 => ("$select", select_value(rng)),
            6 => ("$top", number_value(rng)),
            7 => ("$skip", number_value(rng)),
            8 => ("$count", ["true", "false", "TRUE", "1", "yes", ""].choose(rng).unwrap().to_string()),
            9 => ("$expand", expand_value(rng)),
            10 => (
                "$skiptoken",
                match rng.gen_range(0..4) {
                    0 if !skiptokens.is_empty() => skiptokens.choose(rng).unwrap().clone(),
                    1 if !skiptokens.is_empty() => {
                        let mut t = skiptokens.choose(rng).unwrap().clone();
                        let i = rng.gen_range(0..t.len());
                        let flipped = if t.get(i..i + 1) == Some("A") { "B" } else { "A" };
                        t.replace_range(i..i + 1, flipped);
                        t
                    }
                    2 => format!("{}.{}", short_ascii(rng), short_ascii(rng)),
                    _ => adv_string(rng).chars().take(300).collect(),
                },
            ),
            11 => (
                ["$search", "$format", "$deltatoken", "$levels", "$apply", "$compute"].choose(rng).unwrap(),
                adv_string(rng).chars().take(100).collect(),
            ),
            12 => {
                // A random, percent-encoded name and value.
                let name = enc_all(&random_bytes(rng, 12));
                let value = enc_all(&random_bytes(rng, 40));
                parts.push(format!("{name}={value}"));
                continue;
            }
            _ => (["filter", "%24filter", "$FILTER", "$top", "$Top", "top"].choose(rng).unwrap(), filter_expr(rng, 1)),
        };
        let name = if rng.gen_bool(0.1) { enc_all(name.as_bytes()) } else { name.to_owned() };
        parts.push(format!("{name}={}", encode_value(rng, &value)));
    }
    if rng.gen_bool(0.1) {
        parts.push("&&=&$=&%00=%00".into());
    }
    parts.join("&")
}
