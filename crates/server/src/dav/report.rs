//! REPORTs on an address book: `addressbook-multiget` and `addressbook-query` (RFC 6352 §8.6,
//! §8.7) and `sync-collection` (RFC 6578), which reads the same per-mailbox change log as Graph
//! delta, so its cost follows the changes since the token, not the book's size.

use axum::response::Response;
use rolo_domain::vcard::parse::{content_line, unescape};
use rolo_domain::Contact;
use rolo_store::{ChangeState, DeltaItem, DeltaQuery, DeltaScope, ListQuery, Scope};

use super::books;
use super::cards::{self, CardRef};
use super::error::{DavError, DavResult};
use super::props::{card_response, card_responses, sync_token, Multistatus, PropRequest};
use super::xml::{self, Element, CARDDAV, DAV};
use super::{href_path, parse_path, Book, Dav, Opened, Target};

pub(super) async fn report(dav: &Dav, user: &str, segment: &str, body: &[u8]) -> DavResult<Response> {
    let root = xml::parse(body)?.ok_or_else(|| DavError::bad_request("A REPORT needs a body."))?;
    let n = &root.name;
    if n.is(DAV, "sync-collection") {
        // The book and the round's bounds in one read.
        let opened = dav.open(user).await?;
        let (book, state) = books::find_with_state(dav, &opened, segment).await?;
        let book = book.ok_or_else(DavError::not_found)?;
        return sync(dav, &opened, &book, &root, state).await;
    }
    let (opened, book) = books::open_book(dav, user, segment).await?;
    if n.is(CARDDAV, "addressbook-multiget") {
        multiget(dav, &opened, &book, &root).await
    } else if n.is(CARDDAV, "addressbook-query") {
        query(dav, &opened, &book, &root).await
    } else {
        Err(DavError::with(403, "<D:supported-report/>", format!("The report {} is not supported.", n.local)))
    }
}

/// Each asked href answered under the spelling it was asked with: the card, or 404.
async fn multiget(dav: &Dav, opened: &Opened, book: &Book, root: &Element) -> DavResult<Response> {
    let req = PropRequest::from_parent(Some(root));
    let mut ms = Multistatus::new();
    for h in root.children_named(DAV, "href") {
        let asked = h.text.trim();
        let contact = match parse_path(href_path(asked)) {
            Some(Target::Card(u, b, name)) if b == book.segment && same_user(opened, &u) => {
                cards::find(dav, opened, book, &name).await?
            }
            _ => None,
        };
        match contact {
            Some(c) => {
                let card = CardRef { href: asked.to_owned(), contact: &c };
                card_response(dav, &mut ms, opened, &card, &req, None).await?
            }
            None => ms.status(asked, "HTTP/1.1 404 Not Found", None),
        }
    }
    Ok(ms.finish(None))
}

fn same_user(opened: &Opened, key: &str) -> bool {
    opened.user.user_principal_name.eq_ignore_ascii_case(key) || opened.user.id.eq_ignore_ascii_case(key)
}

/// `limit/nresults` under `parent` in namespace `ns` (RFC 5323 §5.17: a count, 0 included).
fn nresults(parent: &Element, ns: &str) -> DavResult<Option<usize>> {
    parent
        .child(ns, "limit")
        .and_then(|l| l.child(ns, "nresults"))
        .map(|n| n.text.trim().parse::<usize>().map_err(|_| DavError::bad_request("nresults is a number.")))
        .transpose()
}

/// Changes read for a sync round: the contacts changed and the ids removed.
#[derive(Default)]
struct Batch {
    live: Vec<Contact>,
    removed: Vec<String>,
}

async fn emit(
    dav: &Dav,
    ms: &mut Multistatus,
    opened: &Opened,
    book: &Book,
    req: &PropRequest,
    batch: Batch,
) -> DavResult<()> {
    card_responses(dav, ms, opened, book, &batch.live, req).await?;
    for name in cards::names(dav, &opened.user.mailbox, &batch.removed).await? {
        ms.status(&cards::card_href(opened, book, &name), "HTTP/1.1 404 Not Found", None);
    }
    Ok(())
}

