//! Microsoft To Do: task lists (`todoTaskList`), tasks (`todoTask`) and their checklist items
//! (`checklistItem`). A task is stored like a message or event (an [`Item`] whose folder is its
//! list's id), so it shares their filter compiler, category side table and change log; its
//! checklist items live inside its document, so editing one is a versioned edit of the task.
//! This module owns validation and the v1.0 projections.

use serde_json::{json, Map, Value};

use crate::contact::opt_string;
use crate::error::{GraphError, GraphResult};
use crate::ids::ContactId;
use crate::mail::{categories, enum_value, item_body, Item};
use crate::projection::etag;

pub const TASK_TYPE: &str = "microsoft.graph.todoTask";
pub const LIST_TYPE: &str = "microsoft.graph.todoTaskList";
pub const CHECKLIST_TYPE: &str = "microsoft.graph.checklistItem";

/// Graph's `taskStatus` values.
pub const STATUSES: &[&str] = &["notStarted", "inProgress", "completed", "waitingOnOthers", "deferred"];
const IMPORTANCES: &[&str] = &["low", "normal", "high"];

/// The `dateTimeTimeZone` properties of a task, in Graph's order.
pub const TASK_DATES: &[&str] = &["dueDateTime", "startDateTime", "reminderDateTime", "completedDateTime"];

/// The v1.0 property names of a task, in Graph's order.
pub const TASK_PROPERTIES: &[&str] = &[
    "id",
    "title",
    "body",
    "importance",
    "status",
    "categories",
    "isReminderOn",
    "createdDateTime",
    "lastModifiedDateTime",
    "bodyLastModifiedDateTime",
    "hasAttachments",
    "dueDateTime",
    "startDateTime",
    "reminderDateTime",
    "completedDateTime",
    "checklistItems",
];

/// The most checklist items a task holds (To Do's own limit in its apps).
pub const MAX_CHECKLIST_ITEMS: usize = 100;

/// A task list. Every mailbox has exactly one default list (`wellknownListName: defaultList`),
/// made on first use; it can be neither renamed nor deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoList {
    pub id: String,
    pub display_name: String,
    pub is_default: bool,
    pub change_key: String,
    pub created: String,
    pub modified: String,
}

/// The default list's name, as To Do names it for English mailboxes.
pub const DEFAULT_LIST_NAME: &str = "Tasks";

fn invalid(code: &'static str, message: impl Into<String>) -> GraphError {
    GraphError::bad_request(code, message)
}

fn body_object(body: &Value) -> GraphResult<&Map<String, Value>> {
    body.as_object().ok_or_else(|| invalid("RequestBodyRead", "The request body must be a JSON object."))
}

/// The `displayName` of a list body (create: required; update: the only writable property).
pub fn list_display_name(body: &Value) -> GraphResult<Option<String>> {
    let mut name = None;
    for (k, v) in body_object(body)? {
        match k.as_str() {
            "displayName" => name = opt_string(k, v)?,
            "id" | "isOwner" | "isShared" | "wellknownListName" => return Err(GraphError::read_only_property(k)),
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, LIST_TYPE)),
        }
    }
    match name {
        Some(n) if n.trim().is_empty() => Err(invalid("invalidRequest", "A task list needs a displayName.")),
        Some(n) if n.chars().count() > 255 => {
            Err(invalid("invalidRequest", "A task list's displayName holds at most 255 characters."))
        }
        n => Ok(n),
    }
}

pub fn list_json(list: &TodoList) -> Value {
    json!({
        "@odata.etag": etag(&list.change_key),
        "displayName": list.display_name,
        "isOwner": true,
        "isShared": false,
        "wellknownListName": if list.is_default { "defaultList" } else { "none" },
        "id": list.id,
    })
}

