//! Rolo's identity platform, shaped like Microsoft's (`login.microsoftonline.com`, v2.0): the
//! token endpoint with the client-credentials, password and refresh-token grants, the OpenID
//! discovery document, and the signing keys (JWKS). Also the credentials behind it: registered
//! applications' client secrets and users' passwords, stored only as salted hashes.
//!
//! These endpoints answer in the identity platform's error shape (`error`, `error_description`
//! with an AADSTS code, `error_codes`...), not Graph's envelope.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use rolo_domain::ids::is_guid;
use rolo_domain::GraphError;
use rolo_store::{RegisteredApp, User};
use serde_json::{json, Value};

use crate::auth::GRAPH_AUDIENCES;
pub use crate::credentials::{
    hash_client_secret, hash_password, new_client_secret, register, register_app, register_public_app, set_password,
    verify_client_secret, verify_password, AppRegistration, EMULATOR_PUBLIC_CLIENT_ID,
};
use crate::credentials::{is_permission_name, verify_timing_pad};
use crate::request_id::RequestIds;
use crate::AppState;
use rolo_domain::consent;

pub(crate) mod standing;

/// Access tokens live an hour, as Microsoft's do by default (`expires_in` 3599).
pub const ACCESS_TOKEN_TTL: i64 = 3599;
/// Refresh tokens live 90 days, Microsoft's default inactivity limit.
pub const REFRESH_TOKEN_TTL: i64 = 90 * 86400;
/// What `https://graph.microsoft.com/.default` grants a user in the password grant.
pub const DEFAULT_DELEGATED_SCOPES: [&str; 3] = ["Contacts.ReadWrite", "MailboxSettings.ReadWrite", "User.Read"];
/// OpenID Connect scopes: about the sign-in, not Graph permissions; never put in `scp`.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

// ---------------------------------------------------------------------------------------------
// Routing.

/// An identity-platform endpoint, under `/{tenant}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Token,
    Authorize,
    Discovery,
    Keys,
    /// `oauth2/v2.0/devicecode`: starts a device-code sign-in.
    DeviceCode,
    /// `oauth2/v2.0/logout`: ends the sign-in session.
    Logout,
    /// `discovery/instance`: MSAL's instance discovery.
    Instance,
    /// `/devicelogin` (no tenant): where the user enters a device code.
    DeviceLogin,
}

/// `/{tenant}/oauth2/v2.0/token` and friends → the tenant segment and the endpoint.
pub fn route(path: &str) -> Option<(&str, Endpoint)> {
    if path.trim_end_matches('/').eq_ignore_ascii_case("/devicelogin") {
        return Some(("common", Endpoint::DeviceLogin));
    }
    let mut segs = path.strip_prefix('/')?.trim_end_matches('/').split('/');
    let tenant = segs.next().filter(|t| !t.is_empty())?;
    let rest: Vec<&str> = segs.collect();
    let is = |want: &[&str]| rest.len() == want.len() && rest.iter().zip(want).all(|(a, b)| a.eq_ignore_ascii_case(b));
    let endpoint = if is(&["oauth2", "v2.0", "token"]) {
        Endpoint::Token
    } else if is(&["oauth2", "v2.0", "authorize"]) {
        Endpoint::Authorize
    } else if is(&["v2.0", ".well-known", "openid-configuration"]) {
        Endpoint::Discovery
    } else if is(&["discovery", "v2.0", "keys"]) {
        Endpoint::Keys
    } else if is(&["oauth2", "v2.0", "devicecode"]) {
        Endpoint::DeviceCode
    } else if is(&["oauth2", "v2.0", "logout"]) {
        Endpoint::Logout
    } else if is(&["discovery", "instance"]) {
        Endpoint::Instance
    } else {
        return None;
    };
    Some((tenant, endpoint))
}

/// Which tenants name this installation: its id, `common`, `organizations`, or a domain name.
/// Rolo is one tenant, so any domain is taken to be one of its own.
pub(crate) fn is_our_tenant(state: &AppState, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(&state.authority.tenant_id)
        || tenant.eq_ignore_ascii_case("common")
        || tenant.eq_ignore_ascii_case("organizations")
        || (!is_guid(tenant)
            && tenant.contains('.')
            && tenant.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')))
}

/// How an identity-platform request arrived.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The client's address, when known (failed sign-ins are counted per address too).
    pub peer: Option<std::net::IpAddr>,
    /// The server's external URL (no trailing `/`).
    pub root: &'a str,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// The request came over https, or the public URL is https: cookies get `Secure`.
    pub secure: bool,
}

