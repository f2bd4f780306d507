//! Seeding from a JSON document: users (with their shared-mailbox flag and delegates), nested
//! contact folders, contacts in Graph's v1.0 shape, master categories, mail, events, To Do
//! lists and tasks, and Microsoft 365 groups with their conversations. The emulator's
//! well-known data set (`seeds/contoso.json`) and `POST /rolo/admin/seed` both go through here.
//!
//! ```json
//! {"users": [{"userPrincipalName": "a@contoso.com", "displayName": "A", "shared": false, "password": "...",
//!   "contacts": [{...}], "contactFolders": [{"displayName": "F", "contacts": [], "childFolders": []}],
//!   "categories": [{"displayName": "Red", "color": "preset0"}],
//!   "delegates": [{"userPrincipalName": "b@contoso.com", "role": "read"}],
//!   "messages": [{"parentFolderId": "inbox", "from": {...}, "receivedDateTime": "...", ...}],
//!   "events": [{"subject": "S", "start": {...}, "end": {...}, "attendees": [...]}],
//!   "todo": [{"wellknownListName": "defaultList", "tasks": [{"title": "T", ...}]},
//!            {"displayName": "Travel", "tasks": [...]}]}],
//!  "groups": [{"displayName": "Sales", "mail": "sales@contoso.com", "description": "...",
//!    "visibility": "Public", "members": ["a@contoso.com"],
//!    "categories": [{"displayName": "Red", "color": "preset0"}],
//!    "conversations": [{"topic": "Q3", "posts": [{"from": "a@contoso.com", "body": {...},
//!      "categories": ["Red"]}]}]}]}
//! ```
//!
//! A `todo` list with `"wellknownListName": "defaultList"` fills the user's default list; any
//! other is a new list. Tasks take Graph's `todoTask` body. Groups come after every user, so
//! their members may be any seeded user; a conversation's first post starts its thread, the
//! others reply to it, each from the member `from` names.
//!
//! A message goes to `parentFolderId` (`inbox`, `drafts` or `sentitems`; by default the inbox
//! when it has a `receivedDateTime`, else drafts); sent mail is from the user unless it says
//! otherwise.

use rolo_domain::mail::{self, ItemKind, MailFolder, MessageWrite, CALENDAR_FOLDER};
use rolo_domain::{ContactData, FolderId, Grant, GraphError, GraphResult};
use rolo_store::{Mailbox, Store, User};
use serde_json::{json, Value};

/// The emulator's well-known data set: three Contoso users with folders and contacts.
pub const CONTOSO: &str = include_str!("../seeds/contoso.json");

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("BadRequest", message)
}

fn list<'v>(v: &'v Value, key: &str) -> GraphResult<&'v [Value]> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(bad(format!("'{key}' must be an array."))),
    }
}

fn text<'v>(v: &'v Value, key: &str) -> GraphResult<&'v str> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| bad(format!("'{key}' is required.")))
}

/// What a seed created, for the caller's report.
#[derive(Debug, Default)]
pub struct Seeded {
    pub users: Vec<User>,
    pub folders: usize,
    pub contacts: usize,
    pub messages: usize,
    pub events: usize,
    pub tasks: usize,
    pub groups: usize,
    pub posts: usize,
}

impl Seeded {
    pub fn to_json(&self) -> Value {
        json!({
            "users": self.users.iter().map(|u| json!({"id": u.id, "userPrincipalName": u.user_principal_name})).collect::<Vec<_>>(),
            "folders": self.folders,
            "contacts": self.contacts,
            "messages": self.messages,
            "events": self.events,
            "tasks": self.tasks,
            "groups": self.groups,
            "posts": self.posts,
        })
    }
}

