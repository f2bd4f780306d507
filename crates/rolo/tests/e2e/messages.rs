//! Messages and events (the signals People ranks by) over HTTP, on SQLite and PostgreSQL.

use crate::common::{enc, present_str, TestServer};
use rolo_domain::mail::ItemKind;
use serde_json::{json, Value};

const MAIL: &str = "Mail.ReadWrite Mail.Send Calendars.ReadWrite Contacts.ReadWrite";

fn to(addresses: &[&str]) -> Value {
    Value::Array(addresses.iter().map(|a| json!({"emailAddress": {"address": a}})).collect())
}

fn subjects(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn drafts_are_created_read_patched_and_deleted(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, MAIL);
    let r = s
        .post(
            "/me/messages",
            &t,
            json!({"subject": "Plan", "body": {"contentType": "html", "content": "<p>Hello   <b>there</b></p>"},
                   "toRecipients": to(&["bob@contoso.test"]), "importance": "High"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#users('{}')/messages/$entity", s.base, ada.id));
    assert_eq!(r.body["isDraft"], true);
    assert_eq!(r.body["parentFolderId"], "drafts");
    assert_eq!(r.body["importance"], "high");
    assert_eq!(r.body["bodyPreview"], "Hello there");
    assert_eq!(r.body["toRecipients"][0]["emailAddress"]["address"], "bob@contoso.test");
    assert_eq!(r.body["flag"]["flagStatus"], "notFlagged");
    assert_eq!(r.body["categories"], json!([]));
    assert_eq!(r.header("ETag"), r.body["@odata.etag"].as_str());
    let id = r.body["id"].as_str().unwrap().to_owned();

    let got = s.get(&format!("/me/messages/{id}?$select=subject,isRead"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let keys: Vec<&str> = got.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["@odata.context", "@odata.etag", "id", "subject", "isRead"]);
    // The selection is named in the context, as Graph's message and event examples show.
    let messages_ctx = format!("{}/$metadata#users('{}')/messages", s.base, ada.id);
    assert_eq!(got.body["@odata.context"], format!("{messages_ctx}(subject,isRead)/$entity"));
    let list = s.get("/me/messages?$select=subject", &t).await;
    assert_eq!(list.body["@odata.context"], format!("{messages_ctx}(subject)"), "{}", list.text);
    // Names match case-insensitively, in $select, $filter and $orderby.
    let got = s.get(&format!("/me/messages/{id}?$select=Subject,ISREAD"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let keys: Vec<&str> = got.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["@odata.context", "@odata.etag", "id", "subject", "isRead"]);

    // Drafts may change their content; unknown and server-managed properties are refused.
    let p = s.patch(&format!("/me/messages/{id}"), &t, json!({"subject": "Plan B", "categories": ["Red"]})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["subject"], "Plan B");
    assert_ne!(present_str(&p.body, "changeKey"), present_str(&r.body, "changeKey"));
    s.patch(&format!("/me/messages/{id}"), &t, json!({"nope": 1})).await.assert_error(400, "RequestBodyRead");
    s.patch(&format!("/me/messages/{id}"), &t, json!({"isDraft": false}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    let stale = r.body["changeKey"].as_str().unwrap();
    let r = s
        .send(
            reqwest::Method::PATCH,
            &format!("/me/messages/{id}"),
            Some(&t),
            Some(json!({"isRead": false})),
            &[("If-Match", &format!("W/\"{stale}\""))],
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text);
    s.get("/me/messages/AAAAAAAAAAAAAAAAAAAAAA", &t).await.assert_error(404, "ErrorItemNotFound");
    s.get("/me/messages/short", &t).await.assert_error(400, "ErrorInvalidIdMalformed");

    assert_eq!(s.delete(&format!("/me/messages/{id}"), &t).await.status, 204);
    s.get(&format!("/me/messages/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("/me/messages/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
}

async fn send_mail_delivers_to_rolo_mailboxes_only(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let cleo = s.user("cleo@contoso.test").await;
    let t = s.token(&ada, MAIL);
    let r = s
        .post(
            "/me/sendMail",
            &t,
            json!({"message": {"subject": "Lunch?", "body": {"contentType": "text", "content": "At noon"},
                               "toRecipients": to(&["BOB@contoso.test", "someone@external.test"]),
                               "bccRecipients": to(&["cleo@contoso.test"])},
                   "saveToSentItems": true}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.text.is_empty());

    let sent = s.get("/me/mailFolders/sentitems/messages", &t).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let m = &sent.body["value"][0];
    assert_eq!(sent.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        (m["subject"].as_str(), m["isDraft"].as_bool(), m["isRead"].as_bool()),
        (Some("Lunch?"), Some(false), Some(true))
    );
    assert!(m["sentDateTime"].is_string());
    assert_eq!(m["from"]["emailAddress"]["address"], "ada@contoso.test");
    assert_eq!(m["bccRecipients"][0]["emailAddress"]["address"], "cleo@contoso.test");

    for (user, expected) in [(&bob, 1), (&cleo, 1)] {
        let tu = s.token(user, "Mail.Read");
        let inbox = s.get("/me/mailFolders/inbox/messages", &tu).await;
        assert_eq!(inbox.status, 200, "{}", inbox.text);
        let items = inbox.body["value"].as_array().unwrap();
        assert_eq!(items.len(), expected);
        assert_eq!(items[0]["from"]["emailAddress"]["address"], "ada@contoso.test");
        assert_eq!(items[0]["isRead"], false);
        assert_eq!(items[0]["parentFolderId"], "inbox");
        assert_eq!(items[0]["bccRecipients"], json!([]), "recipients never see the Bcc line");
    }
    // Nothing landed in Ada's own inbox, and saveToSentItems=false keeps no copy.
    assert_eq!(s.get("/me/mailFolders/inbox/messages", &t).await.body["value"], json!([]));
    let r = s
        .post(
            "/me/sendMail",
            &t,
            json!({"message": {"subject": "x", "toRecipients": to(&["bob@contoso.test"])}, "saveToSentItems": false}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(s.get("/me/mailFolders/sentitems/messages", &t).await.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.store.list_items(&bob.mailbox, ItemKind::Message, Some("inbox"), &page(10)).await.unwrap().items.len(),
        2
    );

    // Sending needs Mail.Send, and recipients.
    let no_send = s.token(&ada, "Mail.ReadWrite");
    s.post("/me/sendMail", &no_send, json!({"message": {"toRecipients": to(&["bob@contoso.test"])}}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.post("/me/sendMail", &t, json!({"message": {"subject": "nobody"}}))
        .await
        .assert_error(400, "ErrorInvalidRecipients");
    s.post("/me/sendMail", &t, json!({"nope": 1})).await.assert_error(400, "RequestBodyRead");

    // A draft is sent with .../send: it leaves Drafts, lands in Sent Items and in Bob's Inbox.
    let draft =
        s.post("/me/messages", &t, json!({"subject": "Drafted", "toRecipients": to(&["bob@contoso.test"])})).await;
    let draft_id = draft.body["id"].as_str().unwrap().to_owned();
    let r = s.post(&format!("/me/messages/{draft_id}/send"), &t, json!({})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    s.get(&format!("/me/messages/{draft_id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    let sent = s.get("/me/mailFolders/sentitems/messages", &t).await;
    // (Both may be sent within one second, so their order is not asserted.)
    let mut sent_subjects = subjects(&sent.body);
    sent_subjects.sort();
    assert_eq!(sent_subjects, ["Drafted", "Lunch?"]);
    let bob_inbox = s.get("/me/mailFolders/inbox/messages", &s.token(&bob, "Mail.Read")).await;
    assert!(subjects(&bob_inbox.body).contains(&"Drafted".to_owned()));
    let sent_id = sent.body["value"].as_array().unwrap().iter().find(|m| m["subject"] == "Drafted").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.post(&format!("/me/messages/{sent_id}/send"), &t, json!({})).await.assert_error(400, "ErrorInvalidOperation");
    s.post(&format!("/me/messages/{draft_id}/send"), &no_send, json!({})).await.assert_error(403, "ErrorAccessDenied");

    // Ada's sent mail shows in the interactions aggregate.
    let seen = s.store.interactions(&ada.mailbox).await.unwrap();
    let bob_row = seen.iter().find(|i| i.address == "bob@contoso.test").unwrap();
    assert_eq!((bob_row.sent_count, bob_row.received_count), (2, 0));
    let bob_seen = s.store.interactions(&bob.mailbox).await.unwrap();
    assert_eq!(bob_seen.iter().find(|i| i.address == "ada@contoso.test").unwrap().received_count, 3);
}

fn page(n: usize) -> rolo_store::ListQuery {
    rolo_store::ListQuery { page_size: n, ..Default::default() }
}

async fn received_mail_filters_and_pages(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let app = s.authority.issue_app_token("app-1", &["Mail.ReadWrite".to_owned()], 3600).unwrap();
    let t = s.token(&ada, MAIL);
    for (i, from) in ["bea@x.test", "cy@x.test", "bea@x.test", "dee@x.test", "bea@x.test"].iter().enumerate() {
        let r = s
            .post(
                &format!("/users/{}/messages", ada.user_principal_name),
                &app,
                json!({"subject": format!("Note {i}"), "from": {"emailAddress": {"address": from, "name": "N"}},
                       "toRecipients": to(&["ada@contoso.test"]), "ccRecipients": to(&["zed@x.test"]),
                       "receivedDateTime": format!("2024-01-0{}T10:00:00Z", i + 1),
                       "categories": if i % 2 == 0 { json!(["Blue"]) } else { json!([]) }}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["isDraft"], false);
        assert_eq!(r.body["isRead"], false);
        assert_eq!(r.body["parentFolderId"], "inbox");
    }
    // A received message needs a sender; only drafts change content.
    s.post("/me/messages", &t, json!({"receivedDateTime": "2024-01-01T00:00:00Z"}))
        .await
        .assert_error(400, "ErrorInvalidRecipients");

    // Newest first by default.
    let all = s.get("/me/messages", &t).await;
    assert_eq!(subjects(&all.body), ["Note 4", "Note 3", "Note 2", "Note 1", "Note 0"]);
    let f = |q: &str| format!("/me/messages?$filter={}", enc(q));
    assert_eq!(
        subjects(&s.get(&f("from/emailAddress/address eq 'BEA@x.test'"), &t).await.body),
        ["Note 4", "Note 2", "Note 0"]
    );
    assert_eq!(subjects(&s.get(&f("receivedDateTime ge 2024-01-04T00:00:00Z"), &t).await.body), ["Note 4", "Note 3"]);
    assert_eq!(subjects(&s.get(&f("startswith(subject,'note 1')"), &t).await.body), ["Note 1"]);
    assert_eq!(subjects(&s.get(&f("subject eq 'Note 3'"), &t).await.body), ["Note 3"]);
    assert_eq!(subjects(&s.get(&format!("{}&$orderby=Subject", f("SUBJECT eq 'Note 3'")), &t).await.body), ["Note 3"]);
    assert_eq!(subjects(&s.get(&f("sentDateTime ge 2024-01-05T00:00:00Z"), &t).await.body), ["Note 4"]);
    assert_eq!(subjects(&s.get(&f("contains(subject,'te 2')"), &t).await.body), ["Note 2"]);
    let r = s.get("/me/mailFolders/inbox/messages?$orderby=subject&$count=true&$top=2", &t).await;
    assert_eq!(subjects(&r.body), ["Note 0", "Note 1"]);
    assert_eq!(r.body["@odata.count"], 5);
    assert!(r.body["@odata.nextLink"].is_string());
    s.get("/me/messages?$orderby=isRead", &t).await.assert_error(400, "BadRequest");
    s.get("/me/messages?$select=nope", &t).await.assert_error(400, "BadRequest");
    assert_eq!(s.get("/me/mailFolders/drafts/messages", &t).await.body["value"], json!([]));
    let id = all.body["value"][0]["id"].as_str().unwrap().to_owned();
    let p =
        s.patch(&format!("/me/messages/{id}"), &t, json!({"isRead": true, "flag": {"flagStatus": "flagged"}})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["flag"]["flagStatus"], "flagged");
    s.patch(&format!("/me/messages/{id}"), &t, json!({"subject": "Edited"}))
        .await
        .assert_error(400, "ErrorInvalidPropertyUpdateSentMessage");
    assert_eq!(subjects(&s.get(&f("isRead eq false"), &t).await.body), ["Note 3", "Note 2", "Note 1", "Note 0"]);
    let r = s.get(&format!("{}&$orderby=receivedDateTime", f("categories/any(c:c eq 'blue')")), &t).await;
    assert_eq!(subjects(&r.body), ["Note 0", "Note 2", "Note 4"]);
    s.get(&f("isRead eq 'no'"), &t).await.assert_error(400, "ErrorInvalidUrlQueryFilter");
    s.get(&f("nope eq 1"), &t).await.assert_error(400, "BadRequest");

    // Paging: $top with keyset nextLinks.
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/me/messages?$top=2", s.base));
    while let Some(url) = next {
        let r = s.get(&url, &t).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.extend(subjects(&r.body));
        next = r.body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ["Note 4", "Note 3", "Note 2", "Note 1", "Note 0"]);

    // Received mail counts the sender only (not co-recipients, not the owner).
    let seen = s.store.interactions(&ada.mailbox).await.unwrap();
    let addresses: Vec<&str> = seen.iter().map(|i| i.address.as_str()).collect();
    assert_eq!(addresses, ["bea@x.test", "dee@x.test", "cy@x.test"]);
    assert_eq!(seen[0].received_count, 3);
    assert_eq!(seen[0].last_received_at.as_deref(), Some("2024-01-05T10:00:00Z"));
}

async fn events_and_one_category_filter_across_items(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, MAIL);
    let r = s
        .post(
            "/me/events",
            &t,
            json!({"subject": "Review", "categories": ["Project X"],
                   "start": {"dateTime": "2024-05-01T09:00:00", "timeZone": "UTC"},
                   "end": {"dateTime": "2024-05-01T10:00:00", "timeZone": "UTC"},
                   "attendees": [{"type": "optional", "emailAddress": {"address": "bea@x.test", "name": "Bea"}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#users('{}')/events/$entity", s.base, ada.id));
    assert_eq!(r.body["organizer"]["emailAddress"]["address"], "ada@contoso.test");
    assert_eq!(r.body["isOrganizer"], true);
    assert_eq!(r.body["attendees"][0]["type"], "optional");
    assert_eq!(r.body["attendees"][0]["status"]["response"], "none");
    assert_eq!(r.body["start"]["dateTime"], "2024-05-01T09:00:00.0000000");
    let id = r.body["id"].as_str().unwrap().to_owned();
    s.post("/me/events", &t, json!({"subject": "No time"})).await.assert_error(400, "ErrorInvalidRequest");
    s.post("/me/events", &t, json!({"subject": "x", "isOrganizer": false}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    s.post(
        "/me/events",
        &t,
        json!({"start": {"dateTime": "2024-05-01T11:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2024-05-01T10:00:00", "timeZone": "UTC"}}),
    )
    .await
    .assert_error(400, "ErrorInvalidRequest");
    let p = s
        .patch(&format!("/me/events/{id}"), &t, json!({"organizer": {"emailAddress": {"address": "bea@x.test"}}}))
        .await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["isOrganizer"], false);
    assert_eq!(s.get(&format!("/me/events/{id}"), &t).await.body["subject"], "Review");

    s.post("/me/contacts", &t, json!({"givenName": "Pat", "categories": ["project x"]})).await;
    s.post("/me/contacts", &t, json!({"givenName": "Other"})).await;
    s.post("/me/messages", &t, json!({"subject": "Tagged", "categories": ["Project X"]})).await;
    s.post("/me/messages", &t, json!({"subject": "Untagged"})).await;
    s.post(
        "/me/events",
        &t,
        json!({"subject": "Other", "start": {"dateTime": "2024-05-02T09:00:00Z"}, "end": {"dateTime": "2024-05-02T10:00:00Z"}}),
    )
    .await;
    let q = format!("$filter={}", enc("categories/any(c:c eq 'Project X')"));
    let contacts = s.get(&format!("/me/contacts?{q}"), &t).await;
    assert_eq!(contacts.body["value"].as_array().unwrap().len(), 1, "{}", contacts.text);
    assert_eq!(contacts.body["value"][0]["givenName"], "Pat");
    assert_eq!(subjects(&s.get(&format!("/me/messages?{q}"), &t).await.body), ["Tagged"]);
    assert_eq!(subjects(&s.get(&format!("/me/events?{q}"), &t).await.body), ["Review"]);
    let r = s.get(&format!("/me/events?$filter={}", enc("start/dateTime ge '2024-05-02T00:00:00'")), &t).await;
    assert_eq!(subjects(&r.body), ["Other"], "{}", r.text);

    assert_eq!(s.delete(&format!("/me/events/{id}"), &t).await.status, 204);
    s.get(&format!("/me/events/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
}

async fn mail_and_calendar_scopes_are_enforced(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let contacts_only = s.token(&ada, "Contacts.ReadWrite");
    s.get("/me/messages", &contacts_only).await.assert_error(403, "ErrorAccessDenied");
    s.get("/me/events", &contacts_only).await.assert_error(403, "ErrorAccessDenied");
    s.post("/me/sendMail", &contacts_only, json!({})).await.assert_error(403, "ErrorAccessDenied");
    let read = s.token(&ada, "Mail.Read Calendars.Read");
    assert_eq!(s.get("/me/messages", &read).await.status, 200);
    assert_eq!(s.get("/me/events", &read).await.status, 200);
    s.post("/me/messages", &read, json!({"subject": "x"})).await.assert_error(403, "ErrorAccessDenied");
    s.post("/me/events", &read, json!({})).await.assert_error(403, "ErrorAccessDenied");
    // Someone else's mailbox: not with the plain scopes, nor with .Shared ones without a grant.
    let full = s.token(&ada, "Mail.ReadWrite.Shared Calendars.ReadWrite");
    s.get(&format!("/users/{}/messages", bob.id), &s.token(&ada, MAIL)).await.assert_error(403, "ErrorAccessDenied");
    s.get(&format!("/users/{}/messages", bob.id), &full).await.assert_error(403, "ErrorAccessDenied");
    // A whole-mailbox delegate with the .Shared scopes gets in, as far as the grant goes.
    s.store.set_mailbox_grant(&bob.mailbox, &ada.id, Some(rolo_domain::Grant::Read)).await.unwrap();
    assert_eq!(s.get(&format!("/users/{}/messages", bob.id), &full).await.status, 200);
    s.post(&format!("/users/{}/messages", bob.id), &full, json!({"subject": "x"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    s.get(&format!("/users/{}/messages", bob.id), &s.token(&ada, MAIL)).await.assert_error(403, "ErrorAccessDenied");
    // An app with the Mail.ReadWrite role reaches any mailbox; without it, none.
    let app = s.authority.issue_app_token("app-1", &["Mail.ReadWrite".to_owned()], 3600).unwrap();
    assert_eq!(s.get(&format!("/users/{}/messages", bob.id), &app).await.status, 200);
    s.get(&format!("/users/{}/events", bob.id), &app).await.assert_error(403, "ErrorAccessDenied");
    let contacts_app = s.authority.issue_app_token("app-2", &["Contacts.ReadWrite".to_owned()], 3600).unwrap();
    s.get(&format!("/users/{}/messages", bob.id), &contacts_app).await.assert_error(403, "ErrorAccessDenied");
    // Unsupported mail folders and methods get Graph's errors.
    s.get("/me/mailFolders/archive/messages", &read).await.assert_error(400, "ErrorInvalidIdMalformed");
    s.send(reqwest::Method::PUT, "/me/messages", Some(&s.token(&ada, MAIL)), None, &[])
        .await
        .assert_error(405, "ErrorInvalidRequest");
}

/// Seeds (the emulator's and `/rolo/admin/seed`'s) may carry messages and events.
async fn seeds_carry_histories(s: TestServer) {
    let doc = json!({"users": [{"userPrincipalName": "ada@contoso.test", "displayName": "Ada",
        "messages": [
            {"subject": "In", "from": {"emailAddress": {"address": "bea@x.test", "name": "Bea"}},
             "receivedDateTime": "2024-01-02T00:00:00Z"},
            {"parentFolderId": "sentitems", "subject": "Out", "toRecipients": [{"emailAddress": {"address": "bea@x.test"}}],
             "sentDateTime": "2024-01-03T00:00:00Z"},
            {"subject": "Draft"}
        ],
        "events": [{"subject": "Meet", "start": {"dateTime": "2024-01-04T10:00:00Z"}, "end": {"dateTime": "2024-01-04T11:00:00Z"},
                    "attendees": [{"emailAddress": {"address": "bea@x.test"}}]}]}]});
    let seeded = rolo_server::seed::seed(s.store.as_ref(), &doc).await.unwrap();
    assert_eq!(seeded.to_json()["messages"], 3);
    assert_eq!(seeded.to_json()["events"], 1);
    let ada = &seeded.users[0];
    let t = s.token(ada, MAIL);
    let all = s.get("/me/messages", &t).await;
    // A draft's receivedDateTime is its creation time: the newest.
    assert_eq!(subjects(&all.body), ["Draft", "Out", "In"]);
    let out = &all.body["value"][1];
    assert_eq!((out["parentFolderId"].as_str(), out["isRead"].as_bool()), (Some("sentitems"), Some(true)));
    assert_eq!(out["from"]["emailAddress"]["address"], "ada@contoso.test");
    let bea = s.store.interactions(&ada.mailbox).await.unwrap();
    assert_eq!(bea.len(), 1);
    assert_eq!((bea[0].sent_count, bea[0].received_count, bea[0].meeting_count), (1, 1, 1));
    assert_eq!(bea[0].display_name, "Bea");
    let bad = json!({"users": [{"userPrincipalName": "x@contoso.test", "messages": [{"parentFolderId": "archive"}]}]});
    let e = rolo_server::seed::seed(s.store.as_ref(), &bad).await.expect_err("a bad seed is refused");
    assert_eq!((e.code.as_ref(), e.message.as_str()), ("BadRequest", "'archive' is not a mail folder."));
}

both_backends!(
    drafts_are_created_read_patched_and_deleted,
    send_mail_delivers_to_rolo_mailboxes_only,
    received_mail_filters_and_pages,
    events_and_one_category_filter_across_items,
    mail_and_calendar_scopes_are_enforced,
    seeds_carry_histories,
);
