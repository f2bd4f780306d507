//! Which scopes each kind of mailbox route accepts, as one table: for reading and for writing,
//! the delegated scopes that reach the caller's own mailbox, those that reach someone else's,
//! and the application roles. The router checks a request against it twice: before the mailbox
//! is looked up (as if it were the caller's own, so a caller without any fitting scope learns
//! nothing of who exists) and again once it knows whose mailbox it is.

use super::{Access, Principal};
use crate::error::{GraphError, GraphResult};

/// A family of mailbox routes that share their scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// Contacts, contact folders and everything below them (`Contacts.*`).
    Contacts,
    /// The master category list: mailbox settings (`MailboxSettings.*`).
    MailboxSettings,
    /// Messages and mail folders (`Mail.*`).
    Mail,
    /// `sendMail` and sending a draft (`Mail.Send`).
    MailSend,
    /// Events (`Calendars.*`).
    Calendars,
    /// Microsoft To Do (`Tasks.*`); it has no delegates.
    Tasks,
    /// The People API (`People.Read`, `People.Read.All`).
    People,
    /// A user's profile photo: directory data (`User.*`, `ProfilePhoto.*`).
    UserPhoto,
}

/// Who, besides the owner, may open the mailbox once the scopes allow the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxRule {
    /// The owner, an app, a delegate, or a grantee of some folders (contacts).
    AnyGrant,
    /// The owner, an app, or a whole-mailbox delegate: shared folders open nothing here.
    WholeMailbox,
    /// The owner or an app only (mailbox settings, To Do).
    OwnerOrApp,
    /// Directory data: delegated callers need no grant on the mailbox; apps need their access
    /// policy (the People API).
    DirectoryOrApp,
    /// Directory data for everyone (profile photos): no mailbox grant is looked at.
    Directory,
}

impl RouteKind {
    pub fn mailbox_rule(self) -> MailboxRule {
        match self {
            RouteKind::Contacts => MailboxRule::AnyGrant,
            RouteKind::Mail | RouteKind::MailSend | RouteKind::Calendars => MailboxRule::WholeMailbox,
            RouteKind::MailboxSettings | RouteKind::Tasks => MailboxRule::OwnerOrApp,
            RouteKind::People => MailboxRule::DirectoryOrApp,
            RouteKind::UserPhoto => MailboxRule::Directory,
        }
    }
}

/// The scopes one (route kind, access) accepts; any one of a list is enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeRule {
    pub kind: RouteKind,
    pub access: Access,
    /// Delegated scopes on the caller's own mailbox.
    pub own: &'static [&'static str],
    /// Delegated scopes on another user's mailbox.
    pub others: &'static [&'static str],
    /// Application roles (app-only callers), whoever's mailbox it is.
    pub app: &'static [&'static str],
}

const CONTACTS_READ: &[&str] =
    &["Contacts.Read", "Contacts.ReadWrite", "Contacts.Read.Shared", "Contacts.ReadWrite.Shared"];
const CONTACTS_READ_SHARED: &[&str] = &["Contacts.Read.Shared", "Contacts.ReadWrite.Shared"];
const CONTACTS_WRITE: &[&str] = &["Contacts.ReadWrite", "Contacts.ReadWrite.Shared"];
const CONTACTS_WRITE_SHARED: &[&str] = &["Contacts.ReadWrite.Shared"];
const MAIL_READ: &[&str] = &["Mail.Read", "Mail.ReadWrite", "Mail.Read.Shared", "Mail.ReadWrite.Shared"];
const MAIL_READ_SHARED: &[&str] = &["Mail.Read.Shared", "Mail.ReadWrite.Shared"];
const MAIL_WRITE: &[&str] = &["Mail.ReadWrite", "Mail.ReadWrite.Shared"];
const MAIL_WRITE_SHARED: &[&str] = &["Mail.ReadWrite.Shared"];
const MAIL_SEND: &[&str] = &["Mail.Send", "Mail.Send.Shared"];
const CALENDARS_READ: &[&str] =
    &["Calendars.Read", "Calendars.ReadWrite", "Calendars.Read.Shared", "Calendars.ReadWrite.Shared"];
