//! The authorization endpoint (`/{tenant}/oauth2/v2.0/authorize`): the authorization-code flow
//! with PKCE as Microsoft's identity platform runs it, its sign-in and consent pages, the
//! `authorization_code` grant that redeems its codes, and sign-out.
//!
//! Codes are sealed (HMAC) and carry the whole grant; each is redeemable once (a store of spent
//! codes until they expire). Replaying a code also revokes the refresh-token family it started.
//! Requests that cannot be trusted to go back to the app (unknown client, unregistered redirect
//! URI) get an error page; every other error goes to the redirect URI, as Microsoft sends them.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::{digest, hmac};
use rolo_domain::ids::new_guid;
use rolo_store::{RegisteredApp, User};
use serde::{Deserialize, Serialize};

use crate::credentials::{find_client, redirect_uri_allowed};
use crate::identity::{
    authenticate_client, parse_delegated_scopes, password_stamp, read_form, required, server_error, Call, Form,
    OAuthError, RequestedScopes,
};
use crate::query::TokenCodec;
use crate::signin_page::{self as pages, Session};
use crate::tokens::{issue_delegated, now, Family, Issue};
use crate::AppState;

/// How the response goes back to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A validated authorization request.
struct Request {
    app: RegisteredApp,
    redirect_uri: String,
    mode: ResponseMode,
    state: Option<String>,
    nonce: Option<String>,
    prompt: Option<String>,
    login_hint: Option<String>,
    scopes: RequestedScopes,
    challenge: Option<(String, String)>,
    /// `client_info=1`: the code comes with the account's `client_info`, as MSAL.js expects.
    client_info: bool,
    /// This endpoint's URL with the request's query, where the pages post back.
    action: String,
}

/// An error for the app, sent to its redirect URI.
struct Redirected {
    error: &'static str,
    code: u32,
    description: String,
}

fn redirected(error: &'static str, code: u32, description: impl Into<String>) -> Redirected {
    Redirected { error, code, description: description.into() }
}

impl From<OAuthError> for Redirected {
    fn from(e: OAuthError) -> Redirected {
        Redirected { error: e.error, code: e.code, description: e.description }
    }
}

fn query_params(query: Option<&str>) -> Form {
    // A repeated parameter keeps its first value.
    let mut form = Form::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    form
}

fn get<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// `scheme://host[:port]` of a URL, for the page's form-action policy.
fn origin_of(uri: &str) -> Option<String> {
    let u = url::Url::parse(uri).ok()?;
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization()).or_else(|| Some(format!("{}:", u.scheme())))
}

/// `GET` (the app's request) and `POST` (the pages' forms) of the authorization endpoint.
pub(crate) async fn authorize(state: &AppState, call: &Call<'_>, body: Option<Body>, tenant: &str) -> Response {
    let params = query_params(call.query);
    // First what decides whether errors may go back to the app at all.
    let Some(client_id) = get(&params, "client_id") else {
        return pages::error_page(900144, "The request body must contain the following parameter: 'client_id'.", None);
    };
    let app = match find_client(state, client_id).await {
        // The web app may only be sent back to the server it was served from.
        Ok(Some(app)) if crate::webapp::is_first_party(&app) => crate::webapp::client(Some(call.root)),
        Ok(Some(app)) => app,
        Ok(None) => {
            return pages::error_page(
                700016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                    state.authority.tenant_id
                ),
                None,
            )
        }
        Err(e) => return server_error(e).response(),
    };
    let redirect_uri = match get(&params, "redirect_uri") {
        Some(uri) if redirect_uri_allowed(&app, uri) => uri.to_owned(),
        Some(uri) => {
            return pages::error_page(
                50011,
                &format!(
                    "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application.",
                    app.client_id
                ),
                None,
            )
        }
        None => match app.redirect_uris.as_slice() {
            [only] => only.clone(),
            _ => {
                return pages::error_page(
                    900144,
                    "The request body must contain the following parameter: 'redirect_uri'.",
                    None,
                )
            }
        },
    };
    let mode = match get(&params, "response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let action = format!("{}/{tenant}/oauth2/v2.0/authorize?{}", call.root, call.query.unwrap_or_default());
    let app_state = get(&params, "state").map(str::to_owned);
    let back = Back { redirect_uri: redirect_uri.clone(), mode, state: app_state.clone() };
    let request = match validate(&params, app, redirect_uri, mode, action) {
        Ok(r) => r,
        Err(e) => return back.error(e, None),
    };
    let result = if call.method == Method::POST {
        post(state, call, body, &request).await
    } else if call.method == Method::GET || call.method == Method::HEAD {
        get_request(state, call, &request).await
    } else {
        Err(redirected("invalid_request", 900561, "The endpoint only accepts GET and POST requests."))
    };
    match result {
        Ok(resp) => resp,
        Err(e) => back.error(e, None),
    }
}

