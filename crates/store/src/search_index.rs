//! The `contact_words` side table behind `$search` on contacts: written with every contact write
//! (in its transaction), filled once for contacts stored before it existed, and compiled into
//! list conditions. A term costs one range scan of the `(mailbox_id, word)` key, whatever the
//! mailbox's size.

use rolo_domain::search::{contact_words, SearchTerm};
use rolo_domain::{ContactData, GraphError, GraphResult};

use crate::sql::{Backend, Sql, Value};

/// Rows per multi-row INSERT: four parameters each stays far below both databases' limits.
const ROWS_PER_INSERT: usize = 200;

/// Contacts read per backfill transaction.
const BACKFILL_BATCH: i64 = 500;

/// The setting that records a finished backfill, by index version: a future change to the word
/// rules bumps the version and so rebuilds every contact's words.
const INDEX_SETTING: &str = "contact_words_version";
const INDEX_VERSION: &str = "2";

/// Inserts a contact's search words (its old ones already deleted).
pub(crate) async fn insert_words(
    tx: &mut dyn Sql,
    mailbox: &Value,
    contact: &Value,
    data: &ContactData,
) -> GraphResult<()> {
    let words = contact_words(data);
    for chunk in words.chunks(ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut params = Vec::with_capacity(chunk.len() * 4);
        for (word, field) in chunk {
            params.extend([mailbox.clone(), word.as_str().into(), (*field).into(), contact.clone()]);
        }
        tx.execute(&format!("INSERT INTO contact_words (mailbox_id, word, field, contact_id) VALUES {rows}"), &params)
            .await?;
    }
    Ok(())
}

/// Fills `contact_words` for contacts stored before the table existed (or under an older index
/// version), in batches of [`BACKFILL_BATCH`] contacts per transaction, then records that it is
/// done so later start-ups cost one settings read. Re-running is harmless: each contact's words
/// are deleted before they are written.
pub(crate) async fn backfill(backend: &dyn Backend) -> GraphResult<()> {
    {
        let mut conn = backend.read().await?;
        let done = conn.query_opt("SELECT value FROM settings WHERE name = ?", &[INDEX_SETTING.into()]).await?;
        if done.is_some_and(|mut r| r.text("value") == INDEX_VERSION) {
            return Ok(());
        }
    }
    let doc = backend.dialect().doc_select("doc");
    let mut after: (String, String) = (String::new(), String::new());
    loop {
        let mut tx = backend.begin().await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT mailbox_id, id, {doc} AS doc FROM contacts WHERE mailbox_id > ? OR (mailbox_id = ? AND id > ?) \
                     ORDER BY mailbox_id, id LIMIT ?"
                ),
                &[after.0.clone().into(), after.0.clone().into(), after.1.clone().into(), BACKFILL_BATCH.into()],
            )
            .await?;
        let n = rows.len();
        for mut row in rows {
            let (mb, id, doc) = (row.text("mailbox_id"), row.text("id"), row.text("doc"));
            let data: ContactData = serde_json::from_str(&doc)
                .map_err(|e| GraphError::internal(format!("contact {id} has a corrupt document: {e}")))?;
            let (mbv, idv): (Value, Value) = (mb.as_str().into(), id.as_str().into());
            tx.execute(
                "DELETE FROM contact_words WHERE mailbox_id = ? AND contact_id = ?",
                &[mbv.clone(), idv.clone()],
            )
            .await?;
            insert_words(tx.as_mut(), &mbv, &idv, &data).await?;
            after = (mb, id);
        }
        if (n as i64) < BACKFILL_BATCH {
            tx.execute("DELETE FROM settings WHERE name = ?", &[INDEX_SETTING.into()]).await?;
            tx.execute(
                "INSERT INTO settings (name, value) VALUES (?, ?)",
                &[INDEX_SETTING.into(), INDEX_VERSION.into()],
            )
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        tx.commit().await?;
    }
}

