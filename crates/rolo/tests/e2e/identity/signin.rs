//! Interactive sign-in (#13 §2), playing the browser with reqwest (cookies kept by hand, no
//! redirects followed): the authorization-code flow with PKCE, the sign-in and consent pages,
//! the session cookie (a second app signs in without a password), prompt=none, response modes,
//! sign-out, the device-code flow, client assertions with a certificate, ID tokens, refresh-token
//! rotation with family revocation, and the refusals Microsoft answers with AADSTS codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::Method;
use rolo_server::identity::{register, AppRegistration};
use rolo_store::RegisteredApp;
use serde_json::{json, Value};

use super::{assert_oauth_error, claims, root, token_request, user_with_password};
use crate::common::{into_resp, Resp, TestServer};

const CERT: &str = include_str!("../../fixtures/notify-cert.pem");
const KEY: &str = include_str!("../../fixtures/notify-key.pem");

/// A browser: one cookie jar (the session cookie), redirects not followed.
pub struct Browser {
    client: reqwest::Client,
    cookie: Option<String>,
    /// The last response's `Set-Cookie` lines.
    pub(crate) set_cookies: Vec<String>,
}

/// A page or redirect as the browser saw it.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// A hidden or text input's value.
    pub(crate) fn input(&self, name: &str) -> Option<String> {
        let (_, rest) = self.text.split_once(&format!("name=\"{name}\" value=\""))?;
        Some(unescape(rest.split_once('"')?.0))
    }

    pub(crate) fn form_action(&self) -> String {
        let (_, rest) = self.text.split_once("action=\"").expect("a form");
        unescape(rest.split_once('"').expect("a quoted action").0)
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

impl Browser {
    pub fn new() -> Browser {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, cookie: None, set_cookies: Vec::new() }
    }

    async fn send(&mut self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self.client.request(method, url);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let resp = req.send().await.expect("browser request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.set_cookies =
            headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for c in &self.set_cookies {
            let pair = c.split(';').next().unwrap_or_default();
            if c.contains("Max-Age=0") {
                self.cookie = None;
            } else if pair.starts_with("rolo_session=") {
                self.cookie = Some(pair.to_owned());
            }
        }
        Page { status, headers, text: resp.text().await.unwrap_or_default() }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.send(Method::GET, url, None).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, url, Some(form)).await
    }
}

/// A PKCE pair: the verifier and its S256 challenge.
pub(crate) fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) async fn app_with(
    s: &TestServer,
    public: bool,
    redirect_uris: &[&str],
    certificate: Option<&str>,
) -> (RegisteredApp, Option<String>) {
    let reg = AppRegistration {
        name: if public { "Contoso Desktop" } else { "Contoso Web" }.into(),
        roles: Vec::new(),
        public,
        redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
        certificate: certificate.map(str::to_owned),
    };
    register(s.store.as_ref(), &reg).await.expect("register app")
}

pub(crate) fn authorize_url(s: &TestServer, params: &[(&str, &str)]) -> String {
    let q = form_urlencoded_pairs(params);
    format!("{}/common/oauth2/v2.0/authorize?{q}", root(s))
}

fn form_urlencoded_pairs(params: &[(&str, &str)]) -> String {
    params.iter().map(|(k, v)| format!("{k}={}", crate::common::enc(v))).collect::<Vec<_>>().join("&")
}

