//! [`Sharing`] over SQL: mailbox kinds, grants, folder permissions and app access policies.

use super::*;

/// A folder grant joined with its grantee's [`USER_COLUMNS`] (the grant's id as `permission_id`).
pub(super) fn permission_from(mut row: Row) -> Option<FolderPermission> {
    let id = row.opt_text("permission_id")?;
    let grant = Grant::parse(&row.text("role"))?;
    Some(FolderPermission { id, grant, grantee: user_from(row) })
}

#[async_trait]
impl Sharing for SqlStore {
    async fn set_mailbox_kind(&self, user_id: &str, kind: MailboxKind) -> GraphResult<()> {
        let id = user_id.to_owned();
        self.write_directory(move |tx| {
            Box::pin(async move {
                tx.execute("UPDATE users SET shared = ? WHERE id = ?", &[kind.code().into(), id.as_str().into()])
                    .await?;
                bump_directory(tx).await
            })
        })
        .await
    }

    async fn is_shared_mailbox(&self, user_id: &str) -> GraphResult<bool> {
        let mut conn = self.backend.read().await?;
        let row = conn.query_opt("SELECT shared FROM users WHERE id = ?", &[user_id.into()]).await?;
        let code = row.map(|r| r.first().clone()).and_then(|v| v.as_i64()).unwrap_or(0);
        Ok(MailboxKind::from_code(code) == MailboxKind::Shared)
    }

    async fn grants_of(&self, mailbox: &Mailbox, grantee: &str) -> GraphResult<Grants> {
        let mut conn = self.backend.read().await?;
        let p = [mailbox.id.as_str().into(), grantee.into()];
        let whole =
            conn.query_opt("SELECT role FROM mailbox_grants WHERE mailbox_id = ? AND grantee_id = ?", &p).await?;
        let folders =
            conn.query("SELECT folder_id, role FROM folder_grants WHERE mailbox_id = ? AND grantee_id = ?", &p).await?;
        Ok(Grants {
            mailbox: whole.map(|r| r.first().clone()).and_then(|v| Grant::parse(&v.into_string())),
            folders: folders
                .into_iter()
                .filter_map(|mut r| {
                    let folder = FolderId::from_stored(r.text("folder_id"));
                    Grant::parse(&r.text("role")).map(|g| (folder, g))
                })
                .collect(),
        })
    }

