//! Microsoft 365 groups and their conversations: the group, conversation, conversationThread
//! and post shapes, the rules for writing a post, and who may read and post (Graph's
//! `Group.*` and `Group-Conversation.*` permissions, then membership). No I/O here.
//!
//! A group is a directory object with a mailbox of its own (its master categories, its
//! conversations); a conversation holds threads, a thread holds posts. Posts are items of kind
//! `Post` filed under their thread.

use serde_json::{json, Map, Value};

use crate::access::Principal;
use crate::error::{GraphError, GraphResult};
use crate::mail::{categories, item_body, recipients, Item};
use crate::projection::etag;

pub const GROUP_TYPE: &str = "microsoft.graph.group";
pub const POST_TYPE: &str = "microsoft.graph.post";

/// The post properties Rolo serves, in Graph's order (the filter vocabulary).
pub const POST_PROPERTIES: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "hasAttachments",
    "body",
    "from",
    "sender",
    "conversationThreadId",
    "conversationId",
    "newParticipants",
];

/// A Microsoft 365 group as the directory keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub mail: String,
    pub mail_nickname: String,
    pub description: String,
    /// `Public` or `Private`.
    pub visibility: String,
    pub created: String,
}

/// A conversation thread, with what Graph shows of its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub id: String,
    pub conversation_id: String,
    pub topic: String,
    pub last_delivered: String,
    pub preview: String,
    /// Display names of the thread's senders, first post first.
    pub senders: Vec<String>,
}

/// A group as `/groups/{id}` shows it.
pub fn group_json(g: &Group) -> Value {
    json!({
        "id": g.id,
        "deletedDateTime": null,
        "classification": null,
        "createdDateTime": g.created,
        "creationOptions": [],
        "description": if g.description.is_empty() { Value::Null } else { json!(g.description) },
        "displayName": g.display_name,
        "expirationDateTime": null,
        "groupTypes": ["Unified"],
        "isAssignableToRole": null,
        "mail": g.mail,
        "mailEnabled": true,
        "mailNickname": g.mail_nickname,
        "membershipRule": null,
        "membershipRuleProcessingState": null,
        "preferredDataLocation": null,
        "preferredLanguage": null,
        "proxyAddresses": [format!("SMTP:{}", g.mail)],
        "renewedDateTime": g.created,
        "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": [],
        "securityEnabled": false,
        "theme": null,
        "visibility": g.visibility,
    })
}

/// A group in a collection of directory objects (`/me/memberOf`): typed, since such a
/// collection may mix kinds.
pub fn group_object_json(g: &Group) -> Value {
    let mut v = group_json(g);
    if let Value::Object(m) = &mut v {
        let mut out = Map::new();
        out.insert("@odata.type".into(), json!(format!("#{GROUP_TYPE}")));
        out.append(m);
        return Value::Object(out);
    }
    v
}

/// A conversation (one per thread here: a conversation's first thread carries its topic).
pub fn conversation_json(t: &Thread) -> Value {
    json!({
        "id": t.conversation_id,
        "topic": t.topic,
        "hasAttachments": false,
        "lastDeliveredDateTime": t.last_delivered,
        "uniqueSenders": t.senders,
        "preview": t.preview,
    })
}

/// A thread; it is addressed to its group (`toRecipients`).
pub fn thread_json(t: &Thread, g: &Group) -> Value {
    json!({
        "id": t.id,
        "toRecipients": [{"emailAddress": {"name": g.display_name, "address": g.mail}}],
        "topic": t.topic,
        "hasAttachments": false,
        "lastDeliveredDateTime": t.last_delivered,
        "uniqueSenders": t.senders,
        "ccRecipients": [],
        "preview": t.preview,
        "isLocked": false,
    })
}

