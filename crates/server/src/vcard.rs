//! Contact files, a Rolo extension: vCard and CSV import and export, shared by the HTTP routes
//! (`.../contacts/{id}/$value`, `.../contacts/$value`, `POST .../contactFolders/{id}/import`)
//! and the `rolo import` / `rolo export` commands. Parsing and mapping are the domain's
//! (`rolo_domain::vcard`); this module batches the records into the store, renders photos and
//! reads contacts back out.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rolo_domain::vcard::{self, write::PhotoRef, BadRecord, Format, VCardVersion};
use rolo_domain::xprop::SingleValue;
use rolo_domain::{Contact, ContactId, FolderId, GraphError, GraphResult};
use rolo_store::{ImportItem, ImportOutcome, ListQuery, Mailbox, PhotoOwner, Scope, Store, StoredPhoto, ORIGINAL_SIZE};
use serde_json::json;

use crate::ctx::Ctx;
use crate::paths::{FolderPath, Resource};

/// Records written per transaction over HTTP: a batch holds the database's write lock, so the
/// server's own imports keep it short for the other requests.
pub const BATCH: usize = 1000;
/// Records written per transaction by `rolo import`: a bulk load, where fewer, larger
/// transactions write each index page fewer times (SQLite writes a page once per commit). A
/// crash loses at most one batch, which a re-run then writes.
pub const BULK_BATCH: usize = 10_000;
/// A batch is closed early once its photos reach this many bytes, to bound memory.
const BATCH_PHOTO_BYTES: usize = 32 << 20;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: usize,
    pub merged: usize,
    pub skipped: Vec<BadRecord>,
}

impl ImportSummary {
    pub fn to_json(&self) -> serde_json::Value {
        let skipped: Vec<_> = self.skipped.iter().map(|b| json!({"line": b.line, "reason": b.reason})).collect();
        json!({"imported": self.imported, "merged": self.merged, "skipped": skipped})
    }
}

/// A stable key for a record without a UID: a digest of its content (FNV-1a, 2x64 bits), so a
/// re-run of the same file finds what an earlier run wrote.
fn content_key(data: &rolo_domain::ContactData) -> String {
    let text = serde_json::to_string(data).unwrap_or_default();
    let mut out = String::from("rolo-");
    for basis in [0xcbf2_9ce4_8422_2325u64, 0x6c62_272e_07bb_0142] {
        let mut h = basis;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

/// Decodes a photo and plans its standard sizes, as an upload through `.../photo/$value` does
/// (each size is rendered on its first read).
pub(crate) fn renditions(bytes: Vec<u8>) -> Result<Vec<StoredPhoto>, String> {
    let upload = rolo_media::decode(bytes).map_err(|e| e.to_string())?;
    Ok(crate::photos::renditions(upload.original))
}

/// Turns parsed records into import items: each keyed by its UID (else a digest of its content,
/// see `content_key`) kept in the key property, its photo decoded and planned. The records that
/// cannot be imported come back as bad records. CPU work (photos): call it off the async workers.
pub fn prepare(records: Vec<vcard::Record>, key_prop: &str) -> (Vec<ImportItem>, Vec<BadRecord>) {
    let mut items = Vec::new();
    let mut bad = Vec::new();
    for record in records {
        let mut rec = match record {
            Ok(r) => r,
            Err(b) => {
                bad.push(b);
                continue;
            }
        };
        let photo = match rec.photo.take().map(renditions) {
            None => Vec::new(),
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                bad.push(BadRecord { line: rec.line, reason: format!("the photo was not accepted: {e}") });
                continue;
            }
        };
        let key = rec.uid.clone().unwrap_or_else(|| content_key(&rec.data));
        let props = &mut rec.data.single_value_extended_properties;
        props.retain(|p| p.id != key_prop);
        props.push(SingleValue { id: key_prop.to_owned(), value: key.clone() });
        items.push(ImportItem { data: rec.data, key, photo });
    }
    (items, bad)
}

/// Imports a file's text into `folder`, `batch` records per transaction; `progress` is told
/// how many records of the total are done after each batch. `bulk` writes each batch with
/// `ContactImport::import_contacts_bulk` (a database no server is using).
#[allow(clippy::too_many_arguments)]
pub async fn import_text(
    store: &dyn Store,
    mailbox: &Mailbox,
    folder: &FolderId,
    text: &str,
    format: Format,
    batch: usize,
    bulk: bool,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> GraphResult<ImportSummary> {
    let records = vcard::read(text, format);
    let total = records.len();
    let mut summary = ImportSummary::default();
    let key_property = vcard::uid_property();
    let mut done = 0;
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let mut chunk = Vec::new();
        let mut photo_bytes = 0;
        while chunk.len() < batch.max(1) && photo_bytes < BATCH_PHOTO_BYTES {
            let Some(r) = records.next() else { break };
            photo_bytes += r.as_ref().ok().and_then(|r| r.photo.as_ref()).map_or(0, Vec::len);
            chunk.push(r);
        }
        done += chunk.len();
        let key_prop = key_property.clone();
        // Photo decoding and resizing is CPU work: off the async workers.
        let (items, bad) =
            tokio::task::spawn_blocking(move || prepare(chunk, &key_prop)).await.map_err(GraphError::internal)?;
        summary.skipped.extend(bad);
        if !items.is_empty() {
            let outcomes = if bulk {
                store.import_contacts_bulk(mailbox, folder, &key_property, items).await?
            } else {
                store.import_contacts(mailbox, folder, &key_property, items).await?
            };
            for outcome in outcomes {
                match outcome {
                    ImportOutcome::Created(_) => summary.imported += 1,
                    ImportOutcome::Merged(_) => summary.merged += 1,
                }
            }
        }
        progress(done, total);
    }
    summary.skipped.sort_by_key(|b| b.line);
    Ok(summary)
}

/// The key a contact is written with: the UID it was imported with, else its id.
fn uid_of(contact: &Contact) -> String {
    let id = vcard::uid_property();
    contact
        .data
        .single_value_extended_properties
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.value.clone())
        .unwrap_or_else(|| contact.id.as_str().to_owned())
}