/// Where and how answers go back to the app.
struct Back {
    redirect_uri: String,
    mode: ResponseMode,
    state: Option<String>,
}

impl Back {
    fn error(&self, e: Redirected, cookie: Option<HeaderValue>) -> Response {
        let ids = crate::request_id::RequestIds::current();
        let description = format!(
            "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
            e.code,
            e.description,
            ids.request_id,
            ids.client_request_id,
            crate::identity::error_timestamp()
        );
        let mut fields = vec![("error", e.error.to_owned()), ("error_description", description)];
        fields.push(("error_uri", format!("https://login.microsoftonline.com/error?code={}", e.code)));
        self.send(fields, cookie)
    }

    /// Sends `fields` (plus `state`) to the app: in the query, in the fragment, or as a form the
    /// browser posts (a button, since the page runs no script).
    fn send(&self, mut fields: Vec<(&'static str, String)>, cookie: Option<HeaderValue>) -> Response {
        if let Some(s) = &self.state {
            fields.push(("state", s.clone()));
        }
        match self.mode {
            ResponseMode::FormPost => {
                let inputs: String = fields
                    .iter()
                    .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", k, pages::esc(v)))
                    .collect();
                let body = format!(
                    "<form method=\"post\" action=\"{}\">\n{inputs}<p><button type=\"submit\">Continue</button></p>\n</form>",
                    pages::esc(&self.redirect_uri)
                );
                pages::page(
                    StatusCode::OK,
                    "Continue to the application",
                    &body,
                    cookie,
                    origin_of(&self.redirect_uri).as_deref(),
                )
            }
            ResponseMode::Query | ResponseMode::Fragment => {
                let encoded = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter()).finish();
                let location = if encoded.is_empty() {
                    self.redirect_uri.clone()
                } else if self.mode == ResponseMode::Fragment {
                    format!("{}#{encoded}", self.redirect_uri)
                } else if self.redirect_uri.contains('?') {
                    format!("{}&{encoded}", self.redirect_uri)
                } else {
                    format!("{}?{encoded}", self.redirect_uri)
                };
                let mut resp = Response::new(Body::empty());
                *resp.status_mut() = StatusCode::FOUND;
                if let Ok(v) = HeaderValue::from_str(&location) {
                    resp.headers_mut().insert(header::LOCATION, v);
                }
                resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                if let Some(c) = cookie {
                    resp.headers_mut().append(header::SET_COOKIE, c);
                }
                resp
            }
        }
    }
}

