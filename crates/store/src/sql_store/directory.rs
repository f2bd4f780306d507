//! [`Directory`] over SQL: users, settings, registered apps and password hashes.

use super::*;

pub(super) const USER_COLUMNS: &str =
    "u.id, u.upn, u.display_name, m.root_folder_id, m.default_folder_id, u.shared, u.disabled";

pub(super) fn user_from(mut row: Row) -> User {
    let id = row.text("id");
    let (upn, name) = (row.text("upn"), row.text("display_name"));
    let (root, default) = (row.text("root_folder_id"), row.text("default_folder_id"));
    User {
        user_principal_name: upn,
        display_name: name,
        mailbox: Mailbox {
            id: id.clone(),
            root_folder_id: FolderId::from_stored(root),
            default_folder_id: FolderId::from_stored(default),
        },
        kind: MailboxKind::from_code(row.int("shared").unwrap_or(0)),
        disabled: row.int("disabled").unwrap_or(0) != 0,
        id,
    }
}

pub(super) const APP_COLUMNS: &str = "client_id, display_name, service_principal_id, roles, secret_hash, created_at, \
    public_client, redirect_uris, certificate";

pub(super) fn app_from(mut row: Row) -> RegisteredApp {
    RegisteredApp {
        client_id: row.text("client_id"),
        display_name: row.text("display_name"),
        service_principal_id: row.text("service_principal_id"),
        roles: row.text("roles").split_whitespace().map(str::to_owned).collect(),
        secret_hash: row.text("secret_hash"),
        created_at: row.text("created_at"),
        public_client: row.int("public_client").unwrap_or(0) != 0,
        redirect_uris: row.text("redirect_uris").split_whitespace().map(str::to_owned).collect(),
        certificate: Some(row.text("certificate")).filter(|c| !c.is_empty()),
    }
}

/// Marks the directory as changed (a user added, a mailbox's kind changed, the state replaced):
/// caches of the directory compare this value instead of re-reading every user.
pub(crate) async fn bump_directory(tx: &mut dyn Sql) -> GraphResult<()> {
    tx.execute(
        "INSERT INTO settings (name, value) VALUES ('directory_version', ?) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[new_guid().into()],
    )
    .await?;
    Ok(())
}

/// A new user (and its mailbox's folder ids) with object id `id`, not yet stored.
fn new_user(id: &str, upn: &str, display_name: &str) -> GraphResult<User> {
    if !rolo_domain::ids::is_guid(id) {
        return Err(GraphError::bad_request("BadRequest", format!("'{id}' is not a GUID.")));
    }
    let id = id.to_ascii_lowercase();
    Ok(User {
        id: id.clone(),
        user_principal_name: upn.to_owned(),
        display_name: display_name.to_owned(),
        mailbox: Mailbox { id, root_folder_id: FolderId::generate(), default_folder_id: FolderId::generate() },
        kind: MailboxKind::User,
        disabled: false,
    })
}