/// A post as v1.0 shows it; `select` limits it (`id` always shown).
pub fn post_json(item: &Item, select: Option<&[String]>) -> Value {
    let d = &item.doc;
    let get = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("@odata.etag".into(), json!(etag(&item.change_key)));
    for name in POST_PROPERTIES {
        if let Some(sel) = select {
            if *name != "id" && !sel.iter().any(|s| s == name) {
                continue;
            }
        }
        let v = match *name {
            "id" => json!(item.id),
            "createdDateTime" => json!(item.created),
            "lastModifiedDateTime" => json!(item.modified),
            "changeKey" => json!(item.change_key),
            "categories" => d.get("categories").cloned().unwrap_or_else(|| json!([])),
            "hasAttachments" => json!(false),
            "newParticipants" => d.get("newParticipants").cloned().unwrap_or_else(|| json!([])),
            "conversationThreadId" => json!(item.folder),
            other => get(other),
        };
        out.insert((*name).to_owned(), v);
    }
    Value::Object(out)
}

/// Reads a post a client sends (a new thread's first post, or a reply) into a document:
/// `body`, `categories`, `newParticipants`. The sender (`from`, `sender`) is the caller, set by
/// [`stamp_post`]; server-managed properties are refused.
pub fn apply_post(doc: &mut Map<String, Value>, body: &Value) -> GraphResult<()> {
    let obj =
        body.as_object().ok_or_else(|| GraphError::bad_request("RequestBodyRead", "A post must be a JSON object."))?;
    for (key, value) in obj {
        let k = key.as_str();
        let stored = match k {
            "body" => item_body(k, value)?,
            "categories" => categories(k, value)?,
            "newParticipants" => recipients(k, value)?,
            // Graph takes these from the signed-in sender and the delivery.
            "from" | "sender" | "receivedDateTime" => continue,
            "id"
            | "createdDateTime"
            | "lastModifiedDateTime"
            | "changeKey"
            | "conversationId"
            | "conversationThreadId"
            | "hasAttachments" => return Err(GraphError::read_only_property(k)),
            k if k.starts_with("@odata.") => continue,
            _ => return Err(GraphError::unknown_property(k, POST_TYPE)),
        };
        doc.insert(key.clone(), stored);
    }
    Ok(())
}

/// Stamps a new post with its sender and delivery: the caller's name and address (for an app,
/// the group's), the thread and conversation it belongs to, the time it arrived.
pub fn stamp_post(doc: &mut Map<String, Value>, sender: (&str, &str), conversation: &str, now: &str) {
    let who = json!({"emailAddress": {"name": sender.0, "address": sender.1}});
    doc.insert("from".into(), who.clone());
    doc.insert("sender".into(), who);
    doc.insert("conversationId".into(), json!(conversation));
    doc.insert("receivedDateTime".into(), json!(now));
}

/// The preview of a post's body (the thread's and conversation's `preview`).
pub fn post_preview(doc: &Map<String, Value>) -> String {
    crate::mail::body_preview(doc.get("body"))
}

/// The topic of a new thread or conversation: required, plain text.
pub fn topic(body: &Value) -> GraphResult<String> {
    match body.get("topic") {
        Some(Value::String(t)) if !t.trim().is_empty() => Ok(t.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(GraphError::bad_request("ErrorInvalidRequest", "A conversation needs a topic."))
        }
        Some(_) => Err(GraphError::wrong_type("topic", "Edm.String")),
    }
}

/// What a group request does, for the permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOp {
    /// `/groups`, `/groups/{id}`.
    ReadGroup,
    /// `/groups/{id}/members`, `/users/{id}/memberOf`.
    ReadMembers,
    /// `/me/memberOf`: the signed-in user's own memberships.
    ReadOwnMemberships,
    /// Reading conversations, threads and posts.
    ReadConversations,
    /// Starting a conversation or a thread: delegated only, as on Graph.
    StartThread,
    /// Replying to a thread or a post.
    Reply,
}

fn has_any(p: &Principal, scopes: &[&str]) -> bool {
    p.scopes.iter().any(|s| scopes.iter().any(|w| s.eq_ignore_ascii_case(w)))
}

