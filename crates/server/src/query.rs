//! OData query options on the wire: parsing them into the store's [`ListQuery`], `Prefer`
//! headers, opaque tamper-evident `$skiptoken`s, and `@odata.nextLink`s that keep every other
//! option of the request.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use rolo_domain::{GraphError, GraphResult};
use rolo_odata::QueryOptions;
use rolo_store::{Cursor, ListQuery};
use serde::{Deserialize, Serialize};

pub const DEFAULT_PAGE_SIZE: usize = 10;
pub const MAX_PAGE_SIZE: usize = 1000;
/// A list page's byte budget: past it the page ends early with a next link, so a folder of very
/// large contacts never makes a response (or the server holding it) hundreds of megabytes.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

pub fn parse_options(raw: Option<&str>) -> GraphResult<QueryOptions> {
    QueryOptions::parse(raw.unwrap_or("")).map_err(|e| GraphError::bad_request("BadRequest", e.to_string()))
}

/// What the `Prefer` header asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Prefer {
    pub max_page_size: Option<usize>,
    pub immutable_id: bool,
}

impl Prefer {
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Prefer {
        let mut p = Prefer::default();
        for pref in values.flat_map(|v| v.split(',')) {
            let (name, value) = pref.split_once('=').unwrap_or((pref, ""));
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            if name.eq_ignore_ascii_case("odata.maxpagesize") {
                p.max_page_size = value.parse::<usize>().ok().filter(|n| *n > 0).map(|n| n.min(MAX_PAGE_SIZE));
            } else if name.eq_ignore_ascii_case("IdType") && value.eq_ignore_ascii_case("ImmutableId") {
                p.immutable_id = true;
            }
        }
        p
    }

    /// The `Preference-Applied` header value, if any preference was honoured.
    pub fn applied(&self, page_size_used: bool) -> Option<String> {
        let mut parts = Vec::new();
        if let (Some(n), true) = (self.max_page_size, page_size_used) {
            parts.push(format!("odata.maxpagesize={n}"));
        }
        if self.immutable_id {
            parts.push("IdType=\"ImmutableId\"".to_owned());
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[derive(Serialize, Deserialize)]
struct SkipToken {
    #[serde(flatten)]
    cursor: Cursor,
    /// Fingerprint of the query the token belongs to.
    #[serde(rename = "q")]
    query: String,
}

/// Signs and checks `$skiptoken`s with the installation's secret.
pub struct TokenCodec {
    key: hmac::Key,
}

impl TokenCodec {
    pub fn new(secret: &[u8]) -> TokenCodec {
        TokenCodec { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    fn fingerprint(&self, scope: &str, opts: &QueryOptions) -> String {
        let filter = opts.filter.as_ref().map(|f| f.to_string()).unwrap_or_default();
        let order: Vec<String> = opts.orderby.iter().map(|o| o.to_string()).collect();
        let mut material = format!("{scope}\n{filter}\n{}", order.join(","));
        // Appended only when present, so tokens of requests without `$search` keep working.
        if let Some(search) = &opts.search {
            material.push_str("\n$search=");
            material.push_str(search);
        }
        URL_SAFE_NO_PAD.encode(&hmac::sign(&self.key, material.as_bytes()).as_ref()[..9])
    }

    /// Serialises `value` into an opaque, tamper-evident token: base64url JSON and a MAC.
    pub fn seal<T: Serialize>(&self, value: &T) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default());
        let tag = URL_SAFE_NO_PAD.encode(&hmac::sign(&self.key, body.as_bytes()).as_ref()[..16]);
        format!("{body}.{tag}")
    }

    /// Opens a token made by [`TokenCodec::seal`]; `None` if it was altered or is not ours.
    pub fn open<T: serde::de::DeserializeOwned>(&self, raw: &str) -> Option<T> {
        let (body, tag) = raw.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let expected = hmac::sign(&self.key, body.as_bytes());
        if tag.len() != 16 || !constant_time_eq(&expected.as_ref()[..16], &tag) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }

    pub fn encode(&self, scope: &str, opts: &QueryOptions, cursor: Cursor) -> String {
        self.seal(&SkipToken { cursor, query: self.fingerprint(scope, opts) })
    }

    pub fn decode(&self, scope: &str, opts: &QueryOptions, raw: &str) -> GraphResult<Cursor> {
        let bad = || GraphError::bad_request("BadRequest", "The $skiptoken is not valid for this request.");
        let token: SkipToken = self.open(raw).ok_or_else(bad)?;
        if token.query != self.fingerprint(scope, opts) {
            return Err(bad());
        }
        Ok(token.cursor)
    }
}

/// Compares two MACs without an early exit.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Builds the store query for a list request. `scope` names the collection (its path), so a
/// token from one collection is refused by another.
pub fn list_query(
    opts: &QueryOptions,
    prefer: &Prefer,
    codec: &TokenCodec,
    scope: &str,
) -> GraphResult<(ListQuery, bool)> {
    if opts.search.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The query parameter '$search' is not supported on this resource.",
        ));
    }
    paged_query(opts, prefer, codec, scope)
}

