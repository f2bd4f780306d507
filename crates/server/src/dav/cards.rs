//! Cards: GET, PUT and DELETE of one vCard, mapped through the domain's vCard reader and writer
//! (the same `apply` rules as file import). ETags are the contact's change key, quoted: one
//! strong ETag per stored state, whichever vCard version is rendered, in GET, PROPFIND, multiget
//! and sync alike. A card is named by what its client PUT it as (kept in `dav_names`), else
//! `{contact id}.vcf`.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use rolo_domain::vcard::{self, Format, VCardVersion};
use rolo_domain::{Access, Contact, ContactData, ContactId};
use rolo_store::{CardOutcome, CardWrite, Mailbox, MovedFrom, NameLookup, Scope, StoredPhoto};

use super::books;
use super::error::{DavError, DavResult};
use super::{enc, home_href, status_only, Book, Dav, Opened};

/// A card with the href it is listed under.
pub(crate) struct CardRef<'a> {
    pub href: String,
    pub contact: &'a Contact,
}

pub(crate) fn etag(contact: &Contact) -> String {
    format!("\"{}\"", contact.change_key)
}

/// An ISO 8601 UTC time as an HTTP date; the input unchanged when it does not parse.
pub(crate) fn http_date(iso: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::parse(iso, &Rfc3339)
        .ok()
        .and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&fmt).ok())
        .unwrap_or_else(|| iso.to_owned())
}

/// The vCard version a card says it is (3.0 or 4.0; others are never served verbatim).
fn version_of(card: &str) -> Option<VCardVersion> {
    card.lines().map(str::trim).find_map(|l| match l.to_ascii_uppercase().as_str() {
        "VERSION:3.0" => Some(VCardVersion::V3),
        "VERSION:4.0" => Some(VCardVersion::V4),
        _ => None,
    })
}

/// The card: as its client sent it while the contact is unchanged since (and in the version
/// asked for), else rendered from the Graph model.
pub(crate) async fn render(dav: &Dav, mb: &Mailbox, contact: &Contact, version: VCardVersion) -> DavResult<String> {
    let sent = dav.state.store.dav_card(mb, contact.id.as_str()).await?;
    let current = sent.filter(|(key, _)| *key == contact.change_key).map(|(_, text)| text);
    render_from(dav, mb, contact, version, current.as_deref()).await
}

/// [`render`] with the card as sent already read (`sent`: still current, or `None`).
pub(crate) async fn render_from(
    dav: &Dav,
    mb: &Mailbox,
    contact: &Contact,
    version: VCardVersion,
    sent: Option<&str>,
) -> DavResult<String> {
    if let Some(text) = sent.filter(|t| version_of(t) == Some(version)) {
        return Ok(text.to_owned());
    }
    Ok(crate::vcard::contact_vcard(dav.state.store.as_ref(), mb, contact, version).await?)
}

/// The cards as sent of a page of contacts that are still current, by contact id: one read
/// instead of one per card.
pub(crate) async fn sent_cards(
    dav: &Dav,
    mb: &Mailbox,
    contacts: &[Contact],
) -> DavResult<std::collections::HashMap<String, String>> {
    let ids: Vec<String> = contacts.iter().map(|c| c.id.as_str().to_owned()).collect();
    let keys: std::collections::HashMap<&str, &str> =
        contacts.iter().map(|c| (c.id.as_str(), c.change_key.as_str())).collect();
    Ok(dav
        .state
        .store
        .dav_cards(mb, &ids)
        .await?
        .into_iter()
        .filter(|(id, key, _)| keys.get(id.as_str()) == Some(&key.as_str()))
        .map(|(id, _, text)| (id, text))
        .collect())
}

/// The card as it is served by default: as its client sent it while the contact is unchanged
/// (whichever vCard version), else rendered as vCard 3.0.
pub(crate) async fn current_text(dav: &Dav, mb: &Mailbox, contact: &Contact) -> DavResult<String> {
    if let Some((key, text)) = dav.state.store.dav_card(mb, contact.id.as_str()).await? {
        if key == contact.change_key && version_of(&text).is_some() {
            return Ok(text);
        }
    }
    Ok(crate::vcard::contact_vcard(dav.state.store.as_ref(), mb, contact, VCardVersion::V3).await?)
}