/// Serves an identity-platform endpoint.
pub async fn serve(state: &AppState, call: Call<'_>, body: Option<Body>, tenant: &str, endpoint: Endpoint) -> Response {
    let Call { method, headers, root, .. } = call;
    let result = async {
        if !is_our_tenant(state, tenant) {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                format!(
                    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
                ),
            ));
        }
        match endpoint {
            Endpoint::Discovery | Endpoint::Keys if method != Method::GET && method != Method::HEAD => {
                Err(OAuthError::request("The endpoint only accepts GET requests.", 900561))
            }
            Endpoint::Discovery => Ok(json_response(StatusCode::OK, discovery(state, tenant, root), "max-age=86400, private")),
            Endpoint::Keys => Ok(json_response(StatusCode::OK, state.authority.jwks(), "max-age=86400, private")),
            Endpoint::Authorize => Ok(crate::authorize::authorize(state, &call, body, tenant).await),
            Endpoint::Logout => Ok(crate::authorize::logout(state, &call).await),
            Endpoint::DeviceLogin => Ok(crate::device::device_login(state, &call, body).await),
            Endpoint::Instance => Ok(instance_discovery(call)),
            Endpoint::DeviceCode if method != Method::POST => {
                Err(OAuthError::request("The endpoint only accepts POST requests.", 900561))
            }
            Endpoint::DeviceCode => {
                let form = read_form(headers, body).await?;
                crate::device::device_code(state, &call, &form, tenant).await
            }
            Endpoint::Token if method != Method::POST => {
                Err(OAuthError::request("The endpoint only accepts POST, OPTIONS requests. Received a GET request.", 900561))
            }
            Endpoint::Token => {
                let form = read_form(headers, body).await?;
                token(state, &call, &form).await
            }
        }
    }
    .await;
    result.unwrap_or_else(|e| e.response())
}

/// The OpenID Connect discovery document of `/{tenant}/v2.0/.well-known/openid-configuration`.
fn discovery(state: &AppState, tenant: &str, root: &str) -> Value {
    let base = format!("{root}/{tenant}");
    // As on Microsoft's, the multi-tenant documents name the issuer with a `{tenantid}` template.
    let multi = tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations");
    let issuer = if multi {
        state.authority.issuer.replace(&state.authority.tenant_id, "{tenantid}")
    } else {
        state.authority.issuer.clone()
    };
    json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "code_challenge_methods_supported": ["S256", "plain"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code", "client_credentials", "password", "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": false,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "upn", "preferred_username", "name", "nonce", "email",
            "scp", "roles", "appid", "azp", "idtyp", "ver"
        ],
        "tenant_region_scope": null,
        "cloud_instance_name": "rolo.local",
        "msgraph_host": "graph.microsoft.com",
    })
}

/// `GET /common/discovery/instance`: MSAL asks it before trusting an authority that is not one of
/// Microsoft's hosts; the answer names Rolo's own host as the only alias, so instance discovery
/// succeeds and points back here.
fn instance_discovery(call: Call<'_>) -> Response {
    let host = call.root.split_once("://").map_or(call.root, |(_, h)| h);
    let tenant = call
        .query
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "authorization_endpoint"))
        .and_then(|(_, v)| {
            let path =
                v.split_once("://").map_or(v.as_ref(), |(_, rest)| rest).split_once('/').map(|(_, p)| p.to_owned())?;
            path.split('/').next().filter(|t| !t.is_empty()).map(str::to_owned)
        })
        .unwrap_or_else(|| "common".to_owned());
    json_response(
        StatusCode::OK,
        json!({
            "tenant_discovery_endpoint": format!("{}/{tenant}/v2.0/.well-known/openid-configuration", call.root),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }),
        "max-age=86400, private",
    )
}

// ---------------------------------------------------------------------------------------------
// The token endpoint.

/// An identity-platform error: HTTP status, OAuth `error`, and the AADSTS code and text.
#[derive(Debug)]
pub struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) code: u32,
    pub(crate) description: String,
    /// MSAL's hint for what to do next (`consent_required`...).
    pub(crate) suberror: Option<&'static str>,
}

