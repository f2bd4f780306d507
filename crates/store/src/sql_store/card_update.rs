//! A CardDAV card replacing its contact on PostgreSQL: the counter's bump (which also says
//! whether the mailbox has subscriptions), the contact's read under that lock, and one statement
//! for everything else, where a Graph PATCH writes each side table a statement at a time
//! (17 statements a replacing PUT, 6 this way). SQLite keeps the statement-per-table path: it
//! has no data-modifying CTEs and no round trips to save.

use super::dav::{name_params, uid_params, UID_HOLDERS, UID_TAKEN, UPSERT_NAME};
use super::*;
use crate::dav::CardWrite;

/// The statements of [`replace_card`]: `[0]` leaves the contact's photo, `[1]` removes it.
#[derive(Clone)]
pub(super) struct CardUpdate {
    sql: [String; 2],
}

impl CardUpdate {
    /// The combined statement, PostgreSQL only. Each side table keeps the rows the new data still
    /// has: a delete of the rows not in the new set and an insert that skips rows already there
    /// touch disjoint rows, so it does not matter in which order the CTEs run (PostgreSQL does not
    /// say). Then the name and card, the contact holding the card's UID (read after the counter's
    /// lock, as a new card's is), and the contact row itself.
    pub(super) fn new(dialect: Dialect) -> Option<CardUpdate> {
        if dialect != Dialect::Postgres {
            return None;
        }
        let array = "json_array_elements(CAST(CAST(? AS TEXT) AS JSON)) AS v";
        let texts = "json_array_elements_text(CAST(CAST(? AS TEXT) AS JSON)) AS v";
        let mine = "mailbox_id = ? AND contact_id = ?";
        let pairs = |table: &str, a: &str, b: &str| {
            format!(
                "DELETE FROM {table} WHERE {mine} AND ({a}, {b}) NOT IN (SELECT v->>0, v->>1 FROM {array})), \
                 i_{table} AS (INSERT INTO {table} (mailbox_id, {a}, {b}, contact_id) SELECT ?, v->>0, v->>1, ? \
                 FROM {array} ON CONFLICT DO NOTHING"
            )
        };
        let keys = |table: &str, a: &str| {
            format!(
                "DELETE FROM {table} WHERE {mine} AND {a} NOT IN (SELECT v FROM {texts})), \
                 i_{table} AS (INSERT INTO {table} (mailbox_id, {a}, contact_id) SELECT ?, v, ? FROM {texts} \
                 ON CONFLICT DO NOTHING"
            )
        };
        let sides = format!(
            "WITH d_w AS ({}), d_e AS ({}), d_k AS ({}), d_x AS ({})",
            pairs("contact_words", "word", "field"),
            keys("contact_emails", "address_key"),
            keys("contact_categories", "name_key"),
            pairs("contact_xprops", "prop_id", "value_key"),
        );
        let rest = format!(
            ", n AS ({UPSERT_NAME}), h AS ({UID_HOLDERS} AND x.contact_id <> ?) {} \
             RETURNING (SELECT contact_id FROM h LIMIT 1) AS uid_holder",
            CONTACTS.update_sql(dialect.doc_param())
        );
        let photo = ", p AS (DELETE FROM photos WHERE mailbox_id = ? AND owner_id = ?)";
        Some(CardUpdate { sql: [format!("{sides}{rest}"), format!("{sides}{photo}{rest}")] })
    }
}

/// [`bump`], and in the same statement whether the mailbox has a live subscription (as
/// `bump_for_create` reads it), so a write without subscribers skips `outbox::notify`'s read.
async fn bump_noting_subscriptions(tx: &mut dyn Sql, mailbox: &Mailbox) -> GraphResult<(i64, bool)> {
    let mb: Value = mailbox.id.as_str().into();
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET change_seq = change_seq + 1 WHERE mailbox_id = ? RETURNING change_seq, \
             CASE WHEN EXISTS (SELECT 1 FROM subscriptions WHERE mailbox_id = ? AND expires_at > ?) THEN 1 ELSE 0 END \
             AS subscribed",
            &[mb.clone(), mb, rolo_domain::time::now_utc().into()],
        )
        .await?;
    let subscribed = row.as_ref().is_some_and(|r| r.int("subscribed") == Some(1));
    Ok((bumped(tx, mailbox, row)?, subscribed))
}

/// Replaces contact `id` from a card with [`CardUpdate`]'s statement (a UID another contact of
/// the folder holds fails the job with [`UID_TAKEN`], so nothing stays). A card's edit keeps its
/// contact in its folder, and a `MOVE` (`moved_from`) takes the general path.
#[allow(clippy::too_many_arguments)]
pub(super) async fn replace_card(
    tx: &mut dyn Sql,
    statements: &CardUpdate,
    columns: &str,
    mb: &Mailbox,
    id: &ContactId,
    scope: &Scope,
    if_match: &Option<Vec<String>>,
    edit: ContactEdit,
    card: CardWrite,
) -> GraphResult<Contact> {
    let (seq, subscribed) = bump_noting_subscriptions(tx, mb).await?;
    let mut contact = select_contact(tx, columns, mb, id, scope).await?.ok_or_else(GraphError::item_not_found)?;
    check_if_match(if_match, &contact.change_key)?;
    if edit(&mut contact.data)?.is_some_and(|f| f != contact.folder_id) {
        return Err(GraphError::internal("a card's edit moved its contact"));
    }
    contact.change_key = change_key(seq);
    contact.modified = rolo_domain::time::now_utc();
    let (mbv, cid): (Value, Value) = (mb.id.as_str().into(), id.as_str().into());
    let mut params: Vec<Value> = Vec::with_capacity(48);
    for rows in side_table_rows(&contact.data)? {
        params.extend([mbv.clone(), cid.clone(), rows.clone(), mbv.clone(), cid.clone(), rows]);
    }
    // A new photo's rows replace the old ones after the statement; no photo removes them in it.
    let (drop_photo, renditions) = match card.photo {
        Some(r) if r.is_empty() => (true, None),
        other => (false, other),
    };
    if drop_photo {
        params.extend([mbv.clone(), cid.clone()]);
    }
    let text = card.card.as_deref().map(|t| (contact.change_key.as_str(), t));
    params.extend(name_params(mb, id.as_str(), &card.name, text));
    params.extend(uid_params(mb, &contact.folder_id, card.uid.as_deref()));
    params.push(cid.clone());
    params.extend([
        contact.folder_id.as_str().into(),
        seq.into(),
        contact.change_key.as_str().into(),
        contact.modified.as_str().into(),
    ]);
    params.extend(derived_columns(&contact.data)?);
    params.extend([mbv, cid]);
    let row = tx.query_opt(&statements.sql[usize::from(drop_photo)], &params).await?;
    if let Some(holder) = row.and_then(|mut r| r.opt_text("uid_holder")) {
        // An error, so the job's rows are rolled back.
        return Err(GraphError::new(ErrorKind::Conflict, UID_TAKEN, holder));
    }
    if let Some(renditions) = renditions {
        replace_photo_rows(tx, mb, id.as_str(), renditions).await?;
    }
    if subscribed {
        outbox::notify(tx, mb, &[Change::written(&contact, ChangeType::Updated)]).await?;
    }
    Ok(contact)
}
