//! The storage role `Folders`.

use async_trait::async_trait;
use rolo_domain::{ContactFolder, FolderChanges, FolderId, GraphResult};

use crate::query::{ListQuery, Page};
use crate::Mailbox;

/// Contact folders.
#[async_trait]
pub trait Folders: Send + Sync {
    async fn get_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<Option<ContactFolder>>;
    async fn list_folders(
        &self,
        mailbox: &Mailbox,
        parent: &FolderId,
        query: &ListQuery,
    ) -> GraphResult<Page<ContactFolder>>;
    async fn create_folder(&self, mailbox: &Mailbox, parent: &FolderId, name: &str) -> GraphResult<ContactFolder>;
    async fn update_folder(
        &self,
        mailbox: &Mailbox,
        id: &FolderId,
        changes: &FolderChanges,
    ) -> GraphResult<ContactFolder>;
    /// Deletes a folder with its child folders and every contact in them.
    async fn delete_folder(&self, mailbox: &Mailbox, id: &FolderId) -> GraphResult<()>;
}
