//! Handlers for photos: a contact's (`.../contacts/{id}/photo`) and a user's (`/me/photo`,
//! `/users/{id}/photos/{size}`), the same `profilePhoto` entity. Contacts also get the sized
//! renditions (`.../contacts/{id}/photos/{size}`), a Rolo extension.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rolo_domain::{ContactId, ErrorKind, GraphError, GraphResult};
use rolo_media::STANDARD_SIZES;
use rolo_store::{PhotoOwner, StoredPhoto, ORIGINAL_SIZE};
use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::paths::{FolderPath, PhotoPath};
use crate::response::json_status;

fn photo_not_found() -> GraphError {
    GraphError::new(ErrorKind::NotFound, "ErrorItemNotFound", "The photo wasn't found.")
}

/// `48x48` (any case) → `48`, for the standard sizes only.
fn size_key(raw: &str) -> GraphResult<String> {
    let (w, h) =
        raw.to_ascii_lowercase().split_once('x').map(|(w, h)| (w.to_owned(), h.to_owned())).unwrap_or_default();
    match (w.parse::<u32>(), h.parse::<u32>()) {
        (Ok(w), Ok(h)) if w == h && STANDARD_SIZES.contains(&w) => Ok(w.to_string()),
        _ => Err(photo_not_found()),
    }
}

/// The `profilePhoto` metadata Graph returns: `id` is the size label, `WxH`. A user's photo read
/// on its own also names itself with `@odata.id`, as in Graph's example.
fn metadata(p: &StoredPhoto, context: Option<&str>, odata_id: Option<&str>) -> Value {
    let id = if p.size == ORIGINAL_SIZE { format!("{}X{}", p.width, p.height) } else { format!("{0}X{0}", p.size) };
    let mut m = serde_json::Map::new();
    if let Some(ctx) = context {
        m.insert("@odata.context".into(), json!(ctx));
    }
    if let Some(odata_id) = odata_id {
        m.insert("@odata.id".into(), json!(odata_id));
    }
    m.insert("@odata.mediaContentType".into(), json!(p.content_type));
    m.insert("@odata.mediaEtag".into(), json!(p.etag));
    m.insert("id".into(), json!(id));
    m.insert("height".into(), json!(p.height));
    m.insert("width".into(), json!(p.width));
    Value::Object(m)
}

fn json_response(v: &Value) -> GraphResult<Response> {
    Ok(json_status(StatusCode::OK, serde_json::to_vec(v).map_err(GraphError::internal)?))
}

/// `.../contacts/{id}/photo...`
pub async fn contact(
    ctx: &Ctx,
    method: &Method,
    folder: &FolderPath,
    id: &str,
    photo: &PhotoPath,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let scope = ctx.contact_scope(folder, &id).await?;
    let context = ctx.context(&format!("contacts('{id}')"));
    if *photo == PhotoPath::Sizes && *method == Method::GET {
        // An empty list means "no photo"; a missing contact is still a 404.
        ctx.state.store.get_contact(ctx.mailbox(), &id, &scope).await?.ok_or_else(GraphError::item_not_found)?;
    }
    serve(ctx, method, PhotoOwner::Contact(id, scope), photo, headers, body, &context).await
}

/// `/me/photo...`, `/users/{id}/photo...`
pub async fn user(
    ctx: &Ctx,
    method: &Method,
    photo: &PhotoPath,
    headers: &HeaderMap,
    body: Vec<u8>,
) -> GraphResult<Response> {
    let context = ctx.context("");
    let context = context.trim_end_matches('/');
    if *method == Method::DELETE && matches!(photo, PhotoPath::One { size: None, .. }) {
        return if ctx.state.store.delete_photo(ctx.mailbox(), &PhotoOwner::User).await? {
            Ok(crate::response::no_content())
        } else {
            Err(photo_not_found())
        };
    }
    serve(ctx, method, PhotoOwner::User, photo, headers, body, context).await
}

