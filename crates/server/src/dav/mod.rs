//! CardDAV (RFC 6352, with RFC 4918 WebDAV, RFC 6578 sync and RFC 6764 discovery) over the same
//! store as Graph: one address book per contact folder at any depth, in the user's own mailbox
//! and in the mailboxes and folders shared with them, with the rights Graph gives.
//!
//! URL space, below `/dav/`:
//! `principals/{upn}/` (the principal), `addressbooks/{upn}/` (a mailbox's address-book home),
//! `addressbooks/{upn}/{book}/` (a contact folder: its id, or the name a client created it
//! with), `addressbooks/{upn}/{book}/{name}` (a card: the name a client PUT it under, else
//! `{contact id}.vcf`). `/.well-known/carddav` redirects to `/dav/`.
//!
//! Modules: `xml` (request bodies, names), `error` (DAV error bodies), `auth` (app passwords,
//! bearer tokens), `props` (PROPFIND and the properties of each resource), `cards` (GET, PUT,
//! DELETE of cards), `report` (multiget, query, sync-collection), `books` (folders as address
//! books: listing, MKCOL, DELETE, PROPPATCH).

pub mod auth;
mod books;
mod cards;
pub mod error;
mod props;
mod report;
mod transfer;
mod xml;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rolo_domain::{Access, ContactFolder, MailboxAccess, Principal};
use rolo_store::{MailboxKind, User};

use self::error::{DavError, DavResult};
use crate::AppState;

/// The capabilities every DAV resource here announces (`OPTIONS`).
const DAV_HEADER: &str = "1, 3, addressbook, extended-mkcol";
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCOL, COPY, MOVE";
/// The largest card accepted: the request body limit.
pub const MAX_RESOURCE_SIZE: usize = crate::body::MAX_BODY_BYTES;

/// Whether a request belongs to the CardDAV front-end: `/dav`, the well-known URL, and a
/// PROPFIND on the host's root (Apple and DAVx5 look for `current-user-principal` there).
pub fn is_dav_request(method: &Method, path: &str) -> bool {
    path == "/dav" || path.starts_with("/dav/") || is_well_known(path) || (path == "/" && method.as_str() == "PROPFIND")
}

fn is_well_known(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    p.eq_ignore_ascii_case("/.well-known/carddav")
}

/// What a DAV path names (segments percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Root,
    Principals,
    Principal(String),
    Homes,
    Home(String),
    Book(String, String),
    Card(String, String, String),
}

pub(crate) fn parse_path(path: &str) -> Option<Target> {
    if path == "/" {
        return Some(Target::Root);
    }
    let rest = path.strip_prefix("/dav")?;
    let segs: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    Some(match s.as_slice() {
        [] => Target::Root,
        ["principals"] => Target::Principals,
        ["principals", u] => Target::Principal((*u).to_owned()),
        ["addressbooks"] => Target::Homes,
        ["addressbooks", u] => Target::Home((*u).to_owned()),
        ["addressbooks", u, b] if path.ends_with('/') => Target::Book((*u).to_owned(), (*b).to_owned()),
        ["addressbooks", u, b, c] if !path.ends_with('/') => {
            Target::Card((*u).to_owned(), (*b).to_owned(), (*c).to_owned())
        }
        // A book addressed without its trailing slash is still the book (MKCOL, DELETE, PROPFIND).
        ["addressbooks", u, b] => Target::Book((*u).to_owned(), (*b).to_owned()),
        _ => return None,
    })
}

/// The path of an href, which may be a full URL (multiget hrefs, `Destination`).
pub(crate) fn href_path(href: &str) -> &str {
    let rest = href.strip_prefix("https://").or_else(|| href.strip_prefix("http://"));
    match rest {
        Some(r) => r.find('/').and_then(|i| r.get(i..)).unwrap_or("/"),
        None => href,
    }
}

/// Characters kept as they are in an href segment besides alphanumerics (`@` for principal
/// names, as clients spell them).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'@');

