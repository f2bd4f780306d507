//! Users' lifecycle over HTTP, on SQLite and PostgreSQL: a user disabled (as `rolo users
//! disable` does, straight in the database, behind the running server's back) cannot sign in,
//! loses its refresh tokens for good and sees its access tokens refused at the next request; a
//! removed user's mailbox data and grants are gone.

use crate::common::{into_resp, Resp, TestServer};
use rolo_domain::{FolderId, Grant};
use rolo_server::identity::{register_app, set_password};
use rolo_store::{ListQuery, RegisteredApp, Scope};
use serde_json::{json, Value};

const SCOPE: &str = "https://graph.microsoft.com/Contacts.ReadWrite offline_access";

async fn token_request(s: &TestServer, form: &[(&str, &str)]) -> Resp {
    let url = format!("{}/common/oauth2/v2.0/token", s.base.trim_end_matches("/v1.0"));
    into_resp(s.client.post(url).form(form).send().await.expect("token request")).await
}

async fn login(s: &TestServer, (app, secret): &(RegisteredApp, String), upn: &str) -> Resp {
    let form = [
        ("grant_type", "password"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("username", upn),
        ("password", "pw"),
        ("scope", SCOPE),
    ];
    token_request(s, &form).await
}

async fn refresh(s: &TestServer, (app, secret): &(RegisteredApp, String), token: &str) -> Resp {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("refresh_token", token),
    ];
    token_request(s, &form).await
}

fn assert_grant_error(r: &Resp, code: u64) {
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.text);
    assert_eq!(r.body["error_codes"], json!([code]), "{}", r.text);
}

fn tokens(r: &Resp) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.text);
    let field = |name: &str| r.body[name].as_str().unwrap_or_else(|| panic!("no {name}: {}", r.text)).to_owned();
    (field("access_token"), field("refresh_token"))
}

async fn disable_and_enable(s: TestServer) {
    let app = register_app(s.store.as_ref(), "Client", &[]).await.unwrap();
    let kate = s.user("kate@contoso.test").await;
    set_password(s.store.as_ref(), &kate, "pw").await.unwrap();
    let (access, refresh_token) = tokens(&login(&s, &app, "kate@contoso.test").await);
    let minted = s.token(&kate, "Contacts.ReadWrite");
    for t in [&access, &minted] {
        assert_eq!(s.get("/me/contacts", t).await.status, 200);
    }

    assert!(s.store.set_user_disabled(&kate.id, true).await.unwrap());
    // Access tokens already verified (and cached as such) fail at their next request, batch too.
    for t in [&access, &minted] {
        let r = s.get("/me/contacts", t).await;
        r.assert_error(401, "InvalidAuthenticationToken");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("disabled"), "{}", r.text);
        let batch = json!({"requests": [{"id": "1", "method": "GET", "url": "/me/contacts"}]});
        s.post("/$batch", t, batch).await.assert_error(401, "InvalidAuthenticationToken");
    }
    assert_eq!(s.get(&format!("/users/{}/contacts", kate.id), &minted).await.status, 401);
    // No sign-in, no refresh.
    assert_grant_error(&login(&s, &app, "kate@contoso.test").await, 50057);
    assert_grant_error(&refresh(&s, &app, &refresh_token).await, 50057);
    // Listed as disabled; others are unaffected.
    let (_, other) = s.login("other@contoso.test").await;
    assert_eq!(s.get("/me/contacts", &other).await.status, 200);
    assert!(s.store.find_user(&kate.id).await.unwrap().unwrap().disabled);

    // Enabled again: sign-in works; the refresh token from before the disable stays revoked.
    assert!(s.store.set_user_disabled(&kate.id, false).await.unwrap());
    assert_grant_error(&refresh(&s, &app, &refresh_token).await, 50173);
    let (access, refresh_token) = tokens(&login(&s, &app, "kate@contoso.test").await);
    assert_eq!(s.get("/me/contacts", &access).await.status, 200);
    let (access, _) = tokens(&refresh(&s, &app, &refresh_token).await);
    assert_eq!(s.get("/me/contacts", &access).await.status, 200);
    assert!(!s.store.set_user_disabled("00000000-0000-0000-0000-000000000000", true).await.unwrap());
}

async fn remove_user(s: TestServer) {
    let owner = s.user("owner@contoso.test").await;
    let ot = s.token(&owner, "Contacts.ReadWrite");
    let leaving = s.user("leaving@contoso.test").await;
    let lt = s.token(&leaving, "Contacts.ReadWrite Contacts.ReadWrite.Shared");
    // The leaving user's own data, a folder of the owner's shared with it, a delegation it holds
    // and one it gave.
    let folder = s.create_folder_at("/me/contactFolders", &lt, "Mine").await;
    s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &lt, json!({"givenName": "Kept?"})).await;
    s.create_contact(&lt, json!({"givenName": "Default"})).await;
    let shared = s.create_folder_at("/me/contactFolders", &ot, "Team").await;
    let shared = FolderId::from_stored(shared);
    s.store.add_folder_permission(&owner.mailbox, &shared, &leaving, Grant::Write).await.unwrap();
    s.store.set_mailbox_grant(&owner.mailbox, &leaving.id, Some(Grant::Read)).await.unwrap();
    s.store.set_mailbox_grant(&leaving.mailbox, &owner.id, Some(Grant::Write)).await.unwrap();
    let app = s
        .authority
        .issue_app_token("11111111-0000-0000-0000-000000000001", &["Contacts.ReadWrite".to_owned()], 3600)
        .unwrap();
    let theirs = format!("/users/{}/contacts", leaving.user_principal_name);
    assert_eq!(s.get(&theirs, &app).await.body["value"].as_array().unwrap().len(), 1);

    assert!(s.store.remove_user(&leaving.id).await.unwrap());
    assert!(!s.store.remove_user(&leaving.id).await.unwrap());
    // Gone from the directory, even for a server that had it cached; its tokens fail.
    s.get(&theirs, &app).await.assert_error(404, "ErrorInvalidUser");
    s.get("/me/contacts", &lt).await.assert_error(401, "InvalidAuthenticationToken");
    assert!(s.store.find_user(&leaving.id).await.unwrap().is_none());
    assert!(s.store.user_standing(&leaving.id).await.unwrap().is_none());
    // Its mailbox's data and the grants it held or gave are gone.
    let q = ListQuery { page_size: 100, ..ListQuery::default() };
    assert!(s.store.list_contacts(&leaving.mailbox, &Scope::Mailbox, &q).await.unwrap().items.is_empty());
    assert!(s.store.get_folder(&leaving.mailbox, &FolderId::from_stored(folder)).await.unwrap().is_none());
    assert!(s.store.folder_permissions(&owner.mailbox, &shared).await.unwrap().is_empty());
    let grants = s.store.grants_of(&owner.mailbox, &leaving.id).await.unwrap();
    assert_eq!((grants.mailbox, grants.folders.len()), (None, 0));
    assert_eq!(s.store.grants_of(&leaving.mailbox, &owner.id).await.unwrap().mailbox, None);
    // The owner's own mailbox is untouched; the name can be used again, for an empty mailbox.
    assert_eq!(s.get(&format!("/me/contactFolders/{shared}"), &ot).await.status, 200);
    let again = s.user("leaving@contoso.test").await;
    assert_ne!(again.id, leaving.id);
    let r = s.get(&theirs, &app).await;
    assert_eq!(r.body["value"], Value::Array(vec![]), "{}", r.text);
}

both_backends!(disable_and_enable, remove_user);