impl OAuthError {
    pub(crate) fn new(status: StatusCode, error: &'static str, code: u32, description: String) -> OAuthError {
        OAuthError { status, error, code, description, suberror: None }
    }

    pub(crate) fn request(description: &str, code: u32) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", code, description.to_owned())
    }

    pub(crate) fn missing(param: &str) -> OAuthError {
        OAuthError::request(&format!("The request body must contain the following parameter: '{param}'."), 900144)
    }

    pub(crate) fn malformed() -> OAuthError {
        OAuthError::request("Invalid request. Request is malformed or invalid.", 9002313)
    }

    pub(crate) fn grant(code: u32, description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, description.into())
    }

    pub(crate) fn scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", 70011, description.into())
    }

    pub(crate) fn response(&self) -> Response {
        let ids = RequestIds::current();
        let timestamp = error_timestamp();
        let mut body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {timestamp}",
                self.code, self.description, ids.request_id, ids.client_request_id
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": ids.request_id,
            "correlation_id": ids.client_request_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(sub) = self.suberror {
            body["suberror"] = sub.into();
        }
        json_response(self.status, body, "no-store, no-cache")
    }
}

/// `2024-05-07 10:15:30Z`, the identity platform's error timestamp.
pub(crate) fn error_timestamp() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub(crate) fn json_response(status: StatusCode, body: Value, cache: &'static str) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if cache.starts_with("no-store") {
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    resp
}

pub(crate) type Form = HashMap<String, String>;

/// The form-encoded body; a parameter given twice is malformed. Other media types carry no
/// parameters, so they fail on the first required one, as on Microsoft's.
pub(crate) async fn read_form(headers: &HeaderMap, body: Option<Body>) -> Result<Form, OAuthError> {
    let raw = crate::body::read_body(headers, body.unwrap_or_default()).await.map_err(|_| OAuthError::malformed())?;
    if crate::body::content_type(headers) != "application/x-www-form-urlencoded" {
        return Ok(Form::new());
    }
    let mut form = Form::new();
    for (k, v) in form_urlencoded::parse(&raw) {
        if form.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(OAuthError::malformed());
        }
    }
    Ok(form)
}

pub(crate) fn param<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

pub(crate) fn required<'a>(form: &'a Form, name: &str) -> Result<&'a str, OAuthError> {
    param(form, name).ok_or_else(|| OAuthError::missing(name))
}

/// The client's id and secret, from HTTP Basic (`client_secret_basic`) or the form
/// (`client_secret_post`).
fn client_credentials(headers: &HeaderMap, form: &Form) -> Result<(Option<String>, Option<String>), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if let Some((_, encoded)) = basic {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(OAuthError::malformed)?;
        let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::malformed)?;
        // RFC 6749 §2.3.1: both halves are form-encoded.
        let unform = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        let (id, secret) = (unform(id).unwrap_or_default(), unform(secret).unwrap_or_default());
        if param(form, "client_id").is_some_and(|f| !f.eq_ignore_ascii_case(&id)) {
            return Err(OAuthError::malformed());
        }
        return Ok((Some(id), Some(secret)));
    }
    Ok((param(form, "client_id").map(str::to_owned), param(form, "client_secret").map(str::to_owned)))
}

/// The registered application making the request. A confidential client proves itself with its
/// secret on every grant (knowing its client id is not enough); a public client has none and
/// must not present one.
pub(crate) async fn authenticate_client(
    state: &AppState,
    call: &Call<'_>,
    form: &Form,
) -> Result<RegisteredApp, OAuthError> {
    let (id, secret) = client_credentials(call.headers, form)?;
    let id = id.ok_or_else(|| OAuthError::missing("client_id"))?;
    let app = match crate::credentials::find_client(state, &id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                    state.authority.tenant_id
                ),
            ))
        }
        Err(e) => return Err(server_error(e)),
    };
    if let Some(assertion) = param(form, "client_assertion") {
        return client_assertion(state, call, form, app, assertion, secret.is_some()).await;
    }
    match secret {
        None if app.public_client => Ok(app),
        Some(_) if app.public_client => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.".into(),
        )),
        None => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".into(),
        )),
        Some(secret) if verify_client_secret(&secret, &app.secret_hash) => Ok(app),
        Some(_) => Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        )),
    }
}

