//! `COPY` and `MOVE` of a card (RFC 4918 §9.8, §9.9; RFC 6352 §6.3.2): to another name, another
//! address book, or another mailbox's book the caller may write in. The destination card is
//! the source's vCard written as a PUT would write it (so the same vCard mapping, UID rule and
//! verbatim card apply); a MOVE then removes the source. Within one mailbox a MOVE is one
//! transaction; across mailboxes the copy is written first and the source deleted after it.
//!
//! A moved card is a new contact with a new id: a sync client of the source book sees the
//! removal under the name it knew, and Graph delta a deletion and a creation.

use axum::response::Response;
use rolo_domain::Access;
use rolo_store::{MovedFrom, Scope};

use super::books::open_book_for;
use super::cards::{self, check_conditions, check_name, parse_card, store_card};
use super::error::{DavError, DavResult};
use super::{href_path, parse_path, status_only, Dav, Target};

/// Where a `Destination` header points: a card URL on this server.
fn destination(dav: &Dav) -> DavResult<(String, String, String)> {
    let raw = dav
        .headers
        .get("destination")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| DavError::bad_request("COPY and MOVE need a Destination header."))?;
    let path = href_path(raw);
    if !(path == "/dav" || path.starts_with("/dav/")) {
        return Err(DavError::new(502, "The destination is not on this server's CardDAV space."));
    }
    match parse_path(path) {
        Some(Target::Card(u, b, c)) => Ok((u, b, c)),
        _ => Err(DavError::new(403, "A card is copied or moved to a card URL in an address book.")),
    }
}

/// `Overwrite` (RFC 4918 §10.6): `T` unless the client says `F`.
fn overwrite(dav: &Dav) -> DavResult<bool> {
    match dav.headers.get("overwrite").and_then(|v| v.to_str().ok()).map(str::trim) {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("t") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("f") => Ok(false),
        Some(_) => Err(DavError::bad_request("Overwrite is T or F.")),
    }
}

/// `COPY` (`moving` false) or `MOVE` of the card `name` in `segment` of `user`: 201 when the
/// destination is new, 204 when it replaced a card (`Overwrite: F` then answers 412).
pub(super) async fn copy_or_move(
    dav: &Dav,
    user: &str,
    segment: &str,
    name: &str,
    moving: bool,
) -> DavResult<Response> {
    let (to_user, to_segment, to_name) = destination(dav)?;
    let may_overwrite = overwrite(dav)?;
    check_name(&to_name)?;

    // The source: read for a COPY, written (unbound) by a MOVE.
    let mode = if moving { Access::Write } else { Access::Read };
    let (src, src_book) = open_book_for(dav, user, segment, mode).await?;
    let src_book = src_book.ok_or_else(DavError::not_found)?;
    if moving && !src_book.writable {
        return Err(DavError::need_privileges());
    }
    let contact = cards::find(dav, &src, &src_book, name).await?.ok_or_else(DavError::not_found)?;
    let src_keys = check_conditions(dav, Some(&contact))?;

    // The destination: its book must exist (409 otherwise, RFC 4918 §9.8.5) and be writable.
    let (dst, dst_book) = open_book_for(dav, &to_user, &to_segment, Access::Write).await?;
    let dst_book = dst_book.ok_or_else(|| DavError::new(409, "The destination address book does not exist."))?;
    if !dst_book.writable {
        return Err(DavError::need_privileges());
    }
    dst.access.folder(&dst_book.folder.id, Access::Write)?;
    let same_mailbox = src.user.id == dst.user.id;
    if same_mailbox && src_book.folder.id == dst_book.folder.id && name == to_name {
        return Err(DavError::new(403, "The source and the destination are the same card."));
    }
    let existing = cards::find(dav, &dst, &dst_book, &to_name).await?;
    if existing.is_some() && !may_overwrite {
        return Err(DavError::precondition_failed());
    }

    // The card as the source serves it (as its client sent it, while unchanged).
    let text = cards::current_text(dav, &src.user.mailbox, &contact).await?;
    let card = parse_card(text.as_bytes()).await?;
    let src_scope = Scope::Folder(src_book.folder.id.clone());
    let moved_from = (moving && same_mailbox).then(|| MovedFrom {
        id: contact.id.clone(),
        scope: src_scope.clone(),
        if_match: src_keys.clone(),
    });
    let (_, status) = store_card(dav, &dst, &dst_book, &to_name, card, existing.as_ref(), None, moved_from).await?;
    if moving && !same_mailbox {
        dav.state.store.delete_contact(&src.user.mailbox, &contact.id, &src_scope, src_keys).await?;
    }
    Ok(status_only(status))
}