/// The properties of a card an `address-data` element asks for (RFC 6352 §10.4: `C:prop`
/// children, each by name, `novalue="yes"` for the name alone); `None` asks for the whole card.
/// `BEGIN`, `VERSION` and `END` are always kept, so the result is still a vCard.
pub(crate) fn partial(card: &str, wanted: &[(String, bool)]) -> String {
    let mut out = String::with_capacity(card.len());
    let mut keep = false;
    let mut novalue = false;
    for line in card.split_inclusive('\n') {
        if line.starts_with(' ') || line.starts_with('\t') {
            // A folded continuation belongs to the line before it.
            if keep && !novalue {
                out.push_str(line);
            }
            continue;
        }
        let head = line.split([':', ';']).next().unwrap_or_default();
        let name = head.rsplit('.').next().unwrap_or(head).trim().to_ascii_uppercase();
        let always = matches!(name.as_str(), "BEGIN" | "END" | "VERSION");
        let asked = wanted.iter().find(|(n, _)| *n == name);
        keep = always || asked.is_some();
        novalue = !always && asked.is_some_and(|(_, nv)| *nv);
        if !keep {
            continue;
        }
        if novalue {
            // The property with its parameters and an empty value.
            let (before, _) = line.split_once(':').unwrap_or((line.trim_end(), ""));
            out.push_str(before);
            out.push_str(":\r\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The contact id a card name spells (`{id}.vcf`), if it spells one.
fn spelled_id(name: &str) -> Option<&str> {
    name.strip_suffix(".vcf").filter(|s| ContactId::parse(s).is_ok())
}

/// Of the contacts a book holds under a card name or the id it spells, the one the name
/// addresses: the contact a client named so, else the one whose id it spells, unless a client
/// named that one otherwise (a named card is reached by its name only).
fn pick(name: &str, cards: Vec<(Contact, Option<String>)>) -> Option<Contact> {
    let id = spelled_id(name);
    let mut by_id = None;
    for (contact, named) in cards {
        match named.as_deref() {
            Some(n) if n == name => return Some(contact),
            None if id == Some(contact.id.as_str()) => by_id = Some(contact),
            _ => {}
        }
    }
    by_id
}

/// The contact a card name addresses in a book.
pub(crate) async fn find(dav: &Dav, opened: &Opened, book: &Book, name: &str) -> DavResult<Option<Contact>> {
    let key = format!("{}/", book.segment);
    let lookup = NameLookup { book_name: &key, book_id: book.folder.id.as_str(), card: Some((name, spelled_id(name))) };
    let found = dav.state.store.resolve_names(&opened.user.mailbox, lookup).await?;
    Ok(found.into_iter().find(|f| f.folder.id == book.folder.id).and_then(|f| pick(name, f.cards)))
}

/// The mailbox, the book and the card a card URL names, the book and card found in one read
/// (404 without the book).
pub(crate) async fn open_card(
    dav: &Dav,
    user: &str,
    segment: &str,
    name: &str,
) -> DavResult<(Opened, Book, Option<Contact>)> {
    let opened = dav.open(user).await?;
    let (book, cards) = books::find_with(dav, &opened, segment, Some((name, spelled_id(name))))
        .await?
        .ok_or_else(DavError::not_found)?;
    let contact = pick(name, cards);
    Ok((opened, book, contact))
}

/// The name of each contact: the one a client gave it, else `{id}.vcf`.
pub(crate) async fn names(dav: &Dav, mb: &Mailbox, ids: &[String]) -> DavResult<Vec<String>> {
    let named = dav.state.store.dav_names(mb, ids).await?;
    let lookup: std::collections::HashMap<&str, &str> = named.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    Ok(ids.iter().map(|id| lookup.get(id.as_str()).map_or_else(|| format!("{id}.vcf"), |n| (*n).to_owned())).collect())
}

pub(crate) fn card_href(opened: &Opened, book: &Book, name: &str) -> String {
    format!("{}{}/{}", home_href(&opened.user.user_principal_name), enc(&book.segment), enc(name))
}

/// The hrefs of a page of a book's contacts.
pub(crate) async fn hrefs(dav: &Dav, opened: &Opened, book: &Book, contacts: &[Contact]) -> DavResult<Vec<String>> {
    let ids: Vec<String> = contacts.iter().map(|c| c.id.as_str().to_owned()).collect();
    let names = names(dav, &opened.user.mailbox, &ids).await?;
    Ok(names.iter().map(|n| card_href(opened, book, n)).collect())
}

/// `GET` (and `HEAD`) of a card: vCard 3.0, or 4.0 when `Accept` asks for it.
pub(super) async fn get(dav: &Dav, user: &str, segment: &str, name: &str) -> DavResult<Response> {
    let (opened, _, contact) = open_card(dav, user, segment, name).await?;
    let contact = contact.ok_or_else(DavError::not_found)?;
    let accept = dav.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    let version = if accept.contains("version=4.0") { VCardVersion::V4 } else { VCardVersion::V3 };
    let text = render(dav, &opened.user.mailbox, &contact, version).await?;
    let mut r = Response::new(Body::from(text));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/vcard; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&etag(&contact)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(&contact.modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    Ok(r)
}

/// The ETags an `If-Match` accepts, as change keys (`*` kept as is); `None` without one.
fn if_match(dav: &Dav) -> Option<Vec<String>> {
    crate::response::if_match(&dav.headers)
}

/// Checks `If-Match` and `If-None-Match` against the card as it is now (412 when they fail).
pub(super) fn check_conditions(dav: &Dav, current: Option<&Contact>) -> DavResult<Option<Vec<String>>> {
    let none_match = dav.headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).map(str::trim);
    if let (Some(inm), Some(c)) = (none_match, current) {
        if inm == "*" || inm.split(',').any(|t| t.trim().trim_matches('"') == c.change_key) {
            return Err(DavError::precondition_failed());
        }
    }
    let im = if_match(dav);
    match (&im, current) {
        (Some(_), None) => Err(DavError::precondition_failed()),
        (Some(keys), Some(c)) if !keys.iter().any(|k| k == "*" || *k == c.change_key) => {
            Err(DavError::precondition_failed())
        }
        _ => Ok(im.filter(|k| !k.iter().any(|k| k == "*"))),
    }
}

/// A card read from a request body: the contact it becomes, and how it was sent.
pub(super) struct ParsedCard {
    data: ContactData,
    uid: Option<String>,
    photo: Option<Vec<StoredPhoto>>,
    /// The body as text (decoded from its charset).
    pub text: String,
    /// Whether the card is kept as sent (a vCard 3.0 or 4.0): served verbatim until it changes.
    pub verbatim: bool,
}

/// Reads one vCard (nothing is stored when it is refused: 403 `valid-address-data`).
pub(super) async fn parse_card(body: &[u8]) -> DavResult<ParsedCard> {
    let text = vcard::decode_bytes(body);
    let mut records = vcard::read(&text, Format::VCard).into_iter();
    let record = match (records.next(), records.next()) {
        (None, _) => return Err(DavError::valid_address_data("the body holds no vCard")),
        (Some(_), Some(_)) => return Err(DavError::valid_address_data("a card holds one vCard")),
        (Some(Err(bad)), None) => return Err(DavError::valid_address_data(&bad.reason)),
        (Some(Ok(r)), None) => r,
    };
    let mut data = record.data;
    if let Some(uid) = &record.uid {
        let key = vcard::uid_property();
        data.single_value_extended_properties.retain(|p| p.id != key);
        data.single_value_extended_properties.push(rolo_domain::xprop::SingleValue { id: key, value: uid.clone() });
    }
    let photo = match record.photo {
        Some(bytes) => Some(
            tokio::task::spawn_blocking(move || crate::vcard::renditions(bytes))
                .await
                .map_err(rolo_domain::GraphError::internal)?
                .map_err(|e| DavError::valid_address_data(&format!("the photo was not accepted: {e}")))?,
        ),
        None => None,
    };
    let verbatim = version_of(&text).is_some();
    Ok(ParsedCard { data, uid: record.uid, photo, text, verbatim })
}

/// Writes `card` as the card `name` of `book`: replacing `existing` (under `if_match`) or
/// creating, with the name, the card as sent and its photo in the contact's one transaction.
/// A UID another card of the book holds is 403 `no-uid-conflict` naming that card.
#[allow(clippy::too_many_arguments)]
pub(super) async fn store_card(
    dav: &Dav,
    opened: &Opened,
    book: &Book,
    name: &str,
    card: ParsedCard,
    existing: Option<&Contact>,
    if_match: Option<Vec<String>>,
    moved_from: Option<MovedFrom>,
) -> DavResult<(Contact, StatusCode)> {
    let mb = &opened.user.mailbox;
    let store = &dav.state.store;
    let ParsedCard { data, uid, photo, text, verbatim } = card;
    let write = |photo| CardWrite { name: name.to_owned(), card: verbatim.then_some(text), uid, photo, moved_from };
    let (outcome, status) = match existing {
        Some(current) => {
            let edit: rolo_store::ContactEdit = Box::new(move |d: &mut ContactData| {
                // Extended properties no vCard carries (set by Graph apps) stay; the rest is
                // the card's.
                let (uid, extra) = (vcard::uid_property(), vcard::vcard_extra_property());
                let single: Vec<_> = std::mem::take(&mut d.single_value_extended_properties)
                    .into_iter()
                    .filter(|p| p.id != uid && !data.single_value_extended_properties.iter().any(|n| n.id == p.id))
                    .collect();
                let multi: Vec<_> = std::mem::take(&mut d.multi_value_extended_properties)
                    .into_iter()
                    .filter(|p| p.id != extra && !data.multi_value_extended_properties.iter().any(|n| n.id == p.id))
                    .collect();
                *d = data;
                d.single_value_extended_properties.extend(single);
                d.multi_value_extended_properties.extend(multi);
                Ok(None)
            });
            let scope = Scope::Folder(book.folder.id.clone());
            // A card without a photo removes the contact's.
            let w = write(Some(photo.unwrap_or_default()));
            (store.replace_card(mb, &current.id, &scope, if_match, edit, w).await?, StatusCode::NO_CONTENT)
        }
        None => (store.create_card(mb, &book.folder.id, data, write(photo)).await?, StatusCode::CREATED),
    };
    match outcome {
        CardOutcome::Stored(c) => Ok((*c, status)),
        CardOutcome::UidTaken(holder) => {
            let held = names(dav, mb, &[holder.as_str().to_owned()]).await?;
            let href = card_href(opened, book, held.first().map(String::as_str).unwrap_or_default());
            Err(DavError::with(
                403,
                &format!("<C:no-uid-conflict><D:href>{}</D:href></C:no-uid-conflict>", super::xml::escape(&href)),
                "Another card of this address book has the same UID.",
            ))
        }
    }
}

/// Whether a request's `Content-Type` may carry a card (none at all is accepted).
pub(super) fn check_content_type(dav: &Dav) -> DavResult<()> {
    let ct = crate::body::content_type(&dav.headers).to_ascii_lowercase();
    let vcard_type = ["text/vcard", "text/x-vcard", "text/directory"].iter().any(|t| ct.starts_with(t));
    if !ct.is_empty() && !vcard_type {
        return Err(DavError::with(403, "<C:supported-address-data/>", "A card is text/vcard (3.0 or 4.0)."));
    }
    Ok(())
}

/// Whether a client may name a card `name`.
pub(super) fn check_name(name: &str) -> DavResult<()> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(DavError::new(403, "The card's name is not accepted."));
    }
    Ok(())
}

/// `PUT` of a card: creates (201) or replaces (204) the contact. Nothing is stored when the
/// vCard is refused. The ETag comes back only when the card is kept byte for byte as sent
/// (RFC 6352 §6.3.2.3: a 3.0 or 4.0 card in UTF-8); otherwise clients fetch it again.
pub(super) async fn put(dav: &Dav, user: &str, segment: &str, name: &str, body: &[u8]) -> DavResult<Response> {
    let opened = dav.open(user).await?;
    let key = books::book_key(segment);
    let lookup = NameLookup { book_name: &key, book_id: segment, card: Some((name, spelled_id(name))) };
    let found = dav.state.store.resolve_names_for_put(&opened.user.mailbox, lookup).await?;
    let (book, cards) = books::pick_book(&opened, segment, found).ok_or_else(DavError::not_found)?;
    let existing = pick(name, cards);
    if !book.writable {
        return Err(DavError::need_privileges());
    }
    opened.access.folder(&book.folder.id, Access::Write)?;
    check_content_type(dav)?;
    check_name(name)?;
    let card = parse_card(body).await?;
    let same_bytes = card.verbatim && card.text.as_bytes() == body;
    let keys = check_conditions(dav, existing.as_ref())?;
    let (stored, status) = store_card(dav, &opened, &book, name, card, existing.as_ref(), keys, None).await?;
    let mut resp = status_only(status);
    if same_bytes {
        if let Ok(v) = HeaderValue::from_str(&etag(&stored)) {
            resp.headers_mut().insert(header::ETAG, v);
        }
    }
    Ok(resp)
}

/// `DELETE` of a card (204); `If-Match` is honoured, not required.
pub(super) async fn delete(dav: &Dav, user: &str, segment: &str, name: &str) -> DavResult<Response> {
    let (opened, book, contact) = open_card(dav, user, segment, name).await?;
    if !book.writable {
        return Err(DavError::need_privileges());
    }
    let contact = contact.ok_or_else(DavError::not_found)?;
    let keys = check_conditions(dav, Some(&contact))?;
    let scope = Scope::Folder(book.folder.id.clone());
    dav.state.store.delete_contact(&opened.user.mailbox, &contact.id, &scope, keys).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}