/// Checks the request's OAuth parameters (after the client and redirect URI).
fn validate(
    params: &Form,
    app: RegisteredApp,
    redirect_uri: String,
    mode: ResponseMode,
    action: String,
) -> Result<Request, Redirected> {
    match get(params, "response_type") {
        None => return Err(OAuthError::missing("response_type").into()),
        Some("code") => {}
        Some(other) => {
            return Err(redirected(
                "unsupported_response_type",
                700054,
                format!("response_type '{other}' is not enabled for the application. Rolo issues authorization codes only (response_type=code)."),
            ))
        }
    }
    if let Some(m) = get(params, "response_mode").filter(|m| !["query", "fragment", "form_post"].contains(m)) {
        return Err(redirected(
            "invalid_request",
            900144,
            format!("The response_mode '{m}' is not supported: use query, fragment or form_post."),
        ));
    }
    let prompt = get(params, "prompt").map(str::to_owned);
    if let Some(p) = prompt.as_deref().filter(|p| !["login", "none", "select_account", "consent"].contains(p)) {
        return Err(redirected(
            "invalid_request",
            90023,
            format!("Invalid prompt value '{p}': use login, none, select_account or consent."),
        ));
    }
    let scopes = parse_delegated_scopes(get(params, "scope").ok_or_else(|| OAuthError::missing("scope"))?)?;
    let challenge = match (get(params, "code_challenge"), get(params, "code_challenge_method")) {
        (Some(c), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return Err(redirected(
                    "invalid_request",
                    5000811,
                    format!("Invalid code_challenge_method '{method}': use S256."),
                ));
            }
            if method == "S256" && (c.len() != 43 || URL_SAFE_NO_PAD.decode(c).is_err()) {
                return Err(redirected("invalid_request", 501491, "Invalid size of Code_Challenge parameter."));
            }
            Some((c.to_owned(), method.to_owned()))
        }
        (None, _) => None,
    };
    // Public clients must use PKCE with S256: without it, an intercepted code is a token.
    if app.public_client && challenge.as_ref().is_none_or(|(_, m)| m != "S256") {
        return Err(redirected(
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required for public clients: send code_challenge with code_challenge_method=S256.",
        ));
    }
    Ok(Request {
        app,
        redirect_uri,
        mode,
        state: get(params, "state").map(str::to_owned),
        nonce: get(params, "nonce").map(str::to_owned),
        prompt,
        login_hint: get(params, "login_hint").map(str::to_owned),
        scopes,
        challenge,
        client_info: get(params, "client_info") == Some("1"),
        action,
    })
}

fn back(r: &Request) -> Back {
    Back { redirect_uri: r.redirect_uri.clone(), mode: r.mode, state: r.state.clone() }
}

/// The app's request: sign in (or reuse the session), consent, then the code.
async fn get_request(state: &AppState, call: &Call<'_>, r: &Request) -> Result<Response, Redirected> {
    let existing = pages::read_session(state, call.headers);
    let user = match &existing {
        Some(s) => pages::session_user(state, s).await.map_err(server_error)?,
        None => None,
    };
    let prompt = r.prompt.as_deref();
    match (user, prompt) {
        (None, Some("none")) => Err(redirected(
            "login_required",
            50058,
            "A silent sign-in request was sent but no user is signed in. The cookies used to represent the user's session were not sent in the request to Rolo.",
        )),
        (Some((user, hash)), Some("none")) => proceed(state, call, r, &user, &hash, existing).await,
        (Some((user, hash)), None | Some("consent")) => proceed(state, call, r, &user, &hash, existing).await,
        (current, _) => {
            // prompt=login or select_account, or nobody signed in: the sign-in page.
            let session = existing.unwrap_or_else(|| Session::anonymous(state));
            let cookie = session.cookie(state, call.secure);
            let offered = if prompt == Some("login") { None } else { current.as_ref().map(|(u, _)| u) };
            Ok(signin_page(r, &session.csrf(state), None, offered, Some(cookie), state))
        }
    }
}

fn signin_page(
    r: &Request,
    csrf: &str,
    error: Option<&str>,
    current: Option<&User>,
    cookie: Option<HeaderValue>,
    _state: &AppState,
) -> Response {
    let intro = format!("<p>to continue to <strong>{}</strong></p>\n", pages::esc(&r.app.display_name));
    let body = intro + &pages::signin_form(&r.action, csrf, r.login_hint.as_deref(), error, &[], current);
    pages::page(StatusCode::OK, "Sign in", &body, cookie, origin_of(&r.redirect_uri).as_deref())
}

/// The pages' forms: sign in, continue as the signed-in user, consent or decline.
async fn post(state: &AppState, call: &Call<'_>, body: Option<Body>, r: &Request) -> Result<Response, Redirected> {
    let form = read_form(call.headers, body).await.map_err(Redirected::from)?;
    let Some(session) = pages::checked_session(state, call.headers, &form) else {
        return Ok(pages::error_page(
            90000,
            "The form was not sent from this sign-in page, or its session expired. Go back to the application and sign in again.",
            None,
        ));
    };
    match get(&form, "action") {
        Some("signin") => {
            let login = get(&form, "login").unwrap_or_default();
            let password = get(&form, "passwd").unwrap_or_default();
            match pages::check_credentials(state, call, login, password).await {
                Ok((user, hash)) => {
                    let fresh = Session::signed_in(state, &user, &hash);
                    proceed(state, call, r, &user, &hash, Some(fresh)).await
                }
                Err(message) => Ok(signin_page(r, &session.csrf(state), Some(message), None, None, state)),
            }
        }
        Some("continue") | Some("consent") => {
            let Some((user, hash)) = pages::session_user(state, &session).await.map_err(server_error)? else {
                return Ok(signin_page(r, &session.csrf(state), None, None, None, state));
            };
            if get(&form, "action") == Some("consent") {
                let asked = pages::consent_state(state, &r.app, &user, &r.scopes).await.map_err(server_error)?;
                pages::remember_consent(state, &r.app, &user, &asked.pending).await.map_err(server_error)?;
            }
            proceed(state, call, r, &user, &hash, None).await
        }
        Some("decline") => Err(redirected("access_denied", 65004, "User declined to consent to access the app.")),
        _ => Ok(signin_page(r, &session.csrf(state), None, None, None, state)),
    }
}

