//! The storage role `DavState`: what the CardDAV front-end keeps beside the Graph model. App
//! passwords (for clients that only speak Basic authentication, stored as salted hashes) and the
//! resource names clients gave their cards and address books (a CardDAV client PUTs
//! `{its-name}.vcf` and expects to find the card there; a name outlives its contact so a sync
//! can report the removal under it), with the card as sent and the change key it was stored at.

use async_trait::async_trait;
use rolo_domain::GraphResult;

use crate::Mailbox;

/// One app password of a user (never the password: a hash of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: String,
    pub name: String,
    pub hash: String,
    pub created_at: String,
}

#[async_trait]
pub trait DavState: Send + Sync {
    /// Adds an app password; a name the user already has is `409 nameAlreadyExists`.
    async fn add_app_password(&self, user_id: &str, password: &AppPassword) -> GraphResult<()>;
    async fn app_passwords(&self, user_id: &str) -> GraphResult<Vec<AppPassword>>;
    /// Removes the named app password; false when there was none.
    async fn remove_app_password(&self, user_id: &str, name: &str) -> GraphResult<bool>;

    /// Records the resource name a client gave a contact or folder (replacing an earlier one),
    /// and for a card, the vCard as sent with the contact's change key once stored.
    async fn set_dav_name(
        &self,
        mailbox: &Mailbox,
        object_id: &str,
        name: &str,
        card: Option<(&str, &str)>,
    ) -> GraphResult<()>;
    /// The card a client sent for a contact and the change key it was stored at.
    async fn dav_card(&self, mailbox: &Mailbox, object_id: &str) -> GraphResult<Option<(String, String)>>;
    /// The client-given names of these contacts or folders (those that have one), live or removed.
    async fn dav_names(&self, mailbox: &Mailbox, object_ids: &[String]) -> GraphResult<Vec<(String, String)>>;
    /// The contacts or folders (live or removed) a client named `name`.
    async fn ids_named(&self, mailbox: &Mailbox, name: &str) -> GraphResult<Vec<String>>;
    /// The mailboxes (user ids) where `grantee` holds a mailbox or folder grant.
    async fn mailboxes_shared_with(&self, grantee: &str) -> GraphResult<Vec<String>>;
}