/// RFC 6578: the members changed and removed since the token (all members for an empty one).
/// With `DAV:limit`, at most `nresults` members come back in change order, with a 507 response
/// for the book and a token standing for exactly what was returned (§3.6, §3.7): the client
/// asks again from it. Cut points never split one change sequence number.
async fn sync(dav: &Dav, opened: &Opened, book: &Book, root: &Element, state: ChangeState) -> DavResult<Response> {
    let req = PropRequest::from_parent(Some(root));
    let token = root.child(DAV, "sync-token").map(|t| t.text.trim()).unwrap_or_default();
    let limit = nresults(root, DAV)?;
    let mb = &opened.user.mailbox;
    let store = &dav.state.store;
    let mut ms = Multistatus::new();
    let initial = token.is_empty();
    if initial && limit.is_none() {
        list_all(dav, opened, book, &mut ms, &req).await?;
        return Ok(ms.finish(Some(sync_token(state.current))));
    }
    // An initial round with a limit reads the whole log in change order, live members only: every
    // live contact carries its last change's sequence number, so a cut is a valid token.
    let since = if initial {
        0
    } else {
        token
            .strip_prefix("urn:x-rolo:sync:")
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|s| *s >= state.floor && *s <= state.current)
            .ok_or_else(|| DavError::with(403, "<D:valid-sync-token/>", "The sync token is not valid (any more)."))?
    };
    if since == state.current && !initial {
        // Every change moves the mailbox's counter: at the token's number there is nothing to
        // read (a client's idle poll costs the one read above).
        return Ok(ms.finish(Some(sync_token(state.current))));
    }
    let mut query = DeltaQuery {
        scope: DeltaScope::FolderContacts(book.folder.id.clone()),
        since,
        upto: state.current,
        after: None,
        page_size: 1000,
        change_type: None,
        max_bytes: None,
    };
    // With a limit, the members kept so far with their sequence numbers.
    let mut kept: Vec<(i64, DeltaItem)> = Vec::new();
    let mut cut: Option<i64> = None;
    'pages: loop {
        let page = store.delta(mb, &query).await?;
        let mut batch = Batch::default();
        for (key, item) in page.items {
            query.after = Some(key.clone());
            let removed = matches!(item, DeltaItem::Removed(_));
            if !(removed || matches!(item, DeltaItem::Contact(_))) || (initial && removed) {
                continue;
            }
            match limit {
                Some(l) if kept.len() >= l => {
                    cut = Some(key.0);
                    break 'pages;
                }
                Some(_) => kept.push((key.0, item)),
                None => match item {
                    DeltaItem::Contact(c) => batch.live.push(c.parse()?),
                    DeltaItem::Removed(id) => batch.removed.push(id),
                    _ => {}
                },
            }
        }
        emit(dav, &mut ms, opened, book, &req, batch).await?;
        if !page.more {
            break;
        }
    }
    let Some(next_seq) = cut else {
        emit(dav, &mut ms, opened, book, &req, into_batch(kept)?).await?;
        return Ok(ms.finish(Some(sync_token(state.current))));
    };
    // Members sharing the first left-out member's sequence number go back too: a token stands
    // for whole sequence numbers.
    kept.retain(|(seq, _)| *seq < next_seq);
    let Some(&(last, _)) = kept.last() else {
        return Err(DavError::with(
            507,
            "<D:number-of-matches-within-limits/>",
            "The changes cannot be cut at this limit; ask for more results.",
        ));
    };
    emit(dav, &mut ms, opened, book, &req, into_batch(kept)?).await?;
    ms.status(&dav.path, "HTTP/1.1 507 Insufficient Storage", Some("<D:number-of-matches-within-limits/>"));
    Ok(ms.finish(Some(sync_token(last))))
}

fn into_batch(items: Vec<(i64, DeltaItem)>) -> DavResult<Batch> {
    let mut batch = Batch::default();
    for (_, item) in items {
        match item {
            DeltaItem::Contact(c) => batch.live.push(c.parse()?),
            DeltaItem::Removed(id) => batch.removed.push(id),
            _ => {}
        }
    }
    Ok(batch)
}