pub(crate) fn enc(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

pub(crate) fn principal_href(upn: &str) -> String {
    format!("/dav/principals/{}/", enc(upn))
}

pub(crate) fn home_href(upn: &str) -> String {
    format!("/dav/addressbooks/{}/", enc(upn))
}

/// One request's caller and what it asked.
pub(crate) struct Dav {
    pub state: Arc<AppState>,
    pub principal: Principal,
    /// The signed-in user (an app-only token has none and gets no principal URL).
    pub me: Option<User>,
    pub headers: HeaderMap,
    pub method: Method,
    /// The request path as sent (hrefs of the request-URI are echoed as sent).
    pub path: String,
    /// Throttling slots held until the response is built.
    permits: std::sync::Mutex<Vec<crate::throttle::Permit>>,
}

/// A mailbox opened for the caller: its owner and what the caller holds there.
pub(crate) struct Opened {
    pub user: User,
    pub access: MailboxAccess,
}

/// A contact folder as an address book.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub folder: ContactFolder,
    /// The href segment: the name a client created it with, else the folder id.
    pub segment: String,
    pub writable: bool,
}

impl Dav {
    fn mode(&self) -> Access {
        match self.method.as_str() {
            "GET" | "HEAD" | "PROPFIND" | "REPORT" | "OPTIONS" => Access::Read,
            _ => Access::Write,
        }
    }

    /// Depth: 0, 1, or infinity (`None`, served as 1 on collections).
    pub fn depth(&self) -> Option<u8> {
        match self.headers.get("depth").and_then(|v| v.to_str().ok()).map(str::trim) {
            Some("0") => Some(0),
            Some("1") => Some(1),
            _ => None,
        }
    }

    /// Opens the mailbox of `key` (a principal name or id) with the Graph side's rules: the
    /// scopes, the mailbox or folder grants, and the (app, mailbox) throttle.
    pub async fn open(&self, key: &str) -> DavResult<Opened> {
        self.open_for(key, self.mode()).await
    }

    /// [`Dav::open`] for reading or writing, whatever the method (a COPY reads its source).
    pub async fn open_for(&self, key: &str, mode: Access) -> DavResult<Opened> {
        let user = self.state.user(key).await?.ok_or_else(DavError::not_found)?;
        if user.kind == MailboxKind::Archive {
            return Err(DavError::not_found());
        }
        let own = self.principal.user_id.as_deref() == Some(user.id.as_str());
        self.principal.require_route(rolo_domain::access::RouteKind::Contacts, mode, own)?;
        let access = crate::mailbox::mailbox_access(&self.state, &self.principal, &user).await?;
        let app = self.principal.app_id.clone().unwrap_or_default();
        if let Some(p) = self.state.throttle.admit(&app, &user.id)? {
            if let Ok(mut held) = self.permits.lock() {
                held.push(p);
            }
        }
        Ok(Opened { user, access })
    }