/// Applies a task body to `doc`: `now` stamps `completedDateTime` when the status becomes
/// `completed` without one, as To Do does; any other status clears it.
pub fn apply_task(doc: &mut Map<String, Value>, body: &Value, now: &str) -> GraphResult<()> {
    let before = doc.get("status").cloned();
    for (key, value) in body_object(body)? {
        let k = key.as_str();
        if k.starts_with("@odata.") {
            continue;
        }
        let stored = match k {
            "id" | "createdDateTime" | "lastModifiedDateTime" | "bodyLastModifiedDateTime" | "hasAttachments" => {
                return Err(GraphError::read_only_property(k))
            }
            "title" => match opt_string(k, value)? {
                Some(t) if t.chars().count() > 255 => {
                    return Err(invalid("invalidRequest", "A task's title holds at most 255 characters."))
                }
                t => json!(t.unwrap_or_default()),
            },
            "body" => {
                doc.insert("bodyLastModifiedDateTime".into(), json!(now));
                match value {
                    Value::Null => Value::Null,
                    v => item_body(k, v)?,
                }
            }
            "importance" => enum_value(k, value, IMPORTANCES, "microsoft.graph.importance")?,
            "status" => enum_value(k, value, STATUSES, "microsoft.graph.taskStatus")?,
            "categories" => categories(k, value)?,
            "isReminderOn" => json!(value.as_bool().ok_or_else(|| GraphError::wrong_type(k, "Edm.Boolean"))?),
            "dueDateTime" | "startDateTime" | "reminderDateTime" | "completedDateTime" => match value {
                Value::Null => Value::Null,
                v => crate::flag::date_time_time_zone(k, v)?,
            },
            "checklistItems" => {
                let Value::Array(items) = value else {
                    return Err(GraphError::wrong_type(k, "Collection(microsoft.graph.checklistItem)"));
                };
                if items.len() > MAX_CHECKLIST_ITEMS {
                    return Err(too_many_checklist_items());
                }
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let mut c = Map::new();
                    new_checklist_item(&mut c, item, now)?;
                    out.push(Value::Object(c));
                }
                Value::Array(out)
            }
            _ => return Err(GraphError::unknown_property(k, TASK_TYPE)),
        };
        if stored.is_null() {
            doc.remove(k);
        } else {
            doc.insert(k.to_owned(), stored);
        }
    }
    let after = doc.get("status").cloned();
    let explicit_completion = body.get("completedDateTime").is_some_and(|v| !v.is_null());
    if after != before || explicit_completion {
        if after.as_ref().and_then(Value::as_str) == Some("completed") {
            doc.entry("completedDateTime").or_insert_with(|| utc(now));
        } else if !explicit_completion {
            doc.remove("completedDateTime");
        }
    }
    Ok(())
}

/// `now` (a Graph timestamp) as a UTC `dateTimeTimeZone`.
fn utc(now: &str) -> Value {
    json!({"dateTime": format!("{}.0000000", now.trim_end_matches('Z')), "timeZone": "UTC"})
}

fn too_many_checklist_items() -> GraphError {
    invalid("invalidRequest", format!("A task holds at most {MAX_CHECKLIST_ITEMS} checklist items."))
}

/// Applies a checklist item body to `item`; a new item (no `id` yet) gets its id and creation
/// time, and `displayName` is required.
fn write_checklist_item(item: &mut Map<String, Value>, body: &Value, now: &str) -> GraphResult<()> {
    for (k, v) in body_object(body)? {
        match k.as_str() {
            "displayName" => {
                let name = opt_string(k, v)?.unwrap_or_default();
                if name.chars().count() > 255 {
                    return Err(invalid(
                        "invalidRequest",
                        "A checklist item's displayName holds at most 255 characters.",
                    ));
                }
                item.insert("displayName".into(), json!(name));
            }
            "isChecked" => {
                let checked = v.as_bool().ok_or_else(|| GraphError::wrong_type(k, "Edm.Boolean"))?;
                if checked && item.get("isChecked") != Some(&json!(true)) {
                    item.insert("checkedDateTime".into(), json!(now));
                } else if !checked {
                    item.remove("checkedDateTime");
                }
                item.insert("isChecked".into(), json!(checked));
            }
            "id" | "createdDateTime" | "checkedDateTime" => return Err(GraphError::read_only_property(k)),
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, CHECKLIST_TYPE)),
        }
    }
    Ok(())
}

/// Validates a new checklist item into `item`, giving it an id.
pub fn new_checklist_item(item: &mut Map<String, Value>, body: &Value, now: &str) -> GraphResult<()> {
    item.insert("isChecked".into(), json!(false));
    write_checklist_item(item, body, now)?;
    if item.get("displayName").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
        return Err(invalid("invalidRequest", "A checklist item needs a displayName."));
    }
    item.insert("id".into(), json!(ContactId::generate().to_string()));
    item.insert("createdDateTime".into(), json!(now));
    Ok(())
}

/// Validates a checklist item body without applying it (before the store's transaction).
pub fn check_checklist_patch(body: &Value) -> GraphResult<()> {
    write_checklist_item(&mut Map::new(), body, "")
}

fn checklist_mut(doc: &mut Map<String, Value>) -> &mut Vec<Value> {
    let entry = doc.entry("checklistItems").or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    match entry {
        Value::Array(items) => items,
        _ => unreachable!("just made an array"),
    }
}

/// Adds a checklist item to a task's document; returns it.
pub fn add_checklist_item(doc: &mut Map<String, Value>, body: &Value, now: &str) -> GraphResult<Value> {
    let mut item = Map::new();
    new_checklist_item(&mut item, body, now)?;
    let items = checklist_mut(doc);
    if items.len() >= MAX_CHECKLIST_ITEMS {
        return Err(too_many_checklist_items());
    }
    items.push(Value::Object(item.clone()));
    Ok(Value::Object(item))
}

/// Updates one checklist item of a task's document; returns it.
pub fn update_checklist_item(doc: &mut Map<String, Value>, id: &str, body: &Value, now: &str) -> GraphResult<Value> {
    let item = checklist_mut(doc)
        .iter_mut()
        .find(|c| c["id"] == id)
        .and_then(Value::as_object_mut)
        .ok_or_else(GraphError::item_not_found)?;
    write_checklist_item(item, body, now)?;
    Ok(Value::Object(item.clone()))
}

