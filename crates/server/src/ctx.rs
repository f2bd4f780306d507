//! The request context every handler receives: who is calling, whose mailbox, which API
//! version, the parsed query options, and what the caller may do there. The router builds it;
//! handlers read it and never import the router.

use std::sync::Arc;

use axum::http::HeaderMap;
use rolo_domain::{
    Access, ApiVersion, ContactFolder, ContactId, FolderId, GraphError, GraphResult, MailboxAccess, Principal,
};
use rolo_odata::QueryOptions;
use rolo_store::{Mailbox, Scope, User};

use crate::paths::FolderPath;
use crate::query::Prefer;
use crate::AppState;

/// Everything a handler needs about the request it serves.
pub struct Ctx {
    pub state: Arc<AppState>,
    pub principal: Principal,
    /// The mailbox's owner, shared with the user cache.
    pub user: Arc<User>,
    /// `v1.0` or `beta`: which shapes the request reads and writes.
    pub version: ApiVersion,
    /// `http://host/v1.0` (or `/beta`)
    pub base: String,
    /// The request path below the base, e.g. `/me/contacts`.
    pub path: String,
    pub raw_query: Option<String>,
    pub options: QueryOptions,
    pub prefer: Prefer,
    pub if_match: Option<Vec<String>>,
    /// The request's headers (a few resources read their own, e.g. People's query sources).
    pub headers: HeaderMap,
    /// What the caller may do in this mailbox (its own, as an app, as a delegate, or in the
    /// folders shared with it).
    pub access: MailboxAccess,
    /// Whether the request reads or writes.
    pub mode: Access,
}

impl Ctx {
    pub fn mailbox(&self) -> &Mailbox {
        &self.user.mailbox
    }

    /// `{base}/$metadata#users('{id}')/{tail}`: Graph names the user by object id even for `/me`.
    pub fn context(&self, tail: &str) -> String {
        // Every entity and page is rendered with one: pushed, not formatted, with room for the
        // `/$entity` a single entity appends.
        let mut s = String::with_capacity(self.base.len() + self.user.id.len() + tail.len() + 32);
        s.push_str(&self.base);
        s.push_str("/$metadata#users('");
        s.push_str(&self.user.id);
        s.push_str("')/");
        s.push_str(tail);
        s
    }

    /// A folder id from a URL; the well-known name `contacts` means the default folder.
    pub fn folder_id(&self, raw: &str) -> GraphResult<FolderId> {
        if raw.eq_ignore_ascii_case(rolo_domain::folder::DEFAULT_FOLDER_WELL_KNOWN) {
            return Ok(self.mailbox().default_folder_id.clone());
        }
        FolderId::parse(raw)
    }

    /// Walks `contactFolders/{a}/childFolders/{b}...`, checking each link of the chain.
    pub async fn folder_chain(&self, chain: &[String]) -> GraphResult<ContactFolder> {
        let mut found: Option<ContactFolder> = None;
        for raw in chain {
            let id = self.folder_id(raw)?;
            let folder =
                self.state.store.get_folder(self.mailbox(), &id).await?.ok_or_else(GraphError::item_not_found)?;
            if let Some(parent) = &found {
                if folder.parent_id != parent.id {
                    return Err(GraphError::item_not_found());
                }
            }
            found = Some(folder);
        }
        found.ok_or_else(GraphError::item_not_found)
    }

    /// The folder a contacts path addresses, once the caller may use it; the default folder costs
    /// no lookup. A folder the caller may not use answers 403 whether or not it exists.
    pub async fn contacts_folder(&self, path: &FolderPath) -> GraphResult<FolderId> {
        match path {
            FolderPath::Default => {
                let id = self.mailbox().default_folder_id.clone();
                self.access.folder(&id, self.mode)?;
                Ok(id)
            }
            FolderPath::Chain(chain) => {
                self.require_folder_chain(chain)?;
                Ok(self.folder_chain(chain).await?.id)
            }
        }
    }

    /// Checks the caller may use the folder a chain ends at, before anything is looked up.
    pub fn require_folder_chain(&self, chain: &[String]) -> GraphResult<()> {
        match chain.last() {
            Some(raw) => self.access.folder(&self.folder_id(raw)?, self.mode),
            None => Err(GraphError::item_not_found()),
        }
    }

    /// Operations on the mailbox as a whole (its folder tree, mailbox-wide lists, delta).
    pub fn require_whole_mailbox(&self) -> GraphResult<()> {
        self.access.whole_mailbox(self.mode)
    }

    /// Where a contact addressed by `path` and id may be looked up. Through `/contacts/{id}`, a
    /// caller with only some folders shared finds the contact only in those folders: elsewhere
    /// it is "not found", as if it did not exist.
    pub async fn contact_scope(&self, path: &FolderPath, id: &ContactId) -> GraphResult<Scope> {
        match (path, &self.access) {
            (FolderPath::Chain(_), _) => Ok(Scope::Folder(self.contacts_folder(path).await?)),
            (FolderPath::Default, MailboxAccess::Folders(_)) => {
                let contact = self
                    .state
                    .store
                    .get_contact(self.mailbox(), id, &Scope::Mailbox)
                    .await?
                    .filter(|c| self.access.sees(&c.folder_id))
                    .ok_or_else(GraphError::item_not_found)?;
                self.access.folder(&contact.folder_id, self.mode)?;
                Ok(Scope::Folder(contact.folder_id))
            }
            (FolderPath::Default, _) => {
                self.require_whole_mailbox()?;
                Ok(Scope::Mailbox)
            }
        }
    }
}