/// Checks the permissions Graph asks for a group request. Delegated and application
/// permissions carry the same names here; for conversations a delegated caller must also be a
/// member ([`require_member`]).
pub fn require(p: &Principal, op: GroupOp) -> GraphResult<()> {
    const GROUP_READ: &[&str] =
        &["Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"];
    const MEMBERS: &[&str] = &[
        "User.ReadBasic.All",
        "User.Read.All",
        "GroupMember.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ];
    const CONVERSATION_READ: &[&str] =
        &["Group-Conversation.Read.All", "Group-Conversation.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All"];
    const CONVERSATION_WRITE: &[&str] = &["Group-Conversation.ReadWrite.All", "Group.ReadWrite.All"];
    let ok = match op {
        GroupOp::ReadGroup => has_any(p, GROUP_READ),
        GroupOp::ReadMembers => has_any(p, MEMBERS),
        GroupOp::ReadOwnMemberships => {
            !p.is_app() && (has_any(p, &["User.Read", "User.ReadWrite"]) || has_any(p, MEMBERS))
        }
        GroupOp::ReadConversations => has_any(p, CONVERSATION_READ),
        // Graph documents no application permission for starting conversations and threads.
        GroupOp::StartThread => !p.is_app() && has_any(p, CONVERSATION_WRITE),
        GroupOp::Reply => has_any(p, CONVERSATION_WRITE),
    };
    if ok {
        Ok(())
    } else {
        Err(GraphError::access_denied())
    }
}

/// Only a group's members read and post in its conversations; an app with the permission
/// reaches every group.
pub fn require_member(p: &Principal, is_member: bool) -> GraphResult<()> {
    if p.is_app() || is_member {
        Ok(())
    } else {
        Err(GraphError::access_denied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(scopes: &[&str], app: bool) -> Principal {
        Principal {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            user_id: (!app).then(|| "u".to_owned()),
            app_id: Some("a".into()),
            app_only: app,
        }
    }

    #[test]
    fn permissions_follow_graph() {
        let read = p(&["Group.Read.All"], false);
        assert!(require(&read, GroupOp::ReadGroup).is_ok());
        assert!(require(&read, GroupOp::ReadConversations).is_ok());
        assert!(require(&read, GroupOp::Reply).is_err());
        let conv = p(&["Group-Conversation.ReadWrite.All"], true);
        assert!(require(&conv, GroupOp::Reply).is_ok());
        // Apps reply but do not start threads.
        assert!(require(&conv, GroupOp::StartThread).is_err());
        assert!(require(&p(&["Group-Conversation.ReadWrite.All"], false), GroupOp::StartThread).is_ok());
        assert!(require(&conv, GroupOp::ReadGroup).is_err());
        assert!(require(&p(&["User.Read"], false), GroupOp::ReadOwnMemberships).is_ok());
        assert!(require(&p(&["User.Read"], false), GroupOp::ReadMembers).is_err());
        assert!(require_member(&read, false).is_err());
        assert!(require_member(&conv, false).is_ok());
    }

    #[test]
    fn posts_take_body_categories_and_participants_only() {
        let mut d = Map::new();
        apply_post(&mut d, &json!({"body": {"contentType": "text", "content": "Hi"}, "categories": ["Red"]})).unwrap();
        assert_eq!(d["categories"], json!(["Red"]));
        assert_eq!(apply_post(&mut d, &json!({"id": "x"})).unwrap_err().code, "ErrorInvalidProperty");
        assert_eq!(apply_post(&mut d, &json!({"nope": 1})).unwrap_err().code, "RequestBodyRead");
        stamp_post(&mut d, ("Ada", "ada@x.test"), "c1", "2024-01-01T00:00:00Z");
        assert_eq!(d["from"]["emailAddress"]["address"], "ada@x.test");
        assert_eq!(post_preview(&d), "Hi");
    }
}
