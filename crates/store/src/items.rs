//! The storage role `Items`.

use async_trait::async_trait;
use rolo_domain::mail::{Item, ItemKind};
use rolo_domain::GraphResult;

use crate::query::{ListQuery, Page};
use crate::{Interaction, ItemEdit, Mailbox};

/// Messages and events (the signals People ranks by). Every write also refreshes the mailbox's
/// `interactions` aggregate for the addresses it touches, in the same transaction.
#[async_trait]
pub trait Items: Send + Sync {
    /// Stores a new message (in `folder`: inbox, drafts or sentitems) or event (`calendar`).
    async fn create_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: &str,
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> GraphResult<Item>;
    async fn get_item(&self, mailbox: &Mailbox, kind: ItemKind, id: &str) -> GraphResult<Option<Item>>;
    /// Lists a mailbox's messages (all, or one folder's) or events.
    async fn list_items(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        folder: Option<&str>,
        query: &ListQuery,
    ) -> GraphResult<Page<Item>>;
    /// Applies `edit` atomically; `if_match` holds the change keys the client accepts.
    async fn update_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
        edit: ItemEdit,
    ) -> GraphResult<Item>;
    async fn delete_item(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        id: &str,
        if_match: Option<Vec<String>>,
    ) -> GraphResult<()>;
    /// Who the mailbox exchanged mail and meetings with: one row per address, most recent first.
    async fn interactions(&self, mailbox: &Mailbox) -> GraphResult<Vec<Interaction>>;
    /// Stores many items (each with its folder) in one transaction, for imports.
    async fn create_items(
        &self,
        mailbox: &Mailbox,
        kind: ItemKind,
        items: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
    ) -> GraphResult<usize>;
}
