//! The entry point of every Graph request: authentication, the URL space, the mailbox, then a
//! thin handler per resource (`contacts`, `folders`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use rolo_domain::mail::ItemKind;
use rolo_domain::{Access, ApiVersion, ErrorKind, GraphError, GraphResult};
use serde_json::Value;

use crate::auth::bearer;
use crate::body::{drain, parse_json, read_body};
pub use crate::ctx::Ctx;
use crate::error::ApiError;
use crate::paths::Resource;
use crate::query::{parse_options, Prefer};
use crate::{categories, contacts, delta, extensions, folders, messages, methods, photos, AppState};

/// The single handler behind the router's fallback: every path and method.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let mut body = Some(body);
    match serve(state, parts, &mut body).await {
        Ok(resp) => resp,
        Err(e) => {
            // A request refused before its body was read (401, 403, a bad path...) still has its
            // upload in flight; reading it first lets the client see the answer instead of a reset.
            if let Some(unread) = body.take() {
                drain(unread).await;
            }
            ApiError(e).into_response()
        }
    }
}

async fn serve(
    state: Arc<AppState>,
    mut parts: axum::http::request::Parts,
    body: &mut Option<Body>,
) -> GraphResult<Response> {
    let full_path = parts.uri.path().to_owned();
    match full_path.as_str() {
        // Liveness needs nothing; readiness needs the database to answer.
        "/healthz" => return Ok(plain(StatusCode::OK, "ok")),
        // A process shutting down is unready first, so a load balancer drains it.
        "/readyz" if state.shutdown.is_draining() => {
            return Ok(plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))
        }
        "/readyz" => {
            return Ok(match state.store.find_user("readyz@rolo.invalid").await {
                Ok(_) => plain(StatusCode::OK, "ready"),
                Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
            })
        }
        _ => {}
    }
    if crate::dav::is_dav_request(&parts.method, &full_path) {
        return Ok(crate::dav::serve(state, parts, body.take()).await);
    }
    if crate::admin::is_admin_path(&full_path) {
        crate::admin::admit(&state, &parts.headers, parts.uri.authority().map(|a| a.as_str()))?;
        let raw = match parts.method {
            Method::POST | Method::PATCH => read_body(&parts.headers, body.take().unwrap_or_default()).await?,
            _ => Vec::new(),
        };
        let json = crate::admin::parse_body(&parts.headers, &raw)?;
        return crate::admin::serve(&state, &parts.method, &full_path, parts.uri.query(), &json).await;
    }
    // The identity platform's endpoints live at /{tenant}/..., outside the API versions.
    if let Some((tenant, endpoint)) = crate::identity::route(&full_path) {
        let root = root_url(&state, &parts);
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        // Behind TLS (the request's own scheme, or an https public URL) the session cookie is `Secure`.
        let secure = root.starts_with("https://") || parts.uri.scheme_str() == Some("https");
        let call = crate::identity::Call {
            method: &parts.method,
            headers: &parts.headers,
            peer,
            root: &root,
            query: parts.uri.query(),
            secure,
        };
        return Ok(crate::identity::serve(&state, call, body.take(), tenant, endpoint).await);
    }
    let Some((version, rest)) = strip_version(&full_path) else {
        let version = full_path.trim_start_matches('/').split('/').next().unwrap_or("");
        return Err(GraphError::bad_request("BadRequest", format!("Invalid version: {version}")));
    };
    // The service document, $metadata and openapi.json are public, as on Graph.
    let root = rest.trim_end_matches('/');
    let openapi = root.eq_ignore_ascii_case("openapi.json");
    if root.is_empty() || root.eq_ignore_ascii_case("$metadata") || openapi {
        methods::check(&parts.method, methods::GET)?;
        if openapi {
            let mut resp = Response::new(Body::from(crate::openapi::document(version)));
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return Ok(resp);
        }
        if root.is_empty() {
            let body = crate::metadata::service_document(&base_url(&state, &parts, version));
            return Ok(crate::response::json_status(
                StatusCode::OK,
                serde_json::to_vec(&body).map_err(GraphError::internal)?,
            ));
        }
        let mut resp = Response::new(Body::from(crate::metadata::csdl(version)));
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        resp.headers_mut().insert("OData-Version", HeaderValue::from_static("4.0"));
        return Ok(resp);
    }
    let has_nul = |s: &str| s.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0');
    if has_nul(&full_path) || parts.uri.query().is_some_and(has_nul) {
        return Err(GraphError::bad_request(
            "BadRequest",
            "The request URL contains a NUL character, which is not allowed.",
        ));
    }
    // The emulator's fault injection answers before anything else is done.
    if state.emulator {
        if let Some(fault) = state.faults().draw() {
            return Err(fault);
        }
    }
    let token = bearer(parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()))?;
    let principal = state.authenticate(token).await?;
    state.require_active(&principal).await?;
    if rest.trim_end_matches('/').eq_ignore_ascii_case("$batch") {
        methods::check(&parts.method, methods::POST)?;
        let body = parse_json(&parts.headers, &read_body(&parts.headers, body.take().unwrap_or_default()).await?)?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let origins = crate::batch::Origins::new(host, state.public_url.as_deref());
        return crate::batch::handle(state, parts.headers, version, origins, body).await;
    }
    // Resources at the service root, outside any mailbox.
    if crate::subscriptions::is_subscriptions_path(rest) {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        let query = parts.uri.query();
        return crate::subscriptions::serve(&state, &principal, &parts.method, rest, query, &base, &json).await;
    }
    if crate::grants::is_grants_path(rest) {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        return crate::grants::serve(&state, &principal, &parts.method, rest, &base, &json).await;
    }
    if crate::schemas::is_schema_path(rest) {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        return crate::schemas::serve(&state, &principal, &parts.method, rest, parts.uri.query(), &base, &json).await;
    }
    // Microsoft 365 groups (and `/me/memberOf`), outside any user's mailbox.
    if let Some(route) = crate::groups::route(rest) {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        let call = crate::groups::Call { parts: &parts, version, base: &base, rest, body: json };
        return crate::groups::serve(&state, &principal, call, route).await;
    }
    // Rolo's administration extensions: delegates and members, app passwords, the app registry.
    if let Some(route) = crate::applications::route(rest) {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        return crate::applications::serve(&state, &principal, &parts.method, route, &base, &json).await;
    }
    if let Some(target) = crate::delegation::user_collection(rest, "mailboxPermissions") {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        return crate::delegation::mailbox_permissions(&state, &principal, &parts.method, target, &base, &json).await;
    }
    if let Some(target) = crate::delegation::user_collection(rest, "sharedWithMe") {
        let base = base_url(&state, &parts, version);
        return crate::delegation::shared_with_me(&state, &principal, &parts.method, target, &base).await;
    }
    if let Some(target) = crate::delegation::user_collection(rest, "appPasswords") {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        return crate::app_passwords::serve(&state, &principal, &parts.method, target, &base, &json).await;
    }
    // The directory (`/me`, `/users`, `/organization`) before the mailbox URL space.
    if let Some(target) = crate::users::route(rest) {
        let json = root_body(&parts, body).await?;
        let base = base_url(&state, &parts, version);
        let call = crate::users::Call {
            method: &parts.method,
            headers: &parts.headers,
            raw_query: parts.uri.query(),
            base: &base,
        };
        return crate::users::serve(&state, &principal, call, target, &json).await;
    }
    let path = crate::paths::parse(rest)?;
    let allowed = methods::allowed(&path);
    methods::check(&parts.method, allowed)?;

    let method = parts.method.clone();
    let access = if method == Method::GET || method == Method::HEAD { Access::Read } else { Access::Write };
    let kind = path.resource.route_kind();
    // First as if the mailbox were the caller's own: the weakest grant, so a caller without any
    // fitting scope learns nothing of who exists.
    principal.require_route(kind, access, true)?;
    let user = crate::mailbox::resolve_owner(&state, &principal, &path.owner).await?;
    if user.kind == rolo_store::MailboxKind::Group {
        // A group's mailbox is reached through `/groups/{id}`, never as a user's.
        return Err(GraphError::invalid_user(&user.id));
    }
    if user.kind == rolo_store::MailboxKind::Archive {
        // Graph does not serve in-place archives.
        return Err(GraphError::new(
            ErrorKind::NotFound,
            "MailboxNotEnabledForRESTAPI",
            "REST API is not yet supported for this mailbox.",
        ));
    }
    let own = principal.user_id.as_deref() == Some(user.id.as_str());
    principal.require_route(kind, access, own)?;
    let mailbox_access = crate::mailbox::open(&state, &principal, &user, kind.mailbox_rule()).await?;
    // Limits are per (app, mailbox), as Outlook's; the slot is held until the response is built.
    let app_key = principal.app_id.clone().unwrap_or_default();
    let _permit = state.throttle.admit_request(&app_key, &user.id).await?;

    let options = parse_options(parts.uri.query())?;
    let base = base_url(&state, &parts, version);
    let ctx = Ctx {
        version,
        access: mailbox_access,
        mode: access,
        prefer: Prefer::parse(parts.headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok())),
        if_match: crate::response::if_match(&parts.headers),
        // Moved, not copied: the rest of the request reads them through the context.
        headers: std::mem::take(&mut parts.headers),
        raw_query: parts.uri.query().map(str::to_owned),
        path: format!("/{}", rest.trim_end_matches('/')),
        state,
        principal,
        user,
        base,
        options,
    };

    let raw_body = if method == Method::POST || method == Method::PATCH || method == Method::PUT {
        read_body(&ctx.headers, body.take().unwrap_or_default()).await?
    } else {
        Vec::new()
    };
    ctx.state.throttle.charge_upload(&app_key, &ctx.user.id, raw_body.len() as u64).await?;
    if let Resource::ContactPhoto { folder, id, photo } = &path.resource {
        return photos::contact(&ctx, &method, folder, id, photo, &ctx.headers, raw_body).await;
    }
    if let Resource::UserPhoto(photo) = &path.resource {
        return photos::user(&ctx, &method, photo, &ctx.headers, raw_body).await;
    }
    if let Some(resp) = crate::vcard::serve(&ctx, &method, &path.resource, &raw_body).await {
        return resp;
    }
    if path.count {
        return crate::count::serve(&ctx, &path.resource).await;
    }
    let writes_entity = (method == Method::POST || method == Method::PATCH) && takes_entity_body(&path.resource);
    let body = if writes_entity && raw_body.iter().all(u8::is_ascii_whitespace) {
        // Graph refuses a create or update without a body rather than reading it as `{}`.
        return Err(GraphError::bad_request("BadRequest", "Empty Payload. JSON content expected."));
    } else if raw_body.is_empty() {
        Value::Null
    } else {
        parse_json(&ctx.headers, &raw_body)?
    };

    match (method, path.resource) {
        (Method::GET, Resource::Contacts(f)) => contacts::list(&ctx, &f).await,
        (Method::GET, Resource::ContactsDelta(f)) => delta::contacts(&ctx, &f).await,
        (Method::GET, Resource::FoldersDelta) => delta::folders(&ctx).await,
        (Method::POST, Resource::Contacts(f)) => contacts::create(&ctx, &f, &body).await,
        (Method::GET, Resource::Contact { folder, id, permanent_delete: false }) => {
            contacts::get(&ctx, &folder, &id).await
        }
        (Method::PATCH, Resource::Contact { folder, id, permanent_delete: false }) => {
            contacts::update(&ctx, &folder, &id, body).await
        }
        (Method::DELETE, Resource::Contact { folder, id, permanent_delete: false })
        | (Method::POST, Resource::Contact { folder, id, permanent_delete: true }) => {
            contacts::delete(&ctx, &folder, &id).await
        }
        (Method::POST, Resource::ContactMerge { folder, id }) => crate::merge::merge(&ctx, &folder, &id, &body).await,
        (m, Resource::ContactExtensions { folder, id, extension }) => {
            extensions::serve(&ctx, &m, &folder, &id, extension.as_deref(), &body).await
        }
        (m, Resource::FolderPermissions { chain, id }) => {
            crate::permissions::serve(&ctx, &m, &chain, id.as_deref(), &body).await
        }
        (Method::GET, Resource::People) => crate::people::list(&ctx).await,
        (Method::GET, Resource::Categories) => categories::list(&ctx).await,
        (Method::POST, Resource::Categories) => categories::create(&ctx, &body).await,
        (Method::GET, Resource::Category(id)) => categories::get(&ctx, &id).await,
        (Method::PATCH, Resource::Category(id)) => categories::update(&ctx, &id, &body).await,
        (Method::DELETE, Resource::Category(id)) => categories::delete(&ctx, &id).await,
        (Method::GET, Resource::Folders(parent)) => folders::list(&ctx, &parent).await,
        (Method::POST, Resource::Folders(parent)) => folders::create(&ctx, &parent, &body).await,
        (Method::GET, Resource::Folder { chain, permanent_delete: false }) => folders::get(&ctx, &chain).await,
        (Method::PATCH, Resource::Folder { chain, permanent_delete: false }) => {
            folders::update(&ctx, &chain, &body).await
        }
        (Method::DELETE, Resource::Folder { chain, permanent_delete: false })
        | (Method::POST, Resource::Folder { chain, permanent_delete: true }) => folders::delete(&ctx, &chain).await,
        (Method::GET, Resource::Messages(f)) => messages::list(&ctx, ItemKind::Message, f.as_deref()).await,
        (Method::POST, Resource::Messages(f)) => messages::create_message(&ctx, f.as_deref(), &body).await,
        (Method::GET, Resource::Message(id)) => messages::get(&ctx, ItemKind::Message, &id).await,
        (Method::PATCH, Resource::Message(id)) => messages::update(&ctx, ItemKind::Message, &id, body).await,
        (Method::DELETE, Resource::Message(id)) => messages::delete(&ctx, ItemKind::Message, &id).await,
        (Method::POST, Resource::SendMail) => messages::send_mail(&ctx, &body).await,
        (Method::POST, Resource::SendDraft(id)) => messages::send_draft(&ctx, &id).await,
        (Method::GET, Resource::Events) => messages::list(&ctx, ItemKind::Event, None).await,
        (Method::POST, Resource::Events) => messages::create_event(&ctx, &body).await,
        (Method::GET, Resource::Event(id)) => messages::get(&ctx, ItemKind::Event, &id).await,
        (Method::PATCH, Resource::Event(id)) => messages::update(&ctx, ItemKind::Event, &id, body).await,
        (Method::DELETE, Resource::Event(id)) => messages::delete(&ctx, ItemKind::Event, &id).await,
        (m, r) if r.is_todo() => crate::todo::serve(&ctx, &m, r, body).await,
        (m, _) => Err(methods::method_not_allowed(&m, allowed)),
    }
}