async fn serve(
    ctx: &Ctx,
    method: &Method,
    owner: PhotoOwner,
    photo: &PhotoPath,
    headers: &HeaderMap,
    body: Vec<u8>,
    context: &str,
) -> GraphResult<Response> {
    let store = &ctx.state.store;
    match (method, photo) {
        (&Method::GET, PhotoPath::Sizes) => {
            let sizes: Vec<Value> = store
                .photo_metadata(ctx.mailbox(), &owner)
                .await?
                .iter()
                .filter(|p| p.size != ORIGINAL_SIZE)
                .map(|p| metadata(p, None, None))
                .collect();
            json_response(&json!({"@odata.context": format!("{context}/photos"), "value": sizes}))
        }
        (&Method::GET, PhotoPath::One { size, value: false }) => {
            let key = match size {
                Some(s) => size_key(s)?,
                None => ORIGINAL_SIZE.to_owned(),
            };
            let all = store.photo_metadata(ctx.mailbox(), &owner).await?;
            let p = all.iter().find(|p| p.size == key).ok_or_else(photo_not_found)?;
            let (entity, odata_id) = match size {
                Some(s) => (format!("{context}/photos('{s}')/$entity"), format!("photos('{key}X{key}')")),
                None => (format!("{context}/photo/$entity"), "photo".to_owned()),
            };
            let odata_id = match owner {
                PhotoOwner::User => Some(format!("{}/users('{}')/{odata_id}", ctx.base, ctx.user.id)),
                PhotoOwner::Contact(..) => None,
            };
            json_response(&metadata(p, Some(&entity), odata_id.as_deref()))
        }
        (&Method::GET, PhotoPath::One { size, value: true }) => {
            let key = match size {
                Some(s) => size_key(s)?,
                None => ORIGINAL_SIZE.to_owned(),
            };
            let mut p = store.photo(ctx.mailbox(), &owner, &key).await?.ok_or_else(photo_not_found)?;
            if p.bytes.is_empty() && p.size != ORIGINAL_SIZE && !not_modified(&p, headers) {
                p = render_on_read(ctx, &owner, p).await?;
            }
            Ok(bytes_response(p, headers))
        }
        (&Method::PUT | &Method::PATCH, PhotoPath::One { size: None, value: true }) => {
            let limit = ctx.state.limits().photo_bytes;
            if body.len() > limit {
                return Err(GraphError::new(
                    ErrorKind::PayloadTooLarge,
                    "RequestEntityTooLarge",
                    format!("A photo may be at most {limit} bytes."),
                ));
            }
            upload(ctx, &owner, body).await?;
            let mut resp = Response::new(Body::empty());
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
            Ok(resp)
        }
        // `methods::allowed` lets only the methods above through.
        (m, _) => Err(GraphError::internal(format!("{m} reached the photo handler"))),
    }
}

/// Whether `If-None-Match` names the photo's etag (or `*`).
fn not_modified(p: &StoredPhoto, headers: &HeaderMap) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == p.etag)
}

/// `$value`: the bytes as stored, with the media etag; `If-None-Match` gets 304.
fn bytes_response(p: StoredPhoto, headers: &HeaderMap) -> Response {
    let not_modified = not_modified(&p, headers);
    let etag = HeaderValue::from_str(&p.etag).ok();
    let mut resp = if not_modified {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(p.bytes));
        if let Ok(ct) = HeaderValue::from_str(&p.content_type) {
            r.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        r
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    if let Some(etag) = etag {
        h.insert(header::ETAG, etag);
    }
    resp
}

/// The stored rows of a new photo: the original with its bytes, and every standard size it can
/// fill with its metadata (from the original's dimensions, `rolo_media::planned`) but no bytes
/// yet: a size is rendered on its first read (`render_on_read`). A size with the original's
/// dimensions is the original.
pub(crate) fn renditions(original: rolo_media::Photo) -> Vec<StoredPhoto> {
    let etag = original.etag();
    let mut out: Vec<StoredPhoto> = rolo_media::planned(original.width, original.height)
        .into_iter()
        .map(|p| StoredPhoto {
            size: p.size.to_string(),
            content_type: if p.is_original { original.content_type } else { "image/jpeg" }.to_owned(),
            width: p.width,
            height: p.height,
            etag: if p.is_original { etag.clone() } else { rolo_media::rendition_etag(&etag, p.size) },
            bytes: if p.is_original { original.bytes.clone() } else { Vec::new() },
        })
        .collect();
    out.insert(
        0,
        StoredPhoto {
            size: ORIGINAL_SIZE.to_owned(),
            content_type: original.content_type.to_owned(),
            width: original.width,
            height: original.height,
            etag,
            bytes: original.bytes,
        },
    );
    out
}

/// Decodes the upload (real decoding decides what is an image) and stores the original with the
/// standard sizes' metadata; the sizes themselves are rendered when first read. The CPU work
/// runs off the async workers.
async fn upload(ctx: &Ctx, owner: &PhotoOwner, body: Vec<u8>) -> GraphResult<()> {
    if body.is_empty() {
        return Err(GraphError::bad_request("ErrorInvalidRequest", "The request body must hold the image."));
    }
    let _slot = ctx.state.photo_slots.acquire().await.map_err(GraphError::internal)?;
    let renditions = tokio::task::spawn_blocking(move || rolo_media::decode(body).map(|u| renditions(u.original)))
        .await
        .map_err(GraphError::internal)?
        .map_err(|e| GraphError::bad_request("ErrorInvalidImage", e.to_string()))?;
    ctx.state.store.put_photo(ctx.mailbox(), owner, renditions).await
}

/// Renders a size on its first read from the stored original and keeps it, so later reads are
/// plain reads. Two first reads at once both render; the bytes are the same.
async fn render_on_read(ctx: &Ctx, owner: &PhotoOwner, mut p: StoredPhoto) -> GraphResult<StoredPhoto> {
    let store = &ctx.state.store;
    let original = store.photo(ctx.mailbox(), owner, ORIGINAL_SIZE).await?.ok_or_else(photo_not_found)?;
    let size: u32 = p.size.parse().map_err(GraphError::internal)?;
    let _slot = ctx.state.photo_slots.acquire().await.map_err(GraphError::internal)?;
    let rendered = tokio::task::spawn_blocking(move || rolo_media::render(original.bytes, size))
        .await
        .map_err(GraphError::internal)?
        .map_err(GraphError::internal)?;
    store.fill_photo(ctx.mailbox(), owner, &p.size, &p.etag, rendered.bytes.clone()).await?;
    p.bytes = rendered.bytes;
    Ok(p)
}
