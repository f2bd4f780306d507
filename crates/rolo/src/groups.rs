//! The command line's side of Microsoft 365 groups: `groups add` and `groups list`.

use rolo_store::prelude::*;
use rolo_store::{NewGroup, SqlStore};

/// `rolo groups add NAME --mail ADDRESS --members UPN,...`: prints the new group's id.
pub async fn add(
    store: &SqlStore,
    name: &str,
    mail: &str,
    members: &[String],
    description: Option<String>,
    visibility: Option<String>,
) -> Result<(), String> {
    let mut ids = Vec::new();
    for upn in members.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
        let user = store.find_user(upn).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such user: {upn}"))?;
        if user.kind != rolo_store::MailboxKind::User {
            return Err(format!("{upn} is not a user that can be a member"));
        }
        ids.push(user.id);
    }
    let group = store
        .create_group(NewGroup {
            display_name: name.to_owned(),
            mail: mail.to_owned(),
            description: description.unwrap_or_default(),
            visibility: visibility.unwrap_or_default(),
            members: ids,
        })
        .await
        .map_err(|e| e.message)?;
    println!("{}\t{}\t{}", group.id, group.mail, group.display_name);
    Ok(())
}

/// `rolo groups list`: id, mail, name and member count of each group.
pub async fn list(store: &SqlStore) -> Result<(), String> {
    for g in store.list_groups().await.map_err(|e| e.message)? {
        let members = store.group_members(&g.id).await.map_err(|e| e.message)?;
        println!("{}\t{}\t{}\t{} members", g.id, g.mail, g.display_name, members.len());
    }
    Ok(())
}