/// Writes a user, its mailbox and the mailbox's default Contacts folder; a taken user principal
/// name is a conflict. The caller bumps the directory's version once per transaction.
async fn insert_user(tx: &mut dyn Sql, user: &User) -> GraphResult<()> {
    let (id, upn) = (user.id.as_str(), user.user_principal_name.as_str());
    let exists = tx.query_opt("SELECT 1 FROM users WHERE upn_key = ?", &[fold(upn).into()]).await?.is_some();
    if exists {
        return Err(GraphError::new(
            ErrorKind::Conflict,
            "Request_BadRequest",
            format!("Another object with the same value for property userPrincipalName already exists: {upn}"),
        ));
    }
    tx.execute(
        "INSERT INTO users (id, upn, upn_key, display_name, created_at) VALUES (?, ?, ?, ?, ?)",
        &[
            id.into(),
            upn.into(),
            fold(upn).into(),
            user.display_name.as_str().into(),
            rolo_domain::time::now_utc().into(),
        ],
    )
    .await?;
    let (root, default) = (user.mailbox.root_folder_id.as_str(), user.mailbox.default_folder_id.as_str());
    tx.execute(
        "INSERT INTO mailboxes (mailbox_id, root_folder_id, default_folder_id, change_seq) VALUES (?, ?, ?, 1)",
        &[id.into(), root.into(), default.into()],
    )
    .await?;
    tx.execute(
        "INSERT INTO folders (mailbox_id, id, parent_id, display_name, name_key, well_known, created_seq, change_seq) \
         VALUES (?, ?, ?, ?, ?, ?, 1, 1)",
        &[
            id.into(),
            default.into(),
            root.into(),
            DEFAULT_FOLDER_NAME.into(),
            fold(DEFAULT_FOLDER_NAME).into(),
            DEFAULT_FOLDER_WELL_KNOWN.into(),
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Directory for SqlStore {
    async fn create_user_with_id(&self, id: &str, upn: &str, display_name: &str) -> GraphResult<User> {
        let user = new_user(id, upn, display_name)?;
        let written = user.clone();
        self.write_directory(move |tx| {
            Box::pin(async move {
                insert_user(tx, &written).await?;
                bump_directory(tx).await
            })
        })
        .await?;
        Ok(user)
    }

    async fn create_users(&self, users: &[(String, String)]) -> GraphResult<Vec<User>> {
        let users = users
            .iter()
            .map(|(upn, name)| new_user(&rolo_domain::ids::new_guid(), upn, name))
            .collect::<GraphResult<Vec<_>>>()?;
        let written = users.clone();
        self.write_directory(move |tx| {
            Box::pin(async move {
                for user in &written {
                    insert_user(tx, user).await?;
                }
                bump_directory(tx).await
            })
        })
        .await?;
        Ok(users)
    }

    async fn list_users(&self) -> GraphResult<Vec<User>> {
        let mut conn = self.backend.read().await?;
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users u JOIN mailboxes m ON m.mailbox_id = u.id ORDER BY u.upn_key");
        Ok(conn.query(&sql, &[]).await?.into_iter().map(user_from).collect())
    }

    async fn find_user(&self, id_or_upn: &str) -> GraphResult<Option<User>> {
        let mut conn = self.backend.read().await?;
        let by_id = rolo_domain::ids::is_guid(id_or_upn);
        let (cond, key) =
            if by_id { ("u.id = ?", id_or_upn.to_ascii_lowercase()) } else { ("u.upn_key = ?", fold(id_or_upn)) };
        let sql = format!("SELECT {USER_COLUMNS} FROM users u JOIN mailboxes m ON m.mailbox_id = u.id WHERE {cond}");
        let found = conn.query_opt(&sql, &[key.into()]).await?.map(user_from);
        // UPNs compare as Entra compares them: ignoring ASCII case only. The key folds all of
        // Unicode's case (so no two users differ only by it), which also maps look-alikes such as
        // the Kelvin sign onto ASCII letters: a row found that way is not the user named.
        Ok(found.filter(|u| by_id || u.user_principal_name.eq_ignore_ascii_case(id_or_upn)))
    }

    async fn set_user_disabled(&self, user_id: &str, disabled: bool) -> GraphResult<bool> {
        let id = user_id.to_ascii_lowercase();
        self.write_directory(move |tx| Box::pin(async move { crate::lifecycle::set_disabled(tx, &id, disabled).await }))
            .await
    }

    async fn user_standing(&self, user_id: &str) -> GraphResult<Option<UserStanding>> {
        let mut conn = self.backend.read().await?;
        crate::lifecycle::standing(conn.as_mut(), &user_id.to_ascii_lowercase()).await
    }

    async fn remove_user(&self, user_id: &str) -> GraphResult<bool> {
        let id = user_id.to_ascii_lowercase();
        self.write_directory(move |tx| Box::pin(async move { crate::lifecycle::remove(tx, &id).await })).await
    }

    async fn directory_version(&self) -> GraphResult<String> {
        if let Some(v) = self.directory.fresh() {
            return Ok(v);
        }
        let ticket = self.directory.ticket();
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT value FROM settings WHERE name = 'directory_version'", &[]).await?;
        let version = row.map(|r| r.first().clone()).map(Value::into_string).unwrap_or_default();
        self.directory.remember(ticket, &version);
        Ok(version)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> GraphResult<String> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    &[name.as_str().into(), value.into()],
                )
                .await?;
                let row = tx.query_opt("SELECT value FROM settings WHERE name = ?", &[name.into()]).await?;
                Ok(row.map(|r| r.first().clone()).map(Value::into_string).unwrap_or_default())
            })
        })
        .await
    }

    async fn replace_setting(&self, name: &str, value: &str) -> GraphResult<()> {
        let params = [name.into(), value.into()];
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    &params,
                )
                .await
                .map(|_| ())
            })
        })
        .await
    }

    async fn create_app(&self, app: &RegisteredApp) -> GraphResult<()> {
        let app = app.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let inserted = tx
                    .execute(
                        &format!(
                            "INSERT INTO apps ({APP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING"
                        ),
                        &[
                            app.client_id.to_ascii_lowercase().into(),
                            app.display_name.into(),
                            app.service_principal_id.into(),
                            app.roles.join(" ").into(),
                            app.secret_hash.into(),
                            app.created_at.into(),
                            i64::from(app.public_client).into(),
                            app.redirect_uris.join(" ").into(),
                            app.certificate.unwrap_or_default().into(),
                        ],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "Request_BadRequest",
                        format!("Another application with the same appId already exists: {}", app.client_id),
                    ));
                }
                Ok(())
            })
        })
        .await
    }

    async fn find_app(&self, client_id: &str) -> GraphResult<Option<RegisteredApp>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {APP_COLUMNS} FROM apps WHERE client_id = ?");
        Ok(conn.query_opt(&sql, &[client_id.to_ascii_lowercase().into()]).await?.map(app_from))
    }

    async fn list_apps(&self) -> GraphResult<Vec<RegisteredApp>> {
        let mut conn = self.backend.read().await?;
        let sql = format!("SELECT {APP_COLUMNS} FROM apps ORDER BY created_at, client_id");
        Ok(conn.query(&sql, &[]).await?.into_iter().map(app_from).collect())
    }

    async fn update_app(&self, app: &RegisteredApp) -> GraphResult<bool> {
        let app = app.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx
                    .execute(
                        "UPDATE apps SET display_name = ?, roles = ?, secret_hash = ?, public_client = ?, \
                         redirect_uris = ?, certificate = ? WHERE client_id = ?",
                        &[
                            app.display_name.into(),
                            app.roles.join(" ").into(),
                            app.secret_hash.into(),
                            i64::from(app.public_client).into(),
                            app.redirect_uris.join(" ").into(),
                            app.certificate.unwrap_or_default().into(),
                            app.client_id.to_ascii_lowercase().into(),
                        ],
                    )
                    .await?;
                Ok(n > 0)
            })
        })
        .await
    }

    async fn delete_app(&self, client_id: &str) -> GraphResult<bool> {
        let id = client_id.to_ascii_lowercase();
        self.write(move |tx| {
            Box::pin(async move {
                let n = tx.execute("DELETE FROM apps WHERE client_id = ?", &[id.as_str().into()]).await?;
                if n > 0 {
                    // What names the app goes with it, so a new app can never inherit them.
                    tx.execute("DELETE FROM app_grants WHERE client_id = ?", &[id.as_str().into()]).await?;
                    tx.execute("DELETE FROM app_policies WHERE app_id = ?", &[id.as_str().into()]).await?;
                }
                Ok(n > 0)
            })
        })
        .await
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str) -> GraphResult<()> {
        let (user_id, hash) = (user_id.to_ascii_lowercase(), hash.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                if tx.query_opt("SELECT 1 FROM users WHERE id = ?", &[user_id.as_str().into()]).await?.is_none() {
                    return Err(GraphError::invalid_user(&user_id));
                }
                tx.execute(
                    "INSERT INTO user_passwords (user_id, hash, changed_at) VALUES (?, ?, ?) \
                     ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, changed_at = excluded.changed_at",
                    &[user_id.as_str().into(), hash.into(), rolo_domain::time::now_utc().into()],
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn password_hash(&self, user_id: &str) -> GraphResult<Option<String>> {
        let mut conn = self.backend.read().await?;
        let row = conn
            .query_opt("SELECT hash FROM user_passwords WHERE user_id = ?", &[user_id.to_ascii_lowercase().into()])
            .await?;
        Ok(row.map(|r| r.first().clone()).map(Value::into_string))
    }
}
