//! The device-code flow (#13 §2) and the emulator's sign-in extras: pending, slow_down, the user
//! entering the code on /devicelogin, tokens once, declined and expired codes; instance
//! discovery, the well-known public client and registering apps over the admin API.

use serde_json::{json, Value};

use super::{assert_oauth_error, claims, root, token_request, user_with_password};
use crate::common::{into_resp, Backend, Resp, TestServer};
use crate::identity::signin::{app_with, authorize_url, code_params, params_of, pkce, redeem, sign_in, Browser};

async fn device_poll(s: &TestServer, client_id: &str, device_code: &str) -> Resp {
    token_request(
        s,
        "common",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", client_id),
            ("device_code", device_code),
        ],
    )
    .await
}

async fn start_device(s: &TestServer, client_id: &str) -> Value {
    let url = format!("{}/common/oauth2/v2.0/devicecode", root(s));
    let r = into_resp(
        s.client
            .post(url)
            .form(&[("client_id", client_id), ("scope", "openid offline_access Contacts.Read")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// The device-code flow: pending, slow_down, the user entering the code and signing in on
/// /devicelogin, tokens once; a declined code; an expired one.
pub async fn device_code_flow(s: TestServer) {
    let ada = user_with_password(&s, "ada@contoso.test", "pw").await;
    let (app, _) = app_with(&s, true, &[], None).await;
    let d = start_device(&s, &app.client_id).await;
    assert_eq!(d["verification_uri"], format!("{}/devicelogin", root(&s)));
    assert_eq!(d["expires_in"], 900);
    assert_eq!(d["interval"], 5);
    let user_code = d["user_code"].as_str().unwrap().to_owned();
    assert_eq!(user_code.len(), 9);
    assert!(d["message"].as_str().unwrap().contains(&user_code));
    let device_code = d["device_code"].as_str().unwrap().to_owned();

    let r = device_poll(&s, &app.client_id, &device_code).await;
    assert_oauth_error(&r, 400, "authorization_pending", 70016);
    let r = device_poll(&s, &app.client_id, &device_code).await;
    assert_oauth_error(&r, 400, "slow_down", 70016);

    // The user: the code page, the sign-in form, the confirmation.
    let mut b = Browser::new();
    let page = b.get(&format!("{}/devicelogin", root(&s))).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<label for=\"user_code\">Code</label>") && page.text.contains("lang=\"en\""));
    let csrf = page.input("csrf").unwrap();
    let wrong = b.post(&page.form_action(), &[("csrf", &csrf), ("action", "code"), ("user_code", "ZZZZZZZZZ")]).await;
    assert!(wrong.text.contains("That code didn&#39;t work"), "{}", wrong.text);
    let signin = b
        .post(&page.form_action(), &[("csrf", &csrf), ("action", "code"), ("user_code", &user_code.to_lowercase())])
        .await;
    assert!(signin.text.contains("name=\"passwd\""), "{}", signin.text);
    let confirm = b
        .post(
            &signin.form_action(),
            &[
                ("csrf", &csrf),
                ("action", "signin"),
                ("user_code", &user_code),
                ("login", "ada@contoso.test"),
                ("passwd", "pw"),
            ],
        )
        .await;
    assert!(confirm.text.contains("<li>Contacts.Read</li>"), "{}", confirm.text);
    let csrf = confirm.input("csrf").unwrap();
    let done =
        b.post(&confirm.form_action(), &[("csrf", &csrf), ("action", "consent"), ("user_code", &user_code)]).await;
    assert!(done.text.contains("You have signed in"), "{}", done.text);

    let r = device_poll(&s, &app.client_id, &device_code).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(r.body["access_token"].as_str().unwrap())["scp"], "Contacts.Read");
    assert_eq!(claims(r.body["id_token"].as_str().unwrap())["oid"], ada.id);
    assert!(r.body["refresh_token"].is_string());
    // Tokens once.
    let r = device_poll(&s, &app.client_id, &device_code).await;
    assert_oauth_error(&r, 400, "bad_verification_code", 70000);

    // Declined: the session is still there, so no password this time.
    let d = start_device(&s, &app.client_id).await;
    let (user_code, device_code) =
        (d["user_code"].as_str().unwrap().to_owned(), d["device_code"].as_str().unwrap().to_owned());
    let page = b.get(&format!("{}/devicelogin", root(&s))).await;
    let csrf = page.input("csrf").unwrap();
    let confirm = b.post(&page.form_action(), &[("csrf", &csrf), ("action", "code"), ("user_code", &user_code)]).await;
    assert!(confirm.text.contains("value=\"decline\""), "{}", confirm.text);
    b.post(&confirm.form_action(), &[("csrf", &csrf), ("action", "decline"), ("user_code", &user_code)]).await;
    let r = device_poll(&s, &app.client_id, &device_code).await;
    assert_oauth_error(&r, 400, "authorization_declined", 70000);

    // Expired.
    s.state.set_signin(rolo_server::SignInSettings { device_code_ttl: 0, ..Default::default() });
    let d = start_device(&s, &app.client_id).await;
    let r = device_poll(&s, &app.client_id, d["device_code"].as_str().unwrap()).await;
    assert_oauth_error(&r, 400, "expired_token", 70019);
}

/// Instance discovery for Rolo's own host, discovery's new endpoints, the emulator's well-known
/// public client (any loopback redirect) and registering apps over the admin API.
async fn discovery_well_known_client_and_admin_apps(s: TestServer) {
    let r = into_resp(
        s.client
            .get(format!(
                "{}/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
                root(&s),
                crate::common::enc(&format!("{}/contoso.test/oauth2/v2.0/authorize", root(&s)))
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let host = root(&s).trim_start_matches("http://").to_owned();
    assert_eq!(
        r.body["tenant_discovery_endpoint"],
        format!("{}/contoso.test/v2.0/.well-known/openid-configuration", root(&s))
    );
    assert_eq!(r.body["metadata"][0]["aliases"], json!([host]));
    let doc = into_resp(
        s.client.get(format!("{}/organizations/v2.0/.well-known/openid-configuration", root(&s))).send().await.unwrap(),
    )
    .await;
    assert_eq!(doc.body["device_authorization_endpoint"], format!("{}/organizations/oauth2/v2.0/devicecode", root(&s)));
    assert_eq!(doc.body["end_session_endpoint"], format!("{}/organizations/oauth2/v2.0/logout", root(&s)));

    // The well-known client: any loopback redirect URI, in the emulator only.
    let (_, challenge) = pkce();
    let id = rolo_server::identity::EMULATOR_PUBLIC_CLIENT_ID;
    let url = authorize_url(&s, &code_params(id, "http://127.0.0.1:49152/anything", &challenge, "openid"));
    let mut b = Browser::new();
    let r = b.get(&url).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Rolo emulator public client"));
    let r = b.get(&authorize_url(&s, &code_params(id, "https://app.example/cb", &challenge, "openid"))).await;
    assert!(r.text.contains("AADSTS50011"));
    // A user seeded with a password signs in through it, as the README shows.
    let seed =
        json!({"users": [{"userPrincipalName": "dev@contoso.test", "displayName": "Dev", "password": "pw-dev"}]});
    let r = into_resp(s.client.post(format!("{}/rolo/admin/seed", root(&s))).json(&seed).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (verifier, challenge) = pkce();
    let redirect = "http://localhost:8400/";
    let done = sign_in(
        &mut b,
        &authorize_url(&s, &code_params(id, redirect, &challenge, "openid Contacts.Read")),
        "dev@contoso.test",
        "pw-dev",
    )
    .await;
    assert_eq!(done.status, 302, "{}", done.text);
    let code = params_of(done.location(), '?')["code"].as_str().unwrap().to_owned();
    let r = redeem(&s, id, &code, redirect, &verifier).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(r.body["id_token"].as_str().unwrap())["preferred_username"], "dev@contoso.test");

    // Apps over the admin API.
    let r = into_resp(
        s.client
            .post(format!("{}/rolo/admin/apps", root(&s)))
            .json(&json!({"displayName": "Admin-made", "publicClient": true, "redirectUris": ["http://localhost/cb"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["publicClient"], true);
    assert!(r.body["clientSecret"].is_null());
    let stored = s.store.find_app(r.body["appId"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.redirect_uris, vec!["http://localhost/cb".to_owned()]);
    let r = into_resp(
        s.client
            .post(format!("{}/rolo/admin/apps", root(&s)))
            .json(&json!({"displayName": "Bad", "redirectUris": ["http://evil.example/cb"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

/// The emulator's extras (its well-known client, the admin API) need `--emulator`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_sign_in_extras_sqlite() {
    let s = TestServer::start_configured(Backend::Sqlite, |st| st.emulator = true).await;
    discovery_well_known_client_and_admin_apps(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_sign_in_extras_postgres() {
    let s = TestServer::start_configured(Backend::Postgres, |st| st.emulator = true).await;
    discovery_well_known_client_and_admin_apps(s).await;
}

/// Behind TLS (here: an https public URL) the session cookie is `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_is_secure_behind_https() {
    let s = TestServer::start_configured(Backend::Sqlite, |st| st.public_url = Some("https://contacts.example".into()))
        .await;
    let mut b = Browser::new();
    let page = b.get(&format!("{}/devicelogin", root(&s))).await;
    assert_eq!(page.status, 200);
    let cookie = &b.set_cookies[0];
    assert!(
        cookie.starts_with("rolo_session=") && cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax; Secure"),
        "{cookie}"
    );
    assert!(page.text.contains("action=\"https://contacts.example/devicelogin\""), "{}", page.text);
}