/// A signed-in user: the consent page if the app asks for scopes not yet consented, else the
/// code. `new_session` is set on the answer (a sign-in just happened).
async fn proceed(
    state: &AppState,
    call: &Call<'_>,
    r: &Request,
    user: &User,
    hash: &str,
    new_session: Option<Session>,
) -> Result<Response, Redirected> {
    let cookie = new_session.as_ref().map(|s| s.cookie(state, call.secure));
    let back = back(r);
    let asked = pages::consent_state(state, &r.app, user, &r.scopes).await.map_err(server_error)?;
    if let Some(unknown) = asked.unknown.first() {
        return Ok(back.error(
            redirected(
                "invalid_scope",
                70011,
                format!("The provided value for the input parameter 'scope' is not valid. The scope '{unknown}' does not exist on the resource 'https://graph.microsoft.com'."),
            ),
            cookie,
        ));
    }
    if asked.granted.is_empty() {
        return Ok(back.error(
            redirected(
                "consent_required",
                65001,
                format!(
                    "The user or administrator has not consented to use the application with ID '{}' named '{}'. {} need an administrator's consent.",
                    r.app.client_id,
                    r.app.display_name,
                    asked.needs_admin.join(", ")
                ),
            ),
            cookie,
        ));
    }
    if !asked.pending.is_empty() && !crate::webapp::is_first_party(&r.app) {
        if r.prompt.as_deref() == Some("none") {
            return Ok(back.error(
                redirected(
                    "consent_required",
                    65001,
                    format!(
                        "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
                        r.app.client_id, r.app.display_name
                    ),
                ),
                cookie,
            ));
        }
        let session = match new_session {
            Some(s) => s,
            None => pages::read_session(state, call.headers).unwrap_or_else(|| Session::anonymous(state)),
        };
        let body = pages::consent_form(&r.action, &session.csrf(state), &r.app, user, &asked, &[]);
        return Ok(pages::page(
            StatusCode::OK,
            "Permissions requested",
            &body,
            cookie,
            origin_of(&r.redirect_uri).as_deref(),
        ));
    }
    let code = issue_code(state, r, user, hash, asked.granted);
    let mut fields = vec![("code", code)];
    if r.client_info {
        fields.push(("client_info", crate::tokens::client_info(state, user)));
    }
    Ok(back.send(fields, cookie))
}

/// What an authorization code carries, sealed.
#[derive(Debug, Serialize, Deserialize)]
struct AuthCode {
    /// Always `ac`.
    typ: String,
    jti: String,
    cid: String,
    uid: String,
    ruri: String,
    scp: Vec<String>,
    oidc: Vec<String>,
    nonce: Option<String>,
    chal: Option<(String, String)>,
    exp: i64,
    pwd: String,
}

fn code_codec(state: &AppState) -> TokenCodec {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &state.authority.token_secret);
    TokenCodec::new(hmac::sign(&key, b"rolo authorization codes").as_ref())
}

fn issue_code(state: &AppState, r: &Request, user: &User, hash: &str, granted: Vec<String>) -> String {
    code_codec(state).seal(&AuthCode {
        typ: "ac".into(),
        jti: new_guid(),
        cid: r.app.client_id.clone(),
        uid: user.id.clone(),
        ruri: r.redirect_uri.clone(),
        scp: granted,
        oidc: r.scopes.oidc.clone(),
        nonce: r.nonce.clone(),
        chal: r.challenge.clone(),
        exp: now() + state.signin().code_ttl,
        pwd: password_stamp(hash),
    })
}

