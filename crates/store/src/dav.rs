//! The storage role `DavState`: what the CardDAV front-end keeps beside the Graph model. App
//! passwords (for clients that only speak Basic authentication, stored as salted hashes) and the
//! resource names clients gave their cards and address books (a CardDAV client PUTs
//! `{its-name}.vcf` and expects to find the card there; a name outlives its contact so a sync
//! can report the removal under it), with the card as sent and the change key it was stored at.

use async_trait::async_trait;
use rolo_domain::{Contact, ContactData, ContactFolder, ContactId, FolderId, GraphResult};

use crate::{ChangeState, ContactEdit, Mailbox, Scope, StoredPhoto};

/// One app password of a user (never the password: a hash of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: String,
    pub name: String,
    pub hash: String,
    pub created_at: String,
}

/// What a CardDAV write stores beside the contact, in the contact's own transaction: the
/// resource name, the card as sent (when it is served verbatim), the vCard UID that must be
/// unique in the address book (RFC 6352 §6.3.2.1 `no-uid-conflict`), and the photo.
#[derive(Debug, Clone, Default)]
pub struct CardWrite {
    pub name: String,
    /// The card as the client sent it; kept with the change key the contact is stored at.
    pub card: Option<String>,
    pub uid: Option<String>,
    /// The photo's renditions (empty: no photo); `None` leaves the photo as it is.
    pub photo: Option<Vec<StoredPhoto>>,
    /// A `MOVE` within the mailbox: the source card, deleted in the same transaction (and not a
    /// UID conflict).
    pub moved_from: Option<MovedFrom>,
}

/// The source of a `MOVE`, with the change keys its `If-Match` accepts.
#[derive(Debug, Clone)]
pub struct MovedFrom {
    pub id: ContactId,
    pub scope: Scope,
    pub if_match: Option<Vec<String>>,
}

/// The outcome of a card write.
#[derive(Debug, Clone)]
pub enum CardOutcome {
    Stored(Box<Contact>),
    /// Another contact of the folder already carries the card's UID; nothing was written.
    UidTaken(ContactId),
}

/// A folder a book's URL segment may name, with its client-given name (`None`: it has none)
/// and the contacts in it that a card's URL may name, each with its client-given name.
#[derive(Debug, Clone)]
pub struct NamedFolder {
    pub folder: ContactFolder,
    pub name: Option<String>,
    pub cards: Vec<(Contact, Option<String>)>,
}

/// What [`DavState::resolve_names`] looks for: a folder named `book_name` or whose id is
/// `book_id`, and in it a contact named `card_name` or whose id is `card_id`.
#[derive(Debug, Clone, Copy)]
pub struct NameLookup<'a> {
    pub book_name: &'a str,
    pub book_id: &'a str,
    /// The card's name and the contact id it spells (if any); `None` looks for no card.
    pub card: Option<(&'a str, Option<&'a str>)>,
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
    /// Creates a contact from a card in `folder`, with its name, card and photo, in one transaction.
    async fn create_card(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        data: ContactData,
        card: CardWrite,
    ) -> GraphResult<CardOutcome>;
    /// Replaces a contact from a card (`edit`, under `if_match`), with its name, card and photo,
    /// in one transaction.
    async fn replace_card(
        &self,
        mailbox: &Mailbox,
        id: &ContactId,
        scope: &Scope,
        if_match: Option<Vec<String>>,
        edit: ContactEdit,
        card: CardWrite,
    ) -> GraphResult<CardOutcome>;
    /// The bytes a folder's contacts take (their documents and photos): `quota-used-bytes`.
    async fn folder_bytes(&self, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<i64>;
    /// The card a client sent for a contact and the change key it was stored at.
    async fn dav_card(&self, mailbox: &Mailbox, object_id: &str) -> GraphResult<Option<(String, String)>>;
    /// [`DavState::dav_card`] for many contacts in one read: (contact id, change key, card).
    async fn dav_cards(&self, mailbox: &Mailbox, object_ids: &[String]) -> GraphResult<Vec<(String, String, String)>>;
    /// The client-given names of these contacts or folders (those that have one), live or removed.
    async fn dav_names(&self, mailbox: &Mailbox, object_ids: &[String]) -> GraphResult<Vec<(String, String)>>;
    /// The contacts or folders (live or removed) a client named `name`.
    async fn ids_named(&self, mailbox: &Mailbox, name: &str) -> GraphResult<Vec<String>>;
    /// The folders (and in them the contacts) a book's and a card's URL may name, with their
    /// client-given names, in one read: a request finds its book and card with one round trip.
    async fn resolve_names(&self, mailbox: &Mailbox, lookup: NameLookup<'_>) -> GraphResult<Vec<NamedFolder>>;
    /// [`DavState::resolve_names`] for a card's `PUT`. On PostgreSQL the other lookups are
    /// planned at each run, so that a plan cached while a book was small cannot outlive its
    /// growth on a database never analyzed; this one stays prepared, as it runs once for every
    /// card written and planning it each time made 10,000 PUTs slower (docs/PERFORMANCE.md,
    /// branch davput).
    async fn resolve_names_for_put(&self, mailbox: &Mailbox, lookup: NameLookup<'_>) -> GraphResult<Vec<NamedFolder>>;
    /// [`DavState::resolve_names`] and the mailbox's change state in the same read (a sync
    /// round's book and bounds, a book's `getctag`).
    async fn resolve_names_with_state(
        &self,
        mailbox: &Mailbox,
        lookup: NameLookup<'_>,
    ) -> GraphResult<(Vec<NamedFolder>, ChangeState)>;
    /// The mailboxes (user ids) where `grantee` holds a mailbox or folder grant.
    async fn mailboxes_shared_with(&self, grantee: &str) -> GraphResult<Vec<String>>;
}
