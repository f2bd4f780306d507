//! Contacts, messages and events are versioned rows: each carries its folder, the change
//! sequence numbers it was created and last changed at, its change key and timestamps, the key
//! columns derived from its document, and the document. One helper writes them all.

use super::*;

/// A table of versioned rows.
pub(super) struct Versioned {
    pub(super) table: &'static str,
    /// `folder_id` for contacts, `folder` for messages and events.
    pub(super) folder_column: &'static str,
    /// The columns derived from the document, in the order their values come.
    pub(super) keys: &'static [&'static str],
    /// The document columns, after the keys (written with the dialect's document placeholder).
    pub(super) docs: &'static [&'static str],
}

pub(super) const CONTACTS: Versioned = Versioned {
    table: "contacts",
    folder_column: "folder_id",
    keys: &["display_name_key", "given_name_key", "surname_key", "company_name_key"],
    docs: &["doc", "fold_doc"],
};

impl Versioned {
    pub(super) fn item(kind: ItemKind) -> Versioned {
        let (table, _, keys) = item_table(kind);
        Versioned { table, folder_column: "folder", keys, docs: &["doc"] }
    }

    /// `INSERT` of a new row: the version columns, then the keys and documents.
    pub(super) fn insert_sql(&self, doc_param: &str) -> String {
        let Versioned { table, folder_column, keys, docs } = self;
        let columns: Vec<&str> = keys.iter().chain(docs.iter()).copied().collect();
        let marks: Vec<&str> = keys.iter().map(|_| "?").chain(docs.iter().map(|_| doc_param)).collect();
        format!(
            "INSERT INTO {table} (mailbox_id, id, {folder_column}, created_seq, change_seq, change_key, created_at, \
             modified_at, {}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {})",
            columns.join(", "),
            marks.join(", ")
        )
    }

    /// `UPDATE` of a row to a new version.
    pub(super) fn update_sql(&self, doc_param: &str) -> String {
        let Versioned { table, folder_column, keys, docs } = self;
        let sets: String = keys
            .iter()
            .map(|k| format!(", {k} = ?"))
            .chain(docs.iter().map(|d| format!(", {d} = {doc_param}")))
            .collect();
        format!(
            "UPDATE {table} SET {folder_column} = ?, change_seq = ?, change_key = ?, modified_at = ?{sets} \
             WHERE mailbox_id = ? AND id = ?"
        )
    }
}

/// One version of a row: where it is filed, and when and at which sequence number it changed.
pub(super) struct RowVersion<'a> {
    pub(super) id: &'a str,
    pub(super) folder: &'a str,
    pub(super) seq: i64,
    pub(super) change_key: &'a str,
    pub(super) created: &'a str,
    pub(super) modified: &'a str,
}

/// Inserts a new row (`insert` from [`Versioned::insert_sql`]) with its keys and documents.
pub(super) async fn insert_versioned(
    tx: &mut dyn Sql,
    insert: &str,
    mb: &Mailbox,
    v: &RowVersion<'_>,
    derived: Vec<Value>,
) -> GraphResult<()> {
    tx.execute(insert, &versioned_params(Vec::new(), mb, v, derived)).await?;
    Ok(())
}

/// The parameters of a [`Versioned::insert_sql`] row, after those of the statement's own CTEs
/// (`before`: the contact insert's side tables on PostgreSQL).
pub(super) fn versioned_params(
    mut before: Vec<Value>,
    mb: &Mailbox,
    v: &RowVersion<'_>,
    derived: Vec<Value>,
) -> Vec<Value> {
    before.extend([
        mb.id.as_str().into(),
        v.id.into(),
        v.folder.into(),
        v.seq.into(),
        v.seq.into(),
        v.change_key.into(),
        v.created.into(),
        v.modified.into(),
    ]);
    before.extend(derived);
    before
}

/// Writes a row's new version (`update` from [`Versioned::update_sql`]).
pub(super) async fn update_versioned(
    tx: &mut dyn Sql,
    update: &str,
    mb: &Mailbox,
    v: &RowVersion<'_>,
    derived: Vec<Value>,
) -> GraphResult<()> {
    let mut params: Vec<Value> = vec![v.folder.into(), v.seq.into(), v.change_key.into(), v.modified.into()];
    params.extend(derived);
    params.extend([mb.id.as_str().into(), v.id.into()]);
    tx.execute(update, &params).await?;
    Ok(())
}

/// [`GraphError::change_key_mismatch`] unless `if_match` accepts the row's current change key.
pub(super) fn check_if_match(if_match: &Option<Vec<String>>, current: &str) -> GraphResult<()> {
    let ok = match if_match {
        None => true,
        Some(tags) => tags.iter().any(|t| t == "*" || t == current),
    };
    if ok {
        Ok(())
    } else {
        Err(GraphError::change_key_mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements the contact and item writes used before they shared this helper.
    #[test]
    fn statements() {
        let dp = "CAST(CAST(? AS TEXT) AS JSONB)";
        assert_eq!(
            CONTACTS.insert_sql(dp),
            format!(
                "INSERT INTO contacts (mailbox_id, id, folder_id, created_seq, change_seq, change_key, created_at, \
                 modified_at, display_name_key, given_name_key, surname_key, company_name_key, doc, fold_doc) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {dp}, {dp})"
            )
        );
        assert_eq!(
            CONTACTS.update_sql("?"),
            "UPDATE contacts SET folder_id = ?, change_seq = ?, change_key = ?, modified_at = ?, display_name_key = ?, \
             given_name_key = ?, surname_key = ?, company_name_key = ?, doc = ?, fold_doc = ? \
             WHERE mailbox_id = ? AND id = ?"
        );
        assert_eq!(
            Versioned::item(ItemKind::Event).insert_sql("?"),
            "INSERT INTO events (mailbox_id, id, folder, created_seq, change_seq, change_key, created_at, modified_at, \
             start_at, end_at, subject_key, organizer_key, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        assert_eq!(
            Versioned::item(ItemKind::Message).update_sql("?"),
            "UPDATE messages SET folder = ?, change_seq = ?, change_key = ?, modified_at = ?, received_at = ?, \
             sent_at = ?, subject_key = ?, from_key = ?, is_read = ?, doc = ? WHERE mailbox_id = ? AND id = ?"
        );
    }

    #[test]
    fn if_match() {
        assert!(check_if_match(&None, "a").is_ok());
        assert!(check_if_match(&Some(vec!["*".into()]), "a").is_ok());
        assert!(check_if_match(&Some(vec!["b".into(), "a".into()]), "a").is_ok());
        assert!(check_if_match(&Some(vec!["b".into()]), "a").is_err());
    }
}
