//! Users' lifecycle: disabling a user (no sign-in, refresh tokens revoked, access tokens refused
//! at their next use) and removing one with everything of its mailbox.

use rolo_domain::GraphResult;

use crate::sql::{Sql, Value};
use crate::sql_store::bump_directory;
use crate::UserStanding;

/// The tables keyed by `mailbox_id`: everything of a mailbox, its grants to others and the
/// subscriptions (and pending notifications) on it.
const MAILBOX_TABLES: &[&str] = &[
    "folders",
    "contacts",
    "contact_emails",
    "contact_categories",
    "contact_xprops",
    "contact_words",
    "photos",
    "tombstones",
    "categories",
    "extensions",
    "subscriptions",
    "outbox",
    "mailbox_grants",
    "folder_grants",
    "messages",
    "message_categories",
    "events",
    "event_categories",
    "correspondents",
    "interactions",
    "todo_lists",
    "tasks",
    "task_categories",
    "group_threads",
    "posts",
    "post_categories",
    "mailboxes",
];

/// Rows naming the user in another role, by (table, column).
const USER_REFERENCES: &[(&str, &str)] = &[
    ("mailbox_grants", "grantee_id"),
    ("folder_grants", "grantee_id"),
    ("user_passwords", "user_id"),
    // Consent the user gave an app (an admin's, for everyone, is `*` and stays).
    ("app_grants", "principal"),
    // A device sign-in the user was completing.
    ("device_codes", "user_id"),
    // A member's place in groups; a removed group's own row and its membership.
    ("group_members", "user_id"),
    ("group_members", "group_id"),
    ("m365_groups", "id"),
    ("users", "id"),
];

/// State tables whose rows stay: tenant-wide definitions and apps, and apps' access policies.
/// A policy row naming a removed user must stay: an app with no rows left would reach every
/// mailbox, while a row naming nobody reaches nothing. Refresh-token families and redeemed
/// one-time keys name no user and expire on their own; a removed user's tokens fail anyway.
#[cfg(test)]
const KEPT_TABLES: &[&str] = &["schema_extensions", "apps", "app_policies", "refresh_families", "redeemed"];

pub(crate) async fn set_disabled(tx: &mut dyn Sql, user_id: &str, disabled: bool) -> GraphResult<bool> {
    // Disabling revokes the refresh tokens issued so far, for good: enabling again does not
    // bring them back.
    let sql = if disabled {
        "UPDATE users SET disabled = 1, token_epoch = token_epoch + 1 WHERE id = ? RETURNING id"
    } else {
        "UPDATE users SET disabled = 0 WHERE id = ? RETURNING id"
    };
    if tx.query_opt(sql, &[user_id.into()]).await?.is_none() {
        return Ok(false);
    }
    // Servers' caches of the directory compare this value: a disabled user's next request finds it.
    bump_directory(tx).await?;
    Ok(true)
}

pub(crate) async fn standing(conn: &mut dyn Sql, user_id: &str) -> GraphResult<Option<UserStanding>> {
    let row = conn.query_opt("SELECT disabled, token_epoch FROM users WHERE id = ?", &[user_id.into()]).await?;
    Ok(row.map(|r| UserStanding {
        disabled: r.int("disabled").unwrap_or(0) != 0,
        token_epoch: r.int("token_epoch").unwrap_or(0),
    }))
}

pub(crate) async fn remove(tx: &mut dyn Sql, user_id: &str) -> GraphResult<bool> {
    if tx.query_opt("SELECT 1 FROM users WHERE id = ?", &[user_id.into()]).await?.is_none() {
        return Ok(false);
    }
    let id: Value = user_id.into();
    for table in MAILBOX_TABLES {
        tx.execute(&format!("DELETE FROM {table} WHERE mailbox_id = ?"), std::slice::from_ref(&id)).await?;
    }
    for (table, column) in USER_REFERENCES {
        tx.execute(&format!("DELETE FROM {table} WHERE {column} = ?"), std::slice::from_ref(&id)).await?;
    }
    bump_directory(tx).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state table is cleared per mailbox, per user reference, or kept on purpose: a new
    /// table must be placed in one of the lists.
    #[test]
    fn removal_covers_every_state_table() {
        for table in crate::migrations::STATE_TABLES {
            let covered = MAILBOX_TABLES.contains(table)
                || USER_REFERENCES.iter().any(|(t, _)| t == table)
                || KEPT_TABLES.contains(table);
            assert!(covered, "{table}: removing a user must say what happens to it");
        }
    }
}
