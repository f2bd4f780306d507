//! Contact folders as address books: every folder at any depth is one book (RFC 6352 §5.2 does
//! not nest books), named by the segment a client created it with or by its id; extended MKCOL
//! creates a folder, DELETE removes one, PROPPATCH renames one.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::{Access, Contact, ContactFolder, FolderChanges};
use rolo_store::{ChangeState, ListQuery, Mailbox, NameLookup, NamedFolder};

use super::error::{DavError, DavResult};
use super::xml::{self, CARDDAV, DAV};
use super::{status_only, Book, Dav, Opened};

/// The key a book's client-given segment is stored under in `dav_names` (cards never end in
/// `/`, so the two kinds of names cannot meet).
pub(super) fn book_key(segment: &str) -> String {
    format!("{segment}/")
}

/// Every folder of the mailbox, parents before children, the default folder first.
async fn all_folders(dav: &Dav, mb: &Mailbox) -> DavResult<Vec<ContactFolder>> {
    let store = &dav.state.store;
    let mut out: Vec<ContactFolder> = Vec::new();
    let mut queue = vec![mb.root_folder_id.clone()];
    while let Some(parent) = queue.pop() {
        let mut query = ListQuery { page_size: 500, ..Default::default() };
        loop {
            let page = store.list_folders(mb, &parent, &query).await?;
            for f in page.items {
                queue.push(f.id.clone());
                out.push(f);
            }
            match page.next {
                Some(n) => query.after = Some(n),
                None => break,
            }
        }
    }
    out.sort_by_key(|f| f.id != mb.default_folder_id);
    Ok(out)
}

fn as_book(opened: &Opened, folder: ContactFolder, names: &[(String, String)]) -> Book {
    let segment = names
        .iter()
        .find(|(id, _)| id == folder.id.as_str())
        .and_then(|(_, n)| n.strip_suffix('/'))
        .map(str::to_owned)
        .unwrap_or_else(|| folder.id.as_str().to_owned());
    let writable = opened.access.folder(&folder.id, Access::Write).is_ok();
    Book { folder, segment, writable }
}

/// The books of a mailbox the caller may read.
pub(super) async fn list(dav: &Dav, opened: &Opened) -> DavResult<Vec<Book>> {
    let mb = &opened.user.mailbox;
    let folders: Vec<ContactFolder> =
        all_folders(dav, mb).await?.into_iter().filter(|f| opened.access.folder(&f.id, Access::Read).is_ok()).collect();
    let ids: Vec<String> = folders.iter().map(|f| f.id.as_str().to_owned()).collect();
    let names = dav.state.store.dav_names(mb, &ids).await?;
    Ok(folders.into_iter().map(|f| as_book(opened, f, &names)).collect())
}

/// The book a segment names, once the caller may read it (a folder it may not see is 404).
pub(super) async fn find(dav: &Dav, opened: &Opened, segment: &str) -> DavResult<Option<Book>> {
    Ok(find_with(dav, opened, segment, None).await?.map(|(book, _)| book))
}

/// [`find`], and in the same read the contacts of the folders it considers that a card name
/// (with the contact id it spells) may name.
pub(super) async fn find_with(
    dav: &Dav,
    opened: &Opened,
    segment: &str,
    card: Option<(&str, Option<&str>)>,
) -> DavResult<Option<(Book, Vec<(Contact, Option<String>)>)>> {
    let key = book_key(segment);
    let lookup = NameLookup { book_name: &key, book_id: segment, card };
    let found = dav.state.store.resolve_names(&opened.user.mailbox, lookup).await?;
    Ok(pick_book(opened, segment, found))
}

/// [`find`], and the mailbox's change state in the same read (a sync round's bounds).
pub(super) async fn find_with_state(
    dav: &Dav,
    opened: &Opened,
    segment: &str,
) -> DavResult<(Option<Book>, ChangeState)> {
    let key = book_key(segment);
    let lookup = NameLookup { book_name: &key, book_id: segment, card: None };
    let (found, state) = dav.state.store.resolve_names_with_state(&opened.user.mailbox, lookup).await?;
    Ok((pick_book(opened, segment, found).map(|(book, _)| book), state))
}

/// A book and the cards a lookup found in it, each with its client-given name.
pub(super) type BookWithCards = (Book, Vec<(Contact, Option<String>)>);

/// Of the folders a lookup found, the book `segment` names (if the caller may read it), with
/// the cards found in it.
pub(super) fn pick_book(opened: &Opened, segment: &str, found: Vec<NamedFolder>) -> Option<BookWithCards> {
    let key = book_key(segment);
    // The folders a client named so first, then the one whose id the segment is.
    let (named, by_id): (Vec<NamedFolder>, Vec<NamedFolder>) =
        found.into_iter().partition(|f| f.name.as_deref() == Some(key.as_str()));
    named.into_iter().chain(by_id).find_map(|f| {
        let NamedFolder { folder, name, cards } = f;
        if folder.id == opened.user.mailbox.root_folder_id || opened.access.folder(&folder.id, Access::Read).is_err() {
            return None;
        }
        let names: Vec<(String, String)> = name.into_iter().map(|n| (folder.id.as_str().to_owned(), n)).collect();
        let book = as_book(opened, folder, &names);
        // A folder a client named is reached by that name only, so each book has one href.
        (book.segment == segment).then_some((book, cards))
    })
}

