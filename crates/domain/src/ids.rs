//! Identifiers. Contact and folder ids are opaque, URL-safe and unguessable (78 random bits,
//! base64url, after a time prefix), and never change when an item moves, so immutable ids come
//! for free.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use crate::error::{GraphError, GraphResult};

/// Length of an encoded item id.
const ITEM_ID_LEN: usize = 22;

/// Characters of the time prefix: milliseconds since 1970 in base 36 (digits, then capitals),
/// enough until the year 5138.
const TIME_PREFIX_LEN: usize = 9;

/// A new item id: a time prefix that sorts in creation order under bytewise and common locale
/// collations, then 78 random bits in base64url. Ids made close together sort close together,
/// so the indexes keyed by item id (a contact's row, its e-mail, category, property and
/// `$search` word entries) grow at their right edge and consecutive writes share those index
/// pages instead of dirtying a random page each. The prefix reveals when the item was created,
/// which `createdDateTime` tells anyway.
fn random_item_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    item_id_at(u64::try_from(now.as_millis()).unwrap_or(u64::MAX))
}

fn item_id_at(mut millis: u64) -> String {
    let mut prefix = [b'0'; TIME_PREFIX_LEN];
    for digit in prefix.iter_mut().rev() {
        *digit = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(millis % 36) as usize];
        millis /= 36;
    }
    let mut bytes = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut bytes);
    let random = URL_SAFE_NO_PAD.encode(bytes);
    let mut id: String = prefix.iter().map(|&b| char::from(b)).collect();
    id.extend(random.chars().take(ITEM_ID_LEN - TIME_PREFIX_LEN));
    id
}

/// Checks the shape of an item id from a URL or body: empty and malformed ids get Graph's 400s.
pub fn validate_item_id(raw: &str) -> GraphResult<()> {
    if raw.is_empty() {
        return Err(GraphError::id_empty());
    }
    let ok = raw.len() == ITEM_ID_LEN && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(GraphError::id_malformed())
    }
}

macro_rules! item_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Self {
                $name(random_item_id())
            }
            /// Parses an id received from a client.
            pub fn parse(raw: &str) -> GraphResult<Self> {
                validate_item_id(raw)?;
                Ok($name(raw.to_owned()))
            }
            /// Wraps an id read back from storage (trusted).
            pub fn from_stored(raw: String) -> Self {
                $name(raw)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

item_id!(ContactId, "The id of a contact.");
item_id!(FolderId, "The id of a contact folder.");

/// A random version-4 GUID in its lower-case hyphenated form.
pub fn new_guid() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 0x0f) as usize] as char);
    }
    s
}

/// True for a GUID in hyphenated form (any case).
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A change key: an opaque version stamp derived from the mailbox's change counter, so it
/// changes on every write and orders writes within a mailbox.
pub fn change_key(seq: i64) -> String {
    use base64::engine::general_purpose::STANDARD;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(b"RLCK");
    bytes[4..].copy_from_slice(&seq.to_be_bytes());
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_validate_and_differ() {
        let a = ContactId::generate();
        let b = ContactId::generate();
        assert_ne!(a, b);
        assert!(ContactId::parse(a.as_str()).is_ok());
        // Later ids sort after earlier ones (the time prefix), whatever their random part.
        for (earlier, later) in [(1_764_990_000_000, 1_764_990_000_001), (35, 36), (0, 1_764_990_000_000)] {
            let (x, y) = (item_id_at(earlier), item_id_at(later));
            assert!(x < y, "{x} {y}");
            assert!(validate_item_id(&x).is_ok() && validate_item_id(&y).is_ok());
        }
    }

    #[test]
    fn malformed_and_empty_ids_are_rejected_with_graph_codes() {
        assert_eq!(ContactId::parse("").unwrap_err().code, "ErrorInvalidIdEmpty");
        assert_eq!(ContactId::parse("abc").unwrap_err().code, "ErrorInvalidIdMalformed");
        assert_eq!(ContactId::parse("a/bcdefghijklmnopqrstuv").unwrap_err().code, "ErrorInvalidIdMalformed");
    }

    #[test]
    fn guids() {
        let g = new_guid();
        assert!(is_guid(&g));
        assert!(!is_guid("not-a-guid"));
        assert_ne!(change_key(1), change_key(2));
    }
}
