//! Who may touch which mailbox: an access matrix over every kind of principal (owner, stranger,
//! delegates, folder grantees, shared-mailbox members, apps with and without roles or outside
//! their access policy, bad tokens) and the endpoints that exist, asserting exact statuses and
//! codes and that refused writes change nothing. Plus the folder-sharing API and throttling.

use std::sync::Arc;
use std::time::Duration;

use crate::common::TestServer;
use reqwest::Method;
use rolo_domain::{FolderId, Grant};
use rolo_server::throttle::{Throttle, ThrottleSettings};
use serde_json::{json, Value};

struct Fixture {
    owner: String,
    owner_token: String,
    folder_a: String,
    folder_b: String,
    in_default: String,
    in_a: String,
    default_folder: String,
}

async fn fixture(s: &TestServer) -> Fixture {
    let owner = s.user("owner@contoso.test").await;
    let t = s.token(&owner, "Contacts.ReadWrite MailboxSettings.ReadWrite");
    let folder_a = s.create_folder_at("/me/contactFolders", &t, "A").await;
    let folder_b = s.create_folder_at("/me/contactFolders", &t, "B").await;
    let in_default = s.create_contact(&t, json!({"givenName": "InDefault"})).await;
    let in_a =
        s.create_contact_at(&format!("/me/contactFolders/{folder_a}/contacts"), &t, json!({"givenName": "InA"})).await;
    let in_a = in_a["id"].as_str().unwrap().to_owned();
    s.create_contact_at(&format!("/me/contactFolders/{folder_b}/contacts"), &t, json!({"givenName": "InB"})).await;
    let png = rolo_media::sample(64, 64, rolo_media::Format::Png);
    let r = s
        .send_raw(Method::PUT, &format!("/me/contacts/{in_a}/photo/$value"), Some(&t), png, Some("image/png"), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let default_folder = s.get("/me/contactFolders/contacts", &t).await.body["id"].as_str().unwrap().to_owned();
    Fixture { owner: owner.id, owner_token: t, folder_a, folder_b, in_default, in_a, default_folder }
}

/// Everything in the owner's mailbox, to prove refused writes changed nothing.
async fn snapshot(s: &TestServer, f: &Fixture) -> Value {
    let mut all = Vec::new();
    for folder in ["contacts".to_owned(), f.folder_a.clone(), f.folder_b.clone()] {
        let (items, _) = s.list_all(&format!("/me/contactFolders/{folder}/contacts"), &f.owner_token, &[]).await;
        all.extend(items.into_iter().map(|c| json!([c["id"], c["changeKey"]])));
    }
    let folders = s.get("/me/contactFolders", &f.owner_token).await.body["value"].clone();
    json!({"contacts": all, "folders": folders})
}

/// One row of the matrix: method, path (under `/users/{owner}`), body.
fn endpoints(f: &Fixture, who: &str) -> Vec<(&'static str, Method, String, Option<Value>)> {
    let (a, b) = (&f.folder_a, &f.folder_b);
    vec![
        ("list default folder", Method::GET, "/contacts".into(), None),
        ("get contact in default", Method::GET, format!("/contacts/{}", f.in_default), None),
        ("get contact in A by id", Method::GET, format!("/contacts/{}", f.in_a), None),
        ("list A", Method::GET, format!("/contactFolders/{a}/contacts"), None),
        ("list sibling B", Method::GET, format!("/contactFolders/{b}/contacts"), None),
        ("list folders", Method::GET, "/contactFolders".into(), None),
        ("get folder A", Method::GET, format!("/contactFolders/{a}"), None),
        ("delta default", Method::GET, "/contacts/delta".into(), None),
        ("delta A", Method::GET, format!("/contactFolders/{a}/contacts/delta"), None),
        ("extensions of contact in A", Method::GET, format!("/contacts/{}/extensions", f.in_a), None),
        ("master categories", Method::GET, "/outlook/masterCategories".into(), None),
        ("permissions of A", Method::GET, format!("/contactFolders/{a}/permissions"), None),
        ("create in A", Method::POST, format!("/contactFolders/{a}/contacts"), Some(json!({"givenName": who}))),
        ("update contact in A", Method::PATCH, format!("/contacts/{}", f.in_a), Some(json!({"jobTitle": who}))),
        ("create in default", Method::POST, "/contacts".into(), Some(json!({"givenName": who}))),
        ("create folder", Method::POST, "/contactFolders".into(), Some(json!({"displayName": format!("By {who}")}))),
        (
            "share A",
            Method::POST,
            format!("/contactFolders/{a}/permissions"),
            Some(json!({"emailAddress": {"address": "bystander@contoso.test"}, "role": "read"})),
        ),
        ("photo of contact in A", Method::GET, format!("/contacts/{}/photo/$value", f.in_a), None),
        ("folders delta", Method::GET, "/contactFolders/delta".into(), None),
        (
            "add extension to contact in A",
            Method::POST,
            format!("/contacts/{}/extensions", f.in_a),
            Some(json!({"extensionName": format!("Com.Test.{}", who.replace([' ', '.'], ""))})),
        ),
        ("rename folder B", Method::PATCH, format!("/contactFolders/{b}"), Some(json!({"displayName": "B"}))),
        ("beta: the mailbox's contacts", Method::GET, "beta:/contacts".into(), None),
        (
            "create category",
            Method::POST,
            "/outlook/masterCategories".into(),
            Some(json!({"displayName": format!("By {who}"), "color": "preset1"})),
        ),
        ("photo of contact in A (upload)", Method::PUT, format!("/contacts/{}/photo/$value", f.in_a), None),
        (
            "create in A, filed in default",
            Method::POST,
            format!("/contactFolders/{a}/contacts"),
            Some(json!({"givenName": who, "parentFolderId": f.default_folder})),
        ),
        ("move contact in A to B", Method::PATCH, format!("/contacts/{}", f.in_a), Some(json!({"parentFolderId": b}))),
        // Puts it back after the owner's (and others') successful move, so the rows after it hold.
        ("move contact to A", Method::PATCH, format!("/contacts/{}", f.in_a), Some(json!({"parentFolderId": a}))),
        ("child folders of A", Method::GET, format!("/contactFolders/{a}/childFolders"), None),
        (
            "create child folder in A",
            Method::POST,
            format!("/contactFolders/{a}/childFolders"),
            Some(json!({"displayName": format!("By {who}")})),
        ),
    ]
}

/// The status of a permitted call: every create here answers 201, reads and updates 200 (a
/// photo upload included).
fn success_status(method: &Method) -> u16 {
    if *method == Method::POST {
        201
    } else {
        200
    }
}

/// Expected status per endpoint (same order as `endpoints`); `OK` = the endpoint's success
/// status (`success_status`).
type Row = [u16; 29];
const OK: u16 = 0;
const OWNER: Row = [OK; 29];
const DENIED: Row = [403; 29];
#[rustfmt::skip]
const DELEGATE_READ: Row = [OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, 403, 403, 403, 403, 403, 403, 403, OK, OK, 403, 403, OK, 403, 403,
    403, 403, 403, OK, 403];
#[rustfmt::skip]
const DELEGATE_WRITE: Row = [OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, 403, 403, OK, OK, OK, OK, 403, OK, OK, OK, OK, OK, 403, OK,
    OK, OK, OK, OK, OK];
#[rustfmt::skip]
const FOLDER_READ: Row = [403, 404, OK, OK, 403, 403, OK, 403, OK, OK, 403, 403, 403, 403, 403, 403, 403, OK, 403, 403, 403, 403, 403, 403,
    403, 403, 403, OK, 403];
// A write grantee's writes stay inside its shared folders: no filing elsewhere, no moving out.
#[rustfmt::skip]
const FOLDER_WRITE: Row = [403, 404, OK, OK, 403, 403, OK, 403, OK, OK, 403, 403, OK, OK, 403, 403, 403, OK, 403, OK, 403, 403, 403, OK,
    403, 403, OK, OK, 403];
#[rustfmt::skip]
const APP: Row = [OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, 403, OK, OK, OK, OK, 403, OK, OK, OK, OK, OK, 403, OK,
    OK, OK, OK, OK, OK];

async fn check_row(s: &TestServer, f: &Fixture, who: &str, token: &str, expected: &Row) {
    for ((name, method, path, body), want) in endpoints(f, who).into_iter().zip(expected) {
        let url = match path.strip_prefix("beta:") {
            Some(p) => format!("{}/users/{}{p}", s.base.replace("/v1.0", "/beta"), f.owner),
            None => format!("/users/{}{path}", f.owner),
        };
        let before = if method == Method::GET { None } else { Some(snapshot(s, f).await) };
        let r = if method == Method::PUT {
            let png = rolo_media::sample(48, 48, rolo_media::Format::Png);
            s.send_raw(method.clone(), &url, Some(token), png, Some("image/png"), &[]).await
        } else {
            s.send(method.clone(), &url, Some(token), body, &[]).await
        };
        let status = r.status.as_u16();
        match *want {
            OK => assert_eq!(status, success_status(&method), "{who}: {name}: {}", r.text),
            code => {
                assert_eq!(status, code, "{who}: {name}: {}", r.text);
                let expected_code = match code {
                    404 => "ErrorItemNotFound",
                    _ => "ErrorAccessDenied",
                };
                assert_eq!(r.body["error"]["code"], expected_code, "{who}: {name}");
                if let Some(before) = before {
                    assert_eq!(snapshot(s, f).await, before, "{who}: {name}: a refused write changed something");
                }
            }
        }
    }
}

async fn access_matrix(s: TestServer) {
    let f = fixture(&s).await;
    let mb = s.store.find_user(&f.owner).await.unwrap().unwrap().mailbox;
    s.user("bystander@contoso.test").await;
    let shared_scopes = "Contacts.ReadWrite.Shared";
    let mut principals: Vec<(String, String, Row)> = Vec::new();
    principals.push(("owner".into(), f.owner_token.clone(), OWNER));

    let stranger = s.user("stranger@contoso.test").await;
    principals.push(("stranger".into(), s.token(&stranger, shared_scopes), DENIED));
    for (name, grant, row) in
        [("delegate-read", Grant::Read, DELEGATE_READ), ("delegate-write", Grant::Write, DELEGATE_WRITE)]
    {
        let u = s.user(&format!("{name}@contoso.test")).await;
        s.store.set_mailbox_grant(&mb, &u.id, Some(grant)).await.unwrap();
        principals.push((name.into(), s.token(&u, shared_scopes), row));
    }
    for (name, grant, row) in [("folder-read", Grant::Read, FOLDER_READ), ("folder-write", Grant::Write, FOLDER_WRITE)]
    {
        let u = s.user(&format!("{name}@contoso.test")).await;
        s.store.add_folder_permission(&mb, &FolderId::from_stored(f.folder_a.clone()), &u, grant).await.unwrap();
        principals.push((name.into(), s.token(&u, shared_scopes), row));
    }
    // A delegate whose token lacks the .Shared scopes gets nothing of another mailbox.
    let unscoped = s.user("unscoped@contoso.test").await;
    s.store.set_mailbox_grant(&mb, &unscoped.id, Some(Grant::Write)).await.unwrap();
    principals.push(("delegate without .Shared".into(), s.token(&unscoped, "Contacts.ReadWrite"), DENIED));

    let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let app = s
        .authority
        .issue_app_token(
            "11111111-0000-0000-0000-000000000001",
            &roles(&["Contacts.ReadWrite", "MailboxSettings.Read"]),
            3600,
        )
        .unwrap();
    principals.push(("app with roles".into(), app, APP));
    let no_role =
        s.authority.issue_app_token("11111111-0000-0000-0000-000000000002", &roles(&["User.Read.All"]), 3600).unwrap();
    principals.push(("app without the role".into(), no_role, DENIED));
    let restricted_id = "11111111-0000-0000-0000-000000000003";
    s.store.restrict_app(restricted_id, &stranger.id, true).await.unwrap();
    let restricted = s
        .authority
        .issue_app_token(restricted_id, &roles(&["Contacts.ReadWrite", "MailboxSettings.Read"]), 3600)
        .unwrap();
    principals.push(("app outside its access policy".into(), restricted, DENIED));

    for (who, token, row) in &principals {
        check_row(&s, &f, who, token, row).await;
    }

    // Bad tokens: 401 everywhere, and nothing changes.
    let owner_user = s.store.find_user(&f.owner).await.unwrap().unwrap();
    let expired = s.authority.issue_delegated(&owner_user, &["Contacts.ReadWrite".into()], -3600).unwrap();
    let before = snapshot(&s, &f).await;
    for token in [None, Some("not-a-jwt"), Some(expired.as_str())] {
        for (name, method, path, body) in endpoints(&f, "bad") {
            let url = match path.strip_prefix("beta:") {
                Some(p) => format!("{}/users/{}{p}", s.base.replace("/v1.0", "/beta"), f.owner),
                None => format!("/users/{}{path}", f.owner),
            };
            let r = s.send(method, &url, token, body, &[]).await;
            assert_eq!(r.status, 401, "{name}: {}", r.text);
            assert_eq!(r.body["error"]["code"], "InvalidAuthenticationToken", "{name}");
        }
    }
    assert_eq!(snapshot(&s, &f).await, before);

    // A folder grantee learns nothing about what it cannot see: a hidden folder and a missing
    // folder answer alike, and so do a hidden contact and a missing one.
    let grantee = s.store.find_user("folder-read@contoso.test").await.unwrap().unwrap();
    let gt = s.token(&grantee, shared_scopes);
    let hidden = s.get(&format!("/users/{}/contactFolders/{}/contacts", f.owner, f.folder_b), &gt).await;
    let missing = s.get(&format!("/users/{}/contactFolders/AAAAAAAAAAAAAAAAAAAAAA/contacts", f.owner), &gt).await;
    assert_eq!((hidden.status, &hidden.body["error"]["message"]), (missing.status, &missing.body["error"]["message"]));
    let hidden = s.get(&format!("/users/{}/contacts/{}", f.owner, f.in_default), &gt).await;
    let missing = s.get(&format!("/users/{}/contacts/AAAAAAAAAAAAAAAAAAAAAA", f.owner), &gt).await;
    assert_eq!((hidden.status, &hidden.body["error"]["code"]), (missing.status, &missing.body["error"]["code"]));
    // /me with an app token fails as on Graph.
    let app = s
        .authority
        .issue_app_token("11111111-0000-0000-0000-000000000001", &roles(&["Contacts.ReadWrite"]), 3600)
        .unwrap();
    s.get("/me/contacts", &app).await.assert_error(400, "BadRequest");
}

/// A folder grantee lists only the child folders shared with it, and files contacts only into
/// folders it may write.
async fn shared_child_folders(s: TestServer) {
    let owner = s.user("owner@contoso.test").await;
    let ot = s.token(&owner, "Contacts.ReadWrite");
    let grantee = s.user("grantee@contoso.test").await;
    let gt = s.token(&grantee, "Contacts.ReadWrite.Shared");
    let parent = s.create_folder_at("/me/contactFolders", &ot, "Team").await;
    let shared = s.create_folder_at(&format!("/me/contactFolders/{parent}/childFolders"), &ot, "Open").await;
    let private = s.create_folder_at(&format!("/me/contactFolders/{parent}/childFolders"), &ot, "Salaries").await;
    for folder in [&parent, &shared] {
        s.store
            .add_folder_permission(&owner.mailbox, &FolderId::from_stored(folder.clone()), &grantee, Grant::Write)
            .await
            .unwrap();
    }
    let children = format!("/users/{}/contactFolders/{parent}/childFolders", owner.id);
    let r = s.get(&format!("{children}?$count=true"), &gt).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["value"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [shared.as_str()]);
    assert_eq!(r.body["@odata.count"], 1);
    let r = s.get(&format!("{children}/$count"), &gt).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (200, "1"));
    assert!(!r.text.contains("Salaries"), "{}", r.text);
    let r = s.get(&format!("{children}?$filter=displayName eq 'Salaries'"), &gt).await;
    assert_eq!(r.body["value"], json!([]));
    // The owner still sees both.
    assert_eq!(
        s.get(&format!("/me/contactFolders/{parent}/childFolders"), &ot).await.body["value"].as_array().unwrap().len(),
        2
    );

    // Filing into another shared folder is allowed; into the private one it is not, and nothing lands there.
    let contacts = format!("/users/{}/contactFolders/{parent}/contacts", owner.id);
    let r = s.post(&contacts, &gt, json!({"givenName": "Moved", "parentFolderId": shared})).await;
    assert_eq!((r.status.as_u16(), r.body["parentFolderId"].as_str()), (201, Some(shared.as_str())), "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_owned();
    s.post(&contacts, &gt, json!({"givenName": "Sneaky", "parentFolderId": private}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    let contact = format!("/users/{}/contacts/{id}", owner.id);
    s.patch(&contact, &gt, json!({"parentFolderId": private})).await.assert_error(403, "ErrorAccessDenied");
    let (in_private, _) = s.list_all(&format!("/me/contactFolders/{private}/contacts"), &ot, &[]).await;
    assert!(in_private.is_empty(), "{in_private:?}");
    let r = s.patch(&contact, &gt, json!({"parentFolderId": parent})).await;
    assert_eq!((r.status.as_u16(), r.body["parentFolderId"].as_str()), (200, Some(parent.as_str())), "{}", r.text);
}

/// Shared mailboxes: members with full access work in them through `/users/{shared}`.
async fn shared_mailbox_members(s: TestServer) {
    let shared = s.user("reception@contoso.test").await;
    s.store.mark_shared_mailbox(&shared.id).await.unwrap();
    let member = s.user("member@contoso.test").await;
    let outsider = s.user("outsider@contoso.test").await;
    s.store.set_mailbox_grant(&shared.mailbox, &member.id, Some(Grant::Write)).await.unwrap();
    let mt = s.token(&member, "Contacts.ReadWrite.Shared");
    let url = format!("/users/{}/contacts", shared.user_principal_name);
    let created = s.post(&url, &mt, json!({"givenName": "Visitor"})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let r = s.get(&url, &mt).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    let f = s.post(&format!("/users/{}/contactFolders", shared.id), &mt, json!({"displayName": "Suppliers"})).await;
    assert_eq!(f.status, 201);
    s.get(&url, &s.token(&outsider, "Contacts.ReadWrite.Shared")).await.assert_error(403, "ErrorAccessDenied");
    assert!(s.store.is_shared_mailbox(&shared.id).await.unwrap());

    // In-place archives are not served, whoever asks (Graph's error).
    let archive = s.user("archive@contoso.test").await;
    s.store.set_mailbox_kind(&archive.id, rolo_store::MailboxKind::Archive).await.unwrap();
    s.store.set_mailbox_grant(&archive.mailbox, &member.id, Some(Grant::Write)).await.unwrap();
    let app = s
        .authority
        .issue_app_token("11111111-0000-0000-0000-000000000001", &["Contacts.ReadWrite".to_owned()], 3600)
        .unwrap();
    for token in [&mt, &app] {
        s.get(&format!("/users/{}/contacts", archive.id), token).await.assert_error(404, "MailboxNotEnabledForRESTAPI");
    }
}

/// The sharing API: the owner shares a folder, changes the role, and takes it back; grantees
/// see exactly what the role allows.
async fn folder_sharing_api(s: TestServer) {
    let owner = s.user("owner@contoso.test").await;
    let ot = s.token(&owner, "Contacts.ReadWrite");
    let friend = s.user("friend@contoso.test").await;
    let ft = s.token(&friend, "Contacts.ReadWrite.Shared");
    let folder = s.create_folder_at("/me/contactFolders", &ot, "Team").await;
    s.create_contact_at(&format!("/me/contactFolders/{folder}/contacts"), &ot, json!({"givenName": "Shared"})).await;
    let theirs = format!("/users/{}/contactFolders/{folder}/contacts", owner.user_principal_name);
    s.get(&theirs, &ft).await.assert_error(403, "ErrorAccessDenied");

    let perms = format!("/me/contactFolders/{folder}/permissions");
    let p = s.post(&perms, &ot, json!({"emailAddress": {"address": "FRIEND@contoso.test"}, "role": "read"})).await;
    assert_eq!(p.status, 201, "{}", p.text);
    assert_eq!(p.body["role"], "read");
    assert_eq!(p.body["emailAddress"]["address"], "friend@contoso.test");
    let pid = p.body["id"].as_str().unwrap().to_owned();
    s.post(&perms, &ot, json!({"emailAddress": {"address": "friend@contoso.test"}, "role": "write"}))
        .await
        .assert_error(409, "ErrorItemExists");
    s.post(&perms, &ot, json!({"emailAddress": {"address": "nobody@contoso.test"}, "role": "read"}))
        .await
        .assert_error(404, "ErrorInvalidUser");
    s.post(&perms, &ot, json!({"emailAddress": {"address": "friend@contoso.test"}, "role": "owner"}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    let list = s.get(&perms, &ot).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);

    assert_eq!(s.get(&theirs, &ft).await.body["value"].as_array().unwrap().len(), 1);
    s.post(&theirs, &ft, json!({"givenName": "Nope"})).await.assert_error(403, "ErrorAccessDenied");
    let r = s.patch(&format!("{perms}/{pid}"), &ot, json!({"role": "write"})).await;
    assert_eq!((r.status.as_u16(), r.body["role"].as_str()), (200, Some("write")));
    assert_eq!(s.post(&theirs, &ft, json!({"givenName": "Yes"})).await.status, 201);
    // A grantee cannot re-share.
    let via_owner = format!("/users/{}/contactFolders/{folder}/permissions", owner.id);
    s.get(&via_owner, &ft).await.assert_error(403, "ErrorAccessDenied");
    assert_eq!(s.delete(&format!("{perms}/{pid}"), &ot).await.status, 204);
    s.get(&theirs, &ft).await.assert_error(403, "ErrorAccessDenied");
    s.delete(&format!("{perms}/{pid}"), &ot).await.assert_error(404, "ErrorItemNotFound");
}

async fn throttled(limits: ThrottleSettings, backend: crate::common::Backend) -> TestServer {
    TestServer::start_configured(backend, move |st| st.throttle = Arc::new(Throttle::new(limits))).await
}

/// Outlook's limits, made small: concurrency, requests per window, upload bytes; 429 with
/// `Retry-After`; other mailboxes unaffected; inside a batch, 429 in an outer 200.
async fn throttling_limits(backend: crate::common::Backend) {
    let limits = ThrottleSettings {
        enabled: true,
        concurrent: 4,
        requests: 6,
        request_window: Duration::from_secs(60),
        upload_bytes: 2_000,
        upload_window: Duration::from_secs(60),
    };
    let s = throttled(limits, backend).await;
    let (_, t) = s.login("busy@contoso.test").await;
    let (_, other) = s.login("calm@contoso.test").await;
    for _ in 0..6 {
        assert_eq!(s.get("/me/contacts", &t).await.status, 200);
    }
    let r = s.get("/me/contacts", &t).await;
    r.assert_error(429, "ApplicationThrottled");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(s.get("/me/contacts", &other).await.status, 200, "another mailbox has its own budget");

    // Inside a batch each request is throttled on its own: 429 inside the outer 200.
    let s = throttled(ThrottleSettings { requests: 3, ..ThrottleSettings::default() }, backend).await;
    let (_, t) = s.login("busy@contoso.test").await;
    let batch = json!({"requests": (0..4).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me/contacts"})).collect::<Vec<_>>()});
    let r = s.post("/$batch", &t, batch).await;
    assert_eq!(r.status, 200);
    let responses = r.body["responses"].as_array().unwrap();
    let statuses: Vec<u64> = responses.iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    let throttled_entry = responses.iter().find(|x| x["status"] == 429).unwrap();
    assert_eq!(throttled_entry["body"]["error"]["code"], "ApplicationThrottled");
    assert!(throttled_entry["headers"]["Retry-After"].is_string());

    // Uploads: bytes per window.
    let s = throttled(ThrottleSettings { upload_bytes: 3_000, ..ThrottleSettings::default() }, backend).await;
    let (_, t) = s.login("busy@contoso.test").await;
    let big = json!({"givenName": "x".repeat(1_200)});
    assert_eq!(s.post("/me/contacts", &t, big.clone()).await.status, 201);
    assert_eq!(s.post("/me/contacts", &t, big.clone()).await.status, 201);
    s.post("/me/contacts", &t, big).await.assert_error(429, "ApplicationThrottled");

    // Switched off.
    s.state.throttle.set_enabled(false);
    assert_eq!(s.post("/me/contacts", &t, json!({"givenName": "y".repeat(1_200)})).await.status, 201);
}

/// Consent grants (`/oauth2PermissionGrants`, the HTTP form of `rolo apps grant`) are tenant
/// data: only an admin-consented delegated scope or the application role reaches them, and a
/// refused write changes nothing.
async fn consent_grants_matrix(s: TestServer) {
    let app = rolo_server::identity::register_public_app(s.store.as_ref(), "Target").await.unwrap();
    let owner = s.user("owner@contoso.test").await;
    let roles = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let admin_app = s
        .authority
        .issue_app_token(
            "11111111-0000-0000-0000-00000000000a",
            &roles(&["DelegatedPermissionGrant.ReadWrite.All"]),
            3600,
        )
        .unwrap();
    let grant = s
        .post(
            "/oauth2PermissionGrants",
            &admin_app,
            json!({"clientId": app.service_principal_id, "consentType": "AllPrincipals", "resourceId": "r", "scope": "User.Read"}),
        )
        .await;
    assert_eq!(grant.status, 201, "{}", grant.text);
    let id = grant.body["id"].as_str().unwrap().to_owned();
    let body = |scope: &str| json!({"clientId": app.client_id, "consentType": "Principal", "principalId": owner.id, "resourceId": "r", "scope": scope});
    let endpoints: Vec<(&str, Method, String, Option<Value>)> = vec![
        ("list grants", Method::GET, "/oauth2PermissionGrants".into(), None),
        ("get grant", Method::GET, format!("/oauth2PermissionGrants/{id}"), None),
        (
            "grant People.Read.All to the owner",
            Method::POST,
            "/oauth2PermissionGrants".into(),
            Some(body("People.Read.All")),
        ),
        (
            "widen the grant",
            Method::PATCH,
            format!("/oauth2PermissionGrants/{id}"),
            Some(json!({"scope": "User.Read.All"})),
        ),
        ("withdraw the grant", Method::DELETE, format!("/oauth2PermissionGrants/{id}"), None),
    ];
    let principals: Vec<(&str, String)> = vec![
        ("owner with contacts scopes", s.token(&owner, "Contacts.ReadWrite User.Read")),
        ("user with User.Read.All", s.token(&owner, "User.Read.All Directory.Read.All")),
        (
            "app with contacts roles",
            s.authority
                .issue_app_token("11111111-0000-0000-0000-00000000000b", &roles(&["Contacts.ReadWrite"]), 3600)
                .unwrap(),
        ),
        (
            "app with Application.ReadWrite.All",
            s.authority
                .issue_app_token("11111111-0000-0000-0000-00000000000c", &roles(&["Application.ReadWrite.All"]), 3600)
                .unwrap(),
        ),
    ];
    for (who, token) in &principals {
        for (name, method, path, body) in &endpoints {
            let r = s.send(method.clone(), path, Some(token), body.clone(), &[]).await;
            assert_eq!(r.status, 403, "{who}: {name}: {}", r.text);
            assert_eq!(r.body["error"]["code"], "Authorization_RequestDenied", "{who}: {name}");
        }
    }
    for token in [None, Some("not-a-jwt")] {
        for (name, method, path, body) in &endpoints {
            let r = s.send(method.clone(), path, token, body.clone(), &[]).await;
            assert_eq!(r.status, 401, "{name}: {}", r.text);
        }
    }
    // Nothing refused changed the grants.
    let all = s.store.list_grants().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].scopes, vec!["User.Read".to_owned()]);
    // The delegated admin (an admin-consented DelegatedPermissionGrant.ReadWrite.All) may do all of it.
    let admin = s.token(&owner, "DelegatedPermissionGrant.ReadWrite.All");
    let expected = [200, 200, 201, 204, 204];
    for ((name, method, path, body), want) in endpoints.into_iter().zip(expected) {
        let r = s.send(method, &path, Some(&admin), body, &[]).await;
        assert_eq!(r.status.as_u16(), want, "admin: {name}: {}", r.text);
    }
}

/// Microsoft 365 groups: who may read the group, its members and its conversations, and who may
/// post. Members with a conversation permission take part; non-members read the directory side
/// only; apps take part with the permission (application permissions are not membership-bound);
/// a write a caller may not make leaves the thread as it was.
async fn group_access_matrix(s: TestServer) {
    let member = s.user("member@contoso.test").await;
    let outsider = s.user("outsider@contoso.test").await;
    let g = s
        .store
        .create_group(rolo_store::NewGroup {
            display_name: "Team".into(),
            mail: "team@contoso.test".into(),
            description: String::new(),
            visibility: "Private".into(),
            members: vec![member.id.clone()],
        })
        .await
        .unwrap()
        .id;
    let mt = s.token(&member, "Group.ReadWrite.All");
    let first = json!({"topic": "T", "posts": [{"body": {"content": "x"}}]});
    let r = s.post(&format!("/groups/{g}/threads"), &mt, first.clone()).await;
    let thread = r.body["id"].as_str().unwrap().to_owned();
    let conversation =
        s.get(&format!("/groups/{g}/conversations"), &mt).await.body["value"][0]["id"].as_str().unwrap().to_owned();
    let posts = s.get(&format!("/groups/{g}/threads/{thread}/posts"), &mt).await;
    let post = posts.body["value"][0]["id"].as_str().unwrap().to_owned();
    let reply = json!({"post": {"body": {"content": "r"}}});
    let t = format!("/groups/{g}/threads/{thread}");
    let endpoints: Vec<(&str, Method, String, Option<Value>)> = vec![
        ("list groups", Method::GET, "/groups".into(), None),
        ("get group", Method::GET, format!("/groups/{g}"), None),
        ("members", Method::GET, format!("/groups/{g}/members"), None),
        ("conversations", Method::GET, format!("/groups/{g}/conversations"), None),
        ("conversation", Method::GET, format!("/groups/{g}/conversations/{conversation}"), None),
        ("threads", Method::GET, format!("/groups/{g}/threads"), None),
        ("thread", Method::GET, t.clone(), None),
        ("posts", Method::GET, format!("{t}/posts"), None),
        ("post", Method::GET, format!("{t}/posts/{post}"), None),
        (
            "start conversation",
            Method::POST,
            format!("/groups/{g}/conversations"),
            Some(json!({"topic": "C", "threads": [{"posts": [{"body": {"content": "c"}}]}]})),
        ),
        ("start thread", Method::POST, format!("/groups/{g}/threads"), Some(first.clone())),
        ("reply to thread", Method::POST, format!("{t}/reply"), Some(reply.clone())),
        ("reply to post", Method::POST, format!("{t}/posts/{post}/reply"), Some(reply)),
    ];
    let app = |roles: &[&str]| {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        s.authority.issue_app_token("11111111-0000-0000-0000-0000000000aa", &roles, 3600).unwrap()
    };
    // Expected statuses, in the order of `endpoints`: three directory reads, six conversation
    // reads, two new threads, two replies. Apps reply but do not start threads (as on Graph).
    const OK: [u16; 13] = [200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 202, 202];
    let app_ok = [200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 403, 202, 202];
    let directory_only = [200, 200, 200, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403];
    let read_only = [200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403];
    let conversations_only = [403, 403, 403, 200, 200, 200, 200, 200, 200, 201, 201, 202, 202];
    let nothing = [403; 13];
    let rows: Vec<(&str, String, [u16; 13])> = vec![
        ("member, Group.ReadWrite.All", mt.clone(), OK),
        ("member, Group.Read.All", s.token(&member, "Group.Read.All"), read_only),
        (
            "member, Group-Conversation.ReadWrite.All",
            s.token(&member, "Group-Conversation.ReadWrite.All"),
            conversations_only,
        ),
        ("member, Contacts.ReadWrite", s.token(&member, "Contacts.ReadWrite"), nothing),
        ("non-member, Group.ReadWrite.All", s.token(&outsider, "Group.ReadWrite.All"), directory_only),
        ("app, Group.ReadWrite.All", app(&["Group.ReadWrite.All"]), app_ok),
        ("app, Group.Read.All", app(&["Group.Read.All"]), read_only),
        ("app, no group role", app(&["Contacts.ReadWrite"]), nothing),
    ];
    for (who, token, expected) in rows {
        let before = s.get(&format!("{t}/posts"), &mt).await.body["value"].as_array().unwrap().len();
        let mut made = 0;
        for ((name, method, path, body), want) in endpoints.iter().zip(expected) {
            let r = s.send(method.clone(), path, Some(&token), body.clone(), &[]).await;
            assert_eq!(r.status.as_u16(), want, "{who}: {name}: {}", r.text);
            if want == 403 {
                assert_eq!(r.body["error"]["code"], "ErrorAccessDenied", "{who}: {name}");
            }
            if want == 202 {
                made += 1;
            }
        }
        let after = s.get(&format!("{t}/posts"), &mt).await.body["value"].as_array().unwrap().len();
        assert_eq!(after, before + made, "{who}: only permitted replies were stored");
    }
    // An app outside its access policy does not reach the group's mailbox.
    let restricted = "11111111-0000-0000-0000-0000000000bb";
    s.store.restrict_app(restricted, &member.id, true).await.unwrap();
    let token = s.authority.issue_app_token(restricted, &["Group.ReadWrite.All".to_owned()], 3600).unwrap();
    s.get(&format!("/groups/{g}/threads"), &token).await.assert_error(403, "ErrorAccessDenied");
}

/// `POST .../contacts/{id}/merge` (a Rolo extension) is a write on both contacts: whoever may
/// update and delete them may merge them, nobody else, and a refused merge changes nothing.
async fn merge_access(s: TestServer) {
    let f = fixture(&s).await;
    let mb = s.store.find_user(&f.owner).await.unwrap().unwrap().mailbox;
    let shared = "Contacts.ReadWrite.Shared";
    let mut rows: Vec<(&str, String, u16)> = vec![("owner", f.owner_token.clone(), 200)];
    let stranger = s.user("stranger@contoso.test").await;
    rows.push(("stranger", s.token(&stranger, shared), 403));
    for (name, grant, want) in [("delegate-read", Grant::Read, 403), ("delegate-write", Grant::Write, 200)] {
        let u = s.user(&format!("{name}@contoso.test")).await;
        s.store.set_mailbox_grant(&mb, &u.id, Some(grant)).await.unwrap();
        rows.push((name, s.token(&u, shared), want));
    }
    for (name, grant, want) in [("folder-read", Grant::Read, 403), ("folder-write", Grant::Write, 200)] {
        let u = s.user(&format!("{name}@contoso.test")).await;
        s.store.add_folder_permission(&mb, &FolderId::from_stored(f.folder_a.clone()), &u, grant).await.unwrap();
        rows.push((name, s.token(&u, shared), want));
    }
    let owner = s.store.find_user(&f.owner).await.unwrap().unwrap();
    rows.push(("owner with a Contacts.Read token", s.token(&owner, "Contacts.Read"), 403));
    let app =
        s.authority.issue_app_token("11111111-0000-0000-0000-000000000001", &["Contacts.ReadWrite".to_owned()], 3600);
    rows.push(("app with Contacts.ReadWrite", app.unwrap(), 200));
    let app_ro =
        s.authority.issue_app_token("11111111-0000-0000-0000-000000000004", &["Contacts.Read".to_owned()], 3600);
    rows.push(("app with Contacts.Read", app_ro.unwrap(), 403));

    let in_a = format!("/users/{}/contactFolders/{}/contacts", f.owner, f.folder_a);
    for (who, token, want) in rows {
        let keep = s.create_contact_at(&in_a, &f.owner_token, json!({"givenName": who, "jobTitle": "Kept"})).await;
        let dup = s.create_contact_at(&in_a, &f.owner_token, json!({"givenName": who, "companyName": "Dup"})).await;
        let (keep, dup) = (keep["id"].as_str().unwrap(), dup["id"].as_str().unwrap());
        let before = snapshot(&s, &f).await;
        let r = s.post(&format!("/users/{}/contacts/{keep}/merge", f.owner), &token, json!({"contacts": [dup]})).await;
        assert_eq!(r.status, want, "{who}: {}", r.text);
        if want == 200 {
            assert_eq!(
                (r.body["jobTitle"].as_str(), r.body["companyName"].as_str()),
                (Some("Kept"), Some("Dup")),
                "{who}"
            );
            s.get(&format!("/me/contacts/{dup}"), &f.owner_token).await.assert_error(404, "ErrorItemNotFound");
        } else {
            assert_eq!(r.body["error"]["code"], "ErrorAccessDenied", "{who}");
            assert_eq!(snapshot(&s, &f).await, before, "{who}: a refused merge changed something");
        }
    }
}

/// `POST /users` (the web app's administration): only `User.ReadWrite.All` or
/// `Directory.ReadWrite.All`, delegated or as an app's role; refusals create nobody.
async fn create_user_access(s: TestServer) {
    let admin = s.user("admin@contoso.test").await;
    let roles = |r: &str| vec![r.to_owned()];
    let app = |id: &str, role: &str| s.authority.issue_app_token(id, &roles(role), 3600).unwrap();
    let rows: Vec<(&str, Option<String>, u16)> = vec![
        ("no token", None, 401),
        ("User.Read", Some(s.token(&admin, "User.Read Contacts.ReadWrite")), 403),
        ("User.Read.All", Some(s.token(&admin, "User.Read.All")), 403),
        ("User.ReadWrite.All", Some(s.token(&admin, "User.ReadWrite.All")), 201),
        ("Directory.ReadWrite.All", Some(s.token(&admin, "Directory.ReadWrite.All")), 201),
        ("app with User.ReadWrite.All", Some(app("11111111-0000-0000-0000-000000000005", "User.ReadWrite.All")), 201),
        ("app with User.Read.All", Some(app("11111111-0000-0000-0000-000000000006", "User.Read.All")), 403),
    ];
    for (i, (who, token, want)) in rows.into_iter().enumerate() {
        let upn = format!("new{i}@contoso.test");
        let body = json!({"accountEnabled": true, "displayName": who, "userPrincipalName": upn,
                          "mailNickname": format!("new{i}"), "passwordProfile": {"password": "pw 1"}});
        let r = s.send(Method::POST, "/users", token.as_deref(), Some(body), &[]).await;
        assert_eq!(r.status, want, "{who}: {}", r.text);
        let created = s.store.find_user(&upn).await.unwrap();
        assert_eq!(created.is_some(), want == 201, "{who}");
        if want == 201 {
            assert_eq!(r.body["userPrincipalName"], upn.as_str());
            assert_eq!(r.body["id"], created.unwrap().id.as_str());
        }
    }
    let t = s.token(&admin, "User.ReadWrite.All");
    let again =
        json!({"displayName": "Dup", "userPrincipalName": "new3@contoso.test", "passwordProfile": {"password": "x"}});
    s.post("/users", &t, again).await.assert_error(400, "Request_BadRequest");
    let no_password = json!({"displayName": "P", "userPrincipalName": "nopw@contoso.test"});
    s.post("/users", &t, no_password).await.assert_error(400, "Request_BadRequest");
    assert!(s.store.find_user("nopw@contoso.test").await.unwrap().is_none());
}

both_backends!(
    access_matrix,
    shared_child_folders,
    shared_mailbox_members,
    folder_sharing_api,
    consent_grants_matrix,
    group_access_matrix,
    merge_access,
    create_user_access
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_sqlite() {
    throttling_limits(crate::common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_postgres() {
    throttling_limits(crate::common::Backend::Postgres).await;
}
