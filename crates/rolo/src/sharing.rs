//! The command line's side of sharing: delegation and shared-mailbox membership (`users grant`),
//! folder sharing (`share`) and application access policies (`apps restrict`).

use rolo_domain::{FolderId, Grant};
use rolo_store::prelude::*;
use rolo_store::{SqlStore, User};

async fn user(store: &SqlStore, key: &str) -> Result<User, String> {
    store.find_user(key).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such user: {key}"))
}

/// `read`, `write`, or `none` (take the grant back).
fn role(raw: &str) -> Result<Option<Grant>, String> {
    match raw {
        "none" => Ok(None),
        other => Grant::parse(other).map(Some).ok_or_else(|| format!("the role is read, write or none, not '{other}'")),
    }
}

pub async fn grant(store: &SqlStore, owner: &str, to: &str, raw_role: &str) -> Result<(), String> {
    let (owner, grantee) = (user(store, owner).await?, user(store, to).await?);
    if owner.id == grantee.id {
        return Err("a mailbox's owner needs no grant on it".into());
    }
    store.set_mailbox_grant(&owner.mailbox, &grantee.id, role(raw_role)?).await.map_err(|e| e.message)?;
    println!("{}\t{}\t{raw_role}", owner.user_principal_name, grantee.user_principal_name);
    Ok(())
}

pub async fn share(store: &SqlStore, owner: &str, folder: &str, with: &str, raw_role: &str) -> Result<(), String> {
    let (owner, grantee) = (user(store, owner).await?, user(store, with).await?);
    if owner.id == grantee.id {
        return Err("a folder cannot be shared with its owner".into());
    }
    let folder = if folder.eq_ignore_ascii_case(rolo_domain::folder::DEFAULT_FOLDER_WELL_KNOWN) {
        owner.mailbox.default_folder_id.clone()
    } else {
        FolderId::parse(folder).map_err(|e| e.message)?
    };
    let mb = &owner.mailbox;
    let existing = store.folder_permissions(mb, &folder).await.map_err(|e| e.message)?;
    let current = existing.iter().find(|p| p.grantee.id == grantee.id);
    match (role(raw_role)?, current) {
        (None, Some(p)) => store.delete_folder_permission(mb, &folder, &p.id).await.map_err(|e| e.message)?,
        (None, None) => {}
        (Some(g), Some(p)) => {
            store.update_folder_permission(mb, &folder, &p.id, g).await.map_err(|e| e.message)?;
        }
        (Some(g), None) => {
            store.add_folder_permission(mb, &folder, &grantee, g).await.map_err(|e| e.message)?;
        }
    }
    println!("{}\t{folder}\t{}\t{raw_role}", owner.user_principal_name, grantee.user_principal_name);
    Ok(())
}

pub async fn restrict(store: &SqlStore, app: &str, to: &[String], remove: bool) -> Result<(), String> {
    for key in to {
        let u = user(store, key).await?;
        store.restrict_app(app, &u.id, !remove).await.map_err(|e| e.message)?;
        println!("{app}\t{}\t{}", u.user_principal_name, if remove { "removed" } else { "allowed" });
    }
    Ok(())
}