/// A confidential client proving itself with a JWT signed by its certificate's key.
async fn client_assertion(
    state: &AppState,
    call: &Call<'_>,
    form: &Form,
    app: RegisteredApp,
    assertion: &str,
    with_secret: bool,
) -> Result<RegisteredApp, OAuthError> {
    let invalid =
        |code: u32, description: String| OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, description);
    if app.public_client {
        return Err(invalid(
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.".into(),
        ));
    }
    if with_secret {
        return Err(OAuthError::request(
            "Only one client credential may be presented: a client_secret or a client_assertion.",
            90014,
        ));
    }
    if param(form, "client_assertion_type") != Some(crate::assertion::JWT_BEARER) {
        return Err(OAuthError::request(
            &format!("The client_assertion_type must be '{}'.", crate::assertion::JWT_BEARER),
            50027,
        ));
    }
    // The token endpoint under any name of this tenant.
    let names = [state.authority.tenant_id.as_str(), "common", "organizations"];
    let audiences: Vec<String> = names.iter().map(|t| format!("{}/{t}/oauth2/v2.0/token", call.root)).collect();
    let (jti, exp) =
        crate::assertion::verify(&app, assertion, &audiences).map_err(|r| invalid(r.code, r.description))?;
    if !state.store.redeem_once(&jti, exp + 60).await.map_err(server_error)? {
        return Err(invalid(
            700027,
            "Client assertion failed signature validation: this assertion (its jti) was used before.".into(),
        ));
    }
    Ok(app)
}

pub(crate) fn server_error(e: GraphError) -> OAuthError {
    tracing::error!(cause = e.cause.as_deref().unwrap_or(&e.message), "token endpoint failed");
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.".into(),
    )
}

async fn token(state: &AppState, call: &Call<'_>, form: &Form) -> Result<Response, OAuthError> {
    match required(form, "grant_type")? {
        "client_credentials" => client_credentials_grant(state, call, form).await,
        "password" => password_grant(state, call, form).await,
        "refresh_token" => crate::tokens::refresh_grant(state, call, form).await,
        "authorization_code" => crate::authorize::code_grant(state, call, form).await,
        crate::device::DEVICE_CODE_GRANT | "device_code" => crate::device::device_code_grant(state, call, form).await,
        other => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// `https://graph.microsoft.com/Contacts.Read` or `00000003-.../Contacts.Read` → `Contacts.Read`;
/// a bare name is taken as Graph's, as on Microsoft's. Another resource's scope is `None`.
fn graph_scope(scope: &str) -> Option<&str> {
    for resource in GRAPH_AUDIENCES {
        if let Some(name) = rolo_domain::text::strip_prefix_ignore_ascii_case(scope, resource) {
            return name.strip_prefix('/');
        }
    }
    (!scope.contains('/') && !scope.contains(':')).then_some(scope)
}

/// A delegated request's scopes: the Graph permissions (`.default` as the default set) and the
/// OpenID Connect scopes asked for alongside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestedScopes {
    pub(crate) graph: Vec<String>,
    pub(crate) oidc: Vec<String>,
    /// Asked as `.default`: the standing set plus what an admin granted the app.
    pub(crate) default: bool,
    /// The token response's `scope` names Graph's scopes by their full URIs (they were asked
    /// that way), else by their bare names.
    pub(crate) full_names: bool,
}

/// Whether a `scope` parameter names Graph's scopes by resource URI
/// (`https://graph.microsoft.com/Contacts.Read`, `.default`). Microsoft answers in the form it
/// was asked, and MSAL looks its cached tokens up by the names the app asks for: a token
/// asked as `User.Read` but cached as `https://graph.microsoft.com/User.Read` is never found.
pub(crate) fn asks_full_names(raw: &str) -> bool {
    raw.split_whitespace().any(|s| s.contains('/') && graph_scope(s).is_some())
}

pub(crate) fn parse_delegated_scopes(raw: &str) -> Result<RequestedScopes, OAuthError> {
    let mut graph: Vec<String> = Vec::new();
    let mut oidc: Vec<String> = Vec::new();
    let mut default = false;
    for s in raw.split_whitespace() {
        if let Some(o) = OIDC_SCOPES.iter().find(|o| o.eq_ignore_ascii_case(s)) {
            if !oidc.iter().any(|x| x == o) {
                oidc.push((*o).to_owned());
            }
            continue;
        }
        let name = graph_scope(s).ok_or_else(|| {
            OAuthError::scope(format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid: Rolo serves only Microsoft Graph (https://graph.microsoft.com)."
            ))
        })?;
        if name == ".default" {
            default = true;
        } else if is_permission_name(name) {
            if !graph.iter().any(|g| g.eq_ignore_ascii_case(name)) {
                graph.push(name.to_owned());
            }
        } else {
            return Err(OAuthError::scope(format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {s} is not valid."
            )));
        }
    }
    if default && !graph.is_empty() {
        return Err(OAuthError::scope(
            "The provided value for the input parameter 'scope' is not valid. The .default scope can't be combined with resource-specific scopes.",
        ));
    }
    if default || graph.is_empty() {
        // `.default`, or only sign-in scopes: the user's standing grant for Graph.
        graph =
            if default { DEFAULT_DELEGATED_SCOPES.map(str::to_owned).to_vec() } else { vec!["User.Read".to_owned()] };
    }
    Ok(RequestedScopes { graph, oidc, default, full_names: asks_full_names(raw) })
}