pub(super) async fn open_book(dav: &Dav, user: &str, segment: &str) -> DavResult<(Opened, Book)> {
    let opened = dav.open(user).await?;
    let book = find(dav, &opened, segment).await?.ok_or_else(DavError::not_found)?;
    Ok((opened, book))
}

/// The mailbox of `user` opened for `mode`, and its book `segment` if the caller may read it.
pub(super) async fn open_book_for(
    dav: &Dav,
    user: &str,
    segment: &str,
    mode: Access,
) -> DavResult<(Opened, Option<Book>)> {
    let opened = dav.open_for(user, mode).await?;
    let book = find(dav, &opened, segment).await?;
    Ok((opened, book))
}

/// `MKCOL` (plain or extended, RFC 5689): a new top-level folder, named by the
/// body's `displayname`, else by the segment.
pub(super) async fn mkcol(dav: &Dav, user: &str, segment: &str, body: &[u8]) -> DavResult<Response> {
    let opened = dav.open(user).await?;
    opened.access.whole_mailbox(Access::Write)?;
    if find(dav, &opened, segment).await?.is_some() {
        return Err(DavError::with(405, "<D:resource-must-be-null/>", "The address book exists."));
    }
    let mut name = segment.to_owned();
    if let Some(root) = xml::parse(body)? {
        if !root.name.is(DAV, "mkcol") {
            return Err(DavError::with(415, "<D:valid-resourcetype/>", "An extended MKCOL body is a DAV:mkcol."));
        }
        for set in root.children_named(DAV, "set") {
            for prop in set.children_named(DAV, "prop") {
                for p in &prop.children {
                    if p.name.is(DAV, "resourcetype") {
                        let book = p.child(CARDDAV, "addressbook").is_some();
                        let other = p
                            .children
                            .iter()
                            .any(|c| !c.name.is(DAV, "collection") && !c.name.is(CARDDAV, "addressbook"));
                        if !book || other {
                            return Err(DavError::with(
                                403,
                                "<D:mkcol-response><D:valid-resourcetype/></D:mkcol-response>",
                                "Only address books are created here.",
                            ));
                        }
                    } else if p.name.is(DAV, "displayname") && !p.text.trim().is_empty() {
                        name = p.text.trim().to_owned();
                    }
                }
            }
        }
    }
    let mb = &opened.user.mailbox;
    // Graph files top-level folders under the default folder (`/me/contactFolders`).
    let folder = dav.state.store.create_folder(mb, &mb.default_folder_id, &name).await?;
    if segment != folder.id.as_str() {
        dav.state.store.set_dav_name(mb, folder.id.as_str(), &book_key(segment), None).await?;
    }
    Ok(status_only(StatusCode::CREATED))
}

/// `DELETE` of a book: the folder with its child folders and contacts, as Graph's folder DELETE.
pub(super) async fn delete(dav: &Dav, user: &str, segment: &str) -> DavResult<Response> {
    let (opened, book) = open_book(dav, user, segment).await?;
    opened.access.folder(&book.folder.id, Access::Write)?;
    opened.access.whole_mailbox(Access::Write)?;
    if book.folder.id == opened.user.mailbox.default_folder_id {
        return Err(DavError::new(403, "The default address book cannot be deleted."));
    }
    dav.state.store.delete_folder(&opened.user.mailbox, &book.folder.id).await?;
    Ok(status_only(StatusCode::NO_CONTENT))
}

/// `PROPPATCH` on a book: `displayname` renames the folder; the dead properties clients set
/// (descriptions, colours) are accepted and not kept.
pub(super) async fn proppatch(dav: &Dav, user: &str, segment: &str, body: &[u8]) -> DavResult<Response> {
    let (opened, book) = open_book(dav, user, segment).await?;
    opened.access.folder(&book.folder.id, Access::Write)?;
    let root = xml::parse(body)?.ok_or_else(|| DavError::bad_request("PROPPATCH needs a propertyupdate body."))?;
    if !root.name.is(DAV, "propertyupdate") {
        return Err(DavError::bad_request("PROPPATCH takes a DAV:propertyupdate."));
    }
    let mut names = Vec::new();
    let mut rename = None;
    for op in &root.children {
        for prop in op.children_named(DAV, "prop") {
            for p in &prop.children {
                if p.name.is(DAV, "displayname") && op.name.is(DAV, "set") {
                    rename = Some(p.text.trim().to_owned());
                }
                names.push(p.name.clone());
            }
        }
    }
    if let Some(name) = rename.filter(|n| !n.is_empty() && *n != book.folder.display_name) {
        let changes = FolderChanges { display_name: Some(name), parent_id: None };
        dav.state.store.update_folder(&opened.user.mailbox, &book.folder.id, &changes).await?;
    }
    let mut ms = super::props::Multistatus::new();
    ms.propstat(&dav.path, &names.iter().map(|n| (n.clone(), String::new())).collect::<Vec<_>>(), &[]);
    Ok(ms.finish(None))
}