async fn list_all(dav: &Dav, opened: &Opened, book: &Book, ms: &mut Multistatus, req: &PropRequest) -> DavResult<()> {
    let scope = Scope::Folder(book.folder.id.clone());
    let mut query = ListQuery { page_size: 1000, ..Default::default() };
    loop {
        let page = dav.state.store.list_contacts(&opened.user.mailbox, &scope, &query).await?;
        card_responses(dav, ms, opened, book, &page.items, req).await?;
        match page.next {
            Some(n) => query.after = Some(n),
            None => return Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collation {
    Octet,
    Ascii,
    Unicode,
}

#[derive(Debug, Clone)]
struct TextMatch {
    text: String,
    collation: Collation,
    match_type: MatchType,
    negate: bool,
}

#[derive(Debug, Clone)]
struct PropFilter {
    name: String,
    all_of: bool,
    not_defined: bool,
    matches: Vec<TextMatch>,
    params: Vec<ParamFilter>,
}

/// RFC 6352 §10.5.2: a test on one parameter of a property (`TEL` with `TYPE=cell`).
#[derive(Debug, Clone)]
struct ParamFilter {
    name: String,
    not_defined: bool,
    matched: Option<TextMatch>,
}

/// One property line of a card: its name (group dropped), its parameters (a list value split
/// into one pair per value; a vCard 2.1 bare `CELL` is `TYPE=CELL`) and its unescaped value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Property {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

#[derive(Debug, Clone)]
struct Filter {
    all_of: bool,
    props: Vec<PropFilter>,
}

fn fold(s: &str, c: Collation) -> String {
    match c {
        Collation::Octet => s.to_owned(),
        Collation::Ascii => s.to_ascii_lowercase(),
        Collation::Unicode => s.to_lowercase(),
    }
}

fn all_of(el: &Element) -> bool {
    el.attr("test").is_some_and(|t| t.eq_ignore_ascii_case("allof"))
}

fn parse_filter(el: Option<&Element>) -> DavResult<Filter> {
    let Some(el) = el else { return Ok(Filter { all_of: false, props: Vec::new() }) };
    let mut props = Vec::new();
    for pf in el.children_named(CARDDAV, "prop-filter") {
        let name = pf.attr("name").unwrap_or_default().to_ascii_uppercase();
        if name.is_empty() {
            return Err(DavError::with(403, "<C:supported-filter/>", "A prop-filter needs a name."));
        }
        let matches = pf.children_named(CARDDAV, "text-match").map(text_match).collect::<DavResult<Vec<_>>>()?;
        let mut params = Vec::new();
        for pm in pf.children_named(CARDDAV, "param-filter") {
            let name = pm.attr("name").unwrap_or_default().to_ascii_uppercase();
            if name.is_empty() {
                return Err(DavError::with(403, "<C:supported-filter/>", "A param-filter needs a name."));
            }
            let not_defined = pm.child(CARDDAV, "is-not-defined").is_some();
            let matched = pm.child(CARDDAV, "text-match").map(text_match).transpose()?;
            params.push(ParamFilter { name, not_defined, matched });
        }
        let not_defined = pf.child(CARDDAV, "is-not-defined").is_some();
        props.push(PropFilter { name, all_of: all_of(pf), not_defined, matches, params });
    }
    Ok(Filter { all_of: all_of(el), props })
}

fn text_match(tm: &Element) -> DavResult<TextMatch> {
    let collation = match tm.attr("collation").unwrap_or("i;unicode-casemap") {
        "i;unicode-casemap" => Collation::Unicode,
        "i;ascii-casemap" => Collation::Ascii,
        "i;octet" => Collation::Octet,
        _ => return Err(DavError::with(403, "<C:supported-collation/>", "Unsupported collation.")),
    };
    let match_type = match tm.attr("match-type").unwrap_or("contains") {
        "equals" => MatchType::Equals,
        "contains" => MatchType::Contains,
        "starts-with" => MatchType::StartsWith,
        "ends-with" => MatchType::EndsWith,
        _ => return Err(DavError::with(403, "<C:supported-filter/>", "Unsupported match-type.")),
    };
    let negate = tm.attr("negate-condition").is_some_and(|v| v == "yes");
    Ok(TextMatch { text: fold(&tm.text, collation), collation, match_type, negate })
}

/// The properties of a rendered vCard, unfolded, each line split by the vCard reader's own
/// content-line parser (groups dropped, a bare vCard 2.1 parameter read as a `TYPE`).
fn properties(card: &str) -> Vec<Property> {
    let unfolded = card.replace("\r\n ", "").replace("\r\n\t", "");
    unfolded
        .lines()
        .filter_map(|line| {
            let line = content_line(line).ok()?;
            let mut params = Vec::new();
            for (key, values) in line.params {
                if values.is_empty() {
                    params.push(("TYPE".to_owned(), key));
                } else {
                    // A quoted list (`TYPE="work,voice"`) is one value to the parser: one pair each.
                    let each = values.iter().flat_map(|v| v.split(',')).map(|v| (key.clone(), v.trim().to_owned()));
                    params.extend(each);
                }
            }
            Some(Property { name: line.name, params, value: unescape(&line.value) })
        })
        .collect()
}

impl TextMatch {
    fn matches(&self, value: &str) -> bool {
        let v = fold(value, self.collation);
        let hit = match self.match_type {
            MatchType::Equals => v == self.text,
            MatchType::Contains => v.contains(&self.text),
            MatchType::StartsWith => v.starts_with(&self.text),
            MatchType::EndsWith => v.ends_with(&self.text),
        };
        hit != self.negate
    }
}

impl ParamFilter {
    fn matches(&self, prop: &Property) -> bool {
        let mut values = prop.params.iter().filter(|(k, _)| *k == self.name).map(|(_, v)| v.as_str()).peekable();
        if self.not_defined {
            return values.peek().is_none();
        }
        match &self.matched {
            None => values.peek().is_some(),
            Some(m) => values.any(|v| m.matches(v)),
        }
    }
}

impl PropFilter {
    /// Whether one of the card's properties of this name passes the filter's tests: its
    /// text-matches on the value and its param-filters, all of them (`test="allof"`) or any.
    fn matches(&self, props: &[Property]) -> bool {
        let mut instances = props.iter().filter(|p| p.name == self.name).peekable();
        if self.not_defined {
            return instances.peek().is_none();
        }
        if self.matches.is_empty() && self.params.is_empty() {
            return instances.peek().is_some();
        }
        instances.any(|p| {
            let mut tests =
                self.matches.iter().map(|m| m.matches(&p.value)).chain(self.params.iter().map(|f| f.matches(p)));
            if self.all_of {
                tests.all(|t| t)
            } else {
                tests.any(|t| t)
            }
        })
    }
}

impl Filter {
    fn matches(&self, card: &str) -> bool {
        if self.props.is_empty() {
            return true;
        }
        let props = properties(card);
        if self.all_of {
            self.props.iter().all(|p| p.matches(&props))
        } else {
            self.props.iter().any(|p| p.matches(&props))
        }
    }

    /// A store filter that narrows the candidates: a lone FN prefix or exact match is an
    /// indexed display-name range (the cards found are still checked in full).
    fn narrowing(&self) -> Option<rolo_odata::Expr> {
        let [p] = self.props.as_slice() else { return None };
        let [m] = p.matches.as_slice() else { return None };
        if !p.params.is_empty() {
            // Under `anyof` a parameter alone may pass the card: no narrowing by the value.
            return None;
        }
        if p.name != "FN" || m.negate || m.collation == Collation::Octet || m.text.is_empty() {
            return None;
        }
        let quoted = m.text.replace('\'', "''");
        let expr = match m.match_type {
            MatchType::StartsWith => format!("startswith(displayName,'{quoted}')"),
            MatchType::Equals => format!("displayName eq '{quoted}'"),
            _ => return None,
        };
        rolo_odata::parse_filter(&expr).ok()
    }
}

/// `addressbook-query`: the cards matching the filter, at most `limit` of them (then a 507 for
/// the request-URI says the answer was cut).
async fn query(dav: &Dav, opened: &Opened, book: &Book, root: &Element) -> DavResult<Response> {
    let req = PropRequest::from_parent(Some(root));
    let filter = parse_filter(root.child(CARDDAV, "filter"))?;
    let limit = nresults(root, CARDDAV)?;
    let mb = &opened.user.mailbox;
    let scope = Scope::Folder(book.folder.id.clone());
    let narrowing = filter.narrowing();
    // A name prefix is read in name order: the display-name index gives the prefix's range and
    // its order, so the plan is that range whatever the statistics (in creation order, a
    // database never analyzed walked the book and tested every card).
    let orderby = match narrowing {
        Some(_) => vec![rolo_odata::OrderItem { path: vec!["displayName".into()], descending: false }],
        None => Vec::new(),
    };
    let mut query = ListQuery { page_size: 1000, filter: narrowing, orderby, ..Default::default() };
    let version = req.address_version();
    let mut hits: Vec<Contact> = Vec::new();
    let mut truncated = false;
    'pages: loop {
        let page = dav.state.store.list_contacts(mb, &scope, &query).await?;
        let sent = cards::sent_cards(dav, mb, &page.items).await?;
        for c in page.items {
            let text = cards::render_from(dav, mb, &c, version, sent.get(c.id.as_str()).map(String::as_str)).await?;
            if filter.matches(&text) {
                if limit.is_some_and(|l| hits.len() >= l) {
                    truncated = true;
                    break 'pages;
                }
                hits.push(c);
            }
        }
        match page.next {
            Some(n) => query.after = Some(n),
            None => break,
        }
    }
    let mut ms = Multistatus::new();
    card_responses(dav, &mut ms, opened, book, &hits, &req).await?;
    if truncated {
        ms.status(&dav.path, "HTTP/1.1 507 Insufficient Storage", Some("<D:number-of-matches-within-limits/>"));
    }
    Ok(ms.finish(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(xml_text: &str) -> Filter {
        let el = xml::parse(xml_text.as_bytes()).unwrap().unwrap();
        parse_filter(Some(&el)).unwrap()
    }

    const CARD: &str =
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nitem1.EMAIL;TYPE=work:ada@ex\r\n ample.com\r\nEND:VCARD\r\n";

    #[test]
    fn text_matches_follow_rfc_6352() {
        let f = |body: &str| {
            filter(&format!(r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav" test="anyof">{body}</C:filter>"#))
        };
        assert!(f(
            r#"<C:prop-filter name="FN"><C:text-match match-type="starts-with">ada</C:text-match></C:prop-filter>"#
        )
        .matches(CARD));
        assert!(!f(
            r#"<C:prop-filter name="FN"><C:text-match match-type="starts-with">love</C:text-match></C:prop-filter>"#
        )
        .matches(CARD));
        assert!(
            f(r#"<C:prop-filter name="EMAIL"><C:text-match>EXAMPLE.COM</C:text-match></C:prop-filter>"#).matches(CARD)
        );
        assert!(f(r#"<C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter>"#).matches(CARD));
        assert!(!f(
            r#"<C:prop-filter name="FN"><C:text-match negate-condition="yes">ada</C:text-match></C:prop-filter>"#
        )
        .matches(CARD));
        assert!(f("").matches(CARD));
    }

    #[test]
    fn param_filters_test_the_same_property() {
        const PHONES: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Grace Hopper\r\nTEL;TYPE=cell:+1 555 0100\r\n\
            item2.TEL;TYPE=\"work,voice\":+44 20 7946 0000\r\nEMAIL;PREF:g@ex.com\r\nNOTE:a:b\r\nEND:VCARD\r\n";
        let f = |test: &str, body: &str| {
            filter(&format!(
                r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav"><C:prop-filter name="TEL" test="{test}">{body}</C:prop-filter></C:filter>"#
            ))
        };
        let cell =
            r#"<C:param-filter name="TYPE"><C:text-match match-type="equals">CELL</C:text-match></C:param-filter>"#;
        let voice =
            r#"<C:param-filter name="type"><C:text-match match-type="equals">voice</C:text-match></C:param-filter>"#;
        let uk = r#"<C:text-match match-type="starts-with">+44</C:text-match>"#;
        assert!(f("anyof", cell).matches(PHONES));
        assert!(f("allof", &format!("{voice}{uk}")).matches(PHONES), "a list value and a quoted one");
        // All tests on one property: the cell number is not the +44 one.
        assert!(!f("allof", &format!("{cell}{uk}")).matches(PHONES));
        assert!(f("anyof", &format!("{cell}{uk}")).matches(PHONES));
        let pager = r#"<C:param-filter name="TYPE"><C:text-match>pager</C:text-match></C:param-filter>"#;
        assert!(!f("anyof", pager).matches(PHONES));
        assert!(f("anyof", r#"<C:param-filter name="TYPE"/>"#).matches(PHONES));
        assert!(!f("anyof", r#"<C:param-filter name="X-LABEL"/>"#).matches(PHONES));
        assert!(f("anyof", r#"<C:param-filter name="X-LABEL"><C:is-not-defined/></C:param-filter>"#).matches(PHONES));
        // vCard 2.1's bare parameter is a TYPE; a colon in the value is the value's.
        let props = properties(PHONES);
        assert!(props.contains(&Property {
            name: "EMAIL".into(),
            params: vec![("TYPE".into(), "PREF".into())],
            value: "g@ex.com".into()
        }));
        assert!(props.iter().any(|p| p.name == "NOTE" && p.value == "a:b"));
        // A param-filter without a name is refused, as a prop-filter without one is.
        let el = xml::parse(br#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav"><C:prop-filter name="TEL"><C:param-filter/></C:prop-filter></C:filter>"#).unwrap().unwrap();
        assert_eq!(parse_filter(Some(&el)).unwrap_err().status, 403);
    }

    #[test]
    fn unknown_collations_are_refused() {
        let el = xml::parse(br#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav"><C:prop-filter name="FN"><C:text-match collation="x">a</C:text-match></C:prop-filter></C:filter>"#).unwrap().unwrap();
        assert_eq!(parse_filter(Some(&el)).unwrap_err().status, 403);
    }
}
