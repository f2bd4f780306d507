//! The sign-in pages Rolo serves (the authorization endpoint's and `/devicelogin`'s): plain HTML
//! forms that work without JavaScript, with labels and a `lang`, under a Content-Security-Policy
//! that allows no script at all. A sealed session cookie (`HttpOnly`, `SameSite=Lax`, `Secure`
//! behind TLS) remembers who signed in, so a second app signs in without a password; every form
//! carries a CSRF token derived from that cookie's random nonce.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;
use rolo_domain::consent;
use rolo_domain::GraphResult;
use rolo_store::{RegisteredApp, User};
use serde::{Deserialize, Serialize};

use crate::identity::{check_password, password_stamp, Call, Form, RequestedScopes};
use crate::query::TokenCodec;
use crate::AppState;

pub(crate) const SESSION_COOKIE: &str = "rolo_session";
/// The resource Rolo's consent grants name: Microsoft Graph's application id.
pub(crate) const GRAPH_RESOURCE: &str = "00000003-0000-0000-c000-000000000000";

/// The browser's session, sealed in its cookie. Anonymous until someone signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    /// Always `ss`, so no other sealed token passes as one.
    typ: String,
    /// Random, per session: the CSRF token is derived from it.
    nonce: String,
    pub uid: Option<String>,
    /// [`password_stamp`] at sign-in: a password change ends the session.
    pwd: Option<String>,
    exp: i64,
}

fn codec(state: &AppState, purpose: &[u8]) -> TokenCodec {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &state.authority.token_secret);
    TokenCodec::new(hmac::sign(&key, purpose).as_ref())
}

fn now() -> i64 {
    crate::tokens::now()
}

fn random_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

impl Session {
    pub(crate) fn anonymous(state: &AppState) -> Session {
        Session {
            typ: "ss".into(),
            nonce: random_nonce(),
            uid: None,
            pwd: None,
            exp: now() + state.signin().session_ttl,
        }
    }

    /// A fresh session (a new nonce, so a session planted before sign-in is worth nothing).
    pub(crate) fn signed_in(state: &AppState, user: &User, password_hash: &str) -> Session {
        Session { uid: Some(user.id.clone()), pwd: Some(password_stamp(password_hash)), ..Session::anonymous(state) }
    }

    pub(crate) fn csrf(&self, state: &AppState) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &state.authority.token_secret);
        URL_SAFE_NO_PAD.encode(&hmac::sign(&key, format!("rolo csrf {}", self.nonce).as_bytes()).as_ref()[..18])
    }

    /// The `Set-Cookie` value carrying this session.
    pub(crate) fn cookie(&self, state: &AppState, secure: bool) -> HeaderValue {
        let value = codec(state, b"rolo sign-in sessions").seal(self);
        let max_age = (self.exp - now()).max(0);
        cookie_header(&format!("{SESSION_COOKIE}={value}; Max-Age={max_age}"), secure)
    }
}

fn cookie_header(head: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{head}; Path=/; HttpOnly; SameSite=Lax{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("rolo_session=; Max-Age=0; Path=/"))
}

/// The `Set-Cookie` value that ends the session.
pub(crate) fn clear_cookie(secure: bool) -> HeaderValue {
    cookie_header(&format!("{SESSION_COOKIE}=; Max-Age=0"), secure)
}

/// The request's session, when its cookie is ours and unexpired.
pub(crate) fn read_session(state: &AppState, headers: &HeaderMap) -> Option<Session> {
    let codec = codec(state, b"rolo sign-in sessions");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .filter_map(|raw| codec.open::<Session>(raw))
        .find(|s| s.typ == "ss" && s.exp > now())
}

/// The session's user, while the session is good: the user exists and their password has not
/// changed since they signed in.
pub(crate) async fn session_user(state: &AppState, session: &Session) -> GraphResult<Option<(User, String)>> {
    let Some(uid) = &session.uid else { return Ok(None) };
    let Some(user) = state.user(uid).await? else { return Ok(None) };
    let Some(hash) = state.store.password_hash(&user.id).await? else { return Ok(None) };
    Ok((session.pwd.as_deref() == Some(password_stamp(&hash).as_str())).then_some((user, hash)))
}

