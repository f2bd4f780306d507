//! PROPFIND (RFC 4918 §9.1) and the properties of each resource: the root, principals, homes,
//! address books and cards. Unknown properties are a 404 propstat, never a failed request.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use rolo_domain::vcard::VCardVersion;
use rolo_domain::Contact;
use rolo_store::{ListQuery, Scope, User};

use super::cards::{self, CardRef};
use super::error::{DavError, DavResult};
use super::xml::{self, escape, Element, Name, CALSERVER, CARDDAV, DAV, DECL, NAMESPACES};
use super::{books, enc, home_href, principal_href, Book, Dav, Opened, Target};

/// What a PROPFIND or REPORT asks for.
#[derive(Debug, Clone)]
pub(super) enum PropRequest {
    All,
    Names,
    /// The named properties, each with its element (`address-data` carries attributes).
    Props(Vec<Element>),
}

impl PropRequest {
    /// From a `propfind` (or report) element: `prop`, `allprop` or `propname`; none is allprop.
    pub fn from_parent(el: Option<&Element>) -> PropRequest {
        let Some(el) = el else { return PropRequest::All };
        if let Some(p) = el.child(DAV, "prop") {
            return PropRequest::Props(p.children.clone());
        }
        if el.child(DAV, "propname").is_some() {
            return PropRequest::Names;
        }
        PropRequest::All
    }

    /// The vCard version an `address-data` element asks for (3.0 unless it names 4.0).
    pub fn address_version(&self) -> VCardVersion {
        if let PropRequest::Props(list) = self {
            if let Some(a) = list.iter().find(|p| p.name.is(CARDDAV, "address-data")) {
                if a.attr("version") == Some("4.0") {
                    return VCardVersion::V4;
                }
            }
        }
        VCardVersion::V3
    }

    /// The vCard properties an `address-data` element names (`C:prop name=".."`), with whether
    /// each is asked without its value; `None` for the whole card.
    pub fn address_props(&self) -> Option<Vec<(String, bool)>> {
        let PropRequest::Props(list) = self else { return None };
        let a = list.iter().find(|p| p.name.is(CARDDAV, "address-data"))?;
        if a.child(CARDDAV, "allprop").is_some() {
            return None;
        }
        let props: Vec<(String, bool)> = a
            .children_named(CARDDAV, "prop")
            .filter_map(|p| {
                let name = p.attr("name")?.trim().to_ascii_uppercase();
                Some((name, p.attr("novalue").is_some_and(|v| v == "yes")))
            })
            .collect();
        (!props.is_empty()).then_some(props)
    }

    pub fn wants(&self, ns: &str, local: &str) -> bool {
        match self {
            PropRequest::Props(list) => list.iter().any(|p| p.name.is(ns, local)),
            _ => false,
        }
    }
}

/// A multistatus body being built.
pub(crate) struct Multistatus {
    out: String,
}

impl Default for Multistatus {
    fn default() -> Self {
        Multistatus::new()
    }
}

impl Multistatus {
    pub fn new() -> Multistatus {
        Multistatus { out: format!("{DECL}\n<D:multistatus {NAMESPACES}>") }
    }

