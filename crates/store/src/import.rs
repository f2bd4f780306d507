//! Bulk contact import: a batch of contacts written in one transaction, merged by a stable key
//! so that running the same file again (after a crash, or to refresh) updates what an earlier
//! run wrote instead of duplicating it.

use async_trait::async_trait;
use rolo_domain::{ContactData, ContactId, FolderId, GraphResult};

use crate::{Mailbox, StoredPhoto};

/// One folder's batch of a many-mailbox bulk load ([`ContactImport::import_mailboxes_bulk`]).
#[derive(Debug, Clone)]
pub struct MailboxBatch {
    pub mailbox: Mailbox,
    pub folder: FolderId,
    pub items: Vec<ImportItem>,
}

/// What one [`MailboxBatch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub created: usize,
    pub merged: usize,
}

/// One contact to import.
#[derive(Debug, Clone)]
pub struct ImportItem {
    pub data: ContactData,
    /// The value of the key property in `data` (a vCard UID), matched ignoring case.
    pub key: String,
    /// The photo's renditions, stored with the contact; empty for none.
    pub photo: Vec<StoredPhoto>,
}

/// What became of one imported item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Created(ContactId),
    /// A contact with the same key was in the folder: its data was replaced (or was the same).
    Merged(ContactId),
}

/// The storage role for bulk imports.
#[async_trait]
pub trait ContactImport: Send + Sync {
    /// Writes `items` into `folder` in one transaction: each item whose key (the single-value
    /// extended property `key_property`) matches a contact already in the folder replaces that
    /// contact's data and photo; the others are created. All or nothing.
    async fn import_contacts(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        key_property: &str,
        items: Vec<ImportItem>,
    ) -> GraphResult<Vec<ImportOutcome>>;

    /// As [`ContactImport::import_contacts`], with the same outcome, for a large batch into a
    /// database no server is using: the new contacts are written together, in key order, with
    /// the contact tables' secondary indexes dropped and rebuilt around them (which locks those
    /// tables until the batch commits). A key repeated within the batch merges into the
    /// contact the batch creates for it, as one creation.
    async fn import_contacts_bulk(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        key_property: &str,
        items: Vec<ImportItem>,
    ) -> GraphResult<Vec<ImportOutcome>>;

    /// [`ContactImport::import_contacts_bulk`] of many folders (of many mailboxes) in one
    /// transaction, the contact indexes dropped before the first batch's new contacts and rebuilt
    /// once after the last: loading a whole organisation (`rolo import --manifest`) without an
    /// index rebuild, or a commit, per mailbox. Batches are read from `batches` until it closes,
    /// so the caller parses the next files while this writes them; an `Err` from it rolls the
    /// whole load back. Each batch's counts, in order.
    async fn import_mailboxes_bulk(
        &self,
        key_property: &str,
        batches: tokio::sync::mpsc::Receiver<GraphResult<MailboxBatch>>,
    ) -> GraphResult<Vec<BatchCounts>>;
}
