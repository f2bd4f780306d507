//! The storage role `Categories`.

use async_trait::async_trait;
use rolo_domain::category::OutlookCategory;
use rolo_domain::GraphResult;

use crate::Mailbox;

/// A mailbox's master category list.
#[async_trait]
pub trait Categories: Send + Sync {
    async fn list_categories(&self, mailbox: &Mailbox) -> GraphResult<Vec<OutlookCategory>>;
    async fn get_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<Option<OutlookCategory>>;
    /// A name already in the list (ignoring case) is `409 ErrorDuplicateCategory`.
    async fn create_category(&self, mailbox: &Mailbox, name: &str, color: &str) -> GraphResult<OutlookCategory>;
    async fn update_category_color(&self, mailbox: &Mailbox, id: &str, color: &str) -> GraphResult<OutlookCategory>;
    async fn delete_category(&self, mailbox: &Mailbox, id: &str) -> GraphResult<()>;
}
