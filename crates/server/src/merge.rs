//! `POST .../contacts/{id}/merge`, a Rolo extension: duplicates merged into the contact `{id}`.
//! The body names the others and, optionally, the values the person chose where they differ:
//!
//! ```json
//! {"contacts": ["AAMk...2"], "values": {"jobTitle": "Engineer"}}
//! ```
//!
//! The kept contact gains every value of the others (rolo_domain::merge), then `values` is
//! applied as a PATCH would be; the others are deleted, so delta (Graph and CardDAV) reports them
//! as removed. `If-Match` applies to the kept contact. The answer is the merged contact.

use axum::http::StatusCode;
use axum::response::Response;
use rolo_domain::contact::WriteRules;
use rolo_domain::{ContactData, ContactId, GraphError, GraphResult};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::paths::FolderPath;

/// Most contacts one merge may fold in.
pub const MAX_MERGED: usize = 20;

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("ErrorInvalidRequest", message)
}

pub async fn merge(ctx: &Ctx, path: &FolderPath, id: &str, body: &Value) -> GraphResult<Response> {
    let id = ContactId::parse(id)?;
    let obj = body.as_object().ok_or_else(|| bad("The request body must be a JSON object."))?;
    if let Some(unknown) = obj.keys().find(|k| !matches!(k.as_str(), "contacts" | "values")) {
        return Err(bad(format!("The property '{unknown}' is not part of a merge request.")));
    }
    let others: Vec<ContactId> = match obj.get("contacts") {
        Some(Value::Array(ids)) if !ids.is_empty() && ids.len() <= MAX_MERGED => ids
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| bad("'contacts' holds contact ids (strings).")).and_then(ContactId::parse)
            })
            .collect::<GraphResult<_>>()?,
        _ => return Err(bad(format!("'contacts' must list from 1 to {MAX_MERGED} other contact ids."))),
    };
    if others.contains(&id) {
        return Err(bad("A contact cannot be merged with itself."));
    }
    let values = match obj.get("values") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(o)) => {
            if o.keys().any(|k| k.eq_ignore_ascii_case("parentFolderId")) {
                return Err(bad("A merge does not move the contact: PATCH its parentFolderId instead."));
            }
            v.clone()
        }
        Some(_) => return Err(bad("'values' must be an object of contact properties.")),
    };
    let version = ctx.version;
    // Validate the chosen values before anything changes.
    ContactData::default().apply(&values, WriteRules { version, schemas: &[], creating: false })?;

    let store = &ctx.state.store;
    let scope = ctx.contact_scope(path, &id).await?;
    store.get_contact(ctx.mailbox(), &id, &scope).await?.ok_or_else(GraphError::item_not_found)?;
    let mut found = Vec::with_capacity(others.len());
    let mut scopes = Vec::with_capacity(others.len());
    for other in &others {
        let s = ctx.contact_scope(path, other).await?;
        let c = store.get_contact(ctx.mailbox(), other, &s).await?.ok_or_else(GraphError::item_not_found)?;
        found.push(c.data);
        scopes.push(s);
    }
    let edit = Box::new(move |data: &mut ContactData| {
        let refs: Vec<&ContactData> = found.iter().collect();
        *data = rolo_domain::merge::merge(data, &refs)?;
        data.apply(&values, WriteRules { version, schemas: &[], creating: false })
    });
    let merged = store.update_contact(ctx.mailbox(), &id, &scope, ctx.if_match.clone(), edit).await?;
    // The kept contact holds every value now; the others go (a failure here loses nothing).
    for (other, s) in others.iter().zip(&scopes) {
        match store.delete_contact(ctx.mailbox(), other, s, None).await {
            Ok(()) => {}
            Err(e) if e.status() == StatusCode::NOT_FOUND.as_u16() => {}
            Err(e) => return Err(e),
        }
    }
    crate::contacts::merged_response(ctx, &merged, path).await
}
