//! Merging duplicate contacts (a Rolo extension, `POST .../contacts/{id}/merge`): the kept
//! contact gains every value of the others. Lists (e-mail addresses, phones, addresses, websites,
//! IM addresses, children, categories, extended properties) are united without repeats; a
//! single value the kept contact lacks comes from the first other contact that has it; where both
//! have different single values the kept contact's stays (the caller chooses by sending the
//! value it wants in the merge body), except notes, which are joined so no text is lost.

use serde_json::{Map, Value};

use crate::contact::ContactData;
use crate::GraphError;

/// How two list items are told apart: e-mail addresses ignoring case, phones by their digits,
/// anything else by its whole value.
fn identity(key: &str, item: &Value) -> Value {
    match key {
        "emailAddresses" => item
            .get("address")
            .and_then(Value::as_str)
            .map_or_else(|| item.clone(), |a| Value::String(a.to_lowercase())),
        "phones" => item.get("number").and_then(Value::as_str).map_or_else(
            || item.clone(),
            |n| {
                let digits: String = n.chars().filter(char::is_ascii_digit).collect();
                Value::String(format!("{}:{digits}", item.get("type").and_then(Value::as_str).unwrap_or_default()))
            },
        ),
        _ => item.clone(),
    }
}

fn merge_into(kept: &mut Map<String, Value>, other: &Map<String, Value>) {
    for (key, theirs) in other {
        match (kept.get_mut(key), theirs) {
            (None, v) => {
                kept.insert(key.clone(), v.clone());
            }
            (Some(Value::Array(mine)), Value::Array(more)) => {
                for item in more {
                    let id = identity(key, item);
                    if !mine.iter().any(|m| identity(key, m) == id) {
                        mine.push(item.clone());
                    }
                }
            }
            (Some(Value::Object(mine)), Value::Object(more)) => merge_into(mine, more),
            (Some(Value::String(mine)), Value::String(more))
                if key == "personalNotes" && !mine.contains(more.as_str()) =>
            {
                mine.push_str("\n\n");
                mine.push_str(more);
            }
            (Some(Value::Bool(mine)), Value::Bool(more)) if key == "isFavorite" => *mine |= more,
            // A single value both have: the kept contact's, unless the caller chose otherwise.
            _ => {}
        }
    }
}

/// `kept` with every value of `others` added.
pub fn merge(kept: &ContactData, others: &[&ContactData]) -> Result<ContactData, GraphError> {
    let mut base = match serde_json::to_value(kept).map_err(GraphError::internal)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for other in others {
        if let Value::Object(m) = serde_json::to_value(other).map_err(GraphError::internal)? {
            merge_into(&mut base, &m);
        }
    }
    serde_json::from_value(Value::Object(base)).map_err(GraphError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{EmailAddress, Phone};

    fn email(a: &str) -> EmailAddress {
        EmailAddress { address: Some(a.into()), ..Default::default() }
    }

    #[test]
    fn every_value_is_kept_once() {
        let a = ContactData {
            given_name: Some("Ada".into()),
            job_title: Some("Countess".into()),
            email_addresses: vec![email("ada@x.test")],
            phones: vec![Phone { kind: "mobile".into(), number: Some("+44 1234".into()) }],
            personal_notes: Some("Met in London.".into()),
            ..Default::default()
        };
        let b = ContactData {
            given_name: Some("Augusta".into()),
            company_name: Some("Analytical".into()),
            email_addresses: vec![email("ADA@x.test"), email("lovelace@y.test")],
            phones: vec![Phone { kind: "mobile".into(), number: Some("+44-12-34".into()) }],
            personal_notes: Some("Likes engines.".into()),
            categories: vec!["Blue".into()],
            ..Default::default()
        };
        let m = merge(&a, &[&b]).unwrap();
        assert_eq!(m.given_name.as_deref(), Some("Ada"), "the kept contact's single value stays");
        assert_eq!(m.company_name.as_deref(), Some("Analytical"), "a value only the other has comes over");
        let addresses: Vec<_> = m.email_addresses.iter().filter_map(|e| e.address.as_deref()).collect();
        assert_eq!(addresses, ["ada@x.test", "lovelace@y.test"]);
        assert_eq!(m.phones.len(), 1, "the same number written differently is one phone");
        assert_eq!(m.personal_notes.as_deref(), Some("Met in London.\n\nLikes engines."));
        assert_eq!(m.categories, ["Blue"]);
    }
}