/// Adds what `doc` describes to the store. Users that exist already are an error (a seed adds).
pub async fn seed(store: &dyn Store, doc: &Value) -> GraphResult<Seeded> {
    let mut out = Seeded::default();
    let users = list(doc, "users")?;
    for u in users {
        let upn = text(u, "userPrincipalName")?;
        let name = u.get("displayName").and_then(Value::as_str).unwrap_or(upn);
        let user = match u.get("id").and_then(Value::as_str) {
            Some(id) => store.create_user_with_id(id, upn, name).await?,
            None => store.create_user(upn, name).await?,
        };
        if u.get("shared").and_then(Value::as_bool) == Some(true) {
            store.mark_shared_mailbox(&user.id).await?;
        }
        // A password, for the token endpoint's password grant and the sign-in page.
        if let Some(password) = u.get("password").and_then(Value::as_str) {
            crate::credentials::set_password(store, &user, password).await?;
        }
        let mb = user.mailbox.clone();
        out.contacts += contacts(store, &mb, &mb.default_folder_id, list(u, "contacts")?).await?;
        folders(store, &mb, &mb.default_folder_id, list(u, "contactFolders")?, &mut out).await?;
        for c in list(u, "categories")? {
            let color = rolo_domain::category::parse_color(c.get("color").and_then(Value::as_str).unwrap_or("none"))?;
            store.create_category(&mb, text(c, "displayName")?, &color).await?;
        }
        out.messages += messages(store, &user, list(u, "messages")?).await?;
        out.events += events(store, &user, list(u, "events")?).await?;
        out.tasks += todo(store, &mb, list(u, "todo")?).await?;
        out.users.push(user);
    }
    // Delegates last, so they may name users seeded after their owner.
    for u in users {
        let owner = store.find_user(text(u, "userPrincipalName")?).await?.ok_or_else(|| bad("seeded user vanished"))?;
        for d in list(u, "delegates")? {
            let who = text(d, "userPrincipalName")?;
            let delegate = store.find_user(who).await?.ok_or_else(|| bad(format!("unknown delegate '{who}'")))?;
            let role = d.get("role").and_then(Value::as_str).unwrap_or("write");
            let grant = Grant::parse(role).ok_or_else(|| bad(format!("'{role}' is not a role: use read or write")))?;
            store.set_mailbox_grant(&owner.mailbox, &delegate.id, Some(grant)).await?;
        }
    }
    for g in list(doc, "groups")? {
        group(store, g, &mut out).await?;
    }
    Ok(out)
}

