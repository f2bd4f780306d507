//! The storage role `Tasks`.

use async_trait::async_trait;
use rolo_domain::mail::Item;
use rolo_domain::todo::TodoList;
use rolo_domain::GraphResult;

use crate::query::{ListQuery, Page};
use crate::{ItemEdit, Mailbox};

/// Microsoft To Do: task lists and their tasks. Tasks are items of kind `Task` filed in their
/// list (the item's folder is the list id), so they share the items' filters and change log;
/// deleting one leaves a tombstone scoped to its list for `tasks/delta`.
#[async_trait]
pub trait Tasks: Send + Sync {
    /// Every list of the mailbox, the default one first (made on first use).
    async fn todo_lists(&self, mailbox: &Mailbox) -> GraphResult<Vec<TodoList>>;
    async fn create_todo_list(&self, mailbox: &Mailbox, display_name: String) -> GraphResult<TodoList>;
    /// Renames a list; the default list refuses.
    async fn rename_todo_list(
        &self,
        mailbox: &Mailbox,
        id: &str,
        if_match: Option<Vec<String>>,
        display_name: String,
    ) -> GraphResult<TodoList>;
    /// Deletes a list and its tasks; the default list refuses.
    async fn delete_todo_list(&self, mailbox: &Mailbox, id: &str, if_match: Option<Vec<String>>) -> GraphResult<()>;
    async fn create_task(
        &self,
        mailbox: &Mailbox,
        list: &str,
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> GraphResult<Item>;
    /// A task of `list` (`None` when the task is not there; 404 when the list is not).
    async fn get_task(&self, mailbox: &Mailbox, list: &str, id: &str) -> GraphResult<Option<Item>>;
    async fn list_tasks(&self, mailbox: &Mailbox, list: &str, query: &ListQuery) -> GraphResult<Page<Item>>;
    async fn update_task(
        &self,
        mailbox: &Mailbox,
        list: &str,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item>;
    async fn delete_task(
        &self,
        mailbox: &Mailbox,
        list: &str,
        id: &str,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()>;
}
