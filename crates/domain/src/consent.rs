//! The delegated permissions Rolo knows and who may consent to each, as Microsoft's permission
//! reference marks them ("Admin consent required"). A delegated token carries the intersection
//! of what was asked, what the app has been granted and what the signing-in user may grant: a
//! user consents to the user-consentable scopes for themselves; the admin-only ones need an
//! admin's consent for that app (`rolo apps grant`, or `POST /oauth2PermissionGrants`).

/// Who may consent to a delegated permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Any user, for themselves.
    User,
    /// Only an administrator, for the app (every user's sign-ins).
    Admin,
}

/// Every delegated permission Rolo serves, with who may consent to it.
pub const DELEGATED_PERMISSIONS: &[(&str, Consent)] = &[
    ("User.Read", Consent::User),
    ("User.ReadWrite", Consent::User),
    ("User.ReadBasic.All", Consent::User),
    ("User.Read.All", Consent::Admin),
    ("User.ReadWrite.All", Consent::Admin),
    ("Directory.Read.All", Consent::Admin),
    ("Directory.ReadWrite.All", Consent::Admin),
    ("Directory.AccessAsUser.All", Consent::Admin),
    ("Organization.Read.All", Consent::Admin),
    ("Organization.ReadWrite.All", Consent::Admin),
    ("Application.Read.All", Consent::Admin),
    ("Application.ReadWrite.All", Consent::Admin),
    ("DelegatedPermissionGrant.ReadWrite.All", Consent::Admin),
    ("Contacts.Read", Consent::User),
    ("Contacts.ReadWrite", Consent::User),
    ("Contacts.Read.Shared", Consent::User),
    ("Contacts.ReadWrite.Shared", Consent::User),
    ("MailboxSettings.Read", Consent::User),
    ("MailboxSettings.ReadWrite", Consent::User),
    ("Mail.Read", Consent::User),
    ("Mail.ReadWrite", Consent::User),
    ("Mail.Read.Shared", Consent::User),
    ("Mail.ReadWrite.Shared", Consent::User),
    ("Mail.Send", Consent::User),
    ("Mail.Send.Shared", Consent::User),
    ("Calendars.Read", Consent::User),
    ("Calendars.ReadWrite", Consent::User),
    ("Calendars.Read.Shared", Consent::User),
    ("Calendars.ReadWrite.Shared", Consent::User),
    ("People.Read", Consent::User),
    ("People.Read.All", Consent::Admin),
    ("ProfilePhoto.Read.All", Consent::Admin),
    ("ProfilePhoto.ReadWrite.All", Consent::Admin),
    ("Tasks.Read", Consent::User),
    ("Tasks.ReadWrite", Consent::User),
    ("Group.Read.All", Consent::Admin),
    ("Group.ReadWrite.All", Consent::Admin),
];

/// The permission's canonical spelling and who may consent to it; `None` for a name Graph has
/// no delegated permission by (in Rolo's subset).
pub fn delegated(name: &str) -> Option<(&'static str, Consent)> {
    DELEGATED_PERMISSIONS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).copied()
}

/// What a delegated sign-in may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The scopes the token carries, in the order asked, canonically spelled.
    pub granted: Vec<String>,
    /// The scopes asked for that need an admin's consent the app does not have.
    pub needs_admin: Vec<String>,
    /// Names that are no delegated permission.
    pub unknown: Vec<String>,
}

/// Decides a delegated sign-in: `asked` are the Graph scopes requested; `admin_granted` are the
/// scopes an admin consented to for the app (every user). User-consentable scopes are the
/// user's to give at sign-in (signing in with them is the user's consent).
pub fn decide(asked: &[String], admin_granted: &[String]) -> Decision {
    let has = |list: &[String], name: &str| list.iter().any(|g| g.eq_ignore_ascii_case(name));
    let mut d = Decision { granted: Vec::new(), needs_admin: Vec::new(), unknown: Vec::new() };
    for a in asked {
        match delegated(a) {
            None => d.unknown.push(a.clone()),
            Some((name, Consent::User)) => d.granted.push(name.to_owned()),
            Some((name, Consent::Admin)) if has(admin_granted, name) => d.granted.push(name.to_owned()),
            Some((name, Consent::Admin)) => d.needs_admin.push(name.to_owned()),
        }
    }
    d.granted.dedup();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &str) -> Vec<String> {
        list.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn a_user_grants_only_user_consentable_scopes() {
        let d = decide(&s("People.Read.All User.ReadWrite.All Application.ReadWrite.All contacts.read"), &[]);
        assert_eq!(d.granted, s("Contacts.Read"));
        assert_eq!(d.needs_admin, s("People.Read.All User.ReadWrite.All Application.ReadWrite.All"));
        assert!(d.unknown.is_empty());
    }

    #[test]
    fn an_admin_grant_for_the_app_unlocks_admin_scopes() {
        let d = decide(&s("People.Read.All User.Read"), &s("people.read.all"));
        assert_eq!(d.granted, s("People.Read.All User.Read"));
        assert!(d.needs_admin.is_empty());
    }

    #[test]
    fn unknown_names_are_reported() {
        let d = decide(&s("Contacts.Read Bogus.Scope"), &[]);
        assert_eq!(d.unknown, s("Bogus.Scope"));
    }

    #[test]
    fn every_scope_the_access_rules_check_is_in_the_table() {
        for name in
            ["Contacts.ReadWrite.Shared", "MailboxSettings.ReadWrite", "People.Read", "Mail.Send", "User.ReadBasic.All"]
        {
            assert!(delegated(name).is_some(), "{name}");
        }
        // `/organization` (the server's users.rs) reads these, admin-consented as on Graph.
        assert_eq!(delegated("organization.read.all"), Some(("Organization.Read.All", Consent::Admin)));
        assert_eq!(delegated("Organization.ReadWrite.All"), Some(("Organization.ReadWrite.All", Consent::Admin)));
    }
}
