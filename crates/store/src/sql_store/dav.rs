//! [`DavState`] for [`SqlStore`].

use super::*;
use crate::dav::{AppPassword, CardOutcome, CardWrite, DavState, NameLookup, NamedFolder};

/// The upsert of a card's (or folder's) name and the card as sent, with the change key it is
/// stored at.
const UPSERT_NAME: &str = "INSERT INTO dav_names (mailbox_id, object_id, name, card_key, card) VALUES (?, ?, ?, ?, ?) \
     ON CONFLICT (mailbox_id, object_id) DO UPDATE SET name = excluded.name, \
     card_key = excluded.card_key, card = excluded.card";

/// The contacts of a folder carrying a vCard UID (compared as the extended-property index folds
/// it): parameters mailbox, UID property, folded UID, folder.
const UID_HOLDERS: &str = "SELECT x.contact_id FROM contact_xprops x JOIN contacts c \
     ON c.mailbox_id = x.mailbox_id AND c.id = x.contact_id \
     WHERE x.mailbox_id = ? AND x.prop_id = ? AND x.value_key = ? AND c.folder_id = ?";

/// The statement that creates a card's contact on PostgreSQL: the contact's rows, its name and
/// card (`n`), and the contact already holding its UID (`h`, read in the same snapshot, after
/// the counter's lock was taken, so two cards with one UID cannot both miss each other).
/// Parameters: [`name_params`], then [`UID_HOLDERS`]' and the id of a moved card's source.
pub(super) fn card_insert(dialect: Dialect) -> ContactInsert {
    ContactInsert::with(
        dialect,
        &format!(", n AS ({UPSERT_NAME}), h AS ({UID_HOLDERS} AND x.contact_id <> ?)"),
        " RETURNING (SELECT contact_id FROM h LIMIT 1) AS uid_holder",
    )
}

fn name_params(mb: &Mailbox, id: &str, name: &str, card: Option<(&str, &str)>) -> [Value; 5] {
    let (key, text): (Value, Value) = match card {
        Some((k, t)) => (k.into(), t.into()),
        None => (Value::Null, Value::Null),
    };
    [mb.id.as_str().into(), id.into(), name.into(), key, text]
}

/// Records a card's name, and the card as sent with the change key it is stored at.
async fn upsert_name(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    id: &str,
    name: &str,
    card: Option<(&str, &str)>,
) -> GraphResult<()> {
    tx.execute(UPSERT_NAME, &name_params(mb, id, name, card)).await?;
    Ok(())
}

fn uid_params(mb: &Mailbox, folder: &FolderId, uid: Option<&str>) -> [Value; 4] {
    [
        mb.id.as_str().into(),
        rolo_domain::vcard::uid_property().into(),
        uid.map_or(Value::Null, |u| fold(u).into()),
        folder.as_str().into(),
    ]
}

/// Another contact of `folder` carrying the vCard UID `uid`, if any.
async fn uid_holder(
    tx: &mut dyn Sql,
    mb: &Mailbox,
    folder: &FolderId,
    uid: &str,
    except: &[&ContactId],
) -> GraphResult<Option<ContactId>> {
    let rows = tx.query(UID_HOLDERS, &uid_params(mb, folder, Some(uid))).await?;
    Ok(rows
        .into_iter()
        .map(|r| ContactId::from_stored(r.first().clone().into_string()))
        .find(|id| !except.contains(&id)))
}

/// The name, card and photo rows of a card just written as `contact` (the name unless the
/// contact's statement wrote it: `named`), and a moved card's source removed.
async fn finish_card(
    tx: &mut dyn Sql,
    columns: &str,
    mb: &Mailbox,
    contact: &Contact,
    card: CardWrite,
    named: bool,
) -> GraphResult<()> {
    if let Some(from) = &card.moved_from {
        remove_contact(tx, columns, mb, &from.id, &from.scope, &from.if_match).await?;
    }
    if let Some(renditions) = card.photo {
        // The photo shares the contact's new change key: one version, one change.
        replace_photo_rows(tx, mb, contact.id.as_str(), renditions).await?;
    }
    if named {
        return Ok(());
    }
    let text = card.card.as_deref().map(|t| (contact.change_key.as_str(), t));
    upsert_name(tx, mb, contact.id.as_str(), &card.name, text).await
}

/// The code that carries a UID conflict out of a rolled-back write.
const UID_TAKEN: &str = "rolo.uidTaken";

