//! Graph's contacts domain: the canonical contact and folder models, the rules for writing them,
//! their v1.0 JSON projections, identifiers and change keys, access rules and the error
//! vocabulary. No I/O here.

pub mod access;
pub mod category;
pub mod consent;
pub mod contact;
pub mod error;
pub mod extension;
pub mod flag;
pub mod folder;
pub mod group;
pub mod ids;
pub mod mail;
pub mod people;
pub mod projection;
pub mod properties;
pub mod schema;
pub mod search;
pub mod subscription;
pub mod text;
pub mod time;
pub mod todo;
pub mod vcard;
pub mod version;
pub mod xprop;

pub use access::{Access, Grant, MailboxAccess, Principal};
pub use contact::{Contact, ContactData};
pub use error::{ErrorKind, GraphError, GraphResult};
pub use folder::{ContactFolder, FolderChanges};
pub use ids::{ContactId, FolderId};
pub use version::ApiVersion;
