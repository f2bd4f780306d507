//! Who is calling and what they may do: the permission scopes of Graph's contacts API.

use crate::error::{GraphError, GraphResult};
use crate::ids::FolderId;

mod routes;
pub use routes::{scope_rule, MailboxRule, RouteKind, ScopeRule, SCOPES};

/// An authenticated caller, from a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The signed-in user's object id (`oid`); `None` for app-only tokens.
    pub user_id: Option<String>,
    /// Delegated scopes (`scp`) or application roles (`roles`).
    pub scopes: Vec<String>,
    /// The calling application's client id (`appid`/`azp`).
    pub app_id: Option<String>,
    /// An app-only token (client credentials): `scopes` are application roles and there is no
    /// signed-in user.
    pub app_only: bool,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Principal {
    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.eq_ignore_ascii_case(scope))
    }

    /// An app-only caller (client credentials): no signed-in user.
    pub fn is_app(&self) -> bool {
        self.app_only || self.user_id.is_none()
    }

    /// Whether the caller is the owner of the mailbox (subscriptions are on one's own).
    pub fn may_open_mailbox(&self, owner_user_id: &str) -> GraphResult<()> {
        if self.user_id.as_deref() == Some(owner_user_id) {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }
}

/// A grant on another user's mailbox or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Read,
    Write,
}

impl Grant {
    pub fn parse(role: &str) -> Option<Grant> {
        match role {
            "read" => Some(Grant::Read),
            "write" => Some(Grant::Write),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Grant::Read => "read",
            Grant::Write => "write",
        }
    }

    fn allows(self, access: Access) -> bool {
        self == Grant::Write || access == Access::Read
    }
}

/// What a caller may do in the mailbox a request addresses, once its scopes have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxAccess {
    /// The signed-in user's own mailbox.
    Owner,
    /// An app-only caller its access policy lets in.
    App,
    /// A delegate of the whole mailbox (or a member with full access to a shared mailbox).
    Delegate(Grant),
    /// Only some folders, shared with the caller.
    Folders(Vec<(FolderId, Grant)>),
}

impl MailboxAccess {
    /// May the caller use `folder` (its contacts, or the folder itself for reads)?
    pub fn folder(&self, folder: &FolderId, access: Access) -> GraphResult<()> {
        match self {
            MailboxAccess::Owner | MailboxAccess::App => Ok(()),
            MailboxAccess::Delegate(g) if g.allows(access) => Ok(()),
            MailboxAccess::Folders(list) => match list.iter().find(|(f, _)| f == folder) {
                Some((_, g)) if g.allows(access) => Ok(()),
                _ => Err(GraphError::access_denied()),
            },
            _ => Err(GraphError::access_denied()),
        }
    }

    /// Can the caller see `folder` at all? (Items in folders it cannot see are "not found", so
    /// an answer never tells whether something exists where the caller may not look.)
    pub fn sees(&self, folder: &FolderId) -> bool {
        match self {
            MailboxAccess::Folders(list) => list.iter().any(|(f, _)| f == folder),
            _ => true,
        }
    }

    /// Operations on the mailbox as a whole: its folder tree, mailbox-wide lists and delta.
    pub fn whole_mailbox(&self, access: Access) -> GraphResult<()> {
        match self {
            MailboxAccess::Owner | MailboxAccess::App => Ok(()),
            MailboxAccess::Delegate(g) if g.allows(access) => Ok(()),
            _ => Err(GraphError::access_denied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(scopes: &[&str]) -> Principal {
        Principal {
            user_id: Some("u".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            app_id: None,
            app_only: false,
        }
    }

    #[test]
    fn only_the_owner_opens_its_mailbox() {
        assert!(p(&[]).may_open_mailbox("other").is_err());
        assert!(p(&[]).may_open_mailbox("u").is_ok());
    }

    #[test]
    fn grants_decide_folders_and_the_whole_mailbox() {
        let a = FolderId::from_stored("A".into());
        let b = FolderId::from_stored("B".into());
        let folders = MailboxAccess::Folders(vec![(a.clone(), Grant::Read)]);
        assert!(folders.folder(&a, Access::Read).is_ok());
        assert!(folders.folder(&a, Access::Write).is_err());
        assert!(folders.folder(&b, Access::Read).is_err());
        assert!(folders.whole_mailbox(Access::Read).is_err());
        assert!(!folders.sees(&b));
        let delegate = MailboxAccess::Delegate(Grant::Read);
        assert!(delegate.folder(&b, Access::Read).is_ok());
        assert!(delegate.folder(&b, Access::Write).is_err());
        assert!(MailboxAccess::Delegate(Grant::Write).whole_mailbox(Access::Write).is_ok());
    }
}