pub(crate) fn token_response(access_token: &str, scope: Option<String>, refresh_token: Option<String>) -> Response {
    let mut body = serde_json::Map::new();
    body.insert("token_type".into(), "Bearer".into());
    if let Some(scope) = scope {
        body.insert("scope".into(), scope.into());
    }
    body.insert("expires_in".into(), ACCESS_TOKEN_TTL.into());
    body.insert("ext_expires_in".into(), ACCESS_TOKEN_TTL.into());
    body.insert("access_token".into(), access_token.into());
    if let Some(rt) = refresh_token {
        body.insert("refresh_token".into(), rt.into());
    }
    json_response(StatusCode::OK, Value::Object(body), "no-store, no-cache")
}

/// The `scope` of a delegated token response: Graph's scopes (by their full names when asked
/// so), then the sign-in scopes asked for.
pub(crate) fn granted_scope(scopes: &RequestedScopes) -> String {
    let mut all: Vec<String> = if scopes.full_names {
        scopes.graph.iter().map(|s| format!("{}/{s}", GRAPH_AUDIENCES[0])).collect()
    } else {
        scopes.graph.clone()
    };
    all.extend(scopes.oidc.iter().cloned());
    all.join(" ")
}

/// `client_credentials`: an app-only token with the application's roles.
async fn client_credentials_grant(state: &AppState, call: &Call<'_>, form: &Form) -> Result<Response, OAuthError> {
    let app = authenticate_client(state, call, form).await?;
    if app.public_client {
        // A public client holds no secret, so it cannot have an identity of its own.
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700025,
            "Client is public so it may not use the client_credentials grant, which needs a client secret or assertion."
                .into(),
        ));
    }
    let scope = required(form, "scope")?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let default = match scopes.as_slice() {
        [one] => graph_scope(one).filter(|s| *s == ".default").is_some(),
        _ => false,
    };
    if !default {
        let error = if scopes.iter().any(|s| s.ends_with("/.default")) {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                    scope.trim_end_matches("/.default"),
                    state.authority.tenant_id
                ),
            )
        } else {
            OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                1002012,
                format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            )
        };
        return Err(error);
    }
    let token = state.authority.issue_app(&app, ACCESS_TOKEN_TTL).map_err(server_error)?;
    Ok(token_response(&token, None, None))
}

fn invalid_credentials() -> OAuthError {
    OAuthError::grant(50126, "Error validating credentials due to invalid username or password.")
}

/// A fingerprint of a user's password hash, carried in refresh tokens: a password change (or a
/// reset to the same password, which re-salts it) revokes every refresh token issued before.
pub(crate) fn password_stamp(hash: &str) -> String {
    URL_SAFE_NO_PAD.encode(&digest::digest(&digest::SHA256, hash.as_bytes()).as_ref()[..9])
}

