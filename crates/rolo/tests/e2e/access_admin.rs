//! Who may use the administration extensions the web app's admin screens call: mailbox
//! delegation (`/users/{id}/mailboxPermissions`), CardDAV app passwords (`appPasswords`), the app
//! registry (`/applications`), `/me/sharedWithMe`, and shared mailboxes created by `POST /users`.
//! Each row is a kind of caller (the user themself, an admin, another user, an app with and
//! without a role, no token), with exact statuses and the stored effect of allowed and refused
//! requests.

use reqwest::Method;
use rolo_domain::{FolderId, Grant};
use rolo_server::webapp::WEBAPP_CLIENT_ID;
use rolo_store::AppPassword;
use serde_json::json;

use crate::carddav::{basic, dav};
use crate::common::TestServer;

fn scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// A token for `user` from Rolo People (the built-in client), as the web app holds one.
fn webapp_token(s: &TestServer, user: &rolo_store::User, scope: &str) -> String {
    s.authority.issue_delegated_for(user, &scopes(scope), WEBAPP_CLIENT_ID, 3600).unwrap()
}

fn app_token(s: &TestServer, n: u8, role: &str) -> String {
    s.authority.issue_app_token(&format!("11111111-0000-0000-0000-0000000000{n:02}"), &scopes(role), 3600).unwrap()
}

/// `appPasswords`: the user creates, lists and revokes their own only through Rolo People; an
/// admin lists and revokes anyone's but never creates one; nobody else touches them.
async fn app_passwords_access(s: TestServer) {
    let me = s.user("pw-owner@contoso.test").await;
    let admin = s.user("pw-admin@contoso.test").await;
    let other = s.user("pw-other@contoso.test").await;
    let path = format!("/users/{}/appPasswords", me.id);
    // (who, token, [list, create, revoke])
    let rows: Vec<(&str, Option<String>, [u16; 3])> = vec![
        ("the user, through Rolo People", Some(webapp_token(&s, &me, "User.Read")), [200, 201, 204]),
        (
            "the user, through another app",
            Some(s.token(&me, "User.ReadWrite Contacts.ReadWrite Contacts.ReadWrite.Shared")),
            [403, 403, 403],
        ),
        ("an admin (User.ReadWrite.All)", Some(s.token(&admin, "User.ReadWrite.All")), [200, 403, 204]),
        ("an admin through Rolo People", Some(webapp_token(&s, &admin, "Directory.ReadWrite.All")), [200, 403, 204]),
        (
            "another user, through Rolo People",
            Some(webapp_token(&s, &other, "User.Read Contacts.ReadWrite.Shared")),
            [403, 403, 403],
        ),
        ("an app with User.ReadWrite.All", Some(app_token(&s, 1, "User.ReadWrite.All")), [200, 403, 204]),
        ("an app with Contacts.ReadWrite", Some(app_token(&s, 2, "Contacts.ReadWrite")), [403, 403, 403]),
        ("no token", None, [401, 401, 401]),
    ];
    for (i, (who, token, want)) in rows.into_iter().enumerate() {
        let existing = AppPassword {
            id: format!("00000000-0000-0000-0000-0000000001{i:02}"),
            name: format!("laptop {i}"),
            hash: "not a usable hash".into(),
            created_at: "2026-01-02T03:04:05Z".into(),
        };
        s.store.add_app_password(&me.id, &existing).await.unwrap();
        let list = s.send(Method::GET, &path, token.as_deref(), None, &[]).await;
        let name = format!("phone {i}");
        let create = s.send(Method::POST, &path, token.as_deref(), Some(json!({"displayName": name})), &[]).await;
        let revoke = s.send(Method::DELETE, &format!("{path}/{}", existing.id), token.as_deref(), None, &[]).await;
        let got = [list.status.as_u16(), create.status.as_u16(), revoke.status.as_u16()];
        assert_eq!(got, want, "{who}: {} / {} / {}", list.text, create.text, revoke.text);
        let stored: Vec<String> = s.store.app_passwords(&me.id).await.unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(stored.contains(&existing.name), want[2] != 204, "{who}: revoked only when allowed");
        assert_eq!(stored.contains(&name), want[1] == 201, "{who}: created only when allowed");
        if want[0] == 200 {
            let names: Vec<&str> =
                list.body["value"].as_array().unwrap().iter().map(|p| p["displayName"].as_str().unwrap()).collect();
            assert!(names.contains(&existing.name.as_str()), "{who}: {names:?}");
            assert!(
                list.text.find("hash").is_none() && list.text.find("secretText").is_none(),
                "{who}: no secrets listed"
            );
        }
        if want[1] == 201 {
            // The secret is in the answer, once, and works over CardDAV until it is revoked.
            let secret = create.body["secretText"].as_str().unwrap();
            let auth = basic(&me.user_principal_name, secret);
            let home = format!("/dav/addressbooks/{}/", me.user_principal_name);
            assert_eq!(dav(&s, "PROPFIND", &home, Some(&auth), &[("Depth", "0")], "").await.status, 207);
            let id = create.body["id"].as_str().unwrap();
            let token = token.as_deref().unwrap();
            assert_eq!(s.send(Method::DELETE, &format!("{path}/{id}"), Some(token), None, &[]).await.status, 204);
            assert_eq!(dav(&s, "PROPFIND", &home, Some(&auth), &[("Depth", "0")], "").await.status, 401);
        }
    }
    // Errors: no name, a name taken, an unknown id; /me is the caller's own.
    let t = webapp_token(&s, &me, "User.Read");
    s.post("/me/appPasswords", &t, json!({"displayName": ""})).await.assert_error(400, "ErrorInvalidRequest");
    assert_eq!(s.post("/me/appPasswords", &t, json!({"displayName": "tablet"})).await.status, 201);
    assert_eq!(s.post("/me/appPasswords", &t, json!({"displayName": "tablet"})).await.status, 409);
    let unknown = s.send(Method::DELETE, "/me/appPasswords/nope", Some(&t), None, &[]).await;
    unknown.assert_error(404, "ErrorItemNotFound");
    let mine = s.get("/me/appPasswords", &t).await;
    assert!(mine.body["value"].as_array().unwrap().iter().any(|p| p["displayName"] == "tablet"));
}

