//! The identity platform over HTTP: the token endpoint's grants and errors, discovery and JWKS
//! (checked with a standard JWT library), principals from tokens, external OpenID Connect
//! issuers with a JWKS served by the test, and rejected tokens.

#[path = "identity/consent.rs"]
mod consent;
#[path = "identity/device.rs"]
mod device;
#[path = "identity/external.rs"]
mod external;
#[path = "identity/signin.rs"]
mod signin;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{into_resp, Backend, Resp, TestServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use consent::{consent_limits_delegated_scopes, password_guessing_locks_out_for_a_while};
use device::device_code_flow;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use rolo_domain::Principal;
use rolo_server::identity::{register_app, register_public_app, set_password};
use rolo_server::oidc::{ExternalIssuers, OidcIssuer};
use rolo_store::{RegisteredApp, User};
use serde_json::{json, Value};
use signin::{code_flow_refusals, code_flow_with_pkce_session_and_consent, form_post_and_client_assertion};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
const ME_ONLY_DELEGATED: &str = "/me request is only valid with delegated authentication flow.";

/// The server's root URL, where the identity endpoints live (`base` without `/v1.0`).
fn root(s: &TestServer) -> String {
    s.base.trim_end_matches("/v1.0").to_owned()
}

async fn token_request(s: &TestServer, tenant: &str, form: &[(&str, &str)]) -> Resp {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", root(s));
    into_resp(s.client.post(url).form(form).send().await.expect("token request")).await
}

/// The unverified claims of a JWT.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

fn header_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap()).unwrap()
}

/// Asserts the identity platform's error shape with this status, `error` and AADSTS code.
fn assert_oauth_error(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status.as_u16(), status, "unexpected status; body: {}", r.text);
    assert_eq!(r.body["error"], error, "unexpected error; body: {}", r.text);
    assert_eq!(r.body["error_codes"], json!([code]), "unexpected codes; body: {}", r.text);
    let description = r.body["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(r.body[field].is_string(), "no {field}: {}", r.text);
    }
    assert_eq!(r.body["trace_id"].as_str(), r.header("request-id"));
}

async fn app(s: &TestServer, roles: &str) -> (RegisteredApp, String) {
    let roles: Vec<String> = roles.split_whitespace().map(str::to_owned).collect();
    register_app(s.store.as_ref(), "Test app", &roles).await.expect("register app")
}

/// A public client: it signs users in without a secret.
async fn public_app(s: &TestServer) -> RegisteredApp {
    register_public_app(s.store.as_ref(), "Public test app").await.expect("register public app")
}

async fn user_with_password(s: &TestServer, upn: &str, password: &str) -> User {
    let u = s.user(upn).await;
    set_password(s.store.as_ref(), &u, password).await.expect("set password");
    u
}

async fn password_login(s: &TestServer, app: &RegisteredApp, upn: &str, password: &str, scope: &str) -> Resp {
    token_request(
        s,
        "common",
        &[
            ("grant_type", "password"),
            ("client_id", &app.client_id),
            ("username", upn),
            ("password", password),
            ("scope", scope),
        ],
    )
    .await
}