    /// A response with the found properties (values already XML; empty is an empty element)
    /// under 200 and the missing ones under 404.
    pub fn propstat(&mut self, href: &str, found: &[(Name, String)], missing: &[Name]) {
        self.out.push_str(&format!("<D:response><D:href>{}</D:href>", escape(href)));
        if !found.is_empty() {
            self.out.push_str("<D:propstat><D:prop>");
            for (n, v) in found {
                self.out.push_str(&if v.is_empty() { n.empty() } else { n.with(v) });
            }
            self.out.push_str("</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        }
        if !missing.is_empty() {
            self.out.push_str("<D:propstat><D:prop>");
            for n in missing {
                self.out.push_str(&n.empty());
            }
            self.out.push_str("</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>");
        }
        if found.is_empty() && missing.is_empty() {
            self.out.push_str("<D:propstat><D:prop/><D:status>HTTP/1.1 200 OK</D:status></D:propstat>");
        }
        self.out.push_str("</D:response>");
    }

    /// A response with a status only (a removed member, a missing multiget href).
    pub fn status(&mut self, href: &str, status_line: &str, error: Option<&str>) {
        self.out.push_str(&format!("<D:response><D:href>{}</D:href><D:status>{status_line}</D:status>", escape(href)));
        if let Some(e) = error {
            self.out.push_str(&format!("<D:error>{e}</D:error>"));
        }
        self.out.push_str("</D:response>");
    }

    pub fn finish(mut self, sync_token: Option<String>) -> Response {
        if let Some(t) = sync_token {
            self.out.push_str(&format!("<D:sync-token>{}</D:sync-token>", escape(&t)));
        }
        self.out.push_str("</D:multistatus>\n");
        let mut r = Response::new(Body::from(self.out));
        *r.status_mut() = StatusCode::MULTI_STATUS;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml; charset=utf-8"));
        r
    }
}

/// Splits the requested properties into found and missing with `value`, which answers the
/// properties a resource has (`None`: not here).
fn resolve(
    req: &PropRequest,
    all: &[Name],
    value: impl Fn(&Element) -> Option<String>,
) -> (Vec<(Name, String)>, Vec<Name>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match req {
        PropRequest::Names => found = all.iter().map(|n| (n.clone(), String::new())).collect(),
        PropRequest::All => {
            for n in all {
                let el = Element { name: n.clone(), attrs: Vec::new(), children: Vec::new(), text: String::new() };
                if let Some(v) = value(&el) {
                    found.push((n.clone(), v));
                }
            }
        }
        PropRequest::Props(list) => {
            for el in list {
                match value(el) {
                    Some(v) => found.push((el.name.clone(), v)),
                    None => missing.push(el.name.clone()),
                }
            }
        }
    }
    (found, missing)
}

fn href(h: &str) -> String {
    format!("<D:href>{}</D:href>", escape(h))
}

fn names(list: &[(&str, &str)]) -> Vec<Name> {
    list.iter().map(|(ns, l)| Name::new(ns, l)).collect()
}

/// What every resource answers: who is asking.
fn common(dav: &Dav, el: &Element) -> Option<String> {
    let n = &el.name;
    if n.is(DAV, "current-user-principal") {
        return Some(match &dav.me {
            Some(me) => href(&principal_href(&me.user_principal_name)),
            None => "<D:unauthenticated/>".to_owned(),
        });
    }
    if n.is(DAV, "principal-collection-set") {
        return Some(href("/dav/principals/"));
    }
    None
}

fn home_set(homes: &[User]) -> String {
    homes.iter().map(|u| href(&home_href(&u.user_principal_name))).collect()
}

const REPORTS: &str = "<D:supported-report><D:report><C:addressbook-multiget/></D:report></D:supported-report>\
<D:supported-report><D:report><C:addressbook-query/></D:report></D:supported-report>\
<D:supported-report><D:report><D:sync-collection/></D:report></D:supported-report>";

/// `PROPFIND` on any resource, Depth 0 or 1 (infinity is served as 1).
pub(super) async fn propfind(dav: &Dav, target: &Target, body: &[u8]) -> DavResult<Response> {
    let root = xml::parse(body)?;
    if let Some(r) = &root {
        if !r.name.is(DAV, "propfind") {
            return Err(DavError::bad_request("PROPFIND takes a DAV:propfind body."));
        }
    }
    let req = PropRequest::from_parent(root.as_ref());
    let deep = dav.depth() != Some(0);
    let mut ms = Multistatus::new();
    let collection = |extra: &str| format!("<D:collection/>{extra}");
    match target {
        Target::Root | Target::Principals | Target::Homes => {
            let homes = dav.homes().await?;
            let all = names(&[(DAV, "resourcetype"), (DAV, "current-user-principal"), (DAV, "displayname")]);
            let (f, m) = resolve(&req, &all, |el| {
                let n = &el.name;
                common(dav, el)
                    .or_else(|| n.is(DAV, "resourcetype").then(|| collection("")))
                    .or_else(|| n.is(DAV, "displayname").then(|| "Rolo".to_owned()))
                    .or_else(|| (n.is(CARDDAV, "addressbook-home-set") && !homes.is_empty()).then(|| home_set(&homes)))
                    .or_else(|| {
                        let me = dav.me.as_ref().filter(|_| n.is(DAV, "principal-URL"))?;
                        Some(href(&principal_href(&me.user_principal_name)))
                    })
            });
            ms.propstat(&dav.path, &f, &m);
        }
        Target::Principal(key) => {
            let user = dav.state.user(key).await?.ok_or_else(DavError::not_found)?;
            if dav.principal.user_id.as_deref() != Some(user.id.as_str()) {
                // Other principals are not browsable: their mailboxes are reached by their homes.
                return Err(DavError::need_privileges());
            }
            let homes = dav.homes().await?;
            let all = names(&[
                (DAV, "resourcetype"),
                (DAV, "displayname"),
                (DAV, "principal-URL"),
                (CARDDAV, "addressbook-home-set"),
                (DAV, "current-user-principal"),
            ]);
            let (f, m) = resolve(&req, &all, |el| {
                let n = &el.name;
                common(dav, el)
                    .or_else(|| n.is(DAV, "resourcetype").then(|| collection("<D:principal/>")))
                    .or_else(|| n.is(DAV, "displayname").then(|| escape(&user.display_name)))
                    .or_else(|| n.is(DAV, "principal-URL").then(|| href(&principal_href(&user.user_principal_name))))
                    .or_else(|| n.is(CARDDAV, "addressbook-home-set").then(|| home_set(&homes)))
                    .or_else(|| n.is(DAV, "supported-report-set").then(String::new))
            });
            ms.propstat(&dav.path, &f, &m);
        }
        Target::Home(key) => {
            let opened = dav.open(key).await?;
            let home = home_href(&opened.user.user_principal_name);
            let own = dav.principal.user_id.as_deref() == Some(opened.user.id.as_str());
            let all = names(&[(DAV, "resourcetype"), (DAV, "displayname"), (DAV, "current-user-principal")]);
            let (f, m) = resolve(&req, &all, |el| {
                let n = &el.name;
                common(dav, el)
                    .or_else(|| n.is(DAV, "resourcetype").then(|| collection("")))
                    .or_else(|| n.is(DAV, "displayname").then(|| escape(&opened.user.display_name)))
                    .or_else(|| n.is(DAV, "owner").then(|| href(&principal_href(&opened.user.user_principal_name))))
                    .or_else(|| n.is(DAV, "current-user-privilege-set").then(|| privileges(own)))
                    .or_else(|| n.is(DAV, "supported-report-set").then(String::new))
            });
            ms.propstat(&home, &f, &m);
            if deep {
                let ctag = dav.state.store.change_state(&opened.user.mailbox).await?.current;
                for book in books::list(dav, &opened).await? {
                    let used = quota_used(dav, &opened, &book, &req).await?;
                    book_response(dav, &mut ms, &opened, &book, &req, ctag, used, None);
                }
            }
        }
        Target::Book(key, segment) => {
            // The book and its `getctag` (the mailbox's counter) in one read.
            let opened = dav.open(key).await?;
            let (book, state) = books::find_with_state(dav, &opened, segment).await?;
            let book = book.ok_or_else(DavError::not_found)?;
            let ctag = state.current;
            let used = quota_used(dav, &opened, &book, &req).await?;
            book_response(dav, &mut ms, &opened, &book, &req, ctag, used, Some(&dav.path));
            if deep {
                let mb = &opened.user.mailbox;
                let scope = Scope::Folder(book.folder.id.clone());
                let mut query = ListQuery { page_size: 1000, ..Default::default() };
                loop {
                    let page = dav.state.store.list_contacts(mb, &scope, &query).await?;
                    card_responses(dav, &mut ms, &opened, &book, &page.items, &req).await?;
                    match page.next {
                        Some(n) => query.after = Some(n),
                        None => break,
                    }
                }
            }
        }
        Target::Card(key, segment, name) => {
            let (opened, _, contact) = cards::open_card(dav, key, segment, name).await?;
            let contact = contact.ok_or_else(DavError::not_found)?;
            let card = CardRef { href: dav.path.clone(), contact: &contact };
            card_response(dav, &mut ms, &opened, &card, &req, None).await?;
        }
    }
    Ok(ms.finish(None))
}

fn privileges(write: bool) -> String {
    let mut p = String::from("<D:privilege><D:read/></D:privilege>");
    if write {
        for w in ["all", "write", "write-content", "write-properties", "bind", "unbind"] {
            p.push_str(&format!("<D:privilege><D:{w}/></D:privilege>"));
        }
    }
    p
}

pub(super) fn book_href(opened: &Opened, book: &Book) -> String {
    format!("{}{}/", home_href(&opened.user.user_principal_name), enc(&book.segment))
}

pub(super) fn sync_token(seq: i64) -> String {
    format!("urn:x-rolo:sync:{seq}")
}

/// The storage an address book reports as its quota (RFC 4331). Rolo enforces none; clients
/// that show a quota see this nominal figure less what the book uses.
const NOMINAL_QUOTA: i64 = 10 * 1024 * 1024 * 1024;

/// What the book's contacts take, when the request asks a quota property (it reads every
/// contact's size, so it is not part of `allprop`, RFC 4331 §3).
async fn quota_used(dav: &Dav, opened: &Opened, book: &Book, req: &PropRequest) -> DavResult<Option<i64>> {
    if req.wants(DAV, "quota-used-bytes") || req.wants(DAV, "quota-available-bytes") {
        Ok(Some(dav.state.store.folder_bytes(&opened.user.mailbox, &book.folder.id).await?))
    } else {
        Ok(None)
    }
}

#[allow(clippy::too_many_arguments)]
fn book_response(
    dav: &Dav,
    ms: &mut Multistatus,
    opened: &Opened,
    book: &Book,
    req: &PropRequest,
    ctag: i64,
    used: Option<i64>,
    as_asked: Option<&str>,
) {
    let all = names(&[
        (DAV, "resourcetype"),
        (DAV, "displayname"),
        (CALSERVER, "getctag"),
        (DAV, "current-user-principal"),
        (DAV, "current-user-privilege-set"),
    ]);
    let (f, m) = resolve(req, &all, |el| {
        let n = &el.name;
        if let Some(v) = common(dav, el) {
            return Some(v);
        }
        if n.ns == DAV {
            return match n.local.as_str() {
                "resourcetype" => Some("<D:collection/><C:addressbook/>".to_owned()),
                "displayname" => Some(escape(&book.folder.display_name)),
                "sync-token" => Some(sync_token(ctag)),
                "current-user-privilege-set" => Some(privileges(book.writable)),
                "supported-report-set" => Some(REPORTS.to_owned()),
                "owner" => Some(href(&principal_href(&opened.user.user_principal_name))),
                "quota-used-bytes" => used.map(|u| u.to_string()),
                "quota-available-bytes" => used.map(|u| (NOMINAL_QUOTA - u).max(0).to_string()),
                _ => None,
            };
        }
        if n.ns == CARDDAV {
            return match n.local.as_str() {
                "supported-address-data" => Some(
                    "<C:address-data-type content-type=\"text/vcard\" version=\"3.0\"/>\
                     <C:address-data-type content-type=\"text/vcard\" version=\"4.0\"/>"
                        .to_owned(),
                ),
                "max-resource-size" => Some(super::MAX_RESOURCE_SIZE.to_string()),
                "addressbook-description" => Some(escape(&book.folder.display_name)),
                "supported-collation-set" => Some(
                    "<C:supported-collation>i;ascii-casemap</C:supported-collation>\
                     <C:supported-collation>i;unicode-casemap</C:supported-collation>"
                        .to_owned(),
                ),
                _ => None,
            };
        }
        (n.is(CALSERVER, "getctag")).then(|| format!("\"{ctag}\""))
    });
    let href = as_asked.map(str::to_owned).unwrap_or_else(|| book_href(opened, book));
    ms.propstat(&href, &f, &m);
}

fn needs_text(req: &PropRequest) -> bool {
    req.wants(CARDDAV, "address-data") || req.wants(DAV, "getcontentlength")
}

/// The properties of one card; `address-data` and `getcontentlength` render the vCard (from
/// `sent`, the page's cards as sent, when the caller read them already).
pub(super) async fn card_response(
    dav: &Dav,
    ms: &mut Multistatus,
    opened: &Opened,
    card: &CardRef<'_>,
    req: &PropRequest,
    sent: Option<&std::collections::HashMap<String, String>>,
) -> DavResult<()> {
    let text = if needs_text(req) {
        let mb = &opened.user.mailbox;
        let version = req.address_version();
        Some(match sent {
            Some(cards) => {
                let text = cards.get(card.contact.id.as_str()).map(String::as_str);
                cards::render_from(dav, mb, card.contact, version, text).await?
            }
            None => cards::render(dav, mb, card.contact, version).await?,
        })
    } else {
        None
    };
    let wanted = req.address_props();
    let all = names(&[(DAV, "resourcetype"), (DAV, "getetag"), (DAV, "getcontenttype"), (DAV, "getlastmodified")]);
    let (f, m) = resolve(req, &all, |el| {
        let n = &el.name;
        if let Some(v) = common(dav, el) {
            return Some(v);
        }
        if n.ns == DAV {
            return match n.local.as_str() {
                "resourcetype" => Some(String::new()),
                "getetag" => Some(escape(&cards::etag(card.contact))),
                "getcontenttype" => Some("text/vcard; charset=utf-8".to_owned()),
                "getlastmodified" => Some(cards::http_date(&card.contact.modified)),
                "getcontentlength" => text.as_ref().map(|t| t.len().to_string()),
                _ => None,
            };
        }
        if n.is(CARDDAV, "address-data") {
            return text.as_ref().map(|t| match &wanted {
                Some(props) => escape(&cards::partial(t, props)),
                None => escape(t),
            });
        }
        None
    });
    ms.propstat(&card.href, &f, &m);
    Ok(())
}

/// The responses for a page of a book's contacts, under their hrefs.
pub(super) async fn card_responses(
    dav: &Dav,
    ms: &mut Multistatus,
    opened: &Opened,
    book: &Book,
    contacts: &[Contact],
    req: &PropRequest,
) -> DavResult<()> {
    let hrefs = cards::hrefs(dav, opened, book, contacts).await?;
    let sent = if needs_text(req) { Some(cards::sent_cards(dav, &opened.user.mailbox, contacts).await?) } else { None };
    for (contact, href) in contacts.iter().zip(hrefs) {
        card_response(dav, ms, opened, &CardRef { href, contact }, req, sent.as_ref()).await?;
    }
    Ok(())
}