/// Removes one checklist item of a task's document.
pub fn delete_checklist_item(doc: &mut Map<String, Value>, id: &str) -> GraphResult<()> {
    let items = checklist_mut(doc);
    let before = items.len();
    items.retain(|c| c["id"] != id);
    if items.len() == before {
        return Err(GraphError::item_not_found());
    }
    Ok(())
}

/// The checklist items of a stored task.
pub fn checklist_items(item: &Item) -> Vec<Value> {
    item.doc.get("checklistItems").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// A checklist item as v1.0 shows it.
pub fn checklist_json(c: &Value) -> Value {
    let mut out = Map::new();
    out.insert("displayName".into(), c.get("displayName").cloned().unwrap_or_else(|| json!("")));
    out.insert("createdDateTime".into(), c.get("createdDateTime").cloned().unwrap_or(Value::Null));
    if let Some(at) = c.get("checkedDateTime") {
        out.insert("checkedDateTime".into(), at.clone());
    }
    out.insert("isChecked".into(), c.get("isChecked").cloned().unwrap_or(json!(false)));
    out.insert("id".into(), c.get("id").cloned().unwrap_or(Value::Null));
    Value::Object(out)
}

/// A task as v1.0 shows it. Unset dates are left out, as To Do does; checklist items only with
/// `expand_checklist` (`$expand=checklistItems`); `select` (property names) limits it.
pub fn task_json(item: &Item, select: Option<&[String]>, expand_checklist: bool) -> Value {
    let d = &item.doc;
    let get = |k: &str| d.get(k).cloned();
    let mut out = Map::new();
    out.insert("@odata.etag".into(), json!(etag(&item.change_key)));
    for name in TASK_PROPERTIES {
        if let Some(sel) = select {
            if *name != "id" && !sel.iter().any(|s| s == name) {
                continue;
            }
        }
        let v = match *name {
            "id" => json!(item.id),
            "title" => get("title").unwrap_or_else(|| json!("")),
            "body" => get("body").unwrap_or_else(|| json!({"content": "", "contentType": "text"})),
            "importance" => get("importance").unwrap_or_else(|| json!("normal")),
            "status" => get("status").unwrap_or_else(|| json!("notStarted")),
            "categories" => get("categories").unwrap_or_else(|| json!([])),
            "isReminderOn" => get("isReminderOn").unwrap_or(json!(false)),
            "createdDateTime" => json!(item.created),
            "lastModifiedDateTime" => json!(item.modified),
            "bodyLastModifiedDateTime" => get("bodyLastModifiedDateTime").unwrap_or_else(|| json!(item.created)),
            "hasAttachments" => json!(false),
            "checklistItems" if expand_checklist => {
                Value::Array(checklist_items(item).iter().map(checklist_json).collect())
            }
            "checklistItems" => continue,
            date => match get(date) {
                Some(v) => v,
                None => continue,
            },
        };
        out.insert((*name).to_owned(), v);
    }
    Value::Object(out)
}

/// A task's date property as a sortable UTC timestamp (the key column its filters use).
pub fn task_instant(doc: &Map<String, Value>, key: &str) -> Option<String> {
    crate::mail::event_instant(doc.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completing_a_task_stamps_it() {
        let mut d = Map::new();
        apply_task(&mut d, &json!({"title": "T", "status": "Completed"}), "2024-01-01T10:00:00Z").unwrap();
        assert_eq!(d["status"], "completed");
        assert_eq!(d["completedDateTime"], json!({"dateTime": "2024-01-01T10:00:00.0000000", "timeZone": "UTC"}));
        apply_task(&mut d, &json!({"status": "inProgress"}), "2024-01-02T10:00:00Z").unwrap();
        assert!(!d.contains_key("completedDateTime"));
        assert_eq!(apply_task(&mut d, &json!({"status": "done"}), "x").unwrap_err().code, "RequestBodyRead");
        assert_eq!(apply_task(&mut d, &json!({"id": "x"}), "x").unwrap_err().code, "ErrorInvalidProperty");
    }

    #[test]
    fn checklist_items_round_trip() {
        let mut d = Map::new();
        let c = add_checklist_item(&mut d, &json!({"displayName": "A"}), "t1").unwrap();
        let id = c["id"].as_str().unwrap().to_owned();
        let c = update_checklist_item(&mut d, &id, &json!({"isChecked": true}), "t2").unwrap();
        assert_eq!(c["checkedDateTime"], "t2");
        assert!(add_checklist_item(&mut d, &json!({}), "t").is_err());
        delete_checklist_item(&mut d, &id).unwrap();
        assert_eq!(delete_checklist_item(&mut d, &id).unwrap_err().code, "ErrorItemNotFound");
    }
}