/// Client credentials: an app-only token with the app's roles, no user and no `scp`; it is
/// refused on /me as Graph refuses it.
async fn client_credentials_grant(s: TestServer) {
    let (app, secret) = app(&s, "Contacts.Read Contacts.ReadWrite").await;
    assert!(!app.secret_hash.contains(&secret));
    assert_eq!(s.store.find_app(&app.client_id).await.unwrap().as_ref(), Some(&app));
    assert_eq!(s.store.find_app(&app.client_id.to_uppercase()).await.unwrap().as_ref(), Some(&app));
    assert_eq!(s.store.list_apps().await.unwrap(), vec![app.clone()]);

    let r = token_request(
        &s,
        &s.authority.tenant_id,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id),
            ("client_secret", &secret),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store, no-cache"));
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3599);
    assert_eq!(r.body["ext_expires_in"], 3599);
    assert!(r.body.get("refresh_token").is_none() && r.body.get("scope").is_none(), "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["roles"], json!(["Contacts.Read", "Contacts.ReadWrite"]));
    assert_eq!(c["appid"], app.client_id);
    assert_eq!(c["azp"], app.client_id);
    assert_eq!(c["oid"], app.service_principal_id);
    assert_eq!(c["sub"], app.service_principal_id);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["tid"], s.authority.tenant_id);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["iss"], s.authority.issuer);
    assert!(c.get("scp").is_none() && c.get("upn").is_none(), "{c}");
    assert_eq!((c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap()), 3599);

    assert_eq!(
        s.authority.verify(&token).unwrap(),
        Principal {
            user_id: None,
            scopes: vec!["Contacts.Read".into(), "Contacts.ReadWrite".into()],
            app_id: Some(app.client_id.clone()),
            app_only: true,
        }
    );
    let r = s.get("/me/contacts", &token).await;
    r.assert_error(400, "BadRequest");
    assert_eq!(r.body["error"]["message"], ME_ONLY_DELEGATED);

    // HTTP Basic client authentication (client_secret_basic) and Graph's app id as resource.
    let basic = STANDARD.encode(format!("{}:{secret}", app.client_id));
    let r = into_resp(
        s.client
            .post(format!("{}/organizations/oauth2/v2.0/token", root(&s)))
            .header("Authorization", format!("Basic {basic}"))
            .form(&[("grant_type", "client_credentials"), ("scope", "00000003-0000-0000-c000-000000000000/.default")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(r.body["access_token"].as_str().unwrap())["appid"], app.client_id);

    // A wrong secret is refused, and the wrong one is the only difference.
    let r = token_request(
        &s,
        "common",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &app.client_id),
            ("client_secret", &format!("{secret}x")),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_oauth_error(&r, 401, "invalid_client", 7000215);
}

/// The password grant: a delegated token with the asked Graph scopes, a refresh token with
/// offline_access, refresh rotation, and revocation by a password change.
async fn password_and_refresh_grants(s: TestServer) {
    let app = public_app(&s).await;
    let other_app = public_app(&s).await;
    let ada = user_with_password(&s, "ada@contoso.test", "s3cret!").await;

    let r = password_login(
        &s,
        &app,
        "ADA@contoso.test",
        "s3cret!",
        "https://graph.microsoft.com/Contacts.ReadWrite offline_access",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["scope"], "https://graph.microsoft.com/Contacts.ReadWrite offline_access");
    assert_eq!(r.body["expires_in"], 3599);
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().expect("refresh_token").to_owned();
    let c = claims(&token);
    assert_eq!(c["scp"], "Contacts.ReadWrite");
    assert_eq!(c["oid"], ada.id);
    assert_eq!(c["upn"], "ada@contoso.test");
    assert_eq!(c["appid"], app.client_id);
    assert_eq!(c["idtyp"], "user");
    assert!(c.get("roles").is_none());
    assert_eq!(
        s.authority.verify(&token).unwrap(),
        Principal {
            user_id: Some(ada.id.clone()),
            scopes: vec!["Contacts.ReadWrite".into()],
            app_id: Some(app.client_id.clone()),
            app_only: false,
        }
    );
    let id = s.create_contact(&token, json!({"givenName": "Grace"})).await;
    assert_eq!(s.ids_at("/me/contacts", &token).await, vec![id.clone()]);

    // `.default` grants the default set; no offline_access, no refresh token. Every tenant form.
    for tenant in ["common", "organizations", "contoso.com", &s.authority.tenant_id.to_uppercase()] {
        let r = token_request(
            &s,
            tenant,
            &[
                ("grant_type", "password"),
                ("client_id", &app.client_id),
                ("username", "ada@contoso.test"),
                ("password", "s3cret!"),
                ("scope", GRAPH_DEFAULT),
            ],
        )
        .await;
        assert_eq!(r.status, 200, "{tenant}: {}", r.text);
        assert!(r.body.get("refresh_token").is_none());
        assert_eq!(
            claims(r.body["access_token"].as_str().unwrap())["scp"],
            "Contacts.ReadWrite MailboxSettings.ReadWrite User.Read"
        );
    }

    // Wrong password, unknown user and a user without a password all look the same.
    let bob = s.user("bob@contoso.test").await;
    for (upn, password) in
        [("ada@contoso.test", "S3cret!"), ("nobody@contoso.test", "s3cret!"), (bob.user_principal_name.as_str(), "")]
    {
        let r = password_login(&s, &app, upn, if password.is_empty() { "x" } else { password }, GRAPH_DEFAULT).await;
        assert_oauth_error(&r, 400, "invalid_grant", 50126);
    }

    // Refresh: a new access token and a new refresh token for the same grant.
    let refresh_with = |rt: String, client: String, scope: Option<&'static str>| {
        let s = &s;
        async move {
            let mut form =
                vec![("grant_type", "refresh_token".to_owned()), ("client_id", client), ("refresh_token", rt)];
            if let Some(scope) = scope {
                form.push(("scope", scope.to_owned()));
            }
            let url = format!("{}/common/oauth2/v2.0/token", root(s));
            into_resp(s.client.post(url).form(&form).send().await.unwrap()).await
        }
    };
    let r = refresh_with(refresh.clone(), app.client_id.clone(), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let renewed = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh2 = r.body["refresh_token"].as_str().expect("a new refresh token").to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(claims(&renewed)["scp"], "Contacts.ReadWrite");
    assert_eq!(claims(&renewed)["oid"], ada.id);
    assert_eq!(s.ids_at("/me/contacts", &renewed).await, vec![id]);
    let r = refresh_with(refresh2.clone(), app.client_id.clone(), Some("Contacts.ReadWrite offline_access")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // More than was granted is refused.
    let r = refresh_with(refresh2.clone(), app.client_id.clone(), Some("Contacts.ReadWrite User.Read.All")).await;
    assert_oauth_error(&r, 400, "invalid_grant", 65001);
    // Another client cannot use it; a tampered one is malformed.
    let r = refresh_with(refresh2.clone(), other_app.client_id.clone(), None).await;
    assert_oauth_error(&r, 400, "invalid_grant", 70000);
    let mut tampered: Vec<char> = refresh2.chars().collect();
    tampered[3] = if tampered[3] == 'A' { 'B' } else { 'A' };
    let r = refresh_with(tampered.into_iter().collect(), app.client_id.clone(), None).await;
    assert_oauth_error(&r, 400, "invalid_grant", 9002313);
    let r = refresh_with("not-a-token".into(), app.client_id.clone(), None).await;
    assert_oauth_error(&r, 400, "invalid_grant", 9002313);

    // A password change revokes the refresh tokens issued before it.
    set_password(s.store.as_ref(), &ada, "n3w").await.unwrap();
    let r = refresh_with(refresh2, app.client_id.clone(), None).await;
    assert_oauth_error(&r, 400, "invalid_grant", 50173);
    assert_oauth_error(
        &password_login(&s, &app, "ada@contoso.test", "s3cret!", GRAPH_DEFAULT).await,
        400,
        "invalid_grant",
        50126,
    );
    assert_eq!(password_login(&s, &app, "ada@contoso.test", "n3w", GRAPH_DEFAULT).await.status, 200);
}

/// A token request's form fields.
type Form<'a> = Vec<(&'a str, &'a str)>;

/// Malformed and refused token requests, each with Microsoft's error and AADSTS code.
async fn token_endpoint_errors(s: TestServer) {
    let (app, secret) = app(&s, "Contacts.Read").await;
    let url = format!("{}/common/oauth2/v2.0/token", root(&s));
    let r = s.send(reqwest::Method::GET, &url, None, None, &[]).await;
    assert_oauth_error(&r, 400, "invalid_request", 900561);
    // JSON is not a form: no grant_type.
    let r = s.send(reqwest::Method::POST, &url, None, Some(json!({"grant_type": "client_credentials"})), &[]).await;
    assert_oauth_error(&r, 400, "invalid_request", 900144);
    assert!(r.body["error_description"].as_str().unwrap().contains("'grant_type'"));
    // The client's correlation id comes back.
    let r =
        into_resp(s.client.post(&url).header("client-request-id", "corr-1").form(&[("x", "y")]).send().await.unwrap())
            .await;
    assert_oauth_error(&r, 400, "invalid_request", 900144);
    assert_eq!(r.body["correlation_id"], "corr-1");

    let cid = app.client_id.as_str();
    let public = public_app(&s).await;
    let pcid = public.client_id.as_str();
    let cases: Vec<(Form, u16, &str, u64)> = vec![
        // A confidential client proves itself on every grant: its id alone is not enough.
        (
            vec![
                ("grant_type", "password"),
                ("client_id", cid),
                ("username", "a@b.c"),
                ("password", "p"),
                ("scope", "Contacts.Read"),
            ],
            401,
            "invalid_client",
            7000218,
        ),
        // A public client has no secret: no client credentials, and a secret is refused.
        (
            vec![("grant_type", "client_credentials"), ("client_id", pcid), ("scope", GRAPH_DEFAULT)],
            400,
            "unauthorized_client",
            700025,
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", pcid),
                ("client_secret", &secret),
                ("username", "a@b.c"),
                ("password", "p"),
                ("scope", "Contacts.Read"),
            ],
            401,
            "invalid_client",
            700025,
        ),
        (vec![("grant_type", "implicit"), ("client_id", cid)], 400, "unsupported_grant_type", 70003),
        (vec![("grant_type", "client_credentials"), ("scope", GRAPH_DEFAULT)], 400, "invalid_request", 900144),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "00000000-0000-0000-0000-000000000001"),
                ("client_secret", &secret),
                ("scope", GRAPH_DEFAULT),
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", cid), ("scope", GRAPH_DEFAULT)],
            401,
            "invalid_client",
            7000218,
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", cid), ("client_secret", &secret)],
            400,
            "invalid_request",
            900144,
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", cid),
                ("client_secret", &secret),
                ("scope", "https://graph.microsoft.com/Contacts.Read"),
            ],
            400,
            "invalid_scope",
            1002012,
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", cid),
                ("client_secret", &secret),
                ("scope", "https://outlook.office.com/.default"),
            ],
            400,
            "invalid_resource",
            500011,
        ),
        (
            vec![("grant_type", "password"), ("client_id", pcid), ("username", "a@b.c"), ("scope", GRAPH_DEFAULT)],
            400,
            "invalid_request",
            900144,
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", pcid),
                ("username", "a@b.c"),
                ("password", "p"),
                ("scope", "https://outlook.office.com/Mail.Read"),
            ],
            400,
            "invalid_scope",
            70011,
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", cid),
                ("client_secret", "wrong"),
                ("refresh_token", "x"),
            ],
            401,
            "invalid_client",
            7000215,
        ),
        (vec![("grant_type", "refresh_token"), ("client_id", pcid)], 400, "invalid_request", 900144),
        // A parameter given twice is malformed.
        (vec![("grant_type", "password"), ("grant_type", "password")], 400, "invalid_request", 9002313),
    ];
    for (form, status, error, code) in cases {
        let r = token_request(&s, "common", &form).await;
        assert_oauth_error(&r, status, error, code);
    }
    // An unknown tenant.
    let r = token_request(&s, "00000000-0000-0000-0000-00000000abcd", &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(&r, 400, "invalid_request", 90002);
    // The authorization endpoint without a client: an error page (nowhere to send it back).
    let r = s.send(reqwest::Method::GET, &format!("{}/common/oauth2/v2.0/authorize", root(&s)), None, None, &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("AADSTS900144: "), "{}", r.text);
}

