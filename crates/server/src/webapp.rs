//! Rolo People's server side: the web app's static files, embedded in the binary and served at
//! `/` and `/assets/...`, and its built-in public client. Everything else the app does goes
//! through the public Graph API (`/v1.0`, `/beta`) with a token from the authorization endpoint,
//! so this module holds no contact logic at all.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use rolo_store::RegisteredApp;

/// The web app's client id: a public client (no secret, PKCE required) that exists on every
/// Rolo, emulator or not, and may only send codes back to the server's own origin.
pub const WEBAPP_CLIENT_ID: &str = "7a0c6f2e-6b1e-4c3a-9f6e-526f6c6f0003";

/// The display name users see on the sign-in page.
pub const WEBAPP_NAME: &str = "Rolo People";

/// The built-in client, its redirect URI being the root of the server the request reached
/// (`root` is `scheme://host[:port]`, the public URL when one is configured).
pub fn client(root: Option<&str>) -> RegisteredApp {
    RegisteredApp {
        client_id: WEBAPP_CLIENT_ID.to_owned(),
        display_name: WEBAPP_NAME.to_owned(),
        service_principal_id: WEBAPP_CLIENT_ID.to_owned(),
        roles: Vec::new(),
        secret_hash: String::new(),
        created_at: String::new(),
        public_client: true,
        redirect_uris: root.map(|r| vec![format!("{}/", r.trim_end_matches('/'))]).unwrap_or_default(),
        certificate: None,
    }
}

/// Whether `app` is the web app: the same server's first-party client, whose user-consentable
/// scopes need no consent page (the person is signing in to Rolo itself).
pub fn is_first_party(app: &RegisteredApp) -> bool {
    app.client_id.eq_ignore_ascii_case(WEBAPP_CLIENT_ID)
}

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $ty:expr) => {
        Asset { path: $path, content_type: $ty, bytes: include_bytes!(concat!("../webapp/", $file)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the app. A new module must be listed here (a unit test checks that every file
/// under `webapp/` is).
static ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/assets/app.css", "app.css", "text/css; charset=utf-8"),
    asset!("/assets/icon.svg", "icon.svg", "image/svg+xml"),
    asset!("/assets/main.js", "main.js", JS),
    asset!("/assets/auth.js", "auth.js", JS),
    asset!("/assets/api.js", "api.js", JS),
    asset!("/assets/dom.js", "dom.js", JS),
    asset!("/assets/store.js", "store.js", JS),
    asset!("/assets/list.js", "list.js", JS),
    asset!("/assets/sidebar.js", "sidebar.js", JS),
    asset!("/assets/detail.js", "detail.js", JS),
    asset!("/assets/fields.js", "fields.js", JS),
    asset!("/assets/tools.js", "tools.js", JS),
    asset!("/assets/dupes.js", "dupes.js", JS),
    asset!("/assets/admin.js", "admin.js", JS),
];

/// The JavaScript budget stated in the README: the sum of the app's modules, uncompressed.
pub const JS_BUDGET_BYTES: usize = 96 * 1024;

/// The policy on every page and asset: scripts and styles only from this origin (no inline code,
/// no `eval`), images also from `blob:` (photo previews) and `data:`, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'; form-action 'self'";

/// Whether the request is for the web app (so the Graph router never sees it).
pub fn is_webapp_path(path: &str) -> bool {
    find(path).is_some()
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn etag(bytes: &[u8]) -> String {
    // FNV-1a: a change detector for an embedded file, not a security boundary.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// Serves a web app file: `None` when `path` is not one. Files are revalidated on every load
/// (`no-cache` with an `ETag`), so a new binary's app is picked up at once and an unchanged file
/// costs a 304.
/// Other methods fall through to the Graph router, which answers with Graph's error envelope.
pub fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let asset = find(path)?;
    let tag = etag(asset.bytes);
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::ETAG, &tag)
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header("Cross-Origin-Opener-Policy", "same-origin");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if fresh {
        return builder.status(StatusCode::NOT_MODIFIED).body(Body::empty()).ok();
    }
    builder = builder.status(StatusCode::OK).header(header::CONTENT_TYPE, asset.content_type);
    let body = if method == Method::HEAD { Body::empty() } else { Body::from(asset.bytes) };
    builder.body(body).ok()
}

/// Answers the web app's paths before the Graph router sees them.
pub async fn middleware(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if let Some(r) = serve(req.method(), req.uri().path(), req.headers()) {
        return r;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_stays_within_its_budget() {
        let total: usize = ASSETS.iter().filter(|a| a.content_type == JS).map(|a| a.bytes.len()).sum();
        assert!(total <= JS_BUDGET_BYTES, "the web app's JavaScript is {total} bytes, over its budget of {JS_BUDGET_BYTES}: trim it, or raise the budget in webapp.rs and the README together");
    }

    #[test]
    fn every_file_of_the_app_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("webapp");
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let served =
                ASSETS.iter().any(|a| a.path.ends_with(&format!("/{name}")) || (a.path == "/" && name == "index.html"));
            assert!(served, "webapp/{name} is not listed in ASSETS");
        }
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let html = std::str::from_utf8(find("/").unwrap().bytes).unwrap();
        assert!(!html.contains("<script>") && !html.contains("style="), "inline code would need 'unsafe-inline'");
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }

    #[test]
    fn revalidation_answers_304() {
        let mut h = HeaderMap::new();
        let first = serve(&Method::GET, "/assets/main.js", &h).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CONTENT_TYPE], JS);
        h.insert(header::IF_NONE_MATCH, first.headers()[header::ETAG].clone());
        assert_eq!(serve(&Method::GET, "/assets/main.js", &h).unwrap().status(), StatusCode::NOT_MODIFIED);
        assert!(serve(&Method::GET, "/assets/nope.js", &h).is_none());
        assert!(serve(&Method::POST, "/", &h).is_none(), "left to the Graph router's envelope");
    }
}