fn uid_taken(e: GraphError) -> GraphResult<CardOutcome> {
    match e.kind {
        ErrorKind::Conflict if e.code == UID_TAKEN => Ok(CardOutcome::UidTaken(ContactId::from_stored(e.message))),
        _ => Err(e),
    }
}

#[async_trait]
impl DavState for SqlStore {
    async fn add_app_password(&self, user_id: &str, p: &AppPassword) -> GraphResult<()> {
        let (user_id, p) = (user_id.to_ascii_lowercase(), p.clone());
        self.write(move |tx| {
            Box::pin(async move {
                if tx.query_opt("SELECT 1 FROM users WHERE id = ?", &[user_id.as_str().into()]).await?.is_none() {
                    return Err(GraphError::invalid_user(&user_id));
                }
                let taken = tx
                    .query_opt(
                        "SELECT 1 FROM app_passwords WHERE user_id = ? AND name = ?",
                        &[user_id.as_str().into(), p.name.as_str().into()],
                    )
                    .await?
                    .is_some();
                if taken {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "nameAlreadyExists",
                        format!("The user already has an app password named '{}'.", p.name),
                    ));
                }
                tx.execute(
                    "INSERT INTO app_passwords (user_id, id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                    &[
                        user_id.as_str().into(),
                        p.id.as_str().into(),
                        p.name.as_str().into(),
                        p.hash.as_str().into(),
                        p.created_at.as_str().into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn app_passwords(&self, user_id: &str) -> GraphResult<Vec<AppPassword>> {
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT id, name, hash, created_at FROM app_passwords WHERE user_id = ? ORDER BY created_at, name",
                &[user_id.to_ascii_lowercase().into()],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|mut r| AppPassword {
                id: r.text("id"),
                name: r.text("name"),
                hash: r.text("hash"),
                created_at: r.text("created_at"),
            })
            .collect())
    }

    async fn remove_app_password(&self, user_id: &str, name: &str) -> GraphResult<bool> {
        let (user_id, name) = (user_id.to_ascii_lowercase(), name.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                Ok(tx
                    .query_opt(
                        "DELETE FROM app_passwords WHERE user_id = ? AND name = ? RETURNING id",
                        &[user_id.as_str().into(), name.as_str().into()],
                    )
                    .await?
                    .is_some())
            })
        })
        .await
    }

    async fn set_dav_name(
        &self,
        mailbox: &Mailbox,
        object_id: &str,
        name: &str,
        card: Option<(&str, &str)>,
    ) -> GraphResult<()> {
        let (mb, id, name) = (mailbox.clone(), object_id.to_owned(), name.to_owned());
        let card = card.map(|(k, t)| (k.to_owned(), t.to_owned()));
        self.write(move |tx| {
            Box::pin(async move {
                let card = card.as_ref().map(|(k, t)| (k.as_str(), t.as_str()));
                upsert_name(tx, &mb, &id, &name, card).await
            })
        })
        .await
    }

    async fn create_card(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        data: ContactData,
        card: CardWrite,
    ) -> GraphResult<CardOutcome> {
        let (mb, folder) = (mailbox.clone(), folder.clone());
        let insert = self.card_insert.clone();
        let columns = self.contact_columns.clone();
        // A card is a contact write: on PostgreSQL it joins the mailbox's group commit, and its
        // UID check, contact, side tables and name are one statement after the counter's.
        self.write_in(mailbox, move |tx| {
            Box::pin(async move {
                let except: Vec<&ContactId> = card.moved_from.iter().map(|m| &m.id).collect();
                if let (false, Some(uid)) = (insert.combined(), &card.uid) {
                    if let Some(holder) = uid_holder(tx, &mb, &folder, uid, &except).await? {
                        return Ok(CardOutcome::UidTaken(holder));
                    }
                }
                let uid = uid_params(&mb, &folder, card.uid.as_deref());
                let new = new_contact(tx, &mb, folder, data).await?;
                let mut extra = Vec::new();
                if insert.combined() {
                    let text = card.card.as_deref().map(|t| (new.contact.change_key.as_str(), t));
                    extra.extend(name_params(&mb, new.contact.id.as_str(), &card.name, text));
                    extra.extend(uid);
                    extra.push(except.first().map_or("", |id| id.as_str()).into());
                }
                let row = write_new_contact(tx, &insert, &mb, &new, extra).await?;
                if let Some(holder) = row.and_then(|mut r| r.opt_text("uid_holder")) {
                    // An error, so the job's rows are rolled back.
                    return Err(GraphError::new(ErrorKind::Conflict, UID_TAKEN, holder));
                }
                let contact = announce_new_contact(tx, &mb, new, &[]).await?;
                finish_card(tx, &columns, &mb, &contact, card, insert.combined()).await?;
                Ok(CardOutcome::Stored(Box::new(contact)))
            })
        })
        .await
        .or_else(uid_taken)
    }

    async fn replace_card(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
        edit: ContactEdit,
        card: CardWrite,
    ) -> GraphResult<CardOutcome> {
        let (mb, id, scope) = (mailbox.clone(), id.clone(), scope.clone());
        let columns = self.contact_columns.clone();
        let update = CONTACTS.update_sql(self.doc_param);
        self.write_in(mailbox, move |tx| {
            Box::pin(async move {
                let contact = edit_contact(tx, &columns, &update, &mb, &id, &scope, &if_match, edit).await?;
                if let Some(uid) = &card.uid {
                    // Checked after the edit, inside its transaction: a conflict rolls it back.
                    let mut except = vec![&id];
                    except.extend(card.moved_from.iter().map(|m| &m.id));
                    if let Some(holder) = uid_holder(tx, &mb, &contact.folder_id, uid, &except).await? {
                        return Err(GraphError::new(ErrorKind::Conflict, UID_TAKEN, holder.as_str().to_owned()));
                    }
                }
                finish_card(tx, &columns, &mb, &contact, card, false).await?;
                Ok(CardOutcome::Stored(Box::new(contact)))
            })
        })
        .await
        .or_else(uid_taken)
    }

    async fn folder_bytes(&self, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<i64> {
        let mut conn = self.backend.read().await?;
        let doc = self.backend.dialect().doc_select("doc");
        let params = [mailbox.id.as_str().into(), folder.as_str().into()];
        let sql = format!(
            "SELECT COALESCE(SUM(LENGTH({doc})), 0) AS docs FROM contacts WHERE mailbox_id = ? AND folder_id = ?"
        );
        let docs = conn.query_opt(&sql, &params).await?.and_then(|r| r.int("docs")).unwrap_or_default();
        let photos = conn
            .query_opt(
                "SELECT COALESCE(SUM(LENGTH(p.bytes)), 0) AS photos FROM photos p JOIN contacts c \
                 ON c.mailbox_id = p.mailbox_id AND c.id = p.owner_id WHERE c.mailbox_id = ? AND c.folder_id = ?",
                &params,
            )
            .await?
            .and_then(|r| r.int("photos"))
            .unwrap_or_default();
        Ok(docs + photos)
    }

    async fn dav_card(&self, mailbox: &Mailbox, object_id: &str) -> GraphResult<Option<(String, String)>> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt(
                "SELECT card_key, card FROM dav_names WHERE mailbox_id = ? AND object_id = ? AND card IS NOT NULL",
                &[mailbox.id.as_str().into(), object_id.into()],
            )
            .await?;
        Ok(row.map(|mut r| (r.text("card_key"), r.text("card"))))
    }

    async fn dav_cards(&self, mailbox: &Mailbox, ids: &[String]) -> GraphResult<Vec<(String, String, String)>> {
        let mut out = Vec::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut conn = self.backend.read().await?;
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT object_id, card_key, card FROM dav_names \
                 WHERE mailbox_id = ? AND object_id IN ({marks}) AND card IS NOT NULL"
            );
            let mut params: Vec<Value> = vec![mailbox.id.as_str().into()];
            params.extend(chunk.iter().map(|c| c.as_str().into()));
            for mut r in conn.query(&sql, &params).await? {
                out.push((r.text("object_id"), r.text("card_key"), r.text("card")));
            }
        }
        Ok(out)
    }

    async fn dav_names(&self, mailbox: &Mailbox, contacts: &[String]) -> GraphResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        if contacts.is_empty() {
            return Ok(out);
        }
        let mut conn = self.backend.read().await?;
        for chunk in contacts.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!("SELECT object_id, name FROM dav_names WHERE mailbox_id = ? AND object_id IN ({marks})");
            let mut params: Vec<Value> = vec![mailbox.id.as_str().into()];
            params.extend(chunk.iter().map(|c| c.as_str().into()));
            for mut r in conn.query(&sql, &params).await? {
                out.push((r.text("object_id"), r.text("name")));
            }
        }
        Ok(out)
    }

    async fn ids_named(&self, mailbox: &Mailbox, name: &str) -> GraphResult<Vec<String>> {
        let mut conn = self.backend.read().await?;
        let rows = conn
            .query(
                "SELECT object_id FROM dav_names WHERE mailbox_id = ? AND name = ?",
                &[mailbox.id.as_str().into(), name.into()],
            )
            .await?;
        Ok(rows.into_iter().map(|mut r| r.text("object_id")).collect())
    }

    async fn resolve_names(&self, mailbox: &Mailbox, lookup: NameLookup<'_>) -> GraphResult<Vec<NamedFolder>> {
        let mb: Value = mailbox.id.as_str().into();
        // Each candidate set is an id list of at most a few entries (the id the URL spells and
        // the objects a client gave that name), so every join below is a primary-key probe.
        let folders = "t.mailbox_id = ? AND t.id IN (SELECT ? UNION ALL SELECT object_id FROM dav_names \
                       WHERE mailbox_id = ? AND name = ?)";
        let mut params: Vec<Value> = Vec::with_capacity(9);
        let sql = match lookup.card {
            None => format!(
                "SELECT {FOLDER_COLUMNS}, bn.name AS book_name FROM folders t LEFT JOIN dav_names bn \
                 ON bn.mailbox_id = t.mailbox_id AND bn.object_id = t.id WHERE {folders}"
            ),
            Some((name, id)) => {
                params.extend([mb.clone(), id.map_or(Value::Null, Value::from), mb.clone(), name.into()]);
                let doc = self.backend.dialect().doc_select("c.doc");
                // The contact columns under their usual names, the folder's under `book_*`.
                format!(
                    "SELECT t.id AS book_id, t.parent_id AS book_parent, t.display_name AS book_display_name, \
                     t.well_known AS book_well_known, bn.name AS book_name, k.* FROM folders t \
                     LEFT JOIN dav_names bn ON bn.mailbox_id = t.mailbox_id AND bn.object_id = t.id \
                     LEFT JOIN (SELECT c.id, c.folder_id, c.change_key, c.created_at, c.modified_at, {doc} AS doc, \
                     cn.name AS card_name FROM contacts c LEFT JOIN dav_names cn \
                     ON cn.mailbox_id = c.mailbox_id AND cn.object_id = c.id \
                     WHERE c.mailbox_id = ? AND c.id IN (SELECT ? UNION ALL SELECT object_id FROM dav_names \
                     WHERE mailbox_id = ? AND name = ?)) k ON k.folder_id = t.id \
                     WHERE {folders}"
                )
            }
        };
        params.extend([mb.clone(), lookup.book_id.into(), mb, lookup.book_name.into()]);
        let mut conn = self.backend.read().await?;
        let rows = conn.query(&sql, &params).await?;
        let mut out: Vec<NamedFolder> = Vec::new();
        for mut row in rows {
            let name = row.opt_text("book_name");
            let (folder, card) = if lookup.card.is_none() {
                (folder_from(row), None)
            } else {
                let folder = ContactFolder {
                    id: FolderId::from_stored(row.text("book_id")),
                    parent_id: FolderId::from_stored(row.text("book_parent")),
                    display_name: row.text("book_display_name"),
                    well_known_name: row.opt_text("book_well_known"),
                };
                // No contact of the folder matched: the outer join's columns are NULL.
                let card = match row.get("id") {
                    Value::Null => None,
                    _ => {
                        let card_name = row.opt_text("card_name");
                        Some((contact_from(row)?, card_name))
                    }
                };
                (folder, card)
            };
            let at = match out.iter().position(|f| f.folder.id == folder.id) {
                Some(at) => at,
                None => {
                    out.push(NamedFolder { folder, name, cards: Vec::new() });
                    out.len() - 1
                }
            };
            out[at].cards.extend(card);
        }
        Ok(out)
    }

    async fn mailboxes_shared_with(&self, grantee: &str) -> GraphResult<Vec<String>> {
        let mut conn = self.backend.read().await?;
        let g = grantee.to_owned();
        let rows = conn
            .query(
                "SELECT mailbox_id FROM mailbox_grants WHERE grantee_id = ? \
                 UNION SELECT mailbox_id FROM folder_grants WHERE grantee_id = ? ORDER BY mailbox_id",
                &[g.as_str().into(), g.as_str().into()],
            )
            .await?;
        Ok(rows.into_iter().map(|mut r| r.text("mailbox_id")).collect())
    }
}