/// One contact as a vCard, its photo inline.
pub async fn contact_vcard(
    store: &dyn Store,
    mailbox: &Mailbox,
    contact: &Contact,
    version: VCardVersion,
) -> GraphResult<String> {
    let owner = PhotoOwner::Contact(contact.id.clone(), Scope::Folder(contact.folder_id.clone()));
    let photo = store.photo(mailbox, &owner, ORIGINAL_SIZE).await?;
    let photo = photo.as_ref().map(|p| PhotoRef { content_type: &p.content_type, bytes: &p.bytes });
    Ok(vcard::write_vcard(&contact.data, &uid_of(contact), photo, version))
}

/// Every contact of a folder, in list order.
pub async fn folder_contacts(store: &dyn Store, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<Vec<Contact>> {
    let scope = Scope::Folder(folder.clone());
    let mut out = Vec::new();
    let mut query = ListQuery { page_size: 1000, ..Default::default() };
    loop {
        let page = store.list_contacts(mailbox, &scope, &query).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(out),
        }
    }
}

/// A folder's contacts as one file.
pub async fn export_folder(
    store: &dyn Store,
    mailbox: &Mailbox,
    folder: &FolderId,
    format: Format,
    version: VCardVersion,
) -> GraphResult<String> {
    let contacts = folder_contacts(store, mailbox, folder).await?;
    match format {
        Format::VCard => {
            let mut out = String::new();
            for c in &contacts {
                out.push_str(&contact_vcard(store, mailbox, c, version).await?);
            }
            Ok(out)
        }
        csv => Ok(vcard::csv::write(&contacts.iter().map(|c| &c.data).collect::<Vec<_>>(), csv)),
    }
}

/// `?format=` (vcard, vcard4, outlook-csv, google-csv), else what `Accept` names.
fn wanted(ctx: &Ctx) -> GraphResult<(Format, VCardVersion)> {
    let query = ctx.raw_query.as_deref().unwrap_or_default();
    let param = query.split('&').find_map(|kv| kv.strip_prefix("format="));
    if let Some(f) = param {
        return match f {
            "vcard4" => Ok((Format::VCard, VCardVersion::V4)),
            f => Format::parse(f).map(|f| (f, VCardVersion::V3)).ok_or_else(|| {
                GraphError::bad_request(
                    "ErrorInvalidRequest",
                    format!("The format '{f}' is not supported: vcard, vcard4, outlook-csv and google-csv are."),
                )
            }),
        };
    }
    let accept = ctx.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    if accept.contains("text/csv") {
        return Ok((Format::OutlookCsv, VCardVersion::V3));
    }
    let v4 = accept.contains("text/vcard") && accept.contains("version=4.0");
    Ok((Format::VCard, if v4 { VCardVersion::V4 } else { VCardVersion::V3 }))
}

