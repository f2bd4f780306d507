//! Seeding from a JSON document: users (with their shared-mailbox flag and delegates), nested
//! contact folders, contacts in Graph's v1.0 shape, and master categories. The emulator's
//! well-known data set (`seeds/contoso.json`) and `POST /rolo/admin/seed` both go through here.
//!
//! ```json
//! {"users": [{"userPrincipalName": "a@contoso.com", "displayName": "A", "shared": false,
//!   "contacts": [{...}], "contactFolders": [{"displayName": "F", "contacts": [], "childFolders": []}],
//!   "categories": [{"displayName": "Red", "color": "preset0"}],
//!   "delegates": [{"userPrincipalName": "b@contoso.com", "role": "read"}]}]}
//! ```

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
}

impl Seeded {
    pub fn to_json(&self) -> Value {
        json!({
            "users": self.users.iter().map(|u| json!({"id": u.id, "userPrincipalName": u.user_principal_name})).collect::<Vec<_>>(),
            "folders": self.folders,
            "contacts": self.contacts,
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
        let mb = user.mailbox.clone();
        out.contacts += contacts(store, &mb, &mb.default_folder_id, list(u, "contacts")?).await?;
        folders(store, &mb, &mb.default_folder_id, list(u, "contactFolders")?, &mut out).await?;
        for c in list(u, "categories")? {
            let color = rolo_domain::category::parse_color(c.get("color").and_then(Value::as_str).unwrap_or("none"))?;
            store.create_category(&mb, text(c, "displayName")?, &color).await?;
        }
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
    Ok(out)
}

async fn contacts(store: &dyn Store, mb: &Mailbox, folder: &FolderId, items: &[Value]) -> GraphResult<usize> {
    for body in items {
        let mut data = ContactData::default();
        data.apply_v1(body, true)?;
        store.create_contact(mb, folder, data).await?;
    }
    Ok(items.len())
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
