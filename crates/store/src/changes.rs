//! The storage role `Changes`.

use async_trait::async_trait;
use rolo_domain::GraphResult;

use crate::{ChangeState, ChangeType, DeltaPage, DeltaQuery, Mailbox};

/// Change tracking: a mailbox's change counter, delta rounds and tombstones.
#[async_trait]
pub trait Changes: Send + Sync {
    async fn change_state(&self, mailbox: &Mailbox) -> GraphResult<ChangeState>;
    /// A page of changes; its cost follows the number of changes, not the size of the scope.
    async fn delta(&self, mailbox: &Mailbox, query: &DeltaQuery) -> GraphResult<DeltaPage>;
    /// Drops tombstones removed before `before` (a timestamp) and raises each mailbox's floor.
    async fn compact_tombstones(&self, before: &str) -> GraphResult<u64>;
}

impl ChangeType {
    /// Graph's `changeType` value.
    pub fn name(self) -> &'static str {
        match self {
            ChangeType::Created => "created",
            ChangeType::Updated => "updated",
            ChangeType::Deleted => "deleted",
        }
    }
}

/// What a tombstone records the removal of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TombstoneKind {
    Contact,
    Folder,
    /// A To Do task, scoped to its list.
    Task,
}

impl TombstoneKind {
    /// The value of the `tombstones.kind` column.
    pub fn code(self) -> &'static str {
        match self {
            TombstoneKind::Contact => "contact",
            TombstoneKind::Folder => "folder",
            TombstoneKind::Task => "task",
        }
    }
}