both_backends!(
    client_credentials_grant,
    password_and_refresh_grants,
    token_endpoint_errors,
    consent_limits_delegated_scopes,
    password_guessing_locks_out_for_a_while,
    code_flow_with_pkce_session_and_consent,
    code_flow_refusals,
    form_post_and_client_assertion,
    device_code_flow
);

/// Discovery names the issuer, token endpoint and JWKS; a standard JWT library verifies an issued
/// token with that JWKS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_jwks_verify_issued_tokens() {
    let s = TestServer::start(Backend::Sqlite).await;
    let tid = s.authority.tenant_id.clone();
    let get = |path: String| {
        let s = &s;
        async move { into_resp(s.client.get(format!("{}{path}", root(s))).send().await.unwrap()).await }
    };
    let doc = get(format!("/{tid}/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert_eq!(doc.body["issuer"], s.authority.issuer);
    assert_eq!(doc.body["token_endpoint"], format!("{}/{tid}/oauth2/v2.0/token", root(&s)));
    assert_eq!(doc.body["jwks_uri"], format!("{}/{tid}/discovery/v2.0/keys", root(&s)));
    assert_eq!(doc.body["id_token_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(
        doc.body["grant_types_supported"],
        json!([
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert!(doc.body["response_types_supported"].is_array());
    let common = get("/common/v2.0/.well-known/openid-configuration".into()).await;
    assert_eq!(common.body["issuer"], "https://login.rolo.local/{tenantid}/v2.0");
    assert_eq!(common.body["token_endpoint"], format!("{}/common/oauth2/v2.0/token", root(&s)));
    assert_oauth_error(
        &get("/00000000-0000-0000-0000-00000000abcd/v2.0/.well-known/openid-configuration".into()).await,
        400,
        "invalid_request",
        90002,
    );

    let jwks = get(doc.body["jwks_uri"].as_str().unwrap().trim_start_matches(&root(&s)).to_owned()).await;
    assert_eq!(jwks.status, 200, "{}", jwks.text);
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], s.authority.key_id());

    let app = public_app(&s).await;
    user_with_password(&s, "ada@contoso.test", "pw").await;
    let r = password_login(&s, &app, "ada@contoso.test", "pw", "Contacts.Read").await;
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(header_of(&token)["kid"], s.authority.key_id());
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone()).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    validation.set_issuer(&[doc.body["issuer"].as_str().unwrap()]);
    let data = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
        .expect("the JWKS verifies the token");
    assert_eq!(data.claims["scp"], "Contacts.Read");
    // The tokens `rolo token` mints verify the same way.
    let cli = s.token(&s.user("bob@contoso.test").await, "Contacts.Read");
    jsonwebtoken::decode::<Value>(&cli, &DecodingKey::from_jwk(&jwk).unwrap(), &validation).expect("verifies");
}

/// Refresh tokens are sealed with the installation's secret, so they survive a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_survive_a_restart() {
    let (url, dir) = crate::common::database_url(Backend::Sqlite);
    let first = TestServer::start_at(&url, tempfile::tempdir().unwrap(), |_| {}).await;
    let app = public_app(&first).await;
    user_with_password(&first, "ada@contoso.test", "pw").await;
    let r = password_login(&first, &app, "ada@contoso.test", "pw", "Contacts.Read offline_access").await;
    let refresh = r.body["refresh_token"].as_str().expect("refresh token").to_owned();
    drop(first);
    let second = TestServer::start_at(&url, dir, |_| {}).await;
    let r = token_request(
        &second,
        "common",
        &[("grant_type", "refresh_token"), ("client_id", &app.client_id), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(second.ids_at("/me/contacts", r.body["access_token"].as_str().unwrap()).await, Vec::<String>::new());
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// A token with its signature altered in the middle (the last characters may be padding bits).
fn with_bad_signature(token: &str) -> String {
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = sig.chars().collect();
    sig[5] = if sig[5] == 'A' { 'B' } else { 'A' };
    format!("{head}.{}", sig.into_iter().collect::<String>())
}

/// Asserts that `token` is refused with 401 InvalidAuthenticationToken on /me/contacts, for the
/// reason `why` (a fragment of the message).
async fn assert_refused(s: &TestServer, token: &str, what: &str, why: &str) {
    let r = s.get("/me/contacts", token).await;
    assert_eq!(r.status, 401, "{what} was not refused: {}", r.text);
    r.assert_error(401, "InvalidAuthenticationToken");
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "{what}: expected '{why}' in '{message}'");
}

/// Tokens signed with the installation's own key but wrong in one way each are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_local_tokens() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (ada, _) = s.login("ada@contoso.test").await;
    let pkcs8 = STANDARD.decode(s.store.setting_or_insert("signing_key_es256_pkcs8", "").await.unwrap()).unwrap();
    let key = EncodingKey::from_ec_der(&pkcs8);
    let sign = |claims: &Value, kid: &str| {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, claims, &key).unwrap()
    };
    let t = now();
    let good = json!({
        "aud": "https://graph.microsoft.com", "iss": s.authority.issuer, "iat": t, "nbf": t, "exp": t + 600,
        "tid": s.authority.tenant_id, "oid": ada.id, "sub": ada.id, "scp": "Contacts.Read", "ver": "2.0"
    });
    let kid = s.authority.key_id();
    let valid = sign(&good, &kid);
    assert_eq!(s.get("/me/contacts", &valid).await.status, 200);

    let with = |patch: Value| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        c
    };
    assert_refused(
        &s,
        &sign(&with(json!({"exp": t - 3600, "nbf": t - 7200, "iat": t - 7200})), &kid),
        "expired",
        "expired",
    )
    .await;
    assert_refused(&s, &sign(&with(json!({"nbf": t + 3600, "exp": t + 7200})), &kid), "not yet valid", "not yet valid")
        .await;
    assert_refused(&s, &sign(&with(json!({"aud": "api://someone-else"})), &kid), "wrong audience", "Invalid audience")
        .await;
    assert_refused(
        &s,
        &sign(&with(json!({"iss": "https://login.microsoftonline.com/x/v2.0"})), &kid),
        "wrong issuer",
        "Invalid issuer",
    )
    .await;
    assert_refused(
        &s,
        &with_bad_signature(&sign(&with(json!({"exp": t + 601})), &kid)),
        "bad signature",
        "Signature validation failed",
    )
    .await;
    assert_refused(&s, &sign(&good, "unknown-kid"), "unknown kid", "kid").await;
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT", "kid": kid})), b64(&good));
    assert_refused(&s, &none, "alg none", "not well formed").await;
    // HS256 keyed with the public key (the public point as in the JWKS).
    let jwk = &s.authority.jwks()["keys"][0];
    let mut public = vec![4u8];
    public.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    public.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid.clone());
    let hs = jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(&public)).unwrap();
    assert_refused(&s, &hs, "HS256 with the public key", "algorithm").await;
    // The genuine token still works.
    assert_eq!(s.get("/me/contacts", &valid).await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// External issuers.

const RSA_KID: &str = "rsa-1";
const EC_KID: &str = "ec-2";
const AUDIENCE: &str = "api://rolo";
