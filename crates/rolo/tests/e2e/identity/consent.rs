//! Consent and the sign-in lockout (#20 §1 and §5): a delegated token carries only what the
//! user may grant and what an admin granted the app; password guessing locks a name and an
//! address for a while that ends.

use std::time::Duration;

use reqwest::Method;
use rolo_server::lockout::LockoutSettings;
use serde_json::json;

use super::{app, assert_oauth_error, claims, password_login, public_app, token_request, user_with_password};
use crate::common::TestServer;

/// A user asking for admin-only scopes gets none of them; an admin's grant (over HTTP, as Graph's
/// oauth2PermissionGrants) unlocks them for that app only, and withdrawing it stops renewal.
pub async fn consent_limits_delegated_scopes(s: TestServer) {
    let spa = public_app(&s).await;
    let other = public_app(&s).await;
    user_with_password(&s, "ada@contoso.test", "pw").await;
    let bob = s.user("bob@contoso.test").await;

    // Only admin-only scopes: Microsoft's consent_required.
    let asked = "People.Read.All User.ReadWrite.All Application.ReadWrite.All";
    let r = password_login(&s, &spa, "ada@contoso.test", "pw", asked).await;
    assert_oauth_error(&r, 400, "invalid_grant", 65001);
    assert_eq!(r.body["suberror"], "consent_required");

    // Mixed: the token carries the intersection, and `scope` says so.
    let asked = "Contacts.Read People.Read.All User.ReadWrite.All ProfilePhoto.ReadWrite.All offline_access";
    let r = password_login(&s, &spa, "ada@contoso.test", "pw", asked).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Asked by bare names, named so in the answer (as MSAL caches the token under them).
    assert_eq!(r.body["scope"], "Contacts.Read offline_access");
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["scp"], "Contacts.Read");
    // So another user's people and profile photo stay out of reach.
    s.get(&format!("/users/{}/people", bob.id), &token).await.assert_error(403, "ErrorAccessDenied");
    let r = s
        .send_raw(
            Method::PUT,
            &format!("/users/{}/photo/$value", bob.id),
            Some(&token),
            vec![0xff, 0xd8],
            Some("image/jpeg"),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // A name that is no delegated permission is refused.
    let r = password_login(&s, &spa, "ada@contoso.test", "pw", "Contacts.Read Bogus.Permission").await;
    assert_oauth_error(&r, 400, "invalid_scope", 70011);

    // An admin app grants People.Read.All to `spa` for every user.
    let (admin, secret) = app(&s, "DelegatedPermissionGrant.ReadWrite.All").await;
    let r = token_request(
        &s,
        "common",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &admin.client_id),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let admin_token = r.body["access_token"].as_str().expect("admin token").to_owned();
    let body = json!({"clientId": spa.service_principal_id, "consentType": "AllPrincipals",
                      "resourceId": "00000003-0000-0000-c000-000000000000", "scope": "people.read.all"});
    let r = s.post("/oauth2PermissionGrants", &admin_token, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let grant_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["clientId"], spa.service_principal_id);
    assert_eq!(r.body["consentType"], "AllPrincipals");
    assert_eq!(r.body["principalId"], json!(null));
    assert_eq!(r.body["scope"], "People.Read.All");
    assert!(r.body["@odata.context"].as_str().unwrap().ends_with("/$metadata#oauth2PermissionGrants/$entity"));
    s.post("/oauth2PermissionGrants", &admin_token, body).await.assert_error(409, "Request_BadRequest");
    let bad =
        json!({"clientId": spa.client_id, "consentType": "AllPrincipals", "resourceId": "r", "scope": "Nope.Nope"});
    s.post("/oauth2PermissionGrants", &admin_token, bad).await.assert_error(400, "Request_BadRequest");
    let listed = s.get("/oauth2PermissionGrants", &admin_token).await;
    assert_eq!(listed.body["value"].as_array().map(Vec::len), Some(1), "{}", listed.text);
    assert_eq!(listed.body["value"][0]["id"], grant_id.as_str());

    let r = password_login(&s, &spa, "ada@contoso.test", "pw", "People.Read.All offline_access").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&token)["scp"], "People.Read.All");
    assert_eq!(s.get(&format!("/users/{}/people", bob.id), &token).await.status, 200);
    // Only for that app.
    let r = password_login(&s, &other, "ada@contoso.test", "pw", "People.Read.All").await;
    assert_oauth_error(&r, 400, "invalid_grant", 65001);

    // Withdrawn: the refresh token no longer renews the scope.
    assert_eq!(s.delete(&format!("/oauth2PermissionGrants/{grant_id}"), &admin_token).await.status, 204);
    s.get(&format!("/oauth2PermissionGrants/{grant_id}"), &admin_token)
        .await
        .assert_error(404, "Request_ResourceNotFound");
    let r = token_request(
        &s,
        "common",
        &[("grant_type", "refresh_token"), ("client_id", &spa.client_id), ("refresh_token", &refresh)],
    )
    .await;
    assert_oauth_error(&r, 400, "invalid_grant", 65001);

    // Who may manage grants: not a user with a contacts token, not an app without the role.
    let (_, user_token) = s.login("carol@contoso.test").await;
    s.get("/oauth2PermissionGrants", &user_token).await.assert_error(403, "Authorization_RequestDenied");
    let (plain, plain_secret) = app(&s, "Contacts.Read").await;
    let r = token_request(
        &s,
        "common",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &plain.client_id),
            ("client_secret", &plain_secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let plain_token = r.body["access_token"].as_str().unwrap().to_owned();
    let body = json!({"clientId": spa.client_id, "consentType": "AllPrincipals", "resourceId": "r", "scope": "People.Read.All"});
    s.post("/oauth2PermissionGrants", &plain_token, body).await.assert_error(403, "Authorization_RequestDenied");
    let r = s.send(Method::GET, "/oauth2PermissionGrants", None, None, &[]).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

/// Wrong passwords lock the name (existing or not, with the same answer) before any hash is
/// computed, and the address after more; the lock ends on its own.
pub async fn password_guessing_locks_out_for_a_while(s: TestServer) {
    s.state.lockout.set_settings(LockoutSettings {
        user_threshold: 5,
        address_threshold: 12,
        base: Duration::from_millis(400),
        max: Duration::from_secs(2),
        window: Duration::from_secs(60),
    });
    let spa = public_app(&s).await;
    user_with_password(&s, "ada@contoso.test", "right").await;
    for name in ["ada@contoso.test", "ghost@contoso.test"] {
        for _ in 0..5 {
            let r = password_login(&s, &spa, name, "wrong", "Contacts.Read").await;
            assert_oauth_error(&r, 400, "invalid_grant", 50126);
        }
        // Locked: even the right password is refused, and a ghost looks the same as Ada.
        let r = password_login(&s, &spa, name, "right", "Contacts.Read").await;
        assert_oauth_error(&r, 400, "invalid_grant", 50053);
    }
    // The lock ends: poll until it does (bounded by the settings' 400 ms first lock).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = password_login(&s, &spa, "ada@contoso.test", "right", "Contacts.Read").await;
        if r.status == 200 {
            break;
        }
        assert_oauth_error(&r, 400, "invalid_grant", 50053);
        assert!(std::time::Instant::now() < deadline, "the lockout never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The address: failures across many names lock every name from it.
    for i in 0..12 {
        let _ = password_login(&s, &spa, &format!("u{i}@contoso.test"), "wrong", "Contacts.Read").await;
    }
    let r = password_login(&s, &spa, "ada@contoso.test", "right", "Contacts.Read").await;
    assert_oauth_error(&r, 400, "invalid_grant", 50053);
}

/// The lockout over TLS: the client's address reaches the token endpoint through Rolo's own TLS
/// listener as it does over plain HTTP (without it the address part would never lock).
mod over_tls {
    use crate::common::{Backend, TestServer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_guessing_locks_out_for_a_while_sqlite() {
        super::password_guessing_locks_out_for_a_while(TestServer::start_tls(Backend::Sqlite).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_guessing_locks_out_for_a_while_postgres() {
        super::password_guessing_locks_out_for_a_while(TestServer::start_tls(Backend::Postgres).await).await;
    }
}