/// [`list_query`] for contacts, which take `$search` (see [`search_terms`]).
pub fn contact_list_query(
    opts: &QueryOptions,
    prefer: &Prefer,
    codec: &TokenCodec,
    scope: &str,
) -> GraphResult<(ListQuery, bool)> {
    let search = search_terms(opts)?;
    let (mut query, prefer_used) = paged_query(opts, prefer, codec, scope)?;
    query.search = search;
    Ok((query, prefer_used))
}

/// A contact list's `$search` terms (none without `$search`). As Graph does for messages, a
/// search takes neither `$orderby` (results come in the server's order) nor `$skip` (pages
/// follow `@odata.nextLink`).
pub fn search_terms(opts: &QueryOptions) -> GraphResult<Vec<rolo_domain::search::SearchTerm>> {
    let Some(text) = &opts.search else { return Ok(Vec::new()) };
    if !opts.orderby.is_empty() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The query parameter '$orderby' is not supported with '$search'.",
        ));
    }
    if opts.skip.is_some() {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The query parameter '$skip' is not supported with '$search'.",
        ));
    }
    rolo_domain::search::parse(text)
}

fn paged_query(
    opts: &QueryOptions,
    prefer: &Prefer,
    codec: &TokenCodec,
    scope: &str,
) -> GraphResult<(ListQuery, bool)> {
    let top = match opts.top {
        Some(0) => {
            return Err(GraphError::bad_request(
                "BadRequest",
                "Invalid page size specified: '0'. Must be between 1 and 1000 inclusive.",
            ))
        }
        Some(n) if n as usize > MAX_PAGE_SIZE || n > u32::MAX as u64 => {
            return Err(GraphError::bad_request(
                "BadRequest",
                format!("Invalid page size specified: '{n}'. Must be between 1 and 1000 inclusive."),
            ))
        }
        Some(n) => Some(n as usize),
        None => None,
    };
    let (page_size, prefer_used) = match (top, prefer.max_page_size) {
        (Some(t), Some(p)) => (t.min(p), p < t),
        (Some(t), None) => (t, false),
        (None, Some(p)) => (p, true),
        (None, None) => (DEFAULT_PAGE_SIZE, false),
    };
    let after = match &opts.skiptoken {
        Some(t) => Some(codec.decode(scope, opts, t)?),
        None => None,
    };
    Ok((
        ListQuery {
            filter: opts.filter.clone(),
            orderby: opts.orderby.clone(),
            page_size,
            // Past any real mailbox's size; keeps OFFSET within the databases' signed 64 bits.
            skip: opts.skip.unwrap_or(0).min(1 << 40),
            after,
            count: opts.count.unwrap_or(false),
            ..ListQuery::default()
        },
        prefer_used,
    ))
}

/// The request's query string without paging options, with a new `$skiptoken` appended.
pub fn next_link(base: &str, path: &str, raw_query: Option<&str>, token: &str) -> String {
    let mut parts: Vec<&str> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("").to_ascii_lowercase().replace("%24", "$");
            !matches!(name.as_str(), "$skip" | "skip" | "$skiptoken" | "skiptoken")
        })
        .collect();
    let tok = format!("$skiptoken={token}");
    parts.push(&tok);
    format!("{base}{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_resist_tampering() {
        let codec = TokenCodec::new(b"secret");
        let opts = parse_options(Some("$filter=displayName%20eq%20'a'")).unwrap();
        let cur = Cursor { keys: vec![], seq: 42 };
        let tok = codec.encode("me/contacts", &opts, cur.clone());
        assert_eq!(codec.decode("me/contacts", &opts, &tok).unwrap(), cur);
        assert!(codec.decode("me/contactFolders", &opts, &tok).is_err());
        let other = parse_options(Some("$filter=displayName%20eq%20'b'")).unwrap();
        assert!(codec.decode("me/contacts", &other, &tok).is_err());
        let mut forged = tok.clone();
        forged.replace_range(0..1, if tok.starts_with('A') { "B" } else { "A" });
        assert!(codec.decode("me/contacts", &opts, &forged).is_err());
        assert!(codec.decode("me/contacts", &opts, "garbage").is_err());
    }

    #[test]
    fn next_link_keeps_other_options() {
        let l = next_link("http://h/v1.0", "/me/contacts", Some("%24top=5&$skip=10&$select=id"), "T");
        assert_eq!(l, "http://h/v1.0/me/contacts?%24top=5&$select=id&$skiptoken=T");
    }

    #[test]
    fn prefer_header() {
        let p = Prefer::parse(["odata.maxpagesize=5, IdType=\"ImmutableId\""].into_iter());
        assert_eq!(p, Prefer { max_page_size: Some(5), immutable_id: true });
        assert_eq!(p.applied(true).unwrap(), "odata.maxpagesize=5, IdType=\"ImmutableId\"");
    }
}