const CALENDARS_READ_SHARED: &[&str] = &["Calendars.Read.Shared", "Calendars.ReadWrite.Shared"];
const CALENDARS_WRITE: &[&str] = &["Calendars.ReadWrite", "Calendars.ReadWrite.Shared"];
const CALENDARS_WRITE_SHARED: &[&str] = &["Calendars.ReadWrite.Shared"];
const SETTINGS_READ: &[&str] = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];
const SETTINGS_WRITE: &[&str] = &["MailboxSettings.ReadWrite"];
const PEOPLE_OWN: &[&str] = &["People.Read", "People.Read.All"];
const PEOPLE_ALL: &[&str] = &["People.Read.All"];
const PHOTO_READ_OWN: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "ProfilePhoto.Read.All",
    "ProfilePhoto.ReadWrite.All",
];
const PHOTO_READ_ALL: &[&str] = &[
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "ProfilePhoto.Read.All",
    "ProfilePhoto.ReadWrite.All",
];
const PHOTO_WRITE_OWN: &[&str] = &["User.ReadWrite", "User.ReadWrite.All", "ProfilePhoto.ReadWrite.All"];
const PHOTO_WRITE_ALL: &[&str] = &["User.ReadWrite.All", "ProfilePhoto.ReadWrite.All"];
const NONE: &[&str] = &[];

const fn rule(
    kind: RouteKind,
    access: Access,
    own: &'static [&'static str],
    others: &'static [&'static str],
    app: &'static [&'static str],
) -> ScopeRule {
    ScopeRule { kind, access, own, others, app }
}

use Access::{Read, Write};
use RouteKind::*;

/// Every (route kind, access) and the scopes it accepts. `.Shared` scopes include the caller's
/// own mailbox, as Graph's permission reference says; apps hold the plain roles.
pub const SCOPES: &[ScopeRule] = &[
    rule(Contacts, Read, CONTACTS_READ, CONTACTS_READ_SHARED, CONTACTS_READ),
    rule(Contacts, Write, CONTACTS_WRITE, CONTACTS_WRITE_SHARED, CONTACTS_WRITE),
    rule(MailboxSettings, Read, SETTINGS_READ, SETTINGS_READ, SETTINGS_READ),
    rule(MailboxSettings, Write, SETTINGS_WRITE, SETTINGS_WRITE, SETTINGS_WRITE),
    rule(Mail, Read, MAIL_READ, MAIL_READ_SHARED, MAIL_READ),
    rule(Mail, Write, MAIL_WRITE, MAIL_WRITE_SHARED, MAIL_WRITE),
    rule(MailSend, Read, MAIL_SEND, MAIL_SEND, MAIL_SEND),
    rule(MailSend, Write, MAIL_SEND, MAIL_SEND, MAIL_SEND),
    rule(Calendars, Read, CALENDARS_READ, CALENDARS_READ_SHARED, CALENDARS_READ),
    rule(Calendars, Write, CALENDARS_WRITE, CALENDARS_WRITE_SHARED, CALENDARS_WRITE),
    rule(Tasks, Read, &["Tasks.Read", "Tasks.ReadWrite"], NONE, &["Tasks.Read.All", "Tasks.ReadWrite.All"]),
    rule(Tasks, Write, &["Tasks.ReadWrite"], NONE, &["Tasks.ReadWrite.All"]),
    // The People API only reads; a write never reaches it (405), but the table is total.
    rule(People, Read, PEOPLE_OWN, PEOPLE_ALL, PEOPLE_ALL),
    rule(People, Write, PEOPLE_OWN, PEOPLE_ALL, PEOPLE_ALL),
    rule(UserPhoto, Read, PHOTO_READ_OWN, PHOTO_READ_ALL, PHOTO_READ_ALL),
    rule(UserPhoto, Write, PHOTO_WRITE_OWN, PHOTO_WRITE_ALL, PHOTO_WRITE_ALL),
];

/// The scopes a route accepts.
pub fn scope_rule(kind: RouteKind, access: Access) -> &'static ScopeRule {
    SCOPES
        .iter()
        .find(|r| r.kind == kind && r.access == access)
        .unwrap_or_else(|| unreachable!("the scope table covers every route kind and access"))
}