/// `mailboxPermissions`: an admin (delegated or an app's role) manages any mailbox's delegates
/// and members; the owner reads its own list; delegates, strangers and other apps get nothing.
async fn mailbox_permissions_access(s: TestServer) {
    let owner = s.user("mb-owner@contoso.test").await;
    let admin = s.user("mb-admin@contoso.test").await;
    let delegate = s.user("mb-delegate@contoso.test").await;
    let stranger = s.user("mb-stranger@contoso.test").await;
    let bystander = s.user("mb-bystander@contoso.test").await;
    s.store.set_mailbox_grant(&owner.mailbox, &delegate.id, Some(Grant::Write)).await.unwrap();
    let path = format!("/users/{}/mailboxPermissions", owner.user_principal_name);
    // (who, token, [list, add, change, remove])
    let rows: Vec<(&str, Option<String>, [u16; 4])> = vec![
        (
            "the owner (MailboxSettings.ReadWrite)",
            Some(s.token(&owner, "MailboxSettings.ReadWrite")),
            [200, 403, 403, 403],
        ),
        ("the owner (Contacts.ReadWrite)", Some(s.token(&owner, "Contacts.ReadWrite")), [403, 403, 403, 403]),
        ("an admin (User.ReadWrite.All)", Some(s.token(&admin, "User.ReadWrite.All")), [200, 201, 200, 204]),
        (
            "an admin (Directory.ReadWrite.All)",
            Some(webapp_token(&s, &admin, "Directory.ReadWrite.All")),
            [200, 201, 200, 204],
        ),
        (
            "a write delegate",
            Some(s.token(&delegate, "MailboxSettings.ReadWrite Contacts.ReadWrite.Shared")),
            [403, 403, 403, 403],
        ),
        ("another user", Some(s.token(&stranger, "MailboxSettings.ReadWrite")), [403, 403, 403, 403]),
        ("an app with User.ReadWrite.All", Some(app_token(&s, 3, "User.ReadWrite.All")), [200, 201, 200, 204]),
        ("an app with Contacts.ReadWrite", Some(app_token(&s, 4, "Contacts.ReadWrite")), [403, 403, 403, 403]),
        ("no token", None, [401, 401, 401, 401]),
    ];
    for (who, token, want) in rows {
        s.store.set_mailbox_grant(&owner.mailbox, &bystander.id, None).await.unwrap();
        let list = s.send(Method::GET, &path, token.as_deref(), None, &[]).await;
        let add_body = json!({"emailAddress": {"address": bystander.user_principal_name}, "role": "read"});
        let add = s.send(Method::POST, &path, token.as_deref(), Some(add_body), &[]).await;
        if add.status != 201 {
            assert_eq!(s.store.grants_of(&owner.mailbox, &bystander.id).await.unwrap().mailbox, None, "{who}");
            s.store.set_mailbox_grant(&owner.mailbox, &bystander.id, Some(Grant::Read)).await.unwrap();
        }
        let one = format!("{path}/{}", bystander.id);
        let change = s.send(Method::PATCH, &one, token.as_deref(), Some(json!({"role": "write"})), &[]).await;
        let after_change = s.store.grants_of(&owner.mailbox, &bystander.id).await.unwrap().mailbox;
        assert_eq!(after_change, Some(if change.status == 200 { Grant::Write } else { Grant::Read }), "{who}");
        let remove = s.send(Method::DELETE, &one, token.as_deref(), None, &[]).await;
        let got = [list.status.as_u16(), add.status.as_u16(), change.status.as_u16(), remove.status.as_u16()];
        assert_eq!(got, want, "{who}: {} / {} / {} / {}", list.text, add.text, change.text, remove.text);
        let left = s.store.grants_of(&owner.mailbox, &bystander.id).await.unwrap().mailbox;
        assert_eq!(left.is_none(), want[3] == 204, "{who}: removed only when allowed");
        if want[0] == 200 {
            let value = &list.body["value"];
            assert_eq!(value.as_array().unwrap().len(), 1, "{who}: {value}");
            assert_eq!(value[0]["id"], delegate.id.as_str());
            assert_eq!(value[0]["emailAddress"]["address"], "mb-delegate@contoso.test");
            assert_eq!(value[0]["role"], "write");
        }
        if want[1] == 201 {
            assert_eq!(add.body["role"], "read");
            assert_eq!(add.body["emailAddress"]["address"], "mb-bystander@contoso.test");
            assert_eq!(change.body["role"], "write");
        }
    }
    // The write delegate's own access is untouched by every row.
    assert_eq!(s.store.grants_of(&owner.mailbox, &delegate.id).await.unwrap().mailbox, Some(Grant::Write));
    let t = s.token(&admin, "User.ReadWrite.All");
    let again = json!({"emailAddress": {"address": "mb-delegate@contoso.test"}, "role": "read"});
    s.post(&path, &t, again).await.assert_error(409, "ErrorItemExists");
    let to_self = json!({"emailAddress": {"address": "mb-owner@contoso.test"}, "role": "read"});
    s.post(&path, &t, to_self).await.assert_error(400, "ErrorInvalidUser");
    let unknown = json!({"emailAddress": {"address": "nobody@contoso.test"}, "role": "read"});
    s.post(&path, &t, unknown).await.assert_error(404, "ErrorInvalidUser");
    let bad_role = json!({"emailAddress": {"address": "mb-stranger@contoso.test"}, "role": "owner"});
    s.post(&path, &t, bad_role).await.assert_error(400, "ErrorInvalidProperty");
    s.send(Method::PATCH, &format!("{path}/{}", stranger.id), Some(&t), Some(json!({"role": "read"})), &[])
        .await
        .assert_error(404, "ErrorItemNotFound");
    s.get("/users/nobody@contoso.test/mailboxPermissions", &t).await.assert_error(404, "ErrorInvalidUser");
    let put = s.send(Method::PUT, &path, Some(&t), Some(json!({})), &[]).await;
    assert_eq!(put.status, 405, "{}", put.text);
}