/// A posted form's session, when its CSRF token matches the session cookie's.
pub(crate) fn checked_session(state: &AppState, headers: &HeaderMap, form: &Form) -> Option<Session> {
    let session = read_session(state, headers)?;
    let sent = form.get("csrf")?;
    let expected = session.csrf(state);
    crate::query::constant_time_eq(sent.as_bytes(), expected.as_bytes()).then_some(session)
}

/// Why a password sign-in on a page failed (the message shown).
pub(crate) const WRONG_PASSWORD: &str = "Your account or password is incorrect.";
pub(crate) const LOCKED: &str =
    "Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Try again later.";

/// Checks a user name and password as the password grant does: the lockout first (a locked name
/// or address costs no hash), then the hash, off the async workers.
pub(crate) async fn check_credentials(
    state: &AppState,
    call: &Call<'_>,
    login: &str,
    password: &str,
) -> Result<(User, String), &'static str> {
    let address = call.peer.map(|ip| ip.to_string());
    if state.lockout.locked(login, address.as_deref()).await.is_some() {
        tracing::warn!(user = login, address = ?address, "page sign-in refused: locked out");
        return Err(LOCKED);
    }
    let server = "Sign-in is not available right now. Try again.";
    let user = state.user(login).await.map_err(|_| server)?;
    let stored = match &user {
        Some(u) => state.store.password_hash(&u.id).await.map_err(|_| server)?,
        None => None,
    };
    let verified = check_password(state, password.to_owned(), stored.clone()).await.map_err(|_| server)?;
    match (user, stored, verified) {
        (Some(user), Some(stored), true) => {
            state.lockout.succeeded(login).await;
            Ok((user, stored))
        }
        _ => {
            state.lockout.failed(login, address.as_deref()).await;
            tracing::info!(user = login, address = ?address, "page sign-in failed: invalid username or password");
            Err(WRONG_PASSWORD)
        }
    }
}

/// Where consent stands for a user signing in to an app with some scopes.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsentState {
    /// What the token may carry once the user consents to `pending`.
    pub granted: Vec<String>,
    /// User-consentable scopes the user has not consented to for this app yet.
    pub pending: Vec<String>,
    /// Admin-only scopes without an admin's grant: left out.
    pub needs_admin: Vec<String>,
    pub unknown: Vec<String>,
}

pub(crate) async fn consent_state(
    state: &AppState,
    app: &RegisteredApp,
    user: &User,
    scopes: &RequestedScopes,
) -> GraphResult<ConsentState> {
    let grants = state.store.grants_for(&app.client_id, &user.id).await?;
    let have: Vec<String> = grants.into_iter().flat_map(|g| g.scopes).collect();
    let mut asked = scopes.graph.clone();
    if scopes.default {
        // `.default`: the standing set plus whatever an admin granted the app.
        for h in have.iter().filter_map(|h| consent::delegated(h)) {
            if !asked.iter().any(|a| a.eq_ignore_ascii_case(h.0)) {
                asked.push(h.0.to_owned());
            }
        }
    }
    let decision = consent::decide(&asked, &have);
    let pending =
        decision.granted.iter().filter(|g| !have.iter().any(|h| h.eq_ignore_ascii_case(g))).cloned().collect();
    Ok(ConsentState {
        granted: decision.granted,
        pending,
        needs_admin: decision.needs_admin,
        unknown: decision.unknown,
    })
}