    async fn set_mailbox_grant(&self, mailbox: &Mailbox, grantee: &str, grant: Option<Grant>) -> GraphResult<()> {
        let (mb, grantee) = (mailbox.id.clone(), grantee.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                tx.execute(
                    "DELETE FROM mailbox_grants WHERE mailbox_id = ? AND grantee_id = ?",
                    &[mb.as_str().into(), grantee.as_str().into()],
                )
                .await?;
                if let Some(g) = grant {
                    tx.execute(
                        "INSERT INTO mailbox_grants (mailbox_id, grantee_id, role) VALUES (?, ?, ?)",
                        &[mb.as_str().into(), grantee.as_str().into(), g.name().into()],
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn mailbox_grantees(&self, mailbox: &Mailbox) -> GraphResult<Vec<(User, Grant)>> {
        let mut conn = self.backend.read().await?;
        let sql = format!(
            "SELECT g.role, {USER_COLUMNS} FROM mailbox_grants g JOIN users u ON u.id = g.grantee_id \
             JOIN mailboxes m ON m.mailbox_id = u.id WHERE g.mailbox_id = ? ORDER BY u.upn_key"
        );
        let rows = conn.query(&sql, &[mailbox.id.as_str().into()]).await?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                let grant = Grant::parse(&r.text("role"))?;
                Some((user_from(r), grant))
            })
            .collect())
    }

    async fn folder_permissions(&self, mailbox: &Mailbox, folder: &FolderId) -> GraphResult<Vec<FolderPermission>> {
        let mut conn = self.backend.read().await?;
        let sql = format!(
            "SELECT g.id AS permission_id, g.role, {USER_COLUMNS} FROM folder_grants g JOIN users u ON u.id = g.grantee_id \
             JOIN mailboxes m ON m.mailbox_id = u.id WHERE g.mailbox_id = ? AND g.folder_id = ? ORDER BY u.upn_key"
        );
        let rows = conn.query(&sql, &[mailbox.id.as_str().into(), folder.as_str().into()]).await?;
        Ok(rows.into_iter().filter_map(permission_from).collect())
    }

    async fn add_folder_permission(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        grantee: &User,
        grant: Grant,
    ) -> GraphResult<FolderPermission> {
        let permission =
            FolderPermission { id: ContactId::generate().as_str().to_owned(), grantee: grantee.clone(), grant };
        let (mb, folder, p) = (mailbox.clone(), folder.clone(), permission.clone());
        self.write(move |tx| {
            Box::pin(async move {
                if !folder_exists(tx, &mb, &folder).await? {
                    return Err(GraphError::item_not_found());
                }
                let taken = tx
                    .query_opt(
                        "SELECT 1 FROM folder_grants WHERE mailbox_id = ? AND folder_id = ? AND grantee_id = ?",
                        &[mb.id.as_str().into(), folder.as_str().into(), p.grantee.id.as_str().into()],
                    )
                    .await?;
                if taken.is_some() {
                    return Err(GraphError::new(
                        ErrorKind::Conflict,
                        "ErrorItemExists",
                        "The folder is already shared with this user; update that permission instead.",
                    ));
                }
                tx.execute(
                    "INSERT INTO folder_grants (mailbox_id, folder_id, id, grantee_id, role) VALUES (?, ?, ?, ?, ?)",
                    &[
                        mb.id.as_str().into(),
                        folder.as_str().into(),
                        p.id.as_str().into(),
                        p.grantee.id.as_str().into(),
                        p.grant.name().into(),
                    ],
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(permission)
    }

    async fn update_folder_permission(
        &self,
        mailbox: &Mailbox,
        folder: &FolderId,
        id: &str,
        grant: Grant,
    ) -> GraphResult<FolderPermission> {
        let (mb, f, pid) = (mailbox.id.clone(), folder.clone(), id.to_owned());
        let n = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "UPDATE folder_grants SET role = ? WHERE mailbox_id = ? AND folder_id = ? AND id = ?",
                        &[grant.name().into(), mb.as_str().into(), f.as_str().into(), pid.as_str().into()],
                    )
                    .await
                })
            })
            .await?;
        if n == 0 {
            return Err(GraphError::item_not_found());
        }
        self.folder_permissions(mailbox, folder)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(GraphError::item_not_found)
    }

    async fn delete_folder_permission(&self, mailbox: &Mailbox, folder: &FolderId, id: &str) -> GraphResult<()> {
        let (mb, f, pid) = (mailbox.id.clone(), folder.clone(), id.to_owned());
        let n = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.execute(
                        "DELETE FROM folder_grants WHERE mailbox_id = ? AND folder_id = ? AND id = ?",
                        &[mb.as_str().into(), f.as_str().into(), pid.as_str().into()],
                    )
                    .await
                })
            })
            .await?;
        if n == 0 {
            return Err(GraphError::item_not_found());
        }
        Ok(())
    }

    async fn app_may_access(&self, app_id: &str, user_id: &str) -> GraphResult<bool> {
        let mut conn = self.backend.read().await?;
        let listed = conn
            .query_opt("SELECT 1 FROM app_policies WHERE app_id = ? AND user_id = ?", &[app_id.into(), user_id.into()])
            .await?;
        if listed.is_some() {
            return Ok(true);
        }
        // Not listed: allowed only when the app has no policy at all.
        let any = conn.query_opt("SELECT 1 FROM app_policies WHERE app_id = ? LIMIT 1", &[app_id.into()]).await?;
        Ok(any.is_none())
    }

    async fn restrict_app(&self, app_id: &str, user_id: &str, allow: bool) -> GraphResult<()> {
        let (app, user) = (app_id.to_owned(), user_id.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let p = [app.as_str().into(), user.as_str().into()];
                tx.execute("DELETE FROM app_policies WHERE app_id = ? AND user_id = ?", &p).await?;
                if allow {
                    tx.execute("INSERT INTO app_policies (app_id, user_id) VALUES (?, ?)", &p).await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn app_policy(&self, app_id: &str) -> GraphResult<Vec<String>> {
        let mut conn = self.backend.read().await?;
        let rows =
            conn.query("SELECT user_id FROM app_policies WHERE app_id = ? ORDER BY user_id", &[app_id.into()]).await?;
        Ok(rows.into_iter().map(|r| r.first().clone().into_string()).collect())
    }
}
