//! The storage role `SchemaExtensions`.

use async_trait::async_trait;
use rolo_domain::schema::SchemaExtension;
use rolo_domain::GraphResult;

use crate::SchemaEdit;

/// Schema extension definitions (tenant-wide).
#[async_trait]
pub trait SchemaExtensions: Send + Sync {
    async fn list_schema_extensions(&self) -> GraphResult<Vec<SchemaExtension>>;
    async fn get_schema_extension(&self, id: &str) -> GraphResult<Option<SchemaExtension>>;
    /// An id already taken is `409`; an owner app may hold at most `schema::MAX_PER_OWNER`.
    async fn create_schema_extension(&self, ext: SchemaExtension) -> GraphResult<SchemaExtension>;
    /// Runs `edit` on the stored definition and saves it, atomically.
    async fn update_schema_extension(&self, id: &str, edit: SchemaEdit) -> GraphResult<SchemaExtension>;
    /// Deletes a definition after `check` accepts it.
    async fn delete_schema_extension(&self, id: &str, check: SchemaEdit) -> GraphResult<()>;
}
