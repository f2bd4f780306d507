//! Microsoft To Do (lists, tasks, checklist items, tasks/delta, the Tasks.* scopes) over HTTP,
//! on SQLite and PostgreSQL.

use crate::common::{enc, present_str, TestServer};
use rolo_domain::mail::ItemKind;
use serde_json::{json, Value};

const TASKS: &str = "Tasks.ReadWrite";

fn titles(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|t| t["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The default list's id (made on first use).
async fn default_list(s: &TestServer, t: &str) -> String {
    let r = s.get("/me/todo/lists", t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let default = r.body["value"].as_array().unwrap().iter().find(|l| l["wellknownListName"] == "defaultList");
    default.unwrap_or_else(|| panic!("no default list: {}", r.text))["id"].as_str().unwrap().to_owned()
}

async fn lists_are_created_renamed_and_deleted(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, TASKS);
    let r = s.get("/me/todo/lists", &t).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#users('{}')/todo/lists", s.base, ada.id));
    let lists = r.body["value"].as_array().unwrap();
    assert_eq!(lists.len(), 1, "{}", r.text);
    assert_eq!(lists[0]["wellknownListName"], "defaultList");
    assert_eq!((lists[0]["isOwner"].as_bool(), lists[0]["isShared"].as_bool()), (Some(true), Some(false)));
    let default = lists[0]["id"].as_str().unwrap().to_owned();
    // Lists come in one page; query options Rolo does not apply to them are refused, not ignored.
    let r = s.get(&format!("/me/todo/lists?$filter={}", enc("displayName eq 'Tasks'")), &t).await;
    r.assert_error(400, "BadRequest");
    // Reading again makes no second default list.
    assert_eq!(s.get("/me/todo/lists", &t).await.body["value"].as_array().unwrap().len(), 1);

    let r = s.post("/me/todo/lists", &t, json!({"displayName": "Travel items"})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["@odata.context"], format!("{}/$metadata#users('{}')/todo/lists/$entity", s.base, ada.id));
    assert_eq!(
        (r.body["displayName"].as_str(), r.body["wellknownListName"].as_str()),
        (Some("Travel items"), Some("none"))
    );
    assert!(r.body["@odata.etag"].as_str().unwrap().starts_with("W/\""));
    let travel = r.body["id"].as_str().unwrap().to_owned();
    s.post("/me/todo/lists", &t, json!({})).await.assert_error(400, "invalidRequest");
    s.post("/me/todo/lists", &t, json!({"displayName": "x", "nope": 1})).await.assert_error(400, "RequestBodyRead");
    s.post("/me/todo/lists", &t, json!({"displayName": "x", "wellknownListName": "defaultList"}))
        .await
        .assert_error(400, "ErrorInvalidProperty");

    let p = s.patch(&format!("/me/todo/lists/{travel}"), &t, json!({"displayName": "Vacation"})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["displayName"], "Vacation");
    assert_eq!(s.get(&format!("/me/todo/lists('{travel}')"), &t).await.body["displayName"], "Vacation");
    // The default list keeps its name and cannot be deleted, as on Graph.
    let r = s.patch(&format!("/me/todo/lists/{default}"), &t, json!({"displayName": "Mine"})).await;
    r.assert_error(400, "invalidRequest");
    assert_eq!(r.body["error"]["message"], "Your request can't be completed. A default task folder can't be renamed.");
    let r = s.delete(&format!("/me/todo/lists/{default}"), &t).await;
    r.assert_error(400, "invalidRequest");
    assert_eq!(r.body["error"]["message"], "Your request can't be completed. A default task folder can't be deleted.");

    // Deleting a list deletes its tasks.
    let task = s
        .post(&format!("/me/todo/lists/{travel}/tasks"), &t, json!({"title": "Passport", "categories": ["Red"]}))
        .await;
    assert_eq!(task.status, 201, "{}", task.text);
    let task_id = task.body["id"].as_str().unwrap().to_owned();
    // Read by id whatever its list (the list-scoped reads answer 404 once the list is gone).
    let stored = || s.store.get_item(&ada.mailbox, ItemKind::Task, &task_id);
    assert_eq!(stored().await.unwrap().map(|i| i.folder), Some(travel.clone()));
    assert_eq!(s.delete(&format!("/me/todo/lists/{travel}"), &t).await.status, 204);
    s.get(&format!("/me/todo/lists/{travel}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.get(&format!("/me/todo/lists/{travel}/tasks"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert!(stored().await.unwrap().is_none(), "the deleted list's task is still stored");
    let titles_left = s.get("/me/todo/lists", &t).await;
    assert_eq!(titles_left.body["value"].as_array().unwrap().len(), 1);
    s.get("/me/todo/lists/not-an-id", &t).await.assert_error(400, "ErrorInvalidIdMalformed");
}

async fn tasks_are_created_read_patched_and_deleted(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, TASKS);
    let list = default_list(&s, &t).await;
    let tasks = format!("/me/todo/lists/{list}/tasks");
    let r = s
        .post(
            &tasks,
            &t,
            json!({"title": "A new task", "body": {"content": "Notes", "contentType": "text"}, "importance": "High",
                   "categories": ["Important"], "isReminderOn": true,
                   "dueDateTime": {"dateTime": "2024-06-01T17:00:00", "timeZone": "UTC"},
                   "reminderDateTime": {"dateTime": "2024-06-01T09:00:00Z", "timeZone": "UTC"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.body["@odata.context"],
        format!("{}/$metadata#users('{}')/todo/lists('{list}')/tasks/$entity", s.base, ada.id)
    );
    assert_eq!(r.body["importance"], "high");
    assert_eq!(r.body["status"], "notStarted");
    assert_eq!(r.body["isReminderOn"], true);
    assert_eq!(r.body["body"], json!({"contentType": "text", "content": "Notes"}));
    assert_eq!(r.body["dueDateTime"], json!({"dateTime": "2024-06-01T17:00:00.0000000", "timeZone": "UTC"}));
    assert_eq!(r.body["categories"], json!(["Important"]));
    assert!(r.body.get("completedDateTime").is_none() && r.body.get("startDateTime").is_none(), "{}", r.text);
    assert_eq!(r.header("ETag"), r.body["@odata.etag"].as_str());
    assert!(r.body["createdDateTime"].is_string() && r.body["lastModifiedDateTime"].is_string());
    let id = r.body["id"].as_str().unwrap().to_owned();
    let one = format!("{tasks}/{id}");

    let got = s.get(&format!("{one}?$select=title,status"), &t).await;
    assert_eq!(got.status, 200, "{}", got.text);
    let keys: Vec<&str> = got.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["@odata.context", "@odata.etag", "id", "title", "status"]);

    // Completing stamps completedDateTime; reopening clears it.
    let p = s.patch(&one, &t, json!({"status": "completed"})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["status"], "completed");
    assert!(p.body["completedDateTime"]["dateTime"].is_string(), "{}", p.text);
    assert_ne!(present_str(&p.body, "@odata.etag"), present_str(&r.body, "@odata.etag"));
    let p = s.patch(&one, &t, json!({"status": "inProgress", "dueDateTime": null})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert!(p.body.get("completedDateTime").is_none() && p.body.get("dueDateTime").is_none(), "{}", p.text);
    s.patch(&one, &t, json!({"status": "done"})).await.assert_error(400, "RequestBodyRead");
    s.patch(&one, &t, json!({"createdDateTime": "2024-01-01T00:00:00Z"}))
        .await
        .assert_error(400, "ErrorInvalidProperty");
    s.patch(&one, &t, json!({"nope": 1})).await.assert_error(400, "RequestBodyRead");
    let stale = r.body["@odata.etag"].as_str().unwrap();
    let r412 =
        s.send(reqwest::Method::PATCH, &one, Some(&t), Some(json!({"title": "x"})), &[("If-Match", stale)]).await;
    assert_eq!(r412.status, 412, "{}", r412.text);

    // A task is reached through its own list only.
    let other =
        s.post("/me/todo/lists", &t, json!({"displayName": "Other"})).await.body["id"].as_str().unwrap().to_owned();
    s.get(&format!("/me/todo/lists/{other}/tasks/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("/me/todo/lists/{other}/tasks/{id}"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_eq!(s.delete(&one, &t).await.status, 204);
    s.get(&one, &t).await.assert_error(404, "ErrorItemNotFound");
    s.send(reqwest::Method::PUT, &tasks, Some(&t), None, &[]).await.assert_error(405, "ErrorInvalidRequest");
}

async fn checklist_items_are_managed(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, TASKS);
    let list = default_list(&s, &t).await;
    let task = s
        .post(
            &format!("/me/todo/lists/{list}/tasks"),
            &t,
            json!({"title": "Pack", "checklistItems": [{"displayName": "Socks"}]}),
        )
        .await;
    assert_eq!(task.status, 201, "{}", task.text);
    let task_id = task.body["id"].as_str().unwrap().to_owned();
    let items = format!("/me/todo/lists/{list}/tasks/{task_id}/checklistItems");
    let c = s.post(&items, &t, json!({"displayName": "Shirts"})).await;
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!((c.body["displayName"].as_str(), c.body["isChecked"].as_bool()), (Some("Shirts"), Some(false)));
    let cid = c.body["id"].as_str().unwrap().to_owned();
    s.post(&items, &t, json!({})).await.assert_error(400, "invalidRequest");
    s.post(&items, &t, json!({"displayName": "x", "bogus": true})).await.assert_error(400, "RequestBodyRead");

    let all = s.get(&items, &t).await;
    assert_eq!(all.status, 200, "{}", all.text);
    let names: Vec<&str> =
        all.body["value"].as_array().unwrap().iter().map(|c| c["displayName"].as_str().unwrap()).collect();
    assert_eq!(names, ["Socks", "Shirts"]);
    let p = s.patch(&format!("{items}/{cid}"), &t, json!({"isChecked": true})).await;
    assert_eq!(p.status, 200, "{}", p.text);
    assert_eq!(p.body["isChecked"], true);
    assert!(p.body["checkedDateTime"].is_string(), "{}", p.text);
    assert_eq!(s.get(&format!("{items}/{cid}"), &t).await.body["isChecked"], true);
    // The task is expanded with its checklist on request only; each item write changes the task.
    let plain = s.get(&format!("/me/todo/lists/{list}/tasks/{task_id}"), &t).await;
    assert!(plain.body.get("checklistItems").is_none(), "{}", plain.text);
    assert_ne!(present_str(&plain.body, "@odata.etag"), present_str(&task.body, "@odata.etag"));
    let expanded = s.get(&format!("/me/todo/lists/{list}/tasks/{task_id}?$expand=checklistItems"), &t).await;
    assert_eq!(expanded.body["checklistItems"].as_array().map(Vec::len), Some(2), "{}", expanded.text);
    assert_eq!(s.delete(&format!("{items}/{cid}"), &t).await.status, 204);
    s.get(&format!("{items}/{cid}"), &t).await.assert_error(404, "ErrorItemNotFound");
    s.delete(&format!("{items}/{cid}"), &t).await.assert_error(404, "ErrorItemNotFound");
    assert_eq!(s.get(&items, &t).await.body["value"].as_array().unwrap().len(), 1);
}

async fn tasks_filter_order_and_page(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, TASKS);
    let list = default_list(&s, &t).await;
    let tasks = format!("/me/todo/lists/{list}/tasks");
    for (title, status, importance, due) in [
        ("Alpha", "notStarted", "low", "2024-06-03T10:00:00"),
        ("Bravo", "completed", "high", "2024-06-01T10:00:00"),
        ("Charlie", "inProgress", "high", "2024-06-02T10:00:00"),
        ("Delta", "notStarted", "normal", "2024-06-04T10:00:00"),
    ] {
        let body = json!({"title": title, "status": status, "importance": importance,
                          "dueDateTime": {"dateTime": due, "timeZone": "UTC"}});
        assert_eq!(s.post(&tasks, &t, body).await.status, 201);
    }
    let q = |f: &str| format!("{tasks}?$filter={}", enc(f));
    assert_eq!(titles(&s.get(&q("status eq 'completed'"), &t).await.body), ["Bravo"]);
    assert_eq!(titles(&s.get(&q("status ne 'completed' and importance eq 'high'"), &t).await.body), ["Charlie"]);
    let r = s.get(&q("dueDateTime/dateTime ge '2024-06-03T00:00:00'"), &t).await;
    assert_eq!(titles(&r.body), ["Alpha", "Delta"], "{}", r.text);
    let r = s.get(&q("startswith(title, 'b')"), &t).await;
    assert_eq!(titles(&r.body), ["Bravo"], "{}", r.text);
    let r = s.get(&q("contains(title, 'ELT')"), &t).await;
    assert_eq!(titles(&r.body), ["Delta"], "{}", r.text);
    let r = s.get(&q("Status in ('inProgress', 'COMPLETED')"), &t).await;
    assert_eq!(titles(&r.body), ["Bravo", "Charlie"], "{}", r.text);
    s.get(&q("nope eq 1"), &t).await.assert_error(400, "BadRequest");
    let r = s.get(&format!("{tasks}?$orderby=dueDateTime/dateTime desc"), &t).await;
    assert_eq!(titles(&r.body), ["Delta", "Alpha", "Charlie", "Bravo"], "{}", r.text);
    // $top pages with a next link, to the end.
    let mut page = s.get(&format!("{tasks}?$orderby=title&$top=3&$count=true"), &t).await;
    assert_eq!(page.body["@odata.count"], 4);
    assert_eq!(titles(&page.body), ["Alpha", "Bravo", "Charlie"]);
    let next = page.body["@odata.nextLink"].as_str().unwrap_or_else(|| panic!("{}", page.text)).to_owned();
    page = s.get(&next, &t).await;
    assert_eq!(titles(&page.body), ["Delta"], "{}", page.text);
    assert!(page.body.get("@odata.nextLink").is_none());
    let n = s.get(&format!("{tasks}/$count?$filter={}", enc("importance eq 'high'")), &t).await;
    assert_eq!((n.status.as_u16(), n.text.as_str()), (200, "2"));
}

/// One master category, four kinds of items: `categories/any` finds each; deleting the master
/// category leaves the items' strings (and the filter) alone, as Outlook does.
async fn one_category_filter_across_contacts_messages_events_and_tasks(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s
        .token(&ada, "Tasks.ReadWrite Contacts.ReadWrite Mail.ReadWrite Calendars.ReadWrite MailboxSettings.ReadWrite");
    let cat = s.post("/me/outlook/masterCategories", &t, json!({"displayName": "Project X", "color": "preset1"})).await;
    assert_eq!(cat.status, 201, "{}", cat.text);
    let list = default_list(&s, &t).await;
    let tasks = format!("/me/todo/lists/{list}/tasks");
    s.post("/me/contacts", &t, json!({"givenName": "Pat", "categories": ["Project X"]})).await;
    s.post("/me/messages", &t, json!({"subject": "Tagged", "categories": ["project x"]})).await;
    let ev = json!({"subject": "Review", "categories": ["Project X"],
        "start": {"dateTime": "2024-05-01T09:00:00Z"}, "end": {"dateTime": "2024-05-01T10:00:00Z"}});
    assert_eq!(s.post("/me/events", &t, ev).await.status, 201);
    s.post(&tasks, &t, json!({"title": "Tagged task", "categories": ["Project X"]})).await;
    s.post(&tasks, &t, json!({"title": "Plain task"})).await;
    let q = format!("$filter={}", enc("categories/any(c:c eq 'Project X')"));
    let count = |r: &crate::common::Resp| r.body["value"].as_array().map(Vec::len);
    assert_eq!(count(&s.get(&format!("/me/contacts?{q}"), &t).await), Some(1));
    assert_eq!(count(&s.get(&format!("/me/messages?{q}"), &t).await), Some(1));
    assert_eq!(count(&s.get(&format!("/me/events?{q}"), &t).await), Some(1));
    assert_eq!(titles(&s.get(&format!("{tasks}?{q}"), &t).await.body), ["Tagged task"]);

    let cat_id = cat.body["id"].as_str().unwrap();
    assert_eq!(s.delete(&format!("/me/outlook/masterCategories/{cat_id}"), &t).await.status, 204);
    let r = s.get(&format!("{tasks}?{q}"), &t).await;
    assert_eq!(titles(&r.body), ["Tagged task"]);
    assert_eq!(r.body["value"][0]["categories"], json!(["Project X"]));
}

async fn task_delta_rounds_report_changes_and_removals(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, TASKS);
    let list = default_list(&s, &t).await;
    let tasks = format!("/me/todo/lists/{list}/tasks");
    let other =
        s.post("/me/todo/lists", &t, json!({"displayName": "Other"})).await.body["id"].as_str().unwrap().to_owned();
    s.post(&format!("/me/todo/lists/{other}/tasks"), &t, json!({"title": "Elsewhere"})).await;
    let a = s.post(&tasks, &t, json!({"title": "A"})).await.body["id"].as_str().unwrap().to_owned();
    let b = s.post(&tasks, &t, json!({"title": "B"})).await.body["id"].as_str().unwrap().to_owned();
    s.post(&tasks, &t, json!({"title": "C"})).await;

    // The first round pages (Prefer: odata.maxpagesize) and ends with a delta link.
    let mut seen = Vec::new();
    let first = s
        .send(reqwest::Method::GET, &format!("{tasks}/delta"), Some(&t), None, &[("Prefer", "odata.maxpagesize=2")])
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["@odata.context"], format!("{}/$metadata#Collection(todoTask)", s.base));
    seen.extend(titles(&first.body));
    let next = first.body["@odata.nextLink"].as_str().unwrap_or_else(|| panic!("{}", first.text)).to_owned();
    let second = s.get(&next, &t).await;
    seen.extend(titles(&second.body));
    assert_eq!(seen, ["A", "B", "C"]);
    let delta_link = second.body["@odata.deltaLink"].as_str().unwrap_or_else(|| panic!("{}", second.text)).to_owned();

    // Nothing changed: an empty round.
    let empty = s.get(&delta_link, &t).await;
    assert_eq!(empty.body["value"], json!([]), "{}", empty.text);

    // An update, a deletion and a checklist edit; another list's change does not show.
    s.patch(&format!("{tasks}/{a}"), &t, json!({"status": "completed"})).await;
    assert_eq!(s.delete(&format!("{tasks}/{b}"), &t).await.status, 204);
    s.post(&format!("/me/todo/lists/{other}/tasks"), &t, json!({"title": "Elsewhere 2"})).await;
    let round = s.get(&delta_link, &t).await;
    assert_eq!(round.status, 200, "{}", round.text);
    let value = round.body["value"].as_array().unwrap();
    assert_eq!(value.len(), 2, "{}", round.text);
    assert_eq!((value[0]["id"].as_str(), value[0]["status"].as_str()), (Some(a.as_str()), Some("completed")));
    assert_eq!(
        value[1],
        json!({"@odata.type": "#microsoft.graph.todoTask", "id": b, "@removed": {"reason": "deleted"}})
    );
    // `$select` and `changeType` hold for the rounds a token starts.
    let sel = s.get(&format!("{tasks}/delta?$select=title&changeType=updated"), &t).await;
    assert_eq!(sel.status, 200, "{}", sel.text);
    let link = sel.body["@odata.deltaLink"].as_str().unwrap().to_owned();
    s.patch(&format!("{tasks}/{a}"), &t, json!({"title": "A2"})).await;
    s.post(&tasks, &t, json!({"title": "D"})).await;
    let r = s.get(&link, &t).await;
    let keys: Vec<&str> = r.body["value"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        (r.body["value"].as_array().unwrap().len(), keys),
        (1, vec!["@odata.etag", "id", "title"]),
        "{}",
        r.text
    );
    // A token belongs to its list.
    let token = round.body["@odata.deltaLink"].as_str().unwrap().split("$deltatoken=").nth(1).unwrap().to_owned();
    let r = s.get(&format!("/me/todo/lists/{other}/tasks/delta?$deltatoken={token}"), &t).await;
    assert_eq!(r.status, 410, "{}", r.text);
}

async fn task_scopes_are_enforced(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let bob = s.user("bob@contoso.test").await;
    let none = s.token(&ada, "Contacts.ReadWrite Mail.ReadWrite Calendars.ReadWrite");
    s.get("/me/todo/lists", &none).await.assert_error(403, "ErrorAccessDenied");
    let read = s.token(&ada, "Tasks.Read");
    let list = default_list(&s, &read).await;
    assert_eq!(s.get(&format!("/me/todo/lists/{list}/tasks"), &read).await.status, 200);
    assert_eq!(s.get(&format!("/me/todo/lists/{list}/tasks/delta"), &read).await.status, 200);
    s.post("/me/todo/lists", &read, json!({"displayName": "x"})).await.assert_error(403, "ErrorAccessDenied");
    s.post(&format!("/me/todo/lists/{list}/tasks"), &read, json!({"title": "x"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    // Someone else's tasks: never with delegated scopes, whatever mailbox grant the caller holds.
    let full = s.token(&ada, "Tasks.ReadWrite Contacts.ReadWrite.Shared");
    s.get(&format!("/users/{}/todo/lists", bob.id), &full).await.assert_error(403, "ErrorAccessDenied");
    s.store.set_mailbox_grant(&bob.mailbox, &ada.id, Some(rolo_domain::Grant::Write)).await.unwrap();
    s.get(&format!("/users/{}/todo/lists", bob.id), &full).await.assert_error(403, "ErrorAccessDenied");
    assert_eq!(s.get(&format!("/users/{}/todo/lists", ada.id), &full).await.status, 200);
    // Apps: Tasks.Read.All reads anyone's, Tasks.ReadWrite.All writes; the delegated names do not count.
    let app_read = s.authority.issue_app_token("app-1", &["Tasks.Read.All".to_owned()], 3600).unwrap();
    let bob_lists = s.get(&format!("/users/{}/todo/lists", bob.id), &app_read).await;
    assert_eq!(bob_lists.status, 200, "{}", bob_lists.text);
    s.post(&format!("/users/{}/todo/lists", bob.id), &app_read, json!({"displayName": "x"}))
        .await
        .assert_error(403, "ErrorAccessDenied");
    let app_write = s.authority.issue_app_token("app-2", &["Tasks.ReadWrite.All".to_owned()], 3600).unwrap();
    let bob_list = bob_lists.body["value"][0]["id"].as_str().unwrap().to_owned();
    let r = s
        .post(&format!("/users/{}/todo/lists/{bob_list}/tasks", bob.id), &app_write, json!({"title": "From app"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let delegated_names = s.authority.issue_app_token("app-3", &["Tasks.ReadWrite".to_owned()], 3600).unwrap();
    s.get(&format!("/users/{}/todo/lists", bob.id), &delegated_names).await.assert_error(403, "ErrorAccessDenied");
    // /me needs a user.
    s.get("/me/todo/lists", &app_write).await.assert_error(400, "BadRequest");
}

/// Removing a user removes its lists and tasks with the rest of its mailbox.
async fn removing_a_user_removes_its_tasks(s: TestServer) {
    let ada = s.user("ada@contoso.test").await;
    let t = s.token(&ada, TASKS);
    let list = default_list(&s, &t).await;
    let task = s.post(&format!("/me/todo/lists/{list}/tasks"), &t, json!({"title": "T", "categories": ["X"]})).await;
    let task = task.body["id"].as_str().unwrap().to_owned();
    assert!(s.store.get_task(&ada.mailbox, &list, &task).await.unwrap().is_some());
    assert!(s.store.remove_user(&ada.id).await.unwrap());
    let gone = s.store.get_task(&ada.mailbox, &list, &task).await.unwrap_err();
    assert_eq!(gone.code, "ErrorItemNotFound");
}

both_backends!(
    removing_a_user_removes_its_tasks,
    lists_are_created_renamed_and_deleted,
    tasks_are_created_read_patched_and_deleted,
    checklist_items_are_managed,
    tasks_filter_order_and_page,
    one_category_filter_across_contacts_messages_events_and_tasks,
    task_delta_rounds_report_changes_and_removals,
    task_scopes_are_enforced,
);