/// `POST /users` with `mailboxSettings.userPurpose` "shared": a shared mailbox (an admin's);
/// members then open it, and it shows in their `/me/sharedWithMe`.
async fn shared_mailbox_over_http(s: TestServer) {
    let admin = s.user("sm-admin@contoso.test").await;
    let member = s.user("sm-member@contoso.test").await;
    let owner = s.user("sm-owner@contoso.test").await;
    let t = s.token(&admin, "User.ReadWrite.All");
    let shared = json!({"displayName": "Help Desk", "userPrincipalName": "helpdesk@contoso.test",
                        "accountEnabled": false, "mailboxSettings": {"userPurpose": "shared"}});
    let made = s.post("/users", &t, shared.clone()).await;
    assert_eq!(made.status, 201, "{}", made.text);
    let id = made.body["id"].as_str().unwrap().to_owned();
    assert!(s.store.is_shared_mailbox(&id).await.unwrap());
    let listed = s.get("/users/helpdesk@contoso.test?$select=accountEnabled,mailboxSettings", &t).await;
    assert_eq!(listed.body["accountEnabled"], false);
    assert_eq!(listed.body["mailboxSettings"], json!({"userPurpose": "shared"}));
    let person = s.get("/users/sm-member@contoso.test?$select=mailboxSettings", &t).await;
    assert_eq!(person.body["mailboxSettings"], json!({"userPurpose": "user"}));
    // A shared mailbox takes no password; a person needs one; nothing else is a purpose.
    let with_pw = json!({"displayName": "X", "userPrincipalName": "x@contoso.test", "passwordProfile": {"password": "p w"},
                         "mailboxSettings": {"userPurpose": "shared"}});
    s.post("/users", &t, with_pw).await.assert_error(400, "Request_BadRequest");
    let room =
        json!({"displayName": "R", "userPrincipalName": "r@contoso.test", "mailboxSettings": {"userPurpose": "room"}});
    s.post("/users", &t, room).await.assert_error(400, "Request_BadRequest");
    assert!(s.store.find_user("x@contoso.test").await.unwrap().is_none());
    assert!(s.store.find_user("r@contoso.test").await.unwrap().is_none());
    let plain = s.token(&member, "User.Read Contacts.ReadWrite");
    let refused = s
        .post(
            "/users",
            &plain,
            json!({"displayName": "Y", "userPrincipalName": "y@contoso.test",
                                                   "mailboxSettings": {"userPurpose": "shared"}}),
        )
        .await;
    refused.assert_error(403, "Authorization_RequestDenied");

    // Membership over HTTP, then what the member is told.
    let add = json!({"emailAddress": {"address": "sm-member@contoso.test"}, "role": "write"});
    assert_eq!(s.post("/users/helpdesk@contoso.test/mailboxPermissions", &t, add).await.status, 201);
    let ot = s.token(&owner, "Contacts.ReadWrite");
    let folder = s.create_folder_at("/me/contactFolders", &ot, "Team").await;
    let owner_user = s.store.find_user("sm-owner@contoso.test").await.unwrap().unwrap();
    s.store
        .add_folder_permission(&owner_user.mailbox, &FolderId::from_stored(folder.clone()), &member, Grant::Read)
        .await
        .unwrap();
    let mt = s.token(&member, "Contacts.Read.Shared");
    let mine = s.get("/me/sharedWithMe", &mt).await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    let mut value = mine.body["value"].as_array().unwrap().clone();
    value.sort_by_key(|v| v["userPrincipalName"].as_str().unwrap().to_owned());
    assert_eq!(
        serde_json::Value::Array(value),
        json!([
            {"id": id, "displayName": "Help Desk", "userPrincipalName": "helpdesk@contoso.test",
             "userPurpose": "shared", "role": "write", "folders": []},
            {"id": owner.id, "displayName": owner.display_name, "userPrincipalName": "sm-owner@contoso.test",
             "userPurpose": "user", "role": null, "folders": [{"id": folder, "displayName": "Team", "role": "read"}]},
        ])
    );
    // Who may ask: the user with a Contacts.*.Shared scope, for themself only.
    let rows: Vec<(&str, Option<String>, u16)> = vec![
        ("Contacts.ReadWrite.Shared", Some(s.token(&member, "Contacts.ReadWrite.Shared")), 200),
        ("Contacts.ReadWrite only", Some(s.token(&member, "Contacts.ReadWrite")), 403),
        ("an app", Some(app_token(&s, 5, "Contacts.Read")), 400),
        ("no token", None, 401),
    ];
    for (who, token, want) in rows {
        let r = s.send(Method::GET, "/me/sharedWithMe", token.as_deref(), None, &[]).await;
        assert_eq!(r.status, want, "{who}: {}", r.text);
    }
    let r = s.get(&format!("/users/{}/sharedWithMe", member.id), &mt).await;
    r.assert_error(400, "BadRequest");
    // The admin is shown nothing of the member's.
    assert_eq!(s.get("/me/sharedWithMe", &s.token(&admin, "Contacts.Read.Shared")).await.body["value"], json!([]));
}

