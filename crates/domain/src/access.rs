//! Who is calling and what they may do: the permission scopes of Graph's contacts API.

use crate::error::{GraphError, GraphResult};
use crate::ids::FolderId;

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

    /// Checks the scopes for an operation on the caller's own mailbox. `.Shared` scopes include
    /// the caller's own contacts, as Graph's permission reference says.
    pub fn require(&self, access: Access) -> GraphResult<()> {
        let ok = match access {
            Access::Read => {
                self.has("Contacts.Read")
                    || self.has("Contacts.ReadWrite")
                    || self.has("Contacts.Read.Shared")
                    || self.has("Contacts.ReadWrite.Shared")
            }
            Access::Write => self.has("Contacts.ReadWrite") || self.has("Contacts.ReadWrite.Shared"),
        };
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// Checks the scopes for the master category list (mailbox settings, not contacts).
    pub fn require_mailbox_settings(&self, access: Access) -> GraphResult<()> {
        let ok = match access {
            Access::Read => self.has("MailboxSettings.Read") || self.has("MailboxSettings.ReadWrite"),
            Access::Write => self.has("MailboxSettings.ReadWrite"),
        };
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// Checks the scopes for messages: `Mail.Read`/`Mail.ReadWrite` on the caller's own mailbox
    /// (or any, for an app holding the roles), the `.Shared` forms on someone else's.
    pub fn require_mail(&self, access: Access, own: bool) -> GraphResult<()> {
        self.require_family("Mail", access, own)
    }

    /// Checks the scope for `sendMail`: `Mail.Send`.
    pub fn require_mail_send(&self) -> GraphResult<()> {
        if self.has("Mail.Send") || self.has("Mail.Send.Shared") {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// Checks the scopes for the People API: `People.Read` for the caller's own list,
    /// `People.Read.All` for anyone's (and for apps).
    pub fn require_people(&self, own: bool) -> GraphResult<()> {
        let ok = self.has("People.Read.All") || (own && !self.is_app() && self.has("People.Read"));
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// Checks the scopes for events: `Calendars.Read`/`Calendars.ReadWrite`, as for mail.
    pub fn require_calendars(&self, access: Access, own: bool) -> GraphResult<()> {
        self.require_family("Calendars", access, own)
    }

    /// Checks the scopes for Microsoft To Do: `Tasks.Read`/`Tasks.ReadWrite` on the caller's own
    /// tasks; apps hold the application permissions `Tasks.Read.All`/`Tasks.ReadWrite.All`. To Do
    /// has no delegate access, so a user never reaches someone else's tasks.
    pub fn require_tasks(&self, access: Access, own: bool) -> GraphResult<()> {
        let ok = match (self.is_app(), access) {
            (true, Access::Read) => self.has("Tasks.Read.All") || self.has("Tasks.ReadWrite.All"),
            (true, Access::Write) => self.has("Tasks.ReadWrite.All"),
            (false, Access::Read) => own && (self.has("Tasks.Read") || self.has("Tasks.ReadWrite")),
            (false, Access::Write) => own && self.has("Tasks.ReadWrite"),
        };
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// `{family}.Read`/`.ReadWrite` (own mailbox or app), `.Read.Shared`/`.ReadWrite.Shared`
    /// (also someone else's).
    fn require_family(&self, family: &str, access: Access, own: bool) -> GraphResult<()> {
        let has = |suffix: &str| self.has(&format!("{family}.{suffix}"));
        let ok = match (access, own || self.is_app()) {
            (Access::Read, true) => has("Read") || has("ReadWrite") || has("Read.Shared") || has("ReadWrite.Shared"),
            (Access::Write, true) => has("ReadWrite") || has("ReadWrite.Shared"),
            (Access::Read, false) => has("Read.Shared") || has("ReadWrite.Shared"),
            (Access::Write, false) => has("ReadWrite.Shared"),
        };
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// Checks the scopes for a user's profile photo: any signed-in user may read their own, the
    /// directory-wide scopes reach everyone's, as on Graph.
    pub fn require_user_photo(&self, access: Access, own: bool) -> GraphResult<()> {
        let any = |scopes: &[&str]| scopes.iter().any(|s| self.has(s));
        const READ_ALL: &[&str] = &[
            "User.ReadBasic.All",
            "User.Read.All",
            "User.ReadWrite.All",
            "ProfilePhoto.Read.All",
            "ProfilePhoto.ReadWrite.All",
        ];
        const WRITE_ALL: &[&str] = &["User.ReadWrite.All", "ProfilePhoto.ReadWrite.All"];
        let ok = match (access, own) {
            (Access::Read, true) => any(&["User.Read", "User.ReadWrite"]) || any(READ_ALL),
            (Access::Read, false) => any(READ_ALL),
            (Access::Write, true) => self.has("User.ReadWrite") || any(WRITE_ALL),
            (Access::Write, false) => any(WRITE_ALL),
        };
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

    /// Whether the caller may reach the mailbox of `owner`. Until sharing and application
    /// permissions exist, only the caller's own mailbox is reachable.
    /// An app-only caller (client credentials): no signed-in user.
    pub fn is_app(&self) -> bool {
        self.app_only || self.user_id.is_none()
    }

    /// The scope check for contacts in a mailbox: the caller's own (`Contacts.*`, the `.Shared`
    /// forms included), another user's (only the `.Shared` forms), or any, for an app (the
    /// `Contacts.Read`/`Contacts.ReadWrite` application roles).
    pub fn require_contacts(&self, access: Access, own: bool) -> GraphResult<()> {
        if own || self.is_app() {
            return self.require(access);
        }
        let ok = match access {
            Access::Read => self.has("Contacts.Read.Shared") || self.has("Contacts.ReadWrite.Shared"),
            Access::Write => self.has("Contacts.ReadWrite.Shared"),
        };
        if ok {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }

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
    fn scopes_gate_reads_and_writes() {
        assert!(p(&["Contacts.Read"]).require(Access::Read).is_ok());
        assert!(p(&["Contacts.Read"]).require(Access::Write).is_err());
        assert!(p(&["contacts.readwrite"]).require(Access::Write).is_ok());
        assert!(p(&["User.Read"]).require(Access::Read).is_err());
        assert!(p(&[]).may_open_mailbox("other").is_err());
        assert!(p(&[]).may_open_mailbox("u").is_ok());
        assert!(p(&["User.Read"]).require_user_photo(Access::Read, true).is_ok());
        assert!(p(&["User.Read"]).require_user_photo(Access::Read, false).is_err());
        assert!(p(&["User.Read"]).require_user_photo(Access::Write, true).is_err());
        assert!(p(&["User.ReadBasic.All"]).require_user_photo(Access::Read, false).is_ok());
        assert!(p(&["User.ReadWrite"]).require_user_photo(Access::Write, false).is_err());
        assert!(p(&["ProfilePhoto.ReadWrite.All"]).require_user_photo(Access::Write, false).is_ok());
    }

    #[test]
    fn shared_scopes_reach_other_mailboxes() {
        assert!(p(&["Contacts.ReadWrite"]).require_contacts(Access::Read, false).is_err());
        assert!(p(&["Contacts.Read.Shared"]).require_contacts(Access::Read, false).is_ok());
        assert!(p(&["Contacts.Read.Shared"]).require_contacts(Access::Write, false).is_err());
        assert!(p(&["Contacts.ReadWrite.Shared"]).require_contacts(Access::Write, false).is_ok());
        assert!(p(&["Contacts.ReadWrite.Shared"]).require_contacts(Access::Write, true).is_ok());
    }

    #[test]
    fn mail_and_calendar_scopes() {
        assert!(p(&["Mail.Read"]).require_mail(Access::Read, true).is_ok());
        assert!(p(&["Mail.Read"]).require_mail(Access::Write, true).is_err());
        assert!(p(&["Tasks.Read"]).require_tasks(Access::Read, true).is_ok());
        assert!(p(&["Tasks.Read"]).require_tasks(Access::Write, true).is_err());
        assert!(p(&["Tasks.ReadWrite"]).require_tasks(Access::Read, false).is_err());
        assert!(p(&["Mail.ReadWrite"]).require_mail(Access::Read, false).is_err());
        assert!(p(&["Mail.ReadWrite.Shared"]).require_mail(Access::Write, false).is_ok());
        assert!(p(&["Contacts.ReadWrite"]).require_mail(Access::Read, true).is_err());
        assert!(p(&["Mail.Send"]).require_mail_send().is_ok());
        assert!(p(&["Mail.ReadWrite"]).require_mail_send().is_err());
        assert!(p(&["Calendars.Read"]).require_calendars(Access::Read, true).is_ok());
        assert!(p(&["Calendars.Read"]).require_calendars(Access::Write, true).is_err());
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
