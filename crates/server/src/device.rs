//! The device-code flow (RFC 8628) as Microsoft's identity platform runs it: the device asks
//! `/{tenant}/oauth2/v2.0/devicecode` for a code, shows the user `/devicelogin` and the user
//! code, and polls the token endpoint, which answers `authorization_pending`, `slow_down`,
//! `expired_token` or `authorization_declined` until the user has signed in and approved.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rolo_store::{DeviceCode, DeviceStatus};
use serde_json::json;

use crate::credentials::find_client;
use crate::identity::{
    authenticate_client, json_response, parse_delegated_scopes, read_form, required, server_error, Call, Form,
    OAuthError, RequestedScopes,
};
use crate::signin_page::{self as pages, Session};
use crate::tokens::{issue_delegated, now, Issue};
use crate::AppState;

pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// User codes avoid letters and digits that read alike (0/O, 1/I/L).
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

fn user_code() -> String {
    (0..9).map(|_| USER_CODE_ALPHABET[rand::random::<usize>() % USER_CODE_ALPHABET.len()] as char).collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) async fn device_code(
    state: &AppState,
    call: &Call<'_>,
    form: &Form,
    _tenant: &str,
) -> Result<Response, OAuthError> {
    let app = authenticate_client(state, call, form).await?;
    let scope = required(form, "scope")?;
    parse_delegated_scopes(scope)?;
    let settings = state.signin();
    let code = DeviceCode {
        device_code: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        user_code: user_code(),
        client_id: app.client_id.clone(),
        scope: scope.to_owned(),
        status: DeviceStatus::Pending,
        user_id: None,
        expires_at: now() + settings.device_code_ttl,
        last_poll: 0,
    };
    state.store.create_device_code(&code).await.map_err(server_error)?;
    let uri = format!("{}/devicelogin", call.root);
    Ok(json_response(
        StatusCode::OK,
        json!({
            "user_code": code.user_code,
            "device_code": code.device_code,
            "verification_uri": uri,
            "expires_in": settings.device_code_ttl,
            "interval": settings.device_poll_interval,
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {} to authenticate.", code.user_code),
        }),
        "no-store, no-cache",
    ))
}

fn device_error(error: &'static str, code: u32, description: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, error, code, description.to_owned())
}

/// The token endpoint's device-code grant: the device's poll.
pub(crate) async fn device_code_grant(state: &AppState, call: &Call<'_>, form: &Form) -> Result<Response, OAuthError> {
    let app = authenticate_client(state, call, form).await?;
    let raw = crate::identity::param(form, "device_code")
        .or_else(|| crate::identity::param(form, "code"))
        .ok_or_else(|| OAuthError::missing("device_code"))?;
    let t = now();
    let bad = || device_error("bad_verification_code", 70000, "The device code was not recognized.");
    let code = state.store.poll_device_code(raw, t).await.map_err(server_error)?.ok_or_else(bad)?;
    if !code.client_id.eq_ignore_ascii_case(&app.client_id) {
        return Err(bad());
    }
    if code.expires_at <= t {
        return Err(device_error("expired_token", 70019, "Verification code expired."));
    }
    match code.status {
        DeviceStatus::Pending => {
            let interval = state.signin().device_poll_interval;
            if code.last_poll > 0 && t - code.last_poll < interval {
                Err(device_error(
                    "slow_down",
                    70016,
                    &format!("OAuth 2.0 device flow error. The client is polling too quickly: wait {interval} seconds between polls."),
                ))
            } else {
                Err(device_error(
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ))
            }
        }
        DeviceStatus::Declined => {
            Err(device_error("authorization_declined", 70000, "The end user denied the authorization request."))
        }
        DeviceStatus::Approved => {
            let user = match &code.user_id {
                Some(uid) => state.user(uid).await.map_err(server_error)?,
                None => None,
            };
            let stored = match &user {
                Some(u) => state.store.password_hash(&u.id).await.map_err(server_error)?,
                None => None,
            };
            let (Some(user), Some(stored)) = (user, stored) else {
                return Err(OAuthError::grant(
                    70000,
                    "Provided grant is invalid or malformed: its user no longer exists.",
                ));
            };
            let scopes = parse_delegated_scopes(&code.scope)?;
            let scopes = RequestedScopes { default: false, ..scopes };
            let issue = Issue { client_info: crate::tokens::wants_client_info(form), ..Issue::default() };
            issue_delegated(state, &app, &user, scopes, &stored, issue).await
        }
    }
}

const ENTER_CODE: &str = "Enter code";

fn code_form(root: &str, csrf: &str, error: Option<&str>) -> String {
    let (alert, invalid) = match error {
        Some(e) => (
            format!("<p role=\"alert\" id=\"code-error\">{}</p>\n", pages::esc(e)),
            " aria-invalid=\"true\" aria-describedby=\"code-error\"",
        ),
        None => (String::new(), ""),
    };
    format!(
        "<p>Enter the code displayed on your app or device.</p>\n{alert}<form method=\"post\" action=\"{}/devicelogin\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n<p><label for=\"user_code\">Code</label><br>\n<input id=\"user_code\" name=\"user_code\" type=\"text\" autocomplete=\"one-time-code\" autocapitalize=\"characters\" required{invalid}></p>\n<p><button type=\"submit\" name=\"action\" value=\"code\">Next</button></p>\n</form>",
        pages::esc(root),
        pages::esc(csrf)
    )
}

