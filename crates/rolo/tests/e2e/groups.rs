//! Microsoft 365 groups over HTTP: groups, members and memberships, conversations, threads and
//! posts (start, reply, categories and their filter), membership and permission checks, the
//! People signal a post gives, one category across the five item kinds, and the seed's `todo`
//! and `groups`; on SQLite and PostgreSQL.

use crate::common::{enc, Resp, TestServer};
use rolo_store::{NewGroup, User};
use serde_json::{json, Value};

const RW: &str = "Group.ReadWrite.All";

async fn group(s: &TestServer, name: &str, mail: &str, members: &[&User]) -> String {
    let g = s
        .store
        .create_group(NewGroup {
            display_name: name.into(),
            mail: mail.into(),
            description: format!("The {name} team"),
            visibility: String::new(),
            members: members.iter().map(|u| u.id.clone()).collect(),
        })
        .await
        .expect("create group");
    g.id
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", r.text))
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn post(content: &str, categories: &[&str]) -> Value {
    json!({"body": {"contentType": "text", "content": content}, "categories": categories})
}

async fn groups_members_and_memberships(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let carol = s.user("carol@contoso.test").await;
    let g = group(&s, "Sales", "sales@contoso.test", &[&ada, &bob]).await;
    let t = s.token(&ada, "Group.Read.All");

    let r = s.get("/groups", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#groups", s.base));
    let one = &r.body["value"][0];
    assert_eq!((one["id"].as_str(), one["displayName"].as_str()), (Some(g.as_str()), Some("Sales")));
    assert_eq!(one["groupTypes"], json!(["Unified"]));
    assert_eq!((one["mail"].as_str(), one["mailNickname"].as_str()), (Some("sales@contoso.test"), Some("sales")));
    assert_eq!((one["mailEnabled"].as_bool(), one["securityEnabled"].as_bool()), (Some(true), Some(false)));
    assert_eq!(one["visibility"], "Public");
    assert_eq!(one["description"], "The Sales team");

    let r = s.get(&format!("/groups/{g}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#groups/$entity", s.base));
    assert_eq!(s.get(&format!("/groups('{g}')"), &t).await.body["id"], g.as_str());
    s.get("/groups/not-a-guid", &t).await.assert_error(400, "Request_BadRequest");
    s.get("/groups/00000000-0000-0000-0000-00000000abcd", &t).await.assert_error(404, "Request_ResourceNotFound");
    s.get(&format!("/groups?$filter={}", enc("displayName eq 'Sales'")), &t)
        .await
        .assert_error(400, "Request_BadRequest");

    let r = s.get(&format!("/groups/{g}/members"), &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#directoryObjects", s.base));
    assert_eq!(ids(&r), [ada.id.clone(), bob.id.clone()]);
    assert_eq!(r.body["value"][0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(r.body["value"][0]["userPrincipalName"], "ada@contoso.test");

    // Memberships: the signed-in user's own with User.Read, anyone's with a directory permission.
    let own = s.token(&carol, "User.Read");
    let r = s.get("/me/memberOf", &own).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"], json!([]));
    let r = s.get("/me/memberOf", &s.token(&ada, "User.Read")).await;
    assert_eq!(ids(&r), std::slice::from_ref(&g));
    assert_eq!(r.body["value"][0]["@odata.type"], "#microsoft.graph.group");
    s.get(&format!("/users/{}/memberOf", ada.id), &own).await.assert_error(403, "ErrorAccessDenied");
    assert_eq!(ids(&s.get(&format!("/users/{}/memberOf", bob.id), &t).await), std::slice::from_ref(&g));
    s.get("/groups", &own).await.assert_error(403, "ErrorAccessDenied");

    // A group is not a user: /users does not list it, and its mailbox is not a user's.
    let users = s.get("/users", &s.token(&ada, "User.Read.All")).await;
    assert!(!ids(&users).contains(&g), "{}", users.text);
    let app = s.authority.issue_app_token("app-1", &["Contacts.Read".to_owned()], 3600).unwrap();
    s.get(&format!("/users/{g}/contacts"), &app).await.assert_error(404, "ErrorInvalidUser");
    // Only GET is served on a group.
    let r = s.send(reqwest::Method::DELETE, &format!("/groups/{g}"), Some(&t), None, &[]).await;
    r.assert_error(405, "ErrorInvalidRequest");
    assert_eq!(r.headers["allow"], "GET");
}

async fn conversations_threads_posts_and_replies(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let g = group(&s, "Sales", "sales@contoso.test", &[&ada, &bob]).await;
    let (ta, tb) = (s.token(&ada, RW), s.token(&bob, "Group-Conversation.ReadWrite.All"));
    let base = format!("/groups/{g}");

    // Start a conversation: its first thread and post.
    let body = json!({"topic": "Q3 plan", "threads": [{"posts": [post("Draft attached", &["Red"])]}]});
    let r = s.post(&format!("{base}/conversations"), &ta, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#groups('{g}')/conversations/$entity", s.base));
    assert_eq!(r.body["topic"], "Q3 plan");
    assert_eq!(r.body["uniqueSenders"], json!(["ada"]));
    assert_eq!(r.body["preview"], "Draft attached");
    let conversation = r.body["id"].as_str().unwrap().to_owned();

    let r = s.get(&format!("{base}/conversations"), &tb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(ids(&r), std::slice::from_ref(&conversation));
    let r = s.get(&format!("{base}/conversations/{conversation}/threads"), &tb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let thread = ids(&r)[0].clone();
    assert_eq!(r.body["value"][0]["topic"], "Q3 plan");
    assert_eq!(r.body["value"][0]["isLocked"], false);
    assert_eq!(ids(&s.get(&format!("{base}/threads"), &tb).await), std::slice::from_ref(&thread));
    let r = s.get(&format!("{base}/threads/{thread}"), &tb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#groups('{g}')/threads/$entity", s.base));

    let posts = format!("{base}/conversations/{conversation}/threads/{thread}/posts");
    let r = s.get(&posts, &tb).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let first = ids(&r)[0].clone();
    let p = &r.body["value"][0];
    assert_eq!(p["from"]["emailAddress"]["address"], "ada@contoso.test");
    assert_eq!(p["sender"]["emailAddress"]["name"], "ada");
    assert_eq!(
        (p["conversationId"].as_str(), p["conversationThreadId"].as_str()),
        (Some(&*conversation), Some(&*thread))
    );
    assert_eq!(p["categories"], json!(["Red"]));
    assert_eq!(p["body"]["content"], "Draft attached");
    let one = s.get(&format!("{posts}/{first}"), &tb).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.headers["etag"].to_str().unwrap(), one.body["@odata.etag"].as_str().unwrap());

    // Replies: to a post (both URL forms) and to the thread; 202 with no body, as on Graph.
    let r = s.post(&format!("{posts}/{first}/reply"), &tb, json!({"post": post("Looks good", &["Blue"])})).await;
    assert_eq!((r.status.as_u16(), r.text.as_str()), (202, ""));
    let r = s
        .post(&format!("{base}/threads/{thread}/posts/{first}/reply"), &ta, json!({"post": post("Thanks", &[])}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = s.post(&format!("{base}/threads/{thread}/reply"), &tb, json!({"post": post("One more", &["Red"])})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let r = s.get(&posts, &ta).await;
    assert_eq!(ids(&r).len(), 4, "{}", r.text);
    let c = s.get(&format!("{base}/conversations/{conversation}"), &ta).await;
    assert_eq!(c.body["uniqueSenders"], json!(["ada", "bob"]));
    assert_eq!(c.body["preview"], "One more");

    // Posts filter by category, page, and select.
    let red = format!("{posts}?$filter={}", enc("categories/any(c:c eq 'red')"));
    let r = s.get(&red, &ta).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let texts: Vec<&str> =
        r.body["value"].as_array().unwrap().iter().map(|p| p["body"]["content"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Draft attached", "One more"]);
    let r = s.get(&format!("{posts}?$top=3&$select=categories"), &ta).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 3, "{}", r.text);
    assert!(r.body["value"][0].get("body").is_none());
    let next = r.body["@odata.nextLink"].as_str().unwrap_or_else(|| panic!("{}", r.text)).to_owned();
    assert_eq!(s.get(&next, &ta).await.body["value"].as_array().unwrap().len(), 1);
    s.get(&format!("{posts}?$filter={}", enc("subject eq 'x'")), &ta).await.assert_error(400, "BadRequest");

    // A new thread on the group makes a new conversation; one in a conversation joins it.
    let r = s.post(&format!("{base}/threads"), &tb, json!({"topic": "Offsite", "posts": [post("Where?", &[])]})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["topic"], "Offsite");
    assert_eq!(ids(&s.get(&format!("{base}/conversations"), &ta).await).len(), 2);
    let r = s
        .post(&format!("{base}/conversations/{conversation}/threads"), &ta, json!({"posts": [post("Forked", &[])]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["topic"], "Q3 plan");
    assert_eq!(ids(&s.get(&format!("{base}/conversations/{conversation}/threads"), &ta).await).len(), 2);
    assert_eq!(ids(&s.get(&format!("{base}/conversations"), &ta).await).len(), 2);

    // Refusals.
    s.post(&format!("{base}/threads"), &ta, json!({"posts": [post("x", &[])]}))
        .await
        .assert_error(400, "ErrorInvalidRequest");
    s.post(&format!("{base}/threads"), &ta, json!({"topic": "T"})).await.assert_error(400, "ErrorInvalidRequest");
    s.post(&format!("{base}/threads/{thread}/reply"), &ta, json!({})).await.assert_error(400, "ErrorInvalidRequest");
    let bad = json!({"post": {"body": {"content": "x"}, "id": "AAA"}});
    s.post(&format!("{base}/threads/{thread}/reply"), &ta, bad).await.assert_error(400, "ErrorInvalidProperty");
    let missing = rolo_domain::ContactId::generate().to_string();
    s.get(&format!("{posts}/{missing}"), &ta).await.assert_error(404, "ErrorItemNotFound");
    s.post(&format!("{posts}/{missing}/reply"), &ta, json!({"post": post("x", &[])}))
        .await
        .assert_error(404, "ErrorItemNotFound");
    // A thread through a conversation it is not in is not there.
    let other =
        ids(&s.get(&format!("{base}/conversations"), &ta).await).into_iter().find(|c| *c != conversation).unwrap();
    s.get(&format!("{base}/conversations/{other}/threads/{thread}"), &ta).await.assert_error(404, "ErrorItemNotFound");
    let r = s.send(reqwest::Method::PATCH, &format!("{posts}/{first}"), Some(&ta), Some(json!({})), &[]).await;
    r.assert_error(405, "ErrorInvalidRequest");
}

/// Only members read and post; apps with the permission reach every group.
async fn only_members_and_permitted_apps_take_part(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let carol = s.user("carol@contoso.test").await;
    let g = group(&s, "Sales", "sales@contoso.test", &[&ada]).await;
    let threads = format!("/groups/{g}/threads");
    let start = json!({"topic": "Hello", "posts": [post("Hi", &[])]});
    assert_eq!(s.post(&threads, &s.token(&ada, RW), start.clone()).await.status, 201);
    let outsider = s.token(&carol, RW);
    s.get(&threads, &outsider).await.assert_error(403, "ErrorAccessDenied");
    s.post(&threads, &outsider, start.clone()).await.assert_error(403, "ErrorAccessDenied");
    // Reading the group itself needs no membership.
    assert_eq!(s.get(&format!("/groups/{g}"), &outsider).await.status, 200);
    // Group.Read.All reads conversations but does not post.
    let reader = s.token(&ada, "Group.Read.All");
    assert_eq!(s.get(&threads, &reader).await.status, 200);
    s.post(&threads, &reader, start.clone()).await.assert_error(403, "ErrorAccessDenied");
    // Apps read and reply (as the group) but, as on Graph, do not start threads.
    let app = s.authority.issue_app_token("app-1", &["Group-Conversation.ReadWrite.All".to_owned()], 3600).unwrap();
    s.post(&threads, &app, start).await.assert_error(403, "ErrorAccessDenied");
    let t = ids(&s.get(&threads, &app).await)[0].clone();
    let r = s.post(&format!("{threads}/{t}/reply"), &app, json!({"post": post("From the app", &[])})).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let p = s.get(&format!("{threads}/{t}/posts"), &app).await;
    assert_eq!(p.body["value"][1]["from"]["emailAddress"]["address"], "sales@contoso.test", "{}", p.text);
    let none = s.authority.issue_app_token("app-2", &["Contacts.Read".to_owned()], 3600).unwrap();
    s.get(&threads, &none).await.assert_error(403, "ErrorAccessDenied");
}

/// A member who posts becomes a correspondent of the other members, ranked by People.
async fn posting_makes_members_correspondents(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let carol = s.user("carol@contoso.test").await;
    let g = group(&s, "Sales", "sales@contoso.test", &[&ada, &bob, &carol]).await;
    let people = s.token(&ada, "People.Read");
    // Warm ada's People cache before the posts: the posts must invalidate it.
    assert_eq!(s.get("/me/people", &people).await.status, 200);
    let tb = s.token(&bob, RW);
    let r = s.post(&format!("/groups/{g}/threads"), &tb, json!({"topic": "T", "posts": [post("One", &[])]})).await;
    let thread = r.body["id"].as_str().unwrap().to_owned();
    let r = s.post(&format!("/groups/{g}/threads/{thread}/reply"), &tb, json!({"post": post("Two", &[])})).await;
    assert_eq!(r.status, 202);
    let seen = s.store.interactions(&ada.mailbox).await.unwrap();
    let bob_row = seen.iter().find(|i| i.address == "bob@contoso.test").unwrap_or_else(|| panic!("{seen:?}"));
    assert_eq!(bob_row.received_count, 2);
    assert!(seen.iter().all(|i| i.address != "carol@contoso.test"));
    // The author is nobody's correspondent of their own.
    assert!(s.store.interactions(&bob.mailbox).await.unwrap().is_empty());
    let r = s.get("/me/people", &people).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["value"][0]["userPrincipalName"], "bob@contoso.test", "{}", r.text);
}

/// One master category applied to a contact, a message, an event, a task and a group post, and
/// the same filter finding each; deleting the master category leaves the items' strings.
async fn one_category_across_five_kinds(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(
        &ada,
        "Contacts.ReadWrite Mail.ReadWrite Calendars.ReadWrite Tasks.ReadWrite MailboxSettings.ReadWrite Group.ReadWrite.All",
    );
    let cat = s.post("/me/outlook/masterCategories", &t, json!({"displayName": "Project X", "color": "preset1"})).await;
    assert_eq!(cat.status, 201, "{}", cat.text);
    let g = group(&s, "Sales", "sales@contoso.test", &[&ada]).await;
    // The group's own master list holds the category its posts use.
    let gmb = s.store.find_user(&g).await.unwrap().unwrap().mailbox;
    s.store.create_category(&gmb, "Project X", "preset1").await.unwrap();

    let lists = s.get("/me/todo/lists", &t).await;
    let list = lists.body["value"][0]["id"].as_str().unwrap().to_owned();
    let tasks = format!("/me/todo/lists/{list}/tasks");
    let tagged = |extra: Value| {
        let mut v = extra;
        v["categories"] = json!(["Project X"]);
        v
    };
    assert_eq!(s.post("/me/contacts", &t, tagged(json!({"givenName": "Pat"}))).await.status, 201);
    assert_eq!(s.post("/me/contacts", &t, json!({"givenName": "Plain"})).await.status, 201);
    assert_eq!(s.post("/me/messages", &t, tagged(json!({"subject": "Tagged"}))).await.status, 201);
    assert_eq!(s.post("/me/messages", &t, json!({"subject": "Plain"})).await.status, 201);
    let ev = json!({"subject": "Review", "start": {"dateTime": "2024-05-01T09:00:00Z"}, "end": {"dateTime": "2024-05-01T10:00:00Z"}});
    assert_eq!(s.post("/me/events", &t, tagged(ev.clone())).await.status, 201);
    assert_eq!(s.post("/me/events", &t, ev).await.status, 201);
    assert_eq!(s.post(&tasks, &t, tagged(json!({"title": "Tagged"}))).await.status, 201);
    assert_eq!(s.post(&tasks, &t, json!({"title": "Plain"})).await.status, 201);
    let r = s
        .post(&format!("/groups/{g}/threads"), &t, json!({"topic": "T", "posts": [post("Tagged", &["Project X"])]}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let thread = r.body["id"].as_str().unwrap().to_owned();
    s.post(&format!("/groups/{g}/threads/{thread}/reply"), &t, json!({"post": post("Plain", &[])})).await;
    let posts = format!("/groups/{g}/threads/{thread}/posts");

    let q = format!("$filter={}", enc("categories/any(c:c eq 'Project X')"));
    let paths = ["/me/contacts".to_owned(), "/me/messages".into(), "/me/events".into(), tasks.clone(), posts.clone()];
    let check = |label: &'static str| {
        let (s, t, q, paths) = (&s, &t, &q, &paths);
        async move {
            for p in paths {
                let r = s.get(&format!("{p}?{q}"), t).await;
                assert_eq!(r.status, 200, "{label} {p}: {}", r.text);
                let found = r.body["value"].as_array().unwrap();
                assert_eq!(found.len(), 1, "{label} {p}: {}", r.text);
                assert_eq!(found[0]["categories"], json!(["Project X"]), "{label} {p}");
            }
        }
    };
    check("before").await;
    // Deleting the master category leaves every kind's items with the name, as Outlook does.
    let id = cat.body["id"].as_str().unwrap();
    assert_eq!(s.delete(&format!("/me/outlook/masterCategories/{id}"), &t).await.status, 204);
    check("after delete").await;
}

/// The seed document's `todo` and `groups`.
async fn seed_documents_todo_and_groups(s: TestServer) {
    let doc = json!({
        "users": [
            {"userPrincipalName": "ada@contoso.test", "displayName": "Ada",
             "todo": [{"wellknownListName": "defaultList", "tasks": [{"title": "Call Bob", "categories": ["Red"]}]},
                      {"displayName": "Travel", "tasks": [{"title": "Passport"}, {"title": "Visa"}]}]},
            {"userPrincipalName": "bob@contoso.test", "displayName": "Bob"}
        ],
        "groups": [{"displayName": "Sales", "mail": "sales@contoso.test", "visibility": "Private",
            "members": ["ada@contoso.test", "bob@contoso.test"],
            "categories": [{"displayName": "Red", "color": "preset0"}],
            "conversations": [{"topic": "Kickoff", "posts": [
                {"from": "ada@contoso.test", "body": {"content": "Welcome"}, "categories": ["Red"]},
                {"from": "bob@contoso.test", "body": {"content": "Thanks"}}]}]}]
    });
    let seeded = rolo_server::seed::seed(s.store.as_ref(), &doc).await.expect("seed");
    assert_eq!((seeded.tasks, seeded.groups, seeded.posts), (3, 1, 2));
    let ada = s.store.find_user("ada@contoso.test").await.unwrap().unwrap();
    let t = s.token(&ada, "Tasks.Read Group.Read.All");
    let lists = s.get("/me/todo/lists", &t).await;
    assert_eq!(lists.body["value"].as_array().unwrap().len(), 2, "{}", lists.text);
    let groups = s.get("/groups", &t).await;
    assert_eq!(groups.body["value"][0]["visibility"], "Private");
    let g = groups.body["value"][0]["id"].as_str().unwrap().to_owned();
    let threads = s.get(&format!("/groups/{g}/threads"), &t).await;
    assert_eq!(threads.body["value"][0]["uniqueSenders"], json!(["Ada", "Bob"]), "{}", threads.text);
    let thread = threads.body["value"][0]["id"].as_str().unwrap();
    let red = format!("/groups/{g}/threads/{thread}/posts?$filter={}", enc("categories/any(c:c eq 'Red')"));
    assert_eq!(s.get(&red, &t).await.body["value"].as_array().unwrap().len(), 1);
    // A member that is not a user is refused.
    let bad = json!({"groups": [{"displayName": "X", "mail": "x@contoso.test", "members": ["nobody@contoso.test"]}]});
    let e = rolo_server::seed::seed(s.store.as_ref(), &bad).await.expect_err("a bad seed is refused");
    assert_eq!((e.code.as_ref(), e.message.as_str()), ("BadRequest", "unknown member 'nobody@contoso.test'"));
}

/// Removing a group's member takes it out of the group; removing the group removes its posts.
async fn removing_users_and_groups(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let g = group(&s, "Sales", "sales@contoso.test", &[&ada, &bob]).await;
    let r = s
        .post(&format!("/groups/{g}/threads"), &s.token(&ada, RW), json!({"topic": "T", "posts": [post("x", &[])]}))
        .await;
    assert_eq!(r.status, 201);
    assert!(s.store.remove_user(&bob.id).await.unwrap());
    assert_eq!(s.store.group_members(&g).await.unwrap().len(), 1);
    let gmb = s.store.find_user(&g).await.unwrap().unwrap().mailbox;
    assert_eq!(s.store.threads(&gmb).await.unwrap().len(), 1);
    assert!(s.store.remove_user(&g).await.unwrap());
    assert!(s.store.get_group(&g).await.unwrap().is_none());
    assert!(s.store.member_of(&ada.id).await.unwrap().is_empty());
}

both_backends!(
    groups_members_and_memberships,
    conversations_threads_posts_and_replies,
    only_members_and_permitted_apps_take_part,
    posting_makes_members_correspondents,
    one_category_across_five_kinds,
    seed_documents_todo_and_groups,
    removing_users_and_groups,
);