    /// The mailboxes whose homes the caller sees: its own first, then those shared with it.
    pub async fn homes(&self) -> DavResult<Vec<User>> {
        let mut out = Vec::new();
        if let Some(me) = &self.me {
            out.push(me.clone());
            for id in self.state.store.mailboxes_shared_with(&me.id).await? {
                if let Some(u) = self.state.user(&id).await? {
                    if u.kind != MailboxKind::Archive && u.id != me.id {
                        out.push(u);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Every CardDAV request: the well-known redirect, OPTIONS, authentication, then the method.
pub async fn serve(state: Arc<AppState>, parts: axum::http::request::Parts, body: Option<Body>) -> Response {
    let path = parts.uri.path().to_owned();
    if is_well_known(&path) {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
        r.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/dav/"));
        return r;
    }
    let result = async {
        let target = parse_path(&path).ok_or_else(DavError::not_found)?;
        if parts.method == Method::OPTIONS {
            return Ok(options());
        }
        let peer =
            parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
        let principal = auth::authenticate(&state, &parts.headers, peer).await?;
        let me = match &principal.user_id {
            Some(id) => state.user(id).await?,
            None => None,
        };
        let raw = match body {
            Some(b) => crate::body::read_body(&parts.headers, b).await?,
            None => Vec::new(),
        };
        let dav = Dav {
            state: state.clone(),
            principal,
            me,
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            path: path.clone(),
            permits: std::sync::Mutex::new(Vec::new()),
        };
        let app = dav.principal.app_id.clone().unwrap_or_default();
        let charged = dav.me.as_ref().map(|u| u.id.clone()).unwrap_or_default();
        state.throttle.charge_upload(&app, &charged, raw.len() as u64).await?;
        dispatch(&dav, target, raw).await
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch(dav: &Dav, target: Target, body: Vec<u8>) -> DavResult<Response> {
    match (dav.method.as_str(), &target) {
        ("PROPFIND", _) => props::propfind(dav, &target, &body).await,
        ("PROPPATCH", Target::Book(u, b)) => books::proppatch(dav, u, b, &body).await,
        ("PROPPATCH", _) => Err(DavError::with(403, "<D:cannot-modify-protected-property/>", "Nothing to set here.")),
        ("REPORT", Target::Book(u, b)) => report::report(dav, u, b, &body).await,
        ("REPORT", _) => Err(DavError::with(403, "<D:supported-report/>", "Reports are served on address books only.")),
        ("MKCOL", Target::Book(u, b)) => books::mkcol(dav, u, b, &body).await,
        ("DELETE", Target::Book(u, b)) => books::delete(dav, u, b).await,
        ("GET" | "HEAD", Target::Card(u, b, c)) => cards::get(dav, u, b, c).await,
        ("PUT", Target::Card(u, b, c)) => cards::put(dav, u, b, c, &body).await,
        ("DELETE", Target::Card(u, b, c)) => cards::delete(dav, u, b, c).await,
        ("COPY", Target::Card(u, b, c)) => transfer::copy_or_move(dav, u, b, c, false).await,
        ("MOVE", Target::Card(u, b, c)) => transfer::copy_or_move(dav, u, b, c, true).await,
        ("COPY" | "MOVE", _) => Err(DavError::new(403, "Cards are copied and moved one at a time.")),
        ("GET" | "HEAD", _) => Ok(text(StatusCode::OK, "Rolo CardDAV: point an address-book client at this URL.\n")),
        ("MKCOL", _) => Err(DavError::with(403, "<D:valid-resourcetype/>", "Address books are created in a home.")),
        _ => Err(DavError::new(405, format!("{} is not served here.", dav.method))),
    }
}

fn options() -> Response {
    let mut r = Response::new(Body::empty());
    r.headers_mut().insert("DAV", HeaderValue::from_static(DAV_HEADER));
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    r
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

pub(crate) fn status_only(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_resources() {
        assert_eq!(parse_path("/dav/"), Some(Target::Root));
        assert_eq!(parse_path("/dav"), Some(Target::Root));
        assert_eq!(parse_path("/dav/principals/a%40b.c/"), Some(Target::Principal("a@b.c".into())));
        assert_eq!(parse_path("/dav/addressbooks/a@b/"), Some(Target::Home("a@b".into())));
        assert_eq!(parse_path("/dav/addressbooks/a@b/f1/"), Some(Target::Book("a@b".into(), "f1".into())));
        assert_eq!(parse_path("/dav/addressbooks/a@b/f1"), Some(Target::Book("a@b".into(), "f1".into())));
        assert_eq!(
            parse_path("/dav/addressbooks/a@b/f1/x%20y.vcf"),
            Some(Target::Card("a@b".into(), "f1".into(), "x y.vcf".into()))
        );
        assert_eq!(parse_path("/dav/addressbooks/a/b/c/d"), None);
        assert_eq!(parse_path("/other"), None);
        assert_eq!(href_path("http://h:1/dav/x"), "/dav/x");
        assert_eq!(href_path("/dav/x"), "/dav/x");
        let get = Method::GET;
        let propfind = Method::from_bytes(b"PROPFIND").unwrap();
        assert!(is_dav_request(&get, "/.well-known/carddav") && is_dav_request(&get, "/dav/x"));
        assert!(!is_dav_request(&get, "/davx") && !is_dav_request(&get, "/"));
        assert!(is_dav_request(&propfind, "/"));
    }

    #[test]
    fn hrefs_encode_once() {
        assert_eq!(enc("a b@c.d"), "a%20b@c.d");
        assert_eq!(principal_href("x@y"), "/dav/principals/x@y/");
    }
}