fn file_response(format: Format, text: String) -> Response {
    let ct = if format == Format::VCard { "text/vcard; charset=utf-8" } else { "text/csv; charset=utf-8" };
    let mut r = Response::new(Body::from(text));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    r
}

/// The file routes; `None` for every other resource.
pub async fn serve(ctx: &Ctx, method: &Method, resource: &Resource, body: &[u8]) -> Option<GraphResult<Response>> {
    Some(match (method, resource) {
        (&Method::GET, Resource::ContactFile { folder, id }) => get_contact(ctx, folder, id).await,
        (&Method::GET, Resource::ContactFiles(folder)) => get_folder(ctx, folder).await,
        (&Method::POST, Resource::FolderImport { chain }) => import(ctx, chain, body).await,
        _ => return None,
    })
}

/// `GET .../contacts/{id}/$value`: the contact as a vCard.
async fn get_contact(ctx: &Ctx, folder: &FolderPath, id: &str) -> GraphResult<Response> {
    let (format, version) = wanted(ctx)?;
    if format != Format::VCard {
        return Err(GraphError::bad_request("ErrorInvalidRequest", "One contact is served as a vCard only."));
    }
    let id = ContactId::parse(id)?;
    let scope = ctx.contact_scope(folder, &id).await?;
    let contact =
        ctx.state.store.get_contact(ctx.mailbox(), &id, &scope).await?.ok_or_else(GraphError::item_not_found)?;
    Ok(file_response(format, contact_vcard(ctx.state.store.as_ref(), ctx.mailbox(), &contact, version).await?))
}

/// `GET .../contactFolders/{id}/contacts/$value`: every contact of the folder as one file.
async fn get_folder(ctx: &Ctx, folder: &FolderPath) -> GraphResult<Response> {
    let (format, version) = wanted(ctx)?;
    let folder = ctx.contacts_folder(folder).await?;
    Ok(file_response(format, export_folder(ctx.state.store.as_ref(), ctx.mailbox(), &folder, format, version).await?))
}

/// `POST .../contactFolders/{id}/import`: a vCard (`text/vcard`) or CSV (`text/csv`) file into
/// the folder; answers what was imported, merged and skipped (with each bad record's line).
async fn import(ctx: &Ctx, chain: &[String], body: &[u8]) -> GraphResult<Response> {
    ctx.require_folder_chain(chain)?;
    let folder = ctx.folder_chain(chain).await?.id;
    let ct = crate::body::content_type(&ctx.headers).to_ascii_lowercase();
    let text = vcard::decode_bytes(body);
    let format = if ct.starts_with("text/vcard") || ct.starts_with("text/x-vcard") || ct.starts_with("text/directory") {
        Format::VCard
    } else if ct.starts_with("text/csv") {
        Format::detect(&text).filter(|f| *f != Format::VCard).ok_or_else(|| {
            GraphError::bad_request(
                "ErrorInvalidRequest",
                "The CSV header row names neither Outlook's nor Google's columns (e.g. 'First Name', 'E-mail Address').",
            )
        })?
    } else {
        return Err(GraphError::new(
            rolo_domain::ErrorKind::UnsupportedMediaType,
            "ErrorInvalidRequest",
            "An import takes text/vcard or text/csv.",
        ));
    };
    if text.trim().is_empty() {
        return Err(GraphError::bad_request("ErrorInvalidRequest", "The file holds no contacts."));
    }
    // Decoding and resizing the file's photos is CPU work: it takes one of the slots photo
    // uploads share, so imports cannot starve the other requests.
    let _slot = ctx.state.photo_slots.acquire().await.map_err(GraphError::internal)?;
    let summary =
        import_text(ctx.state.store.as_ref(), ctx.mailbox(), &folder, &text, format, BATCH, false, &mut |_, _| {})
            .await?;
    let body = serde_json::to_vec(&summary.to_json()).map_err(GraphError::internal)?;
    Ok(crate::response::json_status(StatusCode::OK, body))
}