/// `authorization_code`: redeems a code once, for the client it was issued to, with the same
/// redirect URI and the PKCE verifier of its challenge.
pub(crate) async fn code_grant(state: &AppState, call: &Call<'_>, form: &Form) -> Result<Response, OAuthError> {
    let app = authenticate_client(state, call, form).await?;
    let raw = required(form, "code")?;
    let redirect_uri = required(form, "redirect_uri")?;
    let code: AuthCode = code_codec(state).open(raw).filter(|c: &AuthCode| c.typ == "ac").ok_or_else(|| {
        OAuthError::grant(9002313, "Invalid request. Request is malformed or invalid: the code is not one Rolo issued.")
    })?;
    if code.exp <= now() {
        return Err(OAuthError::grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !code.cid.eq_ignore_ascii_case(&app.client_id) {
        return Err(OAuthError::grant(
            70000,
            "Provided grant is invalid or malformed: the code was issued to another client.",
        ));
    }
    if code.ruri != redirect_uri {
        return Err(OAuthError::grant(
            500112,
            format!("The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.", code.ruri),
        ));
    }
    if let Some((challenge, method)) = &code.chal {
        let verifier = crate::identity::param(form, "code_verifier").unwrap_or_default();
        let derived = if method == "S256" {
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
        } else {
            verifier.to_owned()
        };
        if verifier.is_empty() || !crate::query::constant_time_eq(derived.as_bytes(), challenge.as_bytes()) {
            return Err(OAuthError::grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    // Spent once; a second redemption also revokes what the first one gave.
    if !state.store.redeem_once(&format!("code:{}", code.jti), code.exp + 60).await.map_err(server_error)? {
        state.store.revoke_family(&code.jti).await.map_err(server_error)?;
        return Err(OAuthError::grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    let (user, stored) = crate::tokens::grant_user(state, &code.uid).await?;
    if password_stamp(&stored) != code.pwd {
        return Err(OAuthError::grant(
            50173,
            "The provided grant has expired due to it being revoked: the user's password changed.",
        ));
    }
    // The code keeps the scopes, not how they were written: the redemption's `scope` (MSAL sends
    // it again) says which form the response uses.
    let full_names = crate::identity::param(form, "scope").is_some_and(crate::identity::asks_full_names);
    let scopes = RequestedScopes { graph: code.scp, oidc: code.oidc, default: false, full_names };
    issue_delegated(
        state,
        &app,
        &user,
        scopes,
        &stored,
        Issue {
            nonce: code.nonce,
            family: Family::Named(code.jti),
            client_info: crate::tokens::wants_client_info(form),
            epoch: None,
        },
    )
    .await
}

/// `/{tenant}/oauth2/v2.0/logout`: ends the browser's session; then back to the app's
/// `post_logout_redirect_uri` when it is one of the app's redirect URIs (any registered app's,
/// when no `client_id` names it), else a page saying so.
pub(crate) async fn logout(state: &AppState, call: &Call<'_>) -> Response {
    let params = query_params(call.query);
    let clear = pages::clear_cookie(call.secure);
    if let Some(uri) = get(&params, "post_logout_redirect_uri") {
        let allowed = match get(&params, "client_id") {
            Some(id) if id.eq_ignore_ascii_case(crate::webapp::WEBAPP_CLIENT_ID) => {
                redirect_uri_allowed(&crate::webapp::client(Some(call.root)), uri)
            }
            Some(id) => matches!(find_client(state, id).await, Ok(Some(app)) if redirect_uri_allowed(&app, uri)),
            None => state.store.list_apps().await.is_ok_and(|apps| apps.iter().any(|a| redirect_uri_allowed(a, uri))),
        };
        if allowed {
            let back = Back {
                redirect_uri: uri.to_owned(),
                mode: ResponseMode::Query,
                state: get(&params, "state").map(str::to_owned),
            };
            return back.send(Vec::new(), Some(clear));
        }
        return pages::error_page(
            50011,
            &format!(
                "The post_logout_redirect_uri '{uri}' does not match the redirect URIs configured for the application."
            ),
            Some(clear),
        );
    }
    pages::page(
        StatusCode::OK,
        "You signed out of your account",
        "<p>It's a good idea to close all browser windows.</p>",
        Some(clear),
        None,
    )
}