/// `/applications`: the registry read by admins (delegated or app role), never a secret.
async fn applications_access(s: TestServer) {
    let app = rolo_server::identity::register_public_app(s.store.as_ref(), "Phone Book").await.unwrap();
    let admin = s.user("ap-admin@contoso.test").await;
    let rows: Vec<(&str, Option<String>, u16)> = vec![
        ("Application.Read.All", Some(webapp_token(&s, &admin, "Application.Read.All")), 200),
        ("Directory.Read.All", Some(s.token(&admin, "Directory.Read.All")), 200),
        ("User.ReadWrite.All", Some(s.token(&admin, "User.ReadWrite.All")), 403),
        ("a user", Some(s.token(&admin, "User.Read Contacts.ReadWrite")), 403),
        ("an app with Application.Read.All", Some(app_token(&s, 6, "Application.Read.All")), 200),
        ("an app with Contacts.Read", Some(app_token(&s, 7, "Contacts.Read")), 403),
        ("no token", None, 401),
    ];
    for (who, token, want) in rows {
        let r = s.send(Method::GET, "/applications", token.as_deref(), None, &[]).await;
        assert_eq!(r.status, want, "{who}: {}", r.text);
        if want == 200 {
            let found =
                r.body["value"].as_array().unwrap().iter().find(|a| a["appId"] == app.client_id.as_str()).cloned();
            let found = found.unwrap_or_else(|| panic!("{who}: {}", r.text));
            assert_eq!(found["displayName"], "Phone Book");
            assert_eq!(found["isFallbackPublicClient"], true);
            assert_eq!(found["servicePrincipalId"], app.service_principal_id.as_str());
            assert!(!r.text.contains("secret") && !r.text.contains("certificate"), "{who}: {}", r.text);
        }
    }
    let t = s.token(&admin, "Application.Read.All");
    let one = s.get(&format!("/applications/{}", app.client_id), &t).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["appId"], app.client_id.as_str());
    s.get("/applications/00000000-0000-0000-0000-000000000000", &t).await.assert_error(404, "Request_ResourceNotFound");
    let put = s.send(Method::PUT, "/applications", Some(&t), Some(json!({"displayName": "X"})), &[]).await;
    assert_eq!(put.status, 405, "{}", put.text);
    assert_eq!(put.header("allow"), Some("GET, POST"));
}