/// Remembers the user's consent to `scopes` for the app (Graph's per-principal grant).
pub(crate) async fn remember_consent(
    state: &AppState,
    app: &RegisteredApp,
    user: &User,
    scopes: &[String],
) -> GraphResult<()> {
    if scopes.is_empty() {
        return Ok(());
    }
    state.store.grant_scopes(&app.client_id, Some(&user.id), GRAPH_RESOURCE, scopes).await.map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// HTML.

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page: `form_target` is an origin the page's forms (or the redirects answering them) may go
/// to besides this server.
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    body: &str,
    cookie: Option<HeaderValue>,
    form_target: Option<&str>,
) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{} - Rolo</title>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title),
        esc(title)
    );
    let mut resp = Response::new(Body::from(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    let extra = form_target.map(|t| format!(" {t}")).unwrap_or_default();
    let csp = format!("default-src 'none'; form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'");
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some(c) = cookie {
        h.append(header::SET_COOKIE, c);
    }
    resp
}

/// An error page for requests that cannot be sent back to the app.
pub(crate) fn error_page(code: u32, description: &str, cookie: Option<HeaderValue>) -> Response {
    let ids = crate::request_id::RequestIds::current();
    let body = format!(
        "<p role=\"alert\">AADSTS{code}: {}</p>\n<p>Request id: {}</p>",
        esc(description),
        esc(&ids.request_id)
    );
    page(StatusCode::BAD_REQUEST, "Sorry, we couldn't sign you in", &body, cookie, None)
}

fn hidden(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", esc(k), esc(v))).collect()
}

/// The sign-in form; with `current`, the signed-in account is offered first.
pub(crate) fn signin_form(
    action: &str,
    csrf: &str,
    login_hint: Option<&str>,
    error: Option<&str>,
    fields: &[(&str, &str)],
    current: Option<&User>,
) -> String {
    let mut out = String::new();
    if let Some(u) = current {
        out.push_str(&format!(
            "<form method=\"post\" action=\"{}\">\n{}{}<p><button type=\"submit\" name=\"action\" value=\"continue\">Continue as {} ({})</button></p>\n</form>\n<h2>Use another account</h2>\n",
            esc(action),
            hidden(&[("csrf", csrf)]),
            hidden(fields),
            esc(&u.display_name),
            esc(&u.user_principal_name)
        ));
    }
    let (alert, invalid) = match error {
        Some(e) => (
            format!("<p role=\"alert\" id=\"signin-error\">{}</p>\n", esc(e)),
            " aria-invalid=\"true\" aria-describedby=\"signin-error\"",
        ),
        None => (String::new(), ""),
    };
    out.push_str(&format!(
        "{alert}<form method=\"post\" action=\"{}\">\n{}{}<p><label for=\"login\">Email or user name</label><br>\n<input id=\"login\" name=\"login\" type=\"text\" autocomplete=\"username\" required value=\"{}\"{invalid}></p>\n<p><label for=\"passwd\">Password</label><br>\n<input id=\"passwd\" name=\"passwd\" type=\"password\" autocomplete=\"current-password\" required{invalid}></p>\n<p><button type=\"submit\" name=\"action\" value=\"signin\">Sign in</button></p>\n</form>",
        esc(action),
        hidden(&[("csrf", csrf)]),
        hidden(fields),
        esc(login_hint.unwrap_or_default())
    ));
    out
}

/// The consent form: what the app asks that the user may grant, and what needs an admin.
pub(crate) fn consent_form(
    action: &str,
    csrf: &str,
    app: &RegisteredApp,
    user: &User,
    asked: &ConsentState,
    fields: &[(&str, &str)],
) -> String {
    let list =
        |items: &[String]| -> String { items.iter().map(|s| format!("<li>{}</li>\n", esc(s))).collect::<String>() };
    let mut out = format!(
        "<p>Signed in as {} ({}).</p>\n<p><strong>{}</strong> asks for these permissions:</p>\n<ul>\n{}</ul>\n",
        esc(&user.display_name),
        esc(&user.user_principal_name),
        esc(&app.display_name),
        list(&asked.pending)
    );
    if !asked.needs_admin.is_empty() {
        out.push_str(&format!(
            "<p>These need an administrator's consent and will not be granted:</p>\n<ul>\n{}</ul>\n",
            list(&asked.needs_admin)
        ));
    }
    out.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n{}{}<p><button type=\"submit\" name=\"action\" value=\"consent\">Accept</button>\n<button type=\"submit\" name=\"action\" value=\"decline\">Cancel</button></p>\n</form>",
        esc(action),
        hidden(&[("csrf", csrf)]),
        hidden(fields)
    ));
    out
}
