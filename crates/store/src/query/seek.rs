//! A filter a contact list can read from its side table's own index in list order:
//! `singleValueExtendedProperties/any(ep: ep/id eq '…' and ep/value eq '…')`. `contact_xprops`
//! keeps each contact's `created_seq` (its list-order key) beside the property, and an index
//! `(mailbox_id, prop_id, value_key, created_seq, contact_id)`, so a default-ordered page reads
//! its entries there in order and seeks only those contacts, instead of walking the folder and
//! testing every contact it passes (`SqlStore::list_rows`).

use rolo_domain::GraphResult;
use rolo_odata::{CompareOp, Expr, LambdaKind, Literal};

use super::{fold, strip_case_fn, Compiler, Entity, Prop};

/// The side-table key a seek reads: the property's canonical id and its folded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XpropSeek {
    pub prop_id: String,
    pub value_key: String,
}

impl Compiler {
    /// The key of a filter that is exactly one extended property's id and value, both `eq`
    /// (at most one side-table row per contact, so reading the matches in `created_seq` order
    /// gives the list's rows once each, in its order); `None` for any other shape, which keeps
    /// the general plans. The match is the one [`Compiler::filter`] compiles for the same
    /// filter (`x.prop_id = ? AND x.value_key = ?`).
    pub fn xprop_seek(&self, filter: &Expr) -> GraphResult<Option<XpropSeek>> {
        if self.entity != Entity::Contact {
            return Ok(None);
        }
        let filter = crate::names::canonical_filter(self.entity, filter);
        let Expr::Lambda { collection, kind: LambdaKind::Any, variable: Some(var), predicate: Some(pred) } = &filter
        else {
            return Ok(None);
        };
        if !matches!(self.prop(collection), Ok(Prop::ExtendedProperties)) {
            return Ok(None);
        }
        let Expr::And(a, b) = pred.as_ref() else { return Ok(None) };
        let (Some(a), Some(b)) = (member_eq(a, var), member_eq(b, var)) else { return Ok(None) };
        let (id, value) = match (a, b) {
            (("id", id), ("value", value)) | (("value", value), ("id", id)) => (id, value),
            _ => return Ok(None),
        };
        // An id Graph refuses is the general path's error to report.
        let Ok(prop_id) = rolo_domain::xprop::canonical_id(&id, false) else { return Ok(None) };
        Ok(Some(XpropSeek { prop_id, value_key: fold(&value) }))
    }
}

/// `var/member eq literal` (either side, case functions ignored, as `xprop_predicate` reads it):
/// the member and the literal's text.
fn member_eq<'e>(e: &'e Expr, var: &str) -> Option<(&'e str, String)> {
    let Expr::Compare(l, CompareOp::Eq, r) = e else { return None };
    let (path, lit) = match (strip_case_fn(l), strip_case_fn(r)) {
        (Expr::Path(p), Expr::Literal(lit)) | (Expr::Literal(lit), Expr::Path(p)) => (p, lit),
        _ => return None,
    };
    let [v, member] = path.as_slice() else { return None };
    if v != var {
        return None;
    }
    let text = match lit {
        Literal::String(s) => s.clone(),
        Literal::Int(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Guid(g) => g.clone(),
        _ => return None,
    };
    Some((member.as_str(), text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Dialect;

    fn seek(f: &str) -> Option<XpropSeek> {
        let c = Compiler::new(Dialect::Sqlite, Entity::Contact, "mb");
        c.xprop_seek(&rolo_odata::parse_filter(f).unwrap()).unwrap()
    }

    const ID: &str = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color";

    #[test]
    fn one_property_id_and_value_seek() {
        let want =
            Some(XpropSeek { prop_id: rolo_domain::xprop::canonical_id(ID, false).unwrap(), value_key: "v7".into() });
        assert_eq!(seek(&format!("singleValueExtendedProperties/any(ep: ep/id eq '{ID}' and ep/value eq 'V7')")), want);
        assert_eq!(seek(&format!("SingleValueExtendedProperties/any(p: 'v7' eq p/Value and p/ID eq '{ID}')")), want);
    }

    #[test]
    fn other_shapes_keep_the_general_plans() {
        for f in [
            format!("singleValueExtendedProperties/any(ep: ep/id eq '{ID}' and ep/value ne 'v7')"),
            format!("singleValueExtendedProperties/any(ep: ep/id eq '{ID}' or ep/value eq 'v7')"),
            format!("singleValueExtendedProperties/any(ep: ep/id eq '{ID}' and startswith(ep/value, 'v'))"),
            format!("singleValueExtendedProperties/any(ep: ep/id eq '{ID}')"),
            format!("singleValueExtendedProperties/all(ep: ep/id eq '{ID}' and ep/value eq 'v7')"),
            format!("not singleValueExtendedProperties/any(ep: ep/id eq '{ID}' and ep/value eq 'v7')"),
            format!(
                "singleValueExtendedProperties/any(ep: ep/id eq '{ID}' and ep/value eq 'v7') and displayName eq 'x'"
            ),
            "singleValueExtendedProperties/any(ep: ep/id eq 'nonsense' and ep/value eq 'v7')".into(),
            "categories/any(c: c eq 'Teal')".into(),
        ] {
            assert_eq!(seek(&f), None, "{f}");
        }
    }
}