impl Principal {
    /// Checks the caller's scopes for `access` to a `kind` route in a mailbox that is the
    /// caller's own (`own`) or someone else's.
    pub fn require_route(&self, kind: RouteKind, access: Access, own: bool) -> GraphResult<()> {
        let rule = scope_rule(kind, access);
        let accepted = if self.is_app() {
            rule.app
        } else if own {
            rule.own
        } else {
            rule.others
        };
        if accepted.iter().any(|s| self.has(s)) {
            Ok(())
        } else {
            Err(GraphError::access_denied())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [RouteKind; 8] = [Contacts, MailboxSettings, Mail, MailSend, Calendars, Tasks, People, UserPhoto];

    fn user(scopes: &[&str]) -> Principal {
        Principal {
            user_id: Some("u".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            app_id: None,
            app_only: false,
        }
    }

    fn app(roles: &[&str]) -> Principal {
        Principal { user_id: None, app_only: true, ..user(roles) }
    }

    fn ok(p: &Principal, kind: RouteKind, access: Access, own: bool) -> bool {
        p.require_route(kind, access, own).is_ok()
    }

    #[test]
    fn the_table_is_total_and_writes_need_more_than_reads() {
        for kind in KINDS {
            for access in [Read, Write] {
                assert_eq!(SCOPES.iter().filter(|r| r.kind == kind && r.access == access).count(), 1, "{kind:?}");
            }
            let (read, write) = (scope_rule(kind, Read), scope_rule(kind, Write));
            // Whatever writes also reads; what reaches others' mailboxes also reaches one's own.
            for s in write.own {
                assert!(read.own.contains(s), "{kind:?}: {s}");
            }
            for r in [read, write] {
                for s in r.others {
                    assert!(r.own.contains(s), "{kind:?}: {s}");
                }
            }
        }
    }

    #[test]
    fn scopes_gate_reads_and_writes() {
        assert!(ok(&user(&["Contacts.Read"]), Contacts, Read, true));
        assert!(!ok(&user(&["Contacts.Read"]), Contacts, Write, true));
        assert!(ok(&user(&["contacts.readwrite"]), Contacts, Write, true));
        assert!(!ok(&user(&["User.Read"]), Contacts, Read, true));
        assert!(ok(&user(&["User.Read"]), UserPhoto, Read, true));
        assert!(!ok(&user(&["User.Read"]), UserPhoto, Read, false));
        assert!(!ok(&user(&["User.Read"]), UserPhoto, Write, true));
        assert!(ok(&user(&["User.ReadBasic.All"]), UserPhoto, Read, false));
        assert!(!ok(&user(&["User.ReadWrite"]), UserPhoto, Write, false));
        assert!(ok(&user(&["ProfilePhoto.ReadWrite.All"]), UserPhoto, Write, false));
        assert!(ok(&user(&["MailboxSettings.Read"]), MailboxSettings, Read, false));
        assert!(!ok(&user(&["MailboxSettings.Read"]), MailboxSettings, Write, true));
    }

    #[test]
    fn shared_scopes_reach_other_mailboxes() {
        assert!(!ok(&user(&["Contacts.ReadWrite"]), Contacts, Read, false));
        assert!(ok(&user(&["Contacts.Read.Shared"]), Contacts, Read, false));
        assert!(!ok(&user(&["Contacts.Read.Shared"]), Contacts, Write, false));
        assert!(ok(&user(&["Contacts.ReadWrite.Shared"]), Contacts, Write, false));
        assert!(ok(&user(&["Contacts.ReadWrite.Shared"]), Contacts, Write, true));
        // Apps hold the plain roles, for any mailbox.
        assert!(ok(&app(&["Contacts.Read"]), Contacts, Read, false));
        assert!(!ok(&app(&["Contacts.Read"]), Contacts, Write, false));
    }

    #[test]
    fn mail_calendar_tasks_and_people_scopes() {
        assert!(ok(&user(&["Mail.Read"]), Mail, Read, true));
        assert!(!ok(&user(&["Mail.Read"]), Mail, Write, true));
        assert!(!ok(&user(&["Mail.ReadWrite"]), Mail, Read, false));
        assert!(ok(&user(&["Mail.ReadWrite.Shared"]), Mail, Write, false));
        assert!(!ok(&user(&["Contacts.ReadWrite"]), Mail, Read, true));
        assert!(ok(&user(&["Mail.Send"]), MailSend, Write, true));
        assert!(!ok(&user(&["Mail.ReadWrite"]), MailSend, Write, true));
        assert!(ok(&user(&["Calendars.Read"]), Calendars, Read, true));
        assert!(!ok(&user(&["Calendars.Read"]), Calendars, Write, true));
        assert!(ok(&user(&["Tasks.Read"]), Tasks, Read, true));
        assert!(!ok(&user(&["Tasks.Read"]), Tasks, Write, true));
        assert!(!ok(&user(&["Tasks.ReadWrite"]), Tasks, Read, false));
        assert!(ok(&app(&["Tasks.Read.All"]), Tasks, Read, false));
        assert!(!ok(&app(&["Tasks.Read"]), Tasks, Read, false));
        assert!(ok(&user(&["People.Read"]), People, Read, true));
        assert!(!ok(&user(&["People.Read"]), People, Read, false));
        assert!(!ok(&app(&["People.Read"]), People, Read, false));
        assert!(ok(&app(&["People.Read.All"]), People, Read, false));
    }
}
