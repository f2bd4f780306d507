//! Delegated tokens as the token endpoint hands them out (access token, OpenID Connect ID token,
//! refresh token), and the refresh-token grant. Refresh tokens are sealed and rotate: each
//! belongs to a family (a sign-in) whose latest token alone is good; presenting an earlier one
//! (a replay of a stolen token, or a client bug) revokes the whole family.

use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::{digest, hmac};
use rolo_domain::ids::new_guid;
use rolo_store::{RegisteredApp, Rotation, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identity::{
    consented, granted_scope, json_response, param, parse_delegated_scopes, password_stamp, required, server_error,
    Call, Form, OAuthError, RequestedScopes, ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL,
};
use crate::query::TokenCodec;
use crate::AppState;

/// What a refresh token carries, sealed (HMAC) with the installation's secret.
#[derive(Debug, Serialize, Deserialize)]
struct RefreshGrant {
    /// Always `rt`, so no other sealed token passes as one.
    typ: String,
    uid: String,
    cid: String,
    scp: Vec<String>,
    oidc: Vec<String>,
    iat: i64,
    exp: i64,
    /// [`password_stamp`] at issue.
    pwd: String,
    /// Unique per token, so a rotated token never repeats its predecessor.
    jti: String,
    /// The family (one sign-in's chain of rotations); absent in tokens issued before families.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fam: Option<String>,
    /// The user's token epoch at issue: disabling the user starts a new one (0 before any).
    #[serde(default)]
    rev: i64,
}

/// The codec for refresh tokens: keyed apart from `$skiptoken`s.
fn refresh_codec(state: &AppState) -> TokenCodec {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &state.authority.token_secret);
    TokenCodec::new(hmac::sign(&key, b"rolo refresh tokens").as_ref())
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Which refresh-token family a new refresh token belongs to.
#[derive(Debug, Clone, Default)]
pub(crate) enum Family {
    /// A new sign-in: a new family.
    #[default]
    New,
    /// A new family under this id (an authorization code's, so replaying the code revokes it).
    Named(String),
    /// The family was rotated to `jti` already.
    Rotated { id: String, jti: String },
}

/// What else goes into a delegated token response.
#[derive(Debug, Clone, Default)]
pub(crate) struct Issue {
    /// The authorization request's `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    pub family: Family,
    /// The client asked for `client_info=1` (MSAL always does): the answer carries it.
    pub client_info: bool,
    /// The user's token epoch when the grant already read the user's standing (a refresh
    /// checks it against the token's); otherwise it is read here.
    pub epoch: Option<i64>,
}

/// Whether a token request asks for `client_info`.
pub(crate) fn wants_client_info(form: &Form) -> bool {
    param(form, "client_info") == Some("1")
}

/// `client_info`, as MSAL reads it to key its account cache: base64url of `{"uid", "utid"}`.
pub(crate) fn client_info(state: &AppState, user: &User) -> String {
    let json = serde_json::json!({"uid": user.id, "utid": state.authority.tenant_id});
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// The OpenID Connect ID token's claims, as Microsoft's v2.0 ID tokens carry them.
#[derive(Debug, Serialize)]
struct IdClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    sub: String,
    oid: &'a str,
    tid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    name: &'a str,
    preferred_username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    ver: &'static str,
}

/// An ID token for `user` signing in to `app`. `sub` is pairwise, as Microsoft's is: the same
/// user has a different `sub` in each app (`oid` is the same everywhere).
pub(crate) fn id_token(
    state: &AppState,
    app: &RegisteredApp,
    user: &User,
    nonce: Option<&str>,
    email: bool,
) -> Result<String, OAuthError> {
    let iat = now();
    let pairwise = digest::digest(
        &digest::SHA256,
        format!("{}|{}|{}", state.authority.tenant_id, user.id, app.client_id.to_ascii_lowercase()).as_bytes(),
    );
    let claims = IdClaims {
        aud: &app.client_id,
        iss: &state.authority.issuer,
        iat,
        nbf: iat,
        exp: iat + ACCESS_TOKEN_TTL,
        sub: URL_SAFE_NO_PAD.encode(&pairwise.as_ref()[..24]),
        oid: &user.id,
        tid: &state.authority.tenant_id,
        nonce,
        name: &user.display_name,
        preferred_username: &user.user_principal_name,
        email: email.then_some(user.user_principal_name.as_str()),
        ver: "2.0",
    };
    state.authority.sign(&claims).map_err(server_error)
}

/// The token response of a delegated grant: an access token; an ID token when `openid` was
/// asked; a refresh token when `offline_access` was.
pub(crate) async fn issue_delegated(
    state: &AppState,
    app: &RegisteredApp,
    user: &User,
    scopes: RequestedScopes,
    password_hash: &str,
    issue: Issue,
) -> Result<Response, OAuthError> {
    // Every delegated grant ends here: a disabled user gets nothing, whatever the flow.
    let epoch = match issue.epoch {
        Some(epoch) => epoch,
        None => crate::identity::standing::may_sign_in(state, user, None).await?,
    };
    let token = state
        .authority
        .issue_delegated_for(user, &scopes.graph, &app.client_id, ACCESS_TOKEN_TTL)
        .map_err(server_error)?;
    let mut body = serde_json::Map::new();
    body.insert("token_type".into(), "Bearer".into());
    body.insert("scope".into(), granted_scope(&scopes).into());
    body.insert("expires_in".into(), ACCESS_TOKEN_TTL.into());
    body.insert("ext_expires_in".into(), ACCESS_TOKEN_TTL.into());
    body.insert("access_token".into(), token.into());
    if scopes.oidc.iter().any(|s| s == "offline_access") {
        let (family, jti) = match issue.family {
            Family::Rotated { id, jti } => (id, jti),
            Family::New | Family::Named(_) => {
                let id = match issue.family {
                    Family::Named(id) => id,
                    _ => new_guid(),
                };
                let jti = new_guid();
                state.store.start_family(&id, &jti, REFRESH_TOKEN_TTL).await.map_err(server_error)?;
                (id, jti)
            }
        };
        let iat = now();
        let refresh = refresh_codec(state).seal(&RefreshGrant {
            typ: "rt".into(),
            uid: user.id.clone(),
            cid: app.client_id.clone(),
            scp: scopes.graph.clone(),
            oidc: scopes.oidc.clone(),
            iat,
            exp: iat + REFRESH_TOKEN_TTL,
            pwd: password_stamp(password_hash),
            jti,
            fam: Some(family),
            rev: epoch,
        });
        body.insert("refresh_token".into(), refresh.into());
    }
    if scopes.oidc.iter().any(|s| s == "openid") {
        let email = scopes.oidc.iter().any(|s| s == "email");
        body.insert("id_token".into(), id_token(state, app, user, issue.nonce.as_deref(), email)?.into());
    }
    if issue.client_info {
        body.insert("client_info".into(), client_info(state, user).into());
    }
    Ok(json_response(StatusCode::OK, Value::Object(body), "no-store, no-cache"))
}

/// The user a grant (a code, a refresh token) was issued to, with its password hash (whose
/// fingerprint the grant carries); gone users and users without a password end the grant.
pub(crate) async fn grant_user(state: &AppState, uid: &str) -> Result<(User, String), OAuthError> {
    let user = state.user(uid).await.map_err(server_error)?;
    let stored = match &user {
        Some(u) => state.store.password_hash(&u.id).await.map_err(server_error)?,
        None => None,
    };
    match (user, stored) {
        (Some(user), Some(stored)) => Ok((user, stored)),
        _ => Err(OAuthError::grant(70000, "Provided grant is invalid or malformed: its user no longer exists.")),
    }
}

fn revoked() -> OAuthError {
    OAuthError::grant(
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password, or the refresh token was used after it had been rotated.",
    )
}

/// `refresh_token`: a new access token and a new refresh token for the same grant (or for fewer
/// scopes, when the request narrows them). The presented token is spent: using it again revokes
/// every token of its family.
pub(crate) async fn refresh_grant(state: &AppState, call: &Call<'_>, form: &Form) -> Result<Response, OAuthError> {
    let app = crate::identity::authenticate_client(state, call, form).await?;
    let raw = required(form, "refresh_token")?;
    let grant: RefreshGrant = refresh_codec(state)
        .open(raw)
        .filter(|g: &RefreshGrant| g.typ == "rt")
        .ok_or_else(|| OAuthError::grant(9002313, "Invalid request. Request is malformed or invalid."))?;
    if grant.exp <= now() {
        return Err(OAuthError::grant(
            700082,
            format!("The refresh token has expired due to inactivity. The token was issued on {}.", grant.iat),
        ));
    }
    if !grant.cid.eq_ignore_ascii_case(&app.client_id) {
        return Err(OAuthError::grant(
            70000,
            "Provided grant is invalid or malformed: it was issued to another client.",
        ));
    }
    let (user, stored) = grant_user(state, &grant.uid).await?;
    if password_stamp(&stored) != grant.pwd {
        return Err(revoked());
    }
    // Disabling the user revoked the refresh tokens of its earlier epochs.
    let epoch = crate::identity::standing::may_sign_in(state, &user, Some(grant.rev)).await?;
    let full_names = param(form, "scope").is_some_and(crate::identity::asks_full_names);
    let mut scopes = RequestedScopes { graph: grant.scp, oidc: grant.oidc, default: false, full_names };
    if let Some(raw_scope) = param(form, "scope") {
        let asked = parse_delegated_scopes(raw_scope)?;
        if let Some(extra) = asked.graph.iter().find(|a| !scopes.graph.iter().any(|g| g.eq_ignore_ascii_case(a))) {
            return Err(OAuthError::grant(
                65001,
                format!(
                    "The user or administrator has not consented to use the application with ID '{}'. The refresh token does not cover the scope {extra}.",
                    app.client_id
                ),
            ));
        }
        scopes.graph = asked.graph;
    }
    if !scopes.oidc.iter().any(|s| s == "offline_access") {
        scopes.oidc.push("offline_access".into());
    }
    // Consent is checked again: a grant an admin has since withdrawn is not renewed.
    let scopes = consented(state, &app, &user, scopes).await?;
    let family = match grant.fam {
        Some(id) => {
            let next = new_guid();
            match state.store.rotate_family(&id, &grant.jti, &next).await.map_err(server_error)? {
                Rotation::Rotated => Family::Rotated { id, jti: next },
                Rotation::Reused => {
                    tracing::warn!(client_id = %app.client_id, user = %user.id, family = %id, "rotated refresh token replayed: family revoked");
                    return Err(revoked());
                }
                Rotation::Revoked => return Err(revoked()),
            }
        }
        None => Family::New,
    };
    issue_delegated(
        state,
        &app,
        &user,
        scopes,
        &stored,
        Issue { nonce: None, family, client_info: wants_client_info(form), epoch: Some(epoch) },
    )
    .await
}
