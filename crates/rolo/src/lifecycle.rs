//! The command line's side of users' lifecycle: `users disable`, `users enable` and
//! `users remove` (after a confirmation).

use std::io::{BufRead, IsTerminal, Write};

use rolo_store::prelude::*;
use rolo_store::{SqlStore, User};

async fn user(store: &SqlStore, key: &str) -> Result<User, String> {
    store.find_user(key).await.map_err(|e| e.message)?.ok_or_else(|| format!("no such user: {key}"))
}

/// Disables (no sign-in; refresh tokens revoked; access tokens refused at their next request on
/// every server sharing the database) or enables a user.
pub async fn set_disabled(store: &SqlStore, key: &str, disabled: bool) -> Result<(), String> {
    let user = user(store, key).await?;
    if !store.set_user_disabled(&user.id, disabled).await.map_err(|e| e.message)? {
        return Err(format!("no such user: {key}"));
    }
    let state = if disabled { "disabled" } else { "enabled" };
    println!("{}\t{}\t{state}", user.id, user.user_principal_name);
    Ok(())
}

/// Removes a user and all of its mailbox's data. Without `--yes` the operator confirms by typing
/// the user's principal name; with no terminal to ask on, it refuses.
pub async fn remove(store: &SqlStore, key: &str, yes: bool) -> Result<(), String> {
    let user = user(store, key).await?;
    if !yes {
        confirm(&user)?;
    }
    if !store.remove_user(&user.id).await.map_err(|e| e.message)? {
        return Err(format!("no such user: {key}"));
    }
    println!("{}\t{}\tremoved", user.id, user.user_principal_name);
    Ok(())
}

fn confirm(user: &User) -> Result<(), String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "removing {} deletes its mailbox's data for good: run it on a terminal to confirm, or pass --yes",
            user.user_principal_name
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "Remove {} ({}) and delete all of its mailbox's data? This cannot be undone.\nType the user's principal name to confirm: ",
        user.user_principal_name, user.id
    );
    let _ = err.flush();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).map_err(|e| e.to_string())?;
    if answer.trim().eq_ignore_ascii_case(&user.user_principal_name) {
        Ok(())
    } else {
        Err("not confirmed: nothing was removed".into())
    }
}
