//! Contact folders. Each mailbox has one default `Contacts` folder (its parent is the mailbox
//! root, which is not itself a contact folder); user folders nest below it to any depth.

use serde_json::Value;

use crate::contact::opt_string;
use crate::error::{GraphError, GraphResult};
use crate::ids::FolderId;

pub const FOLDER_TYPE: &str = "microsoft.graph.contactFolder";

/// The well-known name of the default folder; also accepted as its id in URLs.
pub const DEFAULT_FOLDER_NAME: &str = "Contacts";
pub const DEFAULT_FOLDER_WELL_KNOWN: &str = "contacts";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactFolder {
    pub id: FolderId,
    pub parent_id: FolderId,
    pub display_name: String,
    /// `contacts` for the default folder.
    pub well_known_name: Option<String>,
}

/// What a folder POST or PATCH body asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderChanges {
    pub display_name: Option<String>,
    pub parent_id: Option<FolderId>,
}

impl FolderChanges {
    pub fn from_v1(body: &Value, creating: bool) -> GraphResult<FolderChanges> {
        let obj = body
            .as_object()
            .ok_or_else(|| GraphError::bad_request("RequestBodyRead", "The request body must be a JSON object."))?;
        let mut changes = FolderChanges::default();
        for (key, value) in obj {
            match key.as_str() {
                "displayName" => match opt_string(key, value)? {
                    Some(name) if !name.trim().is_empty() => changes.display_name = Some(name),
                    _ => {
                        return Err(GraphError::bad_request(
                            "ErrorInvalidRequest",
                            "The folder's displayName must be a non-empty string.",
                        ))
                    }
                },
                "parentFolderId" => {
                    if let Some(s) = opt_string(key, value)? {
                        changes.parent_id = Some(FolderId::parse(&s)?);
                    }
                }
                "@odata.type" => {
                    let t = value.as_str().unwrap_or_default().trim_start_matches('#');
                    if t != FOLDER_TYPE {
                        return Err(GraphError::bad_request(
                            "RequestBodyRead",
                            format!("A type named '{t}' could not be resolved by the model."),
                        ));
                    }
                }
                k if k.starts_with("@odata.") => {}
                "id" => return Err(GraphError::read_only_property(key)),
                "childFolders" | "contacts" | "singleValueExtendedProperties" | "multiValueExtendedProperties" => {
                    return Err(GraphError::not_supported(format!(
                        "Writing the navigation property '{key}' is not supported by this server yet."
                    )))
                }
                _ => return Err(GraphError::unknown_property(key, FOLDER_TYPE)),
            }
        }
        if creating && changes.display_name.is_none() {
            return Err(GraphError::bad_request(
                "ErrorInvalidRequest",
                "The folder's displayName must be a non-empty string.",
            ));
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folder_bodies() {
        assert_eq!(
            FolderChanges::from_v1(&json!({"displayName": "A"}), true).unwrap().display_name.as_deref(),
            Some("A")
        );
        assert!(FolderChanges::from_v1(&json!({}), true).is_err());
        assert!(FolderChanges::from_v1(&json!({}), false).is_ok());
        assert_eq!(FolderChanges::from_v1(&json!({"x": 1}), true).unwrap_err().code, "RequestBodyRead");
        assert_eq!(FolderChanges::from_v1(&json!({"displayName": ""}), true).unwrap_err().code, "ErrorInvalidRequest");
    }
}
