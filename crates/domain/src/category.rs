//! The master category list (`outlookCategory`): names users tag items with, each with a colour.

use serde_json::Value;

use crate::contact::opt_string;
use crate::error::{GraphError, GraphResult};

pub const CATEGORY_TYPE: &str = "microsoft.graph.outlookCategory";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlookCategory {
    pub id: String,
    pub display_name: String,
    pub color: String,
}

/// `none` or `preset0` ... `preset24`, in the lower-case form Graph writes.
pub fn parse_color(raw: &str) -> GraphResult<String> {
    let lower = raw.to_ascii_lowercase();
    let preset = |n: &str| n.parse::<u8>().is_ok_and(|v| v <= 24 && v.to_string() == n);
    let ok = lower == "none" || lower.strip_prefix("preset").is_some_and(preset);
    if ok {
        Ok(lower)
    } else {
        Err(GraphError::bad_request(
            "RequestBodyRead",
            format!("The value '{raw}' is not a valid categoryColor: use none or preset0 to preset24."),
        ))
    }
}

/// What a category POST or PATCH body asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryChanges {
    pub display_name: Option<String>,
    pub color: Option<String>,
}

impl CategoryChanges {
    pub fn from_v1(body: &Value, creating: bool) -> GraphResult<CategoryChanges> {
        let obj = body
            .as_object()
            .ok_or_else(|| GraphError::bad_request("RequestBodyRead", "The request body must be a JSON object."))?;
        let mut changes = CategoryChanges::default();
        for (key, value) in obj {
            match key.as_str() {
                "displayName" => match opt_string(key, value)? {
                    Some(name) if !name.trim().is_empty() && name.chars().count() <= 255 => {
                        changes.display_name = Some(name)
                    }
                    _ => {
                        return Err(GraphError::bad_request(
                            "ErrorInvalidProperty",
                            "A category's displayName must hold 1 to 255 characters.",
                        ))
                    }
                },
                "color" => {
                    let raw = opt_string(key, value)?.unwrap_or_else(|| "none".into());
                    changes.color = Some(parse_color(&raw)?);
                }
                k if k.starts_with("@odata.") => {}
                "id" => return Err(GraphError::read_only_property(key)),
                _ => return Err(GraphError::unknown_property(key, CATEGORY_TYPE)),
            }
        }
        if creating && changes.display_name.is_none() {
            return Err(GraphError::bad_request("ErrorInvalidProperty", "A category needs a displayName."));
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn colors_and_bodies() {
        assert_eq!(parse_color("Preset9").unwrap(), "preset9");
        assert_eq!(parse_color("none").unwrap(), "none");
        for bad in ["preset25", "preset", "red", "preset-1", "preset007x", "preset01", "preset+1"] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
        assert!(CategoryChanges::from_v1(&json!({"color": "preset1"}), true).is_err());
        let c = CategoryChanges::from_v1(&json!({"displayName": "Red", "color": "preset0"}), true).unwrap();
        assert_eq!(c.color.as_deref(), Some("preset0"));
        assert_eq!(CategoryChanges::from_v1(&json!({"x": 1}), false).unwrap_err().code, "RequestBodyRead");
    }
}