/// A user's To Do lists and their tasks.
async fn todo(store: &dyn Store, mb: &Mailbox, lists: &[Value]) -> GraphResult<usize> {
    let mut n = 0;
    for l in lists {
        let target = if l.get("wellknownListName").and_then(Value::as_str) == Some("defaultList") {
            let all = store.todo_lists(mb).await?;
            all.into_iter().find(|x| x.is_default).ok_or_else(|| bad("no default task list"))?
        } else {
            store.create_todo_list(mb, text(l, "displayName")?.to_owned()).await?
        };
        for t in list(l, "tasks")? {
            let mut doc = serde_json::Map::new();
            rolo_domain::todo::apply_task(&mut doc, t, &rolo_domain::time::now_utc())?;
            store.create_task(mb, &target.id, doc).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// A Microsoft 365 group: its members, master categories and conversations.
async fn group(store: &dyn Store, g: &Value, out: &mut Seeded) -> GraphResult<()> {
    let mut members = Vec::new();
    for m in list(g, "members")? {
        let upn = m.as_str().ok_or_else(|| bad("'members' holds user principal names."))?;
        members.push(store.find_user(upn).await?.ok_or_else(|| bad(format!("unknown member '{upn}'")))?);
    }
    let text_or = |k: &str| g.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let made = store
        .create_group(rolo_store::NewGroup {
            display_name: text(g, "displayName")?.to_owned(),
            mail: text(g, "mail")?.to_owned(),
            description: text_or("description"),
            visibility: text_or("visibility"),
            members: members.iter().map(|m| m.id.clone()).collect(),
        })
        .await?;
    out.groups += 1;
    let mb = store.find_user(&made.id).await?.ok_or_else(|| bad("seeded group vanished"))?.mailbox;
    for c in list(g, "categories")? {
        let color = rolo_domain::category::parse_color(c.get("color").and_then(Value::as_str).unwrap_or("none"))?;
        store.create_category(&mb, text(c, "displayName")?, &color).await?;
    }
    for c in list(g, "conversations")? {
        let topic = text(c, "topic")?;
        let mut thread: Option<String> = None;
        for p in list(c, "posts")? {
            let from = text(p, "from")?;
            let who = members
                .iter()
                .find(|m| m.user_principal_name.eq_ignore_ascii_case(from))
                .ok_or_else(|| bad(format!("'{from}' is not a member of {}", made.mail)))?;
            let author = rolo_store::PostAuthor {
                user_id: Some(who.id.clone()),
                name: who.display_name.clone(),
                address: who.user_principal_name.clone(),
            };
            let mut body = p.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("from");
            }
            let mut doc = serde_json::Map::new();
            rolo_domain::group::apply_post(&mut doc, &body)?;
            match &thread {
                None => thread = Some(store.start_thread(&mb, None, topic, doc, &author).await?.0.id),
                Some(t) => {
                    store.add_post(&mb, t, doc, &author).await?;
                }
            }
            out.posts += 1;
        }
    }
    Ok(())
}

async fn contacts(store: &dyn Store, mb: &Mailbox, folder: &FolderId, items: &[Value]) -> GraphResult<usize> {
    for body in items {
        let mut data = ContactData::default();
        data.apply_v1(body, true)?;
        store.create_contact(mb, folder, data).await?;
    }
    Ok(items.len())
}

fn owner_email(user: &User) -> Value {
    json!({"name": user.display_name, "address": user.user_principal_name})
}

/// How many items one import transaction holds.
const BATCH: usize = 1000;

pub(crate) async fn messages(store: &dyn Store, user: &User, items: &[Value]) -> GraphResult<usize> {
    let mut batch = Vec::with_capacity(BATCH.min(items.len()));
    for m in items {
        let mut body = m.clone();
        let obj = body.as_object_mut().ok_or_else(|| bad("A seeded message must be an object."))?;
        let folder = match obj.remove("parentFolderId") {
            Some(Value::String(f)) => {
                MailFolder::parse(&f).ok_or_else(|| bad(format!("'{f}' is not a mail folder.")))?
            }
            _ if obj.contains_key("receivedDateTime") => MailFolder::Inbox,
            _ => MailFolder::Drafts,
        };
        let mut doc = serde_json::Map::new();
        match folder {
            MailFolder::Drafts => mail::apply_message(&mut doc, &body, MessageWrite::Draft)?,
            MailFolder::Inbox | MailFolder::SentItems => {
                if folder == MailFolder::SentItems {
                    obj.entry("from").or_insert_with(|| json!({ "emailAddress": owner_email(user) }));
                    obj.entry("isRead").or_insert(json!(true));
                }
                let now = json!(rolo_domain::time::now_utc());
                let at = obj.get("sentDateTime").or_else(|| obj.get("receivedDateTime")).cloned().unwrap_or(now);
                obj.entry("sentDateTime").or_insert_with(|| at.clone());
                obj.entry("receivedDateTime").or_insert(at);
                mail::apply_message(&mut doc, &body, MessageWrite::Received)?;
            }
        }
        batch.push((folder.name().to_owned(), doc));
        if batch.len() == BATCH {
            store.create_items(&user.mailbox, ItemKind::Message, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.create_items(&user.mailbox, ItemKind::Message, batch).await?;
    }
    Ok(items.len())
}

pub(crate) async fn events(store: &dyn Store, user: &User, items: &[Value]) -> GraphResult<usize> {
    let mut batch = Vec::with_capacity(BATCH.min(items.len()));
    for e in items {
        let mut doc = serde_json::Map::new();
        mail::apply_event(&mut doc, e, true, &owner_email(user))?;
        batch.push((CALENDAR_FOLDER.to_owned(), doc));
        if batch.len() == BATCH {
            store.create_items(&user.mailbox, ItemKind::Event, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.create_items(&user.mailbox, ItemKind::Event, batch).await?;
    }
    Ok(items.len())
}

/// Adds messages and events to an existing mailbox (`/rolo/admin/import`): validated as a seed's,
/// stored a thousand per transaction.
pub async fn import(store: &dyn Store, doc: &Value) -> GraphResult<Value> {
    let who = text(doc, "userPrincipalName")?;
    let user = store.find_user(who).await?.ok_or_else(|| bad(format!("unknown user '{who}'")))?;
    let m = messages(store, &user, list(doc, "messages")?).await?;
    let e = events(store, &user, list(doc, "events")?).await?;
    Ok(json!({"messages": m, "events": e}))
}

fn folders<'a>(
    store: &'a dyn Store,
    mb: &'a Mailbox,
    parent: &'a FolderId,
    items: &'a [Value],
    out: &'a mut Seeded,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = GraphResult<()>> + Send + 'a>> {
    Box::pin(async move {
        for f in items {
            let folder = store.create_folder(mb, parent, text(f, "displayName")?).await?;
            out.folders += 1;
            out.contacts += contacts(store, mb, &folder.id, list(f, "contacts")?).await?;
            folders(store, mb, &folder.id, list(f, "childFolders")?, out).await?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_well_known_seed_parses() {
        let v: serde_json::Value = serde_json::from_str(super::CONTOSO).unwrap();
        assert_eq!(v["users"].as_array().unwrap().len(), 3);
    }
}
