//! The storage role `Notifications`.

use async_trait::async_trait;
use rolo_domain::subscription::Subscription;
use rolo_domain::GraphResult;

use crate::{OutboxDepth, OutboxItem, SubscriptionEdit};

/// Change notifications: subscriptions and the outbox of deliveries.
#[async_trait]
pub trait Notifications: Send + Sync {
    /// Stores a subscription; a mailbox holds at most `subscription::MAX_PER_MAILBOX` (403).
    async fn create_subscription(&self, sub: Subscription) -> GraphResult<Subscription>;
    async fn get_subscription(&self, id: &str) -> GraphResult<Option<Subscription>>;
    /// The live subscriptions of an app, in one mailbox or in all.
    async fn list_subscriptions(&self, app_id: &str, mailbox_id: Option<&str>) -> GraphResult<Vec<Subscription>>;
    async fn update_subscription(&self, id: &str, edit: SubscriptionEdit) -> GraphResult<Subscription>;
    async fn delete_subscription(&self, id: &str) -> GraphResult<()>;
    /// Marks a `reauthorizationRequired` challenge answered (the next one comes later).
    async fn reauthorize_subscription(&self, id: &str) -> GraphResult<()>;
    /// Claims up to `limit` due deliveries until `lease_until`; rows another worker holds are
    /// skipped.
    async fn claim_outbox(&self, limit: usize, lease_until: &str) -> GraphResult<Vec<OutboxItem>>;
    /// Delivered: the rows go.
    async fn ack_outbox(&self, ids: &[String]) -> GraphResult<()>;
    /// Not delivered: tried again at `due_at`.
    async fn retry_outbox(&self, ids: &[String], due_at: &str) -> GraphResult<()>;
    /// Given up on: the rows go, and each subscription concerned gets a `missed` lifecycle event.
    async fn give_up_outbox(&self, items: &[OutboxItem]) -> GraphResult<()>;
    /// Removes expired subscriptions (and their pending deliveries) and queues
    /// `reauthorizationRequired` for those expiring within the hour, at most every 15 minutes.
    async fn sweep_subscriptions(&self) -> GraphResult<u64>;
    /// How many deliveries wait in the outbox (leased ones included) and when the oldest change
    /// among them happened: what an operator watches, and what a test waits on to know every
    /// delivery has been attempted to the end.
    async fn outbox_depth(&self) -> GraphResult<OutboxDepth>;
    /// Hands back the leases of these rows (claimed by this process and not yet delivered), so
    /// another process may deliver them at once instead of after the lease runs out: a process
    /// that shuts down calls this for what it still holds.
    async fn release_outbox(&self, ids: &[String]) -> GraphResult<()>;
    /// Fired after a commit that queued deliveries (here, or on PostgreSQL in any process): the
    /// worker waits on it between polls.
    fn outbox_signal(&self) -> crate::sql::OutboxSignal;
}