/// Whether a POST or PATCH on `resource` carries an entity (a create or an update), as opposed to
/// an action such as `permanentDelete` or a draft's `send`, which takes no body.
fn takes_entity_body(resource: &Resource) -> bool {
    !matches!(
        resource,
        Resource::Contact { permanent_delete: true, .. }
            | Resource::Folder { permanent_delete: true, .. }
            | Resource::SendDraft(_)
    )
}

/// The JSON body of a POST or PATCH (`null` for other methods or an empty body).
async fn root_body(parts: &axum::http::request::Parts, body: &mut Option<Body>) -> GraphResult<Value> {
    if parts.method != Method::POST && parts.method != Method::PATCH {
        return Ok(Value::Null);
    }
    let raw = read_body(&parts.headers, body.take().unwrap_or_default()).await?;
    if raw.is_empty() {
        Ok(Value::Null)
    } else {
        parse_json(&parts.headers, &raw)
    }
}

/// `http://host/v1.0` (or `/beta`), or the configured public URL.
fn base_url(state: &AppState, parts: &axum::http::request::Parts, version: ApiVersion) -> String {
    let mut url = root_url(state, parts);
    url.push('/');
    url.push_str(version.segment());
    url
}

/// `http://host` (`https://` when Rolo itself ends TLS), or the configured public URL, without a
/// trailing `/`. HTTP/2 carries the host in the URI's authority rather than a `Host` header.
fn root_url(state: &AppState, parts: &axum::http::request::Parts) -> String {
    match &state.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let host = parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or("localhost");
            let scheme = if crate::tls::is_https(&parts.extensions) { "https://" } else { "http://" };
            // Room for the version segment `base_url` appends.
            let mut url = String::with_capacity(scheme.len() + host.len() + 8);
            url.push_str(scheme);
            url.push_str(host);
            url
        }
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// `/v1.0/rest` → (v1.0, `rest`) (the version segment matched case-insensitively).
fn strip_version(path: &str) -> Option<(ApiVersion, &str)> {
    let p = path.strip_prefix('/')?;
    let (version, rest) = p.split_once('/').unwrap_or((p, ""));
    ApiVersion::from_segment(version).map(|v| (v, rest))
}