/// `/devicelogin`: enter the code, sign in (or continue with the session), approve or decline.
pub(crate) async fn device_login(state: &AppState, call: &Call<'_>, body: Option<Body>) -> Response {
    let existing = pages::read_session(state, call.headers);
    let session = existing.clone().unwrap_or_else(|| Session::anonymous(state));
    let cookie = existing.is_none().then(|| session.cookie(state, call.secure));
    if call.method != Method::POST {
        return pages::page(
            StatusCode::OK,
            ENTER_CODE,
            &code_form(call.root, &session.csrf(state), None),
            cookie,
            None,
        );
    }
    let form = match read_form(call.headers, body).await {
        Ok(f) => f,
        Err(e) => return e.response(),
    };
    let Some(session) = pages::checked_session(state, call.headers, &form) else {
        return pages::error_page(
            90000,
            "The form was not sent from this sign-in page, or its session expired. Open the page again and enter the code.",
            None,
        );
    };
    let csrf = session.csrf(state);
    let entered = form.get("user_code").map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    let code = match state.store.device_code_by_user_code(&entered).await {
        Ok(Some(c)) if c.status == DeviceStatus::Pending && c.expires_at > now() => c,
        Ok(_) => {
            let msg = "That code didn't work. Check the code and try again.";
            return pages::page(StatusCode::OK, ENTER_CODE, &code_form(call.root, &csrf, Some(msg)), None, None);
        }
        Err(e) => return server_error(e).response(),
    };
    let app = match find_client(state, &code.client_id).await {
        Ok(Some(app)) => app,
        _ => return pages::error_page(700016, "The application that asked for this code no longer exists.", None),
    };
    let action = format!("{}/devicelogin", call.root);
    let fields = [("user_code", code.user_code.as_str())];
    // Who is signing in: someone who just typed their password, or the session's user.
    let mut new_cookie = None;
    let signed_in = match form.get("action").map(String::as_str) {
        Some("signin") => {
            let login = form.get("login").map(String::as_str).unwrap_or_default();
            let password = form.get("passwd").map(String::as_str).unwrap_or_default();
            match pages::check_credentials(state, call, login, password).await {
                Ok((user, hash)) => {
                    let fresh = Session::signed_in(state, &user, &hash);
                    new_cookie = Some(fresh.cookie(state, call.secure));
                    Some((user, fresh))
                }
                Err(message) => {
                    let body = pages::signin_form(&action, &csrf, None, Some(message), &fields, None);
                    return pages::page(StatusCode::OK, "Sign in", &body, None, None);
                }
            }
        }
        _ => match pages::session_user(state, &session).await {
            Ok(Some((user, _))) => Some((user, session.clone())),
            Ok(None) => None,
            Err(e) => return server_error(e).response(),
        },
    };
    let Some((user, session)) = signed_in else {
        let body = pages::signin_form(&action, &csrf, None, None, &fields, None);
        return pages::page(StatusCode::OK, "Sign in", &body, None, None);
    };
    let scopes = match parse_delegated_scopes(&code.scope) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    let asked = match pages::consent_state(state, &app, &user, &scopes).await {
        Ok(a) => a,
        Err(e) => return server_error(e).response(),
    };
    let decided = match form.get("action").map(String::as_str) {
        Some("consent") if !asked.granted.is_empty() => {
            if let Err(e) = pages::remember_consent(state, &app, &user, &asked.pending).await {
                return server_error(e).response();
            }
            let mut granted = asked.granted.clone();
            granted.extend(scopes.oidc.iter().cloned());
            Some((DeviceStatus::Approved, Some(granted.join(" "))))
        }
        Some("consent") | Some("decline") => Some((DeviceStatus::Declined, None)),
        _ => None,
    };
    match decided {
        Some((status, scope)) => {
            let uid = (status == DeviceStatus::Approved).then_some(user.id.as_str());
            if let Err(e) = state.store.decide_device_code(&code.user_code, status, uid, scope.as_deref()).await {
                return server_error(e).response();
            }
            let text = if status == DeviceStatus::Approved {
                format!(
                    "<p>You have signed in to <strong>{}</strong> on your device. You may now close this window.</p>",
                    pages::esc(&app.display_name)
                )
            } else {
                "<p>You declined to sign in on the device. You may now close this window.</p>".to_owned()
            };
            pages::page(StatusCode::OK, "Done", &text, new_cookie, None)
        }
        None => {
            // Always ask: the user confirms that the device asking is theirs.
            let mut confirm = asked.clone();
            if confirm.pending.is_empty() {
                confirm.pending = confirm.granted.clone();
            }
            let body = pages::consent_form(&action, &session.csrf(state), &app, &user, &confirm, &fields);
            pages::page(StatusCode::OK, "Are you trying to sign in?", &body, new_cookie, None)
        }
    }
}