/// Registering, changing, re-keying and deleting apps: admins with Application.ReadWrite.All or
/// Directory.ReadWrite.All (delegated) and apps with the Application.ReadWrite.All role; readers
/// and everyone else are refused as Graph refuses them, with nothing stored.
async fn applications_write_access(s: TestServer) {
    let admin = s.user("aw-admin@contoso.test").await;
    let reg = |name: &str| rolo_server::identity::AppRegistration {
        name: name.to_owned(),
        roles: vec!["Contacts.Read".into()],
        ..Default::default()
    };
    // (who, token, [create, update, addPassword, delete])
    let rows: Vec<(&str, Option<String>, [u16; 4])> = vec![
        (
            "an admin with Application.ReadWrite.All",
            Some(webapp_token(&s, &admin, "Application.ReadWrite.All")),
            [201, 204, 200, 204],
        ),
        (
            "an admin with Directory.ReadWrite.All",
            Some(s.token(&admin, "Directory.ReadWrite.All")),
            [201, 204, 200, 204],
        ),
        (
            "a reader (Application.Read.All)",
            Some(webapp_token(&s, &admin, "Application.Read.All")),
            [403, 403, 403, 403],
        ),
        ("Directory.Read.All", Some(s.token(&admin, "Directory.Read.All")), [403, 403, 403, 403]),
        ("User.ReadWrite.All", Some(s.token(&admin, "User.ReadWrite.All")), [403, 403, 403, 403]),
        ("a user", Some(s.token(&admin, "User.Read Contacts.ReadWrite")), [403, 403, 403, 403]),
        (
            "an app with Application.ReadWrite.All",
            Some(app_token(&s, 8, "Application.ReadWrite.All")),
            [201, 204, 200, 204],
        ),
        ("an app with Application.Read.All", Some(app_token(&s, 9, "Application.Read.All")), [403, 403, 403, 403]),
        ("an app with Contacts.ReadWrite", Some(app_token(&s, 10, "Contacts.ReadWrite")), [403, 403, 403, 403]),
        ("no token", None, [401, 401, 401, 401]),
    ];
    for (i, (who, token, want)) in rows.into_iter().enumerate() {
        let (target, _) =
            rolo_server::identity::register(s.store.as_ref(), &reg(&format!("Target {i}"))).await.unwrap();
        let victim =
            rolo_server::identity::register_public_app(s.store.as_ref(), &format!("Victim {i}")).await.unwrap();
        let t = token.as_deref();
        let name = format!("Created {i}");
        let create = s.send(Method::POST, "/applications", t, Some(json!({"displayName": name})), &[]).await;
        let one = format!("/applications/{}", target.client_id);
        let update = s.send(Method::PATCH, &one, t, Some(json!({"displayName": format!("Renamed {i}")})), &[]).await;
        let key = s
            .send(
                Method::POST,
                &format!("{one}/addPassword"),
                t,
                Some(json!({"passwordCredential": {"displayName": "ci"}})),
                &[],
            )
            .await;
        let delete = s.send(Method::DELETE, &format!("/applications/{}", victim.client_id), t, None, &[]).await;
        let got = [create.status.as_u16(), update.status.as_u16(), key.status.as_u16(), delete.status.as_u16()];
        assert_eq!(got, want, "{who}: {} / {} / {} / {}", create.text, update.text, key.text, delete.text);
        for r in [&create, &update, &key, &delete] {
            match r.status.as_u16() {
                403 => r.assert_error(403, "Authorization_RequestDenied"),
                401 => r.assert_error(401, "InvalidAuthenticationToken"),
                _ => {}
            }
        }
        // The stored effects match the answers.
        let apps = s.store.list_apps().await.unwrap();
        assert_eq!(apps.iter().any(|a| a.display_name == name), want[0] == 201, "{who}: created only when allowed");
        let stored = s.store.find_app(&target.client_id).await.unwrap().unwrap();
        assert_eq!(stored.display_name == format!("Renamed {i}"), want[1] == 204, "{who}: renamed only when allowed");
        assert_eq!(stored.secret_hash != target.secret_hash, want[2] == 200, "{who}: re-keyed only when allowed");
        assert_eq!(
            s.store.find_app(&victim.client_id).await.unwrap().is_none(),
            want[3] == 204,
            "{who}: deleted only when allowed"
        );
    }
}