/// The parameters of a redirect's query or fragment.
pub(crate) fn params_of(location: &str, sep: char) -> Value {
    let tail = location.split_once(sep).map(|(_, t)| t).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for pair in tail.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(&v.replace('+', " "));
        out.insert(k.to_owned(), v.into());
    }
    Value::Object(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if let (b'%', Some(v)) = (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Signs in on the page (and consents when asked) and returns the final redirect or page.
pub(crate) async fn sign_in(b: &mut Browser, url: &str, upn: &str, password: &str) -> Page {
    let page = b.get(url).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csrf = page.input("csrf").expect("csrf");
    let next = b
        .post(&page.form_action(), &[("csrf", &csrf), ("action", "signin"), ("login", upn), ("passwd", password)])
        .await;
    consent_if_asked(b, next).await
}

async fn consent_if_asked(b: &mut Browser, page: Page) -> Page {
    if page.status == 200 && page.text.contains("value=\"consent\"") {
        let csrf = page.input("csrf").expect("csrf");
        return b.post(&page.form_action(), &[("csrf", &csrf), ("action", "consent")]).await;
    }
    page
}

pub(crate) async fn redeem(s: &TestServer, client_id: &str, code: &str, redirect_uri: &str, verifier: &str) -> Resp {
    token_request(
        s,
        "common",
        &[
            ("client_info", "1"),
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub(crate) fn code_params<'a>(
    client_id: &'a str,
    redirect: &'a str,
    challenge: &'a str,
    scope: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st-1"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The whole code flow: sign-in page, consent, code, tokens (with ID token claims), the session
/// reused by the same and a second app, prompt=none, and sign-out.
pub async fn code_flow_with_pkce_session_and_consent(s: TestServer) {
    let ada = user_with_password(&s, "ada@contoso.test", "pw-Ada-1").await;
    let (app, _) = app_with(&s, true, &["http://localhost/cb"], None).await;
    let (verifier, challenge) = pkce();
    // A loopback redirect URI matches on any port.
    let redirect = "http://localhost:53117/cb";
    let scope = "openid profile email offline_access Contacts.Read";
    let url = authorize_url(&s, &code_params(&app.client_id, redirect, &challenge, scope));
    let mut b = Browser::new();

    // The sign-in page: accessible HTML, no script, CSP, a session cookie.
    let page = b.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"), "{}", page.text);
    assert!(page.text.contains("<label for=\"login\">") && page.text.contains("<label for=\"passwd\">"));
    assert!(!page.text.contains("<script"), "no script");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; form-action 'self' http://localhost:53117"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let cookie = &b.set_cookies[0];
    assert!(
        cookie.starts_with("rolo_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: no Secure ({cookie})");

    // A wrong password: the page again, with an alert.
    let csrf = page.input("csrf").unwrap();
    let again = b
        .post(
            &page.form_action(),
            &[("csrf", &csrf), ("action", "signin"), ("login", "ada@contoso.test"), ("passwd", "nope")],
        )
        .await;
    assert_eq!(again.status, 200);
    assert!(again.text.contains("role=\"alert\"") && again.text.contains("Your account or password is incorrect."));
    // A form without the CSRF token is refused.
    let forged = b
        .post(&page.form_action(), &[("action", "signin"), ("login", "ada@contoso.test"), ("passwd", "pw-Ada-1")])
        .await;
    assert_eq!(forged.status, 400);
    assert!(forged.text.contains("AADSTS90000"), "{}", forged.text);

    // Sign in: the consent page lists what the app asks.
    let consent = b
        .post(
            &page.form_action(),
            &[("csrf", &csrf), ("action", "signin"), ("login", "ada@contoso.test"), ("passwd", "pw-Ada-1")],
        )
        .await;
    assert_eq!(consent.status, 200, "{}", consent.text);
    assert!(consent.text.contains("<li>Contacts.Read</li>"), "{}", consent.text);
    assert!(b.set_cookies.iter().any(|c| c.starts_with("rolo_session=")), "a fresh session after sign-in");
    let done = consent_if_asked(&mut b, consent).await;
    assert_eq!(done.status, 302, "{}", done.text);
    assert!(done.location().starts_with("http://localhost:53117/cb?code="), "{}", done.location());
    let p = params_of(done.location(), '?');
    assert_eq!(p["state"], "st-1");
    let code = p["code"].as_str().unwrap().to_owned();

    // The user's consent is remembered for (user, app).
    let grants = s.store.grants_for(&app.client_id, &ada.id).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].principal.as_deref(), Some(ada.id.as_str()));
    assert_eq!(grants[0].scopes, vec!["Contacts.Read".to_owned()]);

    // Tokens, with the ID token's claims.
    let r = redeem(&s, &app.client_id, &code, redirect, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["scope"], "Contacts.Read openid profile email offline_access");
    assert_eq!(claims(r.body["access_token"].as_str().unwrap())["scp"], "Contacts.Read");
    let id = claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], app.client_id);
    assert_eq!(id["iss"], s.authority.issuer);
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["oid"], ada.id);
    assert_eq!(id["tid"], s.authority.tenant_id);
    assert_eq!(id["preferred_username"], "ada@contoso.test");
    assert_eq!(id["email"], "ada@contoso.test");
    assert_eq!(id["name"], ada.display_name);
    assert_eq!(id["ver"], "2.0");
    // client_info, which MSAL keys its account cache with.
    let info: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(r.body["client_info"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(info, json!({"uid": ada.id, "utid": s.authority.tenant_id}));
    assert!(id["sub"].is_string() && id["sub"] != ada.id, "pairwise sub: {id}");
    assert!(r.body["refresh_token"].is_string());
    // The token works on Graph.
    let me = s.get("/me/contacts", r.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, 200, "{}", me.text);

    // The same app again: the session and the remembered consent give a code at once.
    let (verifier2, challenge2) = pkce();
    let url2 = authorize_url(&s, &code_params(&app.client_id, redirect, &challenge2, scope));
    let again = b.get(&url2).await;
    assert_eq!(again.status, 302, "{}", again.text);
    let code2 = params_of(again.location(), '?')["code"].as_str().unwrap().to_owned();
    assert_eq!(redeem(&s, &app.client_id, &code2, redirect, &verifier2).await.status, 200);

    // A second app signs in with the session and no password: only its consent is asked;
    // fragment response mode.
    let (app2, _) = app_with(&s, true, &["https://app2.example/cb"], None).await;
    let (verifier3, challenge3) = pkce();
    let mut params = code_params(
        &app2.client_id,
        "https://app2.example/cb",
        &challenge3,
        "openid Contacts.ReadWrite People.Read.All",
    );
    params.push(("response_mode", "fragment"));
    let consent = b.get(&authorize_url(&s, &params)).await;
    assert_eq!(consent.status, 200, "{}", consent.text);
    assert!(!consent.text.contains("name=\"passwd\""), "no password asked");
    assert!(consent.text.contains("<li>Contacts.ReadWrite</li>"));
    // An admin-only scope is shown as needing an admin, and left out.
    assert!(
        consent.text.contains("need an administrator's consent") && consent.text.contains("<li>People.Read.All</li>")
    );
    let done = consent_if_asked(&mut b, consent).await;
    assert_eq!(done.status, 302);
    assert!(done.location().starts_with("https://app2.example/cb#code="), "{}", done.location());
    let code3 = params_of(done.location(), '#')["code"].as_str().unwrap().to_owned();
    let r = redeem(&s, &app2.client_id, &code3, "https://app2.example/cb", &verifier3).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(r.body["access_token"].as_str().unwrap())["scp"], "Contacts.ReadWrite");
    assert!(r.body.get("refresh_token").is_none(), "no offline_access, no refresh token");

    // prompt=none with the session: a code; for an app needing consent: consent_required.
    let (_, challenge4) = pkce();
    let mut silent = code_params(&app.client_id, redirect, &challenge4, scope);
    silent.push(("prompt", "none"));
    let r = b.get(&authorize_url(&s, &silent)).await;
    assert_eq!(r.status, 302);
    assert!(params_of(r.location(), '?')["code"].is_string(), "{}", r.location());
    let (app3, _) = app_with(&s, true, &["https://app3.example/cb"], None).await;
    let mut silent3 = code_params(&app3.client_id, "https://app3.example/cb", &challenge4, "Contacts.Read");
    silent3.push(("prompt", "none"));
    let r = b.get(&authorize_url(&s, &silent3)).await;
    let p = params_of(r.location(), '?');
    assert_eq!(p["error"], "consent_required", "{}", r.location());
    assert!(p["error_description"].as_str().unwrap().starts_with("AADSTS65001: "));
    assert_eq!(p["state"], "st-1");

    // prompt=select_account offers the signed-in account; continuing with it needs no password.
    let (_, challenge5) = pkce();
    let mut select = code_params(&app.client_id, redirect, &challenge5, scope);
    select.push(("prompt", "select_account"));
    let picker = b.get(&authorize_url(&s, &select)).await;
    assert_eq!(picker.status, 200);
    assert!(picker.text.contains("Continue as "), "{}", picker.text);
    assert!(picker.text.contains("ada@contoso.test"));
    let csrf = picker.input("csrf").unwrap();
    let r = b.post(&picker.form_action(), &[("csrf", &csrf), ("action", "continue")]).await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(params_of(r.location(), '?')["code"].is_string());

    // prompt=login shows the sign-in page even with a session.
    let mut forced = code_params(&app.client_id, redirect, &challenge4, scope);
    forced.push(("prompt", "login"));
    let r = b.get(&authorize_url(&s, &forced)).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("name=\"passwd\"") && !r.text.contains("Continue as"));

    // Sign-out: the cookie goes, back to a registered URI; then prompt=none needs a sign-in.
    let out = b
        .get(&format!(
            "{}/common/oauth2/v2.0/logout?post_logout_redirect_uri={}&client_id={}",
            root(&s),
            crate::common::enc("http://localhost/cb"),
            app.client_id
        ))
        .await;
    assert_eq!(out.status, 302, "{}", out.text);
    assert_eq!(out.location(), "http://localhost/cb");
    assert!(
        b.set_cookies.iter().any(|c| c.starts_with("rolo_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        b.set_cookies
    );
    let r = b.get(&authorize_url(&s, &silent)).await;
    let p = params_of(r.location(), '?');
    assert_eq!(p["error"], "login_required");
    assert!(p["error_description"].as_str().unwrap().starts_with("AADSTS50058: "));
    // An unregistered post-logout URI is not followed.
    let out = b
        .get(&format!(
            "{}/common/oauth2/v2.0/logout?post_logout_redirect_uri={}",
            root(&s),
            crate::common::enc("https://evil.example/")
        ))
        .await;
    assert_eq!(out.status, 400);
}

/// Refusals, each with Microsoft's error and AADSTS code: wrong redirect URI (at authorize and
/// at the token endpoint), PKCE missing or wrong, a reused code (which also revokes what it
/// gave), a reused refresh token (which revokes its family).
pub async fn code_flow_refusals(s: TestServer) {
    user_with_password(&s, "ada@contoso.test", "pw").await;
    user_with_password(&s, "eve@contoso.test", "pw").await;
    let (app, _) = app_with(&s, true, &["https://app.example/cb"], None).await;
    let redirect = "https://app.example/cb";
    let scope = "openid offline_access Contacts.Read";
    let mut b = Browser::new();

    // Unknown client and unregistered redirect URI: an error page, never a redirect.
    let (_, challenge) = pkce();
    let r = b
        .get(&authorize_url(&s, &code_params("6731de76-14a6-49ae-97bc-6eba6914391e", redirect, &challenge, scope)))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("AADSTS700016: "), "{}", r.text);
    let r = b.get(&authorize_url(&s, &code_params(&app.client_id, "https://evil.example/cb", &challenge, scope))).await;
    assert_eq!(r.status, 400);
    assert!(r.headers.get(LOCATION).is_none());
    assert!(r.text.contains("AADSTS50011: "), "{}", r.text);
    // A public client without PKCE: the error goes back to the app.
    let r = b
        .get(&authorize_url(
            &s,
            &[
                ("client_id", &app.client_id),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", scope),
                ("state", "x"),
            ],
        ))
        .await;
    assert_eq!(r.status, 302);
    let p = params_of(r.location(), '?');
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].as_str().unwrap().starts_with("AADSTS9002325: "), "{p}");
    assert_eq!(p["state"], "x");
    // An unsupported response type.
    let mut token_type = code_params(&app.client_id, redirect, &challenge, scope);
    token_type[2] = ("response_type", "token");
    let p = params_of(b.get(&authorize_url(&s, &token_type)).await.location(), '?');
    assert_eq!(p["error"], "unsupported_response_type");

    // The page counts failed sign-ins like the password grant: once locked, even the right
    // password is refused, before any hash.
    s.state.lockout.set_settings(rolo_server::lockout::LockoutSettings {
        user_threshold: 2,
        address_threshold: 100,
        base: std::time::Duration::from_secs(60),
        max: std::time::Duration::from_secs(60),
        window: std::time::Duration::from_secs(600),
    });
    let (_, challenge_l) = pkce();
    let mut lb = Browser::new();
    let page = lb.get(&authorize_url(&s, &code_params(&app.client_id, redirect, &challenge_l, scope))).await;
    let csrf = page.input("csrf").unwrap();
    for password in ["wrong1", "wrong2", "pw"] {
        let r = lb
            .post(
                &page.form_action(),
                &[("csrf", &csrf), ("action", "signin"), ("login", "eve@contoso.test"), ("passwd", password)],
            )
            .await;
        assert_eq!(r.status, 200);
        let expected =
            if password == "pw" { "Your account is locked" } else { "Your account or password is incorrect." };
        assert!(r.text.contains(expected), "{password}: {}", r.text);
    }

    // A code, then the refusals at the token endpoint.
    let (verifier, challenge) = pkce();
    let done = sign_in(
        &mut b,
        &authorize_url(&s, &code_params(&app.client_id, redirect, &challenge, scope)),
        "ada@contoso.test",
        "pw",
    )
    .await;
    let code = params_of(done.location(), '?')["code"].as_str().unwrap().to_owned();
    let r = redeem(&s, &app.client_id, &code, redirect, "not-the-verifier-at-all-not-the-verifier-at-all").await;
    assert_oauth_error(&r, 400, "invalid_grant", 501481);
    let r = redeem(&s, &app.client_id, &code, "https://app.example/other", &verifier).await;
    assert_oauth_error(&r, 400, "invalid_grant", 500112);
    let first = redeem(&s, &app.client_id, &code, redirect, &verifier).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let r = redeem(&s, &app.client_id, &code, redirect, &verifier).await;
    assert_oauth_error(&r, 400, "invalid_grant", 54005);
    // The replayed code revoked the refresh tokens it had given.
    let refresh = |rt: String| {
        let s = &s;
        let cid = app.client_id.clone();
        async move {
            token_request(s, "common", &[("grant_type", "refresh_token"), ("client_id", &cid), ("refresh_token", &rt)])
                .await
        }
    };
    let r = refresh(first.body["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_oauth_error(&r, 400, "invalid_grant", 50173);

    // Refresh tokens rotate; replaying a rotated one revokes the family, newest included.
    let (verifier, challenge) = pkce();
    let page = b.get(&authorize_url(&s, &code_params(&app.client_id, redirect, &challenge, scope))).await;
    let done = consent_if_asked(&mut b, page).await;
    let code = params_of(done.location(), '?')["code"].as_str().unwrap().to_owned();
    let r = redeem(&s, &app.client_id, &code, redirect, &verifier).await;
    let rt1 = r.body["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(rt1.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert!(r.body["id_token"].is_string(), "openid: an ID token on refresh too");
    let r = refresh(rt2.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rt3 = r.body["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(rt1).await;
    assert_oauth_error(&r, 400, "invalid_grant", 50173);
    let r = refresh(rt3).await;
    assert_oauth_error(&r, 400, "invalid_grant", 50173);
}

/// A confidential client: form_post response mode, then the code redeemed with a client
/// assertion signed by its registered certificate (RS256, `x5t`), accepted once.
pub async fn form_post_and_client_assertion(s: TestServer) {
    user_with_password(&s, "ada@contoso.test", "pw").await;
    let redirect = "https://web.example/signin-oidc";
    let (app, secret) = app_with(&s, false, &[redirect], Some(CERT)).await;
    let secret = secret.expect("a confidential client has a secret");
    let mut b = Browser::new();
    let params = [
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("response_mode", "form_post"),
        ("scope", "openid profile Contacts.Read"),
        ("state", "s-9"),
        ("nonce", "n-9"),
    ];
    let done = sign_in(&mut b, &authorize_url(&s, &params), "ada@contoso.test", "pw").await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.form_action(), redirect);
    assert!(done.text.contains("<button type=\"submit\">Continue</button>"), "works without script: {}", done.text);
    let csp = done.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self' https://web.example;"), "{csp}");
    assert_eq!(done.input("state").as_deref(), Some("s-9"));
    let code = done.input("code").expect("code");

    let audience = format!("{}/common/oauth2/v2.0/token", root(&s));
    let assertion = client_assertion(&app.client_id, &audience);
    let form = |code: &str, assertion: &str| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("client_id".to_owned(), app.client_id.clone()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), redirect.to_owned()),
            ("client_assertion_type".to_owned(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
            ("client_assertion".to_owned(), assertion.to_owned()),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let s = &s;
        async move {
            let url = format!("{}/common/oauth2/v2.0/token", root(s));
            into_resp(s.client.post(url).form(&f).send().await.unwrap()).await
        }
    };
    let r = post(form(&code, &assertion)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(r.body["id_token"].as_str().unwrap())["nonce"], "n-9");
    // The same assertion again is refused, whatever it is used for.
    let r = post(vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_id".into(), app.client_id.clone()),
        ("scope".into(), "https://graph.microsoft.com/.default".into()),
        ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
        ("client_assertion".into(), assertion.clone()),
    ])
    .await;
    assert_oauth_error(&r, 401, "invalid_client", 700027);
    // Addressed to another token endpoint.
    let r = post(vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_id".into(), app.client_id.clone()),
        ("scope".into(), "https://graph.microsoft.com/.default".into()),
        ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
        (
            "client_assertion".into(),
            client_assertion(&app.client_id, "https://login.microsoftonline.com/common/oauth2/v2.0/token"),
        ),
    ])
    .await;
    assert_oauth_error(&r, 401, "invalid_client", 700212);
    // Expired.
    let r = post(vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_id".into(), app.client_id.clone()),
        ("scope".into(), "https://graph.microsoft.com/.default".into()),
        ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
        ("client_assertion".into(), expired_assertion(&app.client_id, &audience)),
    ])
    .await;
    assert_oauth_error(&r, 401, "invalid_client", 700024);
    // A fresh assertion works for client credentials, and the secret still does. This one names
    // the certificate as MSAL for Python does: `x5t#S256`, padded base64url.
    let r = post(vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_id".into(), app.client_id.clone()),
        ("scope".into(), "https://graph.microsoft.com/.default".into()),
        ("client_assertion_type".into(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()),
        ("client_assertion".into(), client_assertion_s256_padded(&app.client_id, &audience)),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = token_request(
        &s,
        "common",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A client assertion as MSAL makes one: RS256 with the certificate's SHA-1 thumbprint as `x5t`.
fn client_assertion(client_id: &str, audience: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t =
        Some(URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_der())));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "aud": audience, "iss": client_id, "sub": client_id, "jti": rolo_domain::ids::new_guid(),
        "nbf": now, "exp": now + 600,
    });
    sign_assertion(header, claims)
}

/// An assertion that expired two minutes ago (beyond the minute of clock skew allowed).
fn expired_assertion(client_id: &str, audience: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.x5t =
        Some(URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert_der())));
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let claims = json!({
        "aud": audience, "iss": client_id, "sub": client_id, "jti": rolo_domain::ids::new_guid(),
        "exp": now - 120.5,
    });
    sign_assertion(header, claims)
}

/// As MSAL for Python makes one: PS256, the SHA-256 thumbprint as `x5t#S256` in base64url with
/// `=` padding (Python's `urlsafe_b64encode`), and `exp` with a fraction of a second.
fn client_assertion_s256_padded(client_id: &str, audience: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    let thumbprint =
        base64::engine::general_purpose::URL_SAFE.encode(ring::digest::digest(&ring::digest::SHA256, &cert_der()));
    assert!(thumbprint.ends_with('='), "a SHA-256 digest pads to 44 characters");
    header.x5t_s256 = Some(thumbprint);
    // NumericDates with a fraction, from Python's `time.time()`.
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64 + 0.786518;
    let claims = json!({
        "aud": audience, "iss": client_id, "sub": client_id, "jti": rolo_domain::ids::new_guid(),
        "iat": now, "exp": now + 600.0,
    });
    sign_assertion(header, claims)
}

fn cert_der() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(CERT.lines().filter(|l| !l.starts_with("-----")).collect::<String>())
        .unwrap()
}

fn sign_assertion(header: jsonwebtoken::Header, claims: Value) -> String {
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap()).unwrap()
}