/// The list conditions for a contact search, one per term (all must hold), on contacts aliased
/// `t`; `params` receives their parameters in order.
pub(crate) fn conditions(terms: &[SearchTerm], mailbox: &str, params: &mut Vec<Value>) -> Vec<String> {
    terms
        .iter()
        .map(|term| {
            params.push(mailbox.into());
            params.push(term.prefix.as_str().into());
            // Every word starting with the prefix sorts below the prefix followed by the highest
            // code point (byte order on both databases, see migrations' `{ckey}`).
            params.push(format!("{}\u{10FFFF}", term.prefix).into());
            let field = match term.field {
                Some(f) => {
                    params.push(f.into());
                    " AND w.field = ?"
                }
                None => "",
            };
            format!(
                "t.id IN (SELECT w.contact_id FROM contact_words w WHERE w.mailbox_id = ? AND w.word >= ? AND w.word < ?{field})"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sqlite::SqliteBackend;
    use crate::prelude::*;
    use crate::{ListQuery, OpenOptions, Scope};

    async fn word_rows(backend: &dyn Backend) -> i64 {
        let mut conn = backend.read().await.unwrap();
        conn.query_opt("SELECT COUNT(*) FROM contact_words", &[]).await.unwrap().unwrap().first().as_i64().unwrap()
    }

    /// Contacts stored before the index existed get their words at the next start-up, across
    /// batches, and the setting then makes later start-ups skip the walk.
    #[tokio::test]
    async fn backfill_indexes_existing_contacts_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = crate::open(&path.to_string_lossy(), &OpenOptions::default()).await.unwrap();
        let user = store.create_user("a@x.test", "A").await.unwrap();
        let mb = &user.mailbox;
        let n = BACKFILL_BATCH as usize + 3;
        for i in 0..n {
            let d = ContactData {
                given_name: Some(format!("Name{i}")),
                surname: Some("Backfilled".into()),
                ..Default::default()
            };
            store.create_contact(mb, &mb.default_folder_id, d).await.unwrap();
        }
        let backend = SqliteBackend::open(&path, false).unwrap();
        let written = word_rows(&backend).await;
        assert_eq!(written, 2 * n as i64, "each contact's given name and surname");
        // As a database from before the index: no words, no setting.
        {
            let mut tx = backend.begin().await.unwrap();
            tx.execute("DELETE FROM contact_words", &[]).await.unwrap();
            tx.execute("DELETE FROM settings WHERE name = ?", &[INDEX_SETTING.into()]).await.unwrap();
            tx.commit().await.unwrap();
        }
        backfill(&backend).await.unwrap();
        assert_eq!(word_rows(&backend).await, written);
        let q = ListQuery {
            search: rolo_domain::search::parse("backfilled").unwrap(),
            page_size: 1,
            count: true,
            ..Default::default()
        };
        let page = store.list_contacts(mb, &Scope::Folder(mb.default_folder_id.clone()), &q).await.unwrap();
        assert_eq!(page.count, Some(n as u64));
        // Done once: a later start-up does not walk the contacts again.
        let mut tx = backend.begin().await.unwrap();
        tx.execute("DELETE FROM contact_words", &[]).await.unwrap();
        tx.commit().await.unwrap();
        backfill(&backend).await.unwrap();
        assert_eq!(word_rows(&backend).await, 0);
    }

    /// A contact's word rows, as (word, field).
    async fn words_of(backend: &dyn Backend, contact: &str) -> Vec<(String, String)> {
        let mut conn = backend.read().await.unwrap();
        let rows = conn
            .query("SELECT word, field FROM contact_words WHERE contact_id = ? ORDER BY word, field", &[contact.into()])
            .await
            .unwrap();
        rows.into_iter().map(|mut r| (r.text("word"), r.text("field"))).collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(w, f)| (w.to_string(), f.to_string())).collect()
    }

    /// A contact's word rows are exactly its words after a create and an edit, and none are
    /// left after its delete or its folder's delete: what a change to how words are deleted
    /// (by contact today) must keep.
    #[tokio::test]
    async fn word_rows_follow_writes_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let store = crate::open(&path.to_string_lossy(), &OpenOptions::default()).await.unwrap();
        let backend = SqliteBackend::open(&path, false).unwrap();
        let user = store.create_user("w@x.test", "W").await.unwrap();
        let mb = &user.mailbox;
        let ann = |surname: &str| ContactData {
            given_name: Some("Ann".into()),
            surname: Some(surname.into()),
            ..Default::default()
        };
        let c = store.create_contact(mb, &mb.default_folder_id, ann("Lee")).await.unwrap();
        let other = store.create_contact(mb, &mb.default_folder_id, ann("Lee")).await.unwrap();
        assert_eq!(words_of(&backend, c.id.as_str()).await, pairs(&[("ann", "givenName"), ("lee", "surname")]));
        let edit = Box::new(|d: &mut ContactData| -> GraphResult<_> {
            d.surname = Some("Hugo Lee".into());
            Ok(None)
        });
        store.update_contact(mb, &c.id, &Scope::Mailbox, None, edit).await.unwrap();
        assert_eq!(
            words_of(&backend, c.id.as_str()).await,
            pairs(&[("ann", "givenName"), ("hugo", "surname"), ("lee", "surname")])
        );
        store.delete_contact(mb, &c.id, &Scope::Mailbox, None).await.unwrap();
        assert_eq!(words_of(&backend, c.id.as_str()).await, []);
        let folder = store.create_folder(mb, &mb.default_folder_id, "F").await.unwrap();
        let filed = store.create_contact(mb, &folder.id, ann("Kim")).await.unwrap();
        assert_eq!(words_of(&backend, filed.id.as_str()).await.len(), 2);
        store.delete_folder(mb, &folder.id).await.unwrap();
        assert_eq!(words_of(&backend, filed.id.as_str()).await, []);
        // The neighbour that shared every word keeps its rows.
        assert_eq!(words_of(&backend, other.id.as_str()).await, pairs(&[("ann", "givenName"), ("lee", "surname")]));
        assert_eq!(word_rows(&backend).await, 2);
    }
}