/// The registry's write paths: a public client with its redirect URIs, a confidential one whose
/// secret (from addPassword, shown once) works for client credentials and is replaced by the
/// next, permissions and the access policy, the errors bad bodies get, and a delete that takes
/// the app's consents and policy with it.
async fn applications_lifecycle(s: TestServer) {
    let admin = s.user("al-admin@contoso.test").await;
    let member = s.user("al-member@contoso.test").await;
    let t = s.token(&admin, "Application.ReadWrite.All");
    let post = |body: serde_json::Value| s.send(Method::POST, "/applications", Some(&t), Some(body), &[]);
    let spa = post(json!({"displayName": "Team SPA", "isFallbackPublicClient": true,
        "publicClient": {"redirectUris": ["https://spa.example/cb", "http://localhost/cb"]}}))
    .await;
    assert_eq!(spa.status, 201, "{}", spa.text);
    assert_eq!(spa.body["isFallbackPublicClient"], true);
    assert_eq!(spa.body["publicClient"]["redirectUris"], json!(["https://spa.example/cb", "http://localhost/cb"]));
    assert_eq!(spa.body["web"]["redirectUris"], json!([]));
    assert_eq!(spa.body["applicationPermissions"], json!([]));
    assert_eq!(spa.body["mailboxAccessPolicy"], json!([]));
    assert!(spa.body["@odata.context"].as_str().unwrap().ends_with("/$metadata#applications/$entity"));
    let spa_id = spa.body["appId"].as_str().unwrap().to_owned();
    let stored = s.store.find_app(&spa_id).await.unwrap().unwrap();
    assert!(stored.public_client && stored.secret_hash.is_empty() && stored.display_name == "Team SPA");
    let key =
        s.send(Method::POST, &format!("/applications/{spa_id}/addPassword"), Some(&t), Some(json!({})), &[]).await;
    key.assert_error(400, "Request_BadRequest");

    // A confidential client: no secret until addPassword, which returns it once.
    let daemon = post(json!({"displayName": "Sync daemon", "applicationPermissions": ["Contacts.Read"],
        "web": {"redirectUris": ["https://daemon.example/signin"]}}))
    .await;
    assert_eq!(daemon.status, 201, "{}", daemon.text);
    assert!(!daemon.text.contains("secret"), "{}", daemon.text);
    let id = daemon.body["id"].as_str().unwrap().to_owned();
    let one = format!("/applications/{id}");
    let token_for = |secret: String| {
        let url = format!("{}/{}/oauth2/v2.0/token", s.base.trim_end_matches("/v1.0"), s.authority.tenant_id);
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", id.clone()),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default".to_owned()),
        ];
        s.client.post(url).form(&form).send()
    };
    let first = s
        .send(
            Method::POST,
            &format!("{one}/addPassword"),
            Some(&t),
            Some(json!({"passwordCredential": {"displayName": "ci"}})),
            &[],
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["displayName"], "ci");
    let secret1 = first.body["secretText"].as_str().unwrap().to_owned();
    assert_eq!(first.body["hint"], secret1.chars().take(3).collect::<String>());
    assert!(!s.get(&one, &t).await.text.contains(&secret1), "never shown again");
    assert_eq!(token_for(secret1.clone()).await.unwrap().status(), 200);
    let second = s.send(Method::POST, &format!("{one}/addPassword"), Some(&t), None, &[]).await;
    assert_eq!(second.status, 200, "{}", second.text);
    let secret2 = second.body["secretText"].as_str().unwrap().to_owned();
    assert_eq!(token_for(secret1).await.unwrap().status(), 401, "the new secret replaces the old");
    assert_eq!(token_for(secret2).await.unwrap().status(), 200);

    // PATCH: name, redirect URIs, permissions, the access policy (by name or id).
    let patch = |body: serde_json::Value| s.send(Method::PATCH, &one, Some(&t), Some(body), &[]);
    let r = patch(json!({"displayName": "Sync service", "web": {"redirectUris": ["https://sync.example/cb"]},
        "applicationPermissions": ["Contacts.ReadWrite", "User.Read.All"], "mailboxAccessPolicy": [member.user_principal_name]})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let got = s.get(&one, &t).await;
    assert_eq!(got.body["displayName"], "Sync service");
    assert_eq!(got.body["web"]["redirectUris"], json!(["https://sync.example/cb"]));
    assert_eq!(got.body["applicationPermissions"], json!(["Contacts.ReadWrite", "User.Read.All"]));
    assert_eq!(got.body["mailboxAccessPolicy"], json!([member.id]));
    assert!(s.store.app_may_access(&id, &member.id).await.unwrap());
    assert!(!s.store.app_may_access(&id, &admin.id).await.unwrap(), "the policy limits the app");
    assert_eq!(patch(json!({"mailboxAccessPolicy": []})).await.status, 204);
    assert!(s.store.app_may_access(&id, &admin.id).await.unwrap(), "an empty policy: every mailbox");
    assert_eq!(s.store.app_policy(&id).await.unwrap(), Vec::<String>::new());

    // Bad bodies: 400 with nothing changed.
    for (body, why) in [
        (json!({"displayName": ""}), "an empty name"),
        (json!({"displayName": 7}), "a number for a name"),
        (json!({"web": {"redirectUris": ["http://evil.example/cb"]}}), "http off loopback"),
        (json!({"web": {"redirectUris": ["https://a.example/#frag"]}}), "a fragment"),
        (json!({"web": "https://a.example"}), "not an object"),
        (json!({"applicationPermissions": ["not a permission!"]}), "a bad permission"),
        (json!({"applicationPermissions": "Contacts.Read"}), "not an array"),
        (json!({"mailboxAccessPolicy": ["nobody@contoso.test"]}), "an unknown user"),
        (json!({"isFallbackPublicClient": true}), "turning public"),
        (json!({"appId": "00000000-0000-0000-0000-000000000000"}), "a read-only property"),
        (json!({"secretHash": "x"}), "an unknown property"),
        (json!(["displayName"]), "not an object"),
    ] {
        let r = patch(body).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
        r.assert_error(400, "Request_BadRequest");
    }
    assert_eq!(s.get(&one, &t).await.body["displayName"], "Sync service", "nothing changed");
    let r = patch(json!({"applicationPermissions": ["Contacts.Read"]})).await;
    assert_eq!(r.status, 204);
    let r = s
        .send(
            Method::PATCH,
            &format!("/applications/{spa_id}"),
            Some(&t),
            Some(json!({"applicationPermissions": ["Contacts.Read"]})),
            &[],
        )
        .await;
    r.assert_error(400, "Request_BadRequest");
    for (body, why) in [
        (json!({}), "no name"),
        (json!({"displayName": "P", "isFallbackPublicClient": "yes"}), "a string for a boolean"),
        (
            json!({"displayName": "P", "isFallbackPublicClient": true, "applicationPermissions": ["Contacts.Read"]}),
            "a public client with roles",
        ),
    ] {
        let r = post(body).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    s.send(
        Method::PATCH,
        "/applications/00000000-0000-0000-0000-000000000000",
        Some(&t),
        Some(json!({"displayName": "X"})),
        &[],
    )
    .await
    .assert_error(404, "Request_ResourceNotFound");

    // DELETE takes the app's consents and policy with it.
    s.store
        .grant_scopes(&id, None, "00000003-0000-0000-c000-000000000000", &["Contacts.Read".to_owned()])
        .await
        .unwrap();
    s.store.restrict_app(&id, &member.id, true).await.unwrap();
    let r = s.send(Method::DELETE, &one, Some(&t), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.get(&one, &t).await.assert_error(404, "Request_ResourceNotFound");
    assert!(s.store.list_grants().await.unwrap().iter().all(|g| !g.client_id.eq_ignore_ascii_case(&id)));
    assert_eq!(s.store.app_policy(&id).await.unwrap(), Vec::<String>::new());
    s.send(Method::DELETE, &one, Some(&t), None, &[]).await.assert_error(404, "Request_ResourceNotFound");
}

both_backends!(
    app_passwords_access,
    mailbox_permissions_access,
    shared_mailbox_over_http,
    applications_access,
    applications_write_access,
    applications_lifecycle
);