/// `password` (resource owner password credentials): a delegated token for the user.
async fn password_grant(state: &AppState, call: &Call<'_>, form: &Form) -> Result<Response, OAuthError> {
    let app = authenticate_client(state, call, form).await?;
    let username = required(form, "username")?;
    let password = required(form, "password")?;
    let scopes = parse_delegated_scopes(required(form, "scope")?)?;
    let address = call.peer.map(|ip| ip.to_string());
    // Before any hash is computed: a locked name or address costs the server nothing.
    if let Some(wait) = state.lockout.locked(username, address.as_deref()).await {
        tracing::warn!(user = username, address = ?address, wait_secs = wait.as_secs(), "sign-in refused: locked out");
        return Err(locked_out());
    }
    let user = state.user(username).await.map_err(server_error)?;
    let stored = match &user {
        Some(u) => state.store.password_hash(&u.id).await.map_err(server_error)?,
        None => None,
    };
    let verified = check_password(state, password.to_owned(), stored.clone()).await?;
    let (Some(user), Some(stored), true) = (user, stored, verified) else {
        state.lockout.failed(username, address.as_deref()).await;
        tracing::info!(user = username, address = ?address, "sign-in failed: invalid username or password");
        return Err(invalid_credentials());
    };
    state.lockout.succeeded(username).await;
    // A disabled user is refused before consent is weighed (and its standing read once).
    let epoch = standing::may_sign_in(state, &user, None).await?;
    let scopes = consented(state, &app, &user, scopes).await?;
    let issue = crate::tokens::Issue {
        client_info: crate::tokens::wants_client_info(form),
        epoch: Some(epoch),
        ..Default::default()
    };
    crate::tokens::issue_delegated(state, &app, &user, scopes, &stored, issue).await
}

/// Checks a password off the async workers, one hash at a time: PBKDF2 is deliberately slow,
/// and a flood of guesses must not stall other requests. With no stored hash, the same work is
/// done against a pad, so the answer's timing does not tell who exists.
pub(crate) async fn check_password(
    state: &AppState,
    password: String,
    stored: Option<String>,
) -> Result<bool, OAuthError> {
    let _slot = state.password_slots.acquire().await.map_err(|e| server_error(GraphError::internal(e)))?;
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify_password(&password, &stored),
        None => {
            verify_timing_pad(&password);
            false
        }
    })
    .await
    .map_err(|e| server_error(GraphError::internal(e)))
}

/// Microsoft's smart-lockout answer; the same for a user who exists and one who does not.
pub(crate) fn locked_out() -> OAuthError {
    OAuthError::grant(
        50053,
        "Your account is locked because you've tried to sign in too many times with an incorrect user ID or password. Try again later.",
    )
}

/// Narrows a delegated sign-in to what consent allows: user-consentable scopes are the user's
/// to give; admin-only ones need an admin's grant for this app (`rolo apps grant`). The token
/// carries the intersection and its `scope` says which; when nothing asked remains, the answer
/// is Microsoft's consent_required (AADSTS65001).
pub(crate) async fn consented(
    state: &AppState,
    app: &RegisteredApp,
    user: &User,
    mut scopes: RequestedScopes,
) -> Result<RequestedScopes, OAuthError> {
    let grants = state.store.grants_for(&app.client_id, &user.id).await.map_err(server_error)?;
    let admin_granted: Vec<String> = grants.into_iter().flat_map(|g| g.scopes).collect();
    if scopes.default {
        for g in admin_granted.iter().filter_map(|g| consent::delegated(g)) {
            if !scopes.graph.iter().any(|s| s.eq_ignore_ascii_case(g.0)) {
                scopes.graph.push(g.0.to_owned());
            }
        }
        return Ok(scopes);
    }
    let decision = consent::decide(&scopes.graph, &admin_granted);
    if let Some(unknown) = decision.unknown.first() {
        return Err(OAuthError::scope(format!(
            "The provided value for the input parameter 'scope' is not valid. The scope '{unknown}' does not exist on the resource '{}'.",
            GRAPH_AUDIENCES[0]
        )));
    }
    if decision.granted.is_empty() {
        let mut e = OAuthError::grant(
            65001,
            format!(
                "The user or administrator has not consented to use the application with ID '{}' named '{}'. {} need an administrator's consent. Send an interactive authorization request for this user and resource.",
                app.client_id,
                app.display_name,
                decision.needs_admin.join(", ")
            ),
        );
        e.suberror = Some("consent_required");
        return Err(e);
    }
    if !decision.needs_admin.is_empty() {
        tracing::info!(client_id = %app.client_id, user = %user.id, dropped = ?decision.needs_admin, "scopes without admin consent left out of the token");
    }
    scopes.graph = decision.granted;
    Ok(scopes)
}

#[cfg(test)]
mod tests;
