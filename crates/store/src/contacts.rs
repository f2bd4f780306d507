//! The storage role `Contacts`.

use async_trait::async_trait;
use rolo_domain::contact::StoredContact;
use rolo_domain::extension::OpenExtension;
use rolo_domain::{Contact, ContactData, ContactId, FolderId, GraphResult};

use crate::query::{ListQuery, Page};
use crate::{ContactEdit, Mailbox, PhotoOwner, Scope, StoredPhoto};

/// Contacts, with their photos and open extensions.
#[async_trait]
pub trait Contacts: Send + Sync {
    async fn get_contact(&self, mailbox: &Mailbox, id: &ContactId, scope: &Scope) -> GraphResult<Option<Contact>> {
        self.get_stored_contact(mailbox, id, scope).await?.map(StoredContact::parse).transpose()
    }
    /// A contact with its document unparsed, for a read that only renders it.
    async fn get_stored_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
    ) -> GraphResult<Option<StoredContact>>;
    /// Lists the contacts of one folder, or of the whole mailbox (beta's `/me/contacts`).
    async fn list_contacts(&self, mailbox: &Mailbox, scope: &Scope, query: &ListQuery) -> GraphResult<Page<Contact>> {
        let page = self.list_stored_contacts(mailbox, scope, query).await?;
        let items = page.items.into_iter().map(StoredContact::parse).collect::<GraphResult<_>>()?;
        Ok(Page { items, next: page.next, count: page.count })
    }
    /// [`Contacts::list_contacts`] with the documents unparsed, for a page that only renders them.
    async fn list_stored_contacts(
        &self,
        mailbox: &Mailbox,
        scope: &Scope,
        query: &ListQuery,
    ) -> GraphResult<Page<StoredContact>>;
    async fn create_contact(&self, mailbox: &Mailbox, folder: &FolderId, data: ContactData) -> GraphResult<Contact> {
        self.create_contact_with_extensions(mailbox, folder, data, Vec::new()).await
    }
    /// Creates a contact and its open extensions in one transaction.
    async fn create_contact_with_extensions(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        data: ContactData,
        extensions: Vec<OpenExtension>,
    ) -> GraphResult<Contact>;
    /// Applies `edit` atomically; `if_match` holds the change keys the client accepts.
    async fn update_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
        edit: ContactEdit,
    ) -> GraphResult<Contact>;
    async fn delete_contact(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()>;

    // Photos.
    /// Replaces every rendition of a photo. A contact's photo change also gives the contact a new
    /// change key; a missing contact is `ErrorItemNotFound`.
    async fn put_photo(&self, mailbox: &Mailbox, owner: &PhotoOwner, renditions: Vec<StoredPhoto>) -> GraphResult<()>;
    /// The renditions' metadata (no bytes), the original first, then by size.
    async fn photo_metadata(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<Vec<StoredPhoto>>;
    /// One rendition with its bytes; a size not rendered yet comes with no bytes.
    async fn photo(&self, mailbox: &Mailbox, owner: &PhotoOwner, size: &str) -> GraphResult<Option<StoredPhoto>>;
    /// Stores the bytes of a size rendered on first read, if the rendition is still the one with
    /// `etag` (a new upload in between wins); true when stored. Not a change of the contact.
    async fn fill_photo(
        &self,
        mailbox: &Mailbox,
        owner: &PhotoOwner,
        size: &str,
        etag: &str,
        bytes: Vec<u8>,
    ) -> GraphResult<bool>;
    /// Removes a photo; false when there was none.
    async fn delete_photo(&self, mailbox: &Mailbox, owner: &PhotoOwner) -> GraphResult<bool>;

    // Open extensions on contacts.
    /// The extensions of the given contacts (one query for a whole page).
    async fn extensions_of(
        &self,
        mailbox: &Mailbox,
        contacts: &[ContactId],
    ) -> GraphResult<Vec<(ContactId, OpenExtension)>>;
    /// Adds an extension; an existing name is `409 nameAlreadyExists`.
    async fn create_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        ext: OpenExtension,
        limits: rolo_domain::extension::ExtensionLimits,
    ) -> GraphResult<OpenExtension>;
    /// Merges `patch` into the named extension.
    async fn update_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        patch: OpenExtension,
        limits: rolo_domain::extension::ExtensionLimits,
    ) -> GraphResult<OpenExtension>;
    async fn delete_extension(
        &self,
        mailbox: &Mailbox,
        contact: &ContactId,
        scope: &Scope,
        name: &str,
    ) -> GraphResult<()>;
}
