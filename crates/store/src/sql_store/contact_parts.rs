//! A contact's photo and open-extension rows: how they are read, ordered and written, for
//! [`Contacts`] (contacts.rs) and the writes that carry them (a create with extensions, a card
//! with a photo).

use super::*;

pub(super) const PHOTO_COLUMNS: &str = "size, content_type, width, height, etag";

/// A photo row; `bytes` is read when the query selected it.
pub(super) fn photo_from(mut row: Row) -> StoredPhoto {
    let size = row.text("size");
    let content_type = row.text("content_type");
    let width = row.text("width").parse().unwrap_or(0);
    let height = row.text("height").parse().unwrap_or(0);
    let etag = row.text("etag");
    let bytes = if row.len() > 5 { row.bytes("bytes") } else { Vec::new() };
    StoredPhoto { size, content_type, width, height, etag, bytes }
}

/// Originals first, then the sizes in ascending order.
pub(super) fn photo_order(p: &StoredPhoto) -> (bool, u32) {
    (p.size != crate::ORIGINAL_SIZE, p.size.parse().unwrap_or(0))
}

/// For a contact photo addressed through a folder, whether the contact is in that folder.
pub(super) async fn photo_owner_visible(
    conn: &mut dyn Sql,
    mailbox: &Mailbox,
    owner: &PhotoOwner,
) -> GraphResult<bool> {
    match owner {
        PhotoOwner::Contact(id, Scope::Folder(folder)) => Ok(conn
            .query_opt(
                "SELECT 1 FROM contacts WHERE mailbox_id = ? AND id = ? AND folder_id = ?",
                &[mailbox.id.as_str().into(), id.as_str().into(), folder.as_str().into()],
            )
            .await?
            .is_some()),
        _ => Ok(true),
    }
}

pub(super) async fn insert_extension(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    contact: &ContactId,
    ext: &OpenExtension,
) -> GraphResult<()> {
    let data = serde_json::to_string(&ext.properties).map_err(GraphError::internal)?;
    tx.execute(
        "INSERT INTO extensions (mailbox_id, contact_id, name_key, name, data) VALUES (?, ?, ?, ?, ?)",
        &[
            mailbox.id.as_str().into(),
            contact.as_str().into(),
            fold(&ext.name).into(),
            ext.name.as_str().into(),
            data.into(),
        ],
    )
    .await
    .map_err(|e| {
        if e.kind == ErrorKind::Conflict {
            GraphError::new(
                ErrorKind::Conflict,
                "nameAlreadyExists",
                format!("The contact already has an extension named '{}'.", ext.name),
            )
        } else {
            e
        }
    })?;
    Ok(())
}

pub(super) async fn select_extension(
    tx: &mut dyn Sql,
    mailbox: &Mailbox,
    contact: &ContactId,
    name: &str,
) -> GraphResult<Option<OpenExtension>> {
    let row = tx
        .query_opt(
            "SELECT name, data FROM extensions WHERE mailbox_id = ? AND contact_id = ? AND name_key = ?",
            &[mailbox.id.as_str().into(), contact.as_str().into(), fold(name).into()],
        )
        .await?;
    row.map(extension_from).transpose()
}

pub(super) fn extension_from(mut row: Row) -> GraphResult<OpenExtension> {
    let name = row.text("name");
    let properties = serde_json::from_str(&row.text("data")).map_err(GraphError::internal)?;
    Ok(OpenExtension { name, properties })
}
