//! Where a contact's properties live in SQL (`Entity::Contact`): what each name compiles to
//! follows its [`Filter`] in the domain's property table; only the columns the row keeps
//! outside the document (ids, server times, folded keys) are named here.

use rolo_domain::properties::{contact_property, is_contact_property, Filter};
use rolo_domain::{ApiVersion, GraphResult};

use super::{invalid, Prop};
use crate::sql::Dialect;

/// The column of a property the contacts row keeps outside its document.
fn row_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "id" => "t.id",
        "parentFolderId" => "t.folder_id",
        "createdDateTime" => "t.created_at",
        "lastModifiedDateTime" => "t.modified_at",
        _ => return None,
    })
}

/// The folded key column of an indexed text property: `displayName` -> `t.display_name_key`.
fn key_column(name: &str) -> String {
    let mut out = String::from("t.");
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out.push_str("_key");
    out
}

/// A contact property path in `version`: a table property, a schema-extension value
/// (`ext_name/member`), or one of the paths beside the table (beta's `flag/flagStatus`,
/// extended properties, open extensions). `Ok(None)` for a name contacts do not have.
pub(super) fn prop(dialect: Dialect, version: ApiVersion, path: &[String]) -> GraphResult<Option<Prop>> {
    let name = path.join("/");
    if let Some(p) = contact_property(&name, version) {
        let doc = |name: &str| dialect.json_text("t.doc", name);
        let column = row_column(p.name);
        return Ok(Some(match p.filter {
            Filter::IndexedText => Prop::Text { key: key_column(p.name), raw: doc(p.name) },
            // The folded copy is made in Rust, so case-insensitivity is Unicode-aware and the
            // same on both databases.
            Filter::Text => {
                let folded = dialect.json_text("t.fold_doc", p.name);
                Prop::Text { key: dialect.binary_collation(format!("COALESCE({folded}, '')")), raw: doc(p.name) }
            }
            Filter::DateTime => Prop::Timestamp(column.map_or_else(|| doc(p.name), str::to_owned)),
            Filter::Id => Prop::Id(column.map_or_else(|| doc(p.name), str::to_owned)),
            Filter::EmailAddresses => Prop::EmailAddresses,
            Filter::Categories => Prop::Categories,
            Filter::Unsupported => {
                return Err(invalid(format!("The property '{name}' is not supported in $filter on contacts.")))
            }
        }));
    }
    if let [ext, member] = path {
        if ext.contains('_') && !is_contact_property(ext) {
            return schema_value(dialect, ext, member).map(Some);
        }
    }
    Ok(match name.as_str() {
        "flag/flagStatus" if version == ApiVersion::Beta => {
            let status = dialect.json_path_text("t.doc", &["flag", "flagStatus"]);
            let key = format!("LOWER(COALESCE({status}, 'notFlagged'))");
            Some(Prop::Text { key: key.clone(), raw: key })
        }
        "singleValueExtendedProperties" => Some(Prop::ExtendedProperties),
        "multiValueExtendedProperties" => {
            return Err(invalid(
                "Multi-value extended properties can be read with $expand but not filtered on, as on Graph.",
            ))
        }
        n if n.eq_ignore_ascii_case("extensions") => Some(Prop::Extensions),
        _ => None,
    })
}

/// A schema-extension value (`ext_name/property`), a Rolo extension: Graph does not filter
/// Outlook items on them. Names are checked before they enter the SQL text.
fn schema_value(dialect: Dialect, ext: &str, member: &str) -> GraphResult<Prop> {
    let safe = |s: &str| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !safe(ext) || !safe(member) {
        return Err(invalid(format!("'{ext}/{member}' is not a schema extension property.")));
    }
    Ok(Prop::Json(dialect.json_path_value("t.doc", &["schemaExtensions", ext, member])))
}

#[cfg(test)]
mod tests {
    use super::super::{Compiler, Entity};
    use crate::sql::Dialect;
    use rolo_domain::properties::{Filter, CONTACT_PROPERTIES};
    use rolo_domain::ApiVersion;
    use rolo_odata::OrderItem;

    /// Every property of the table compiles in `$filter` as its kind says, in each version
    /// that has it, and `$orderby` takes exactly the sortable ones; the other version does
    /// not know it.
    #[test]
    fn every_table_property_reaches_the_compiler() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            for version in [ApiVersion::V1, ApiVersion::Beta] {
                for p in CONTACT_PROPERTIES {
                    let mut c = Compiler::new(dialect, Entity::Contact, "mb");
                    c.version = version;
                    let n = p.name;
                    let filter = match p.filter {
                        Filter::IndexedText | Filter::Text => format!("startswith({n},'x') or {n} eq null"),
                        Filter::DateTime => format!("{n} ge 2024-01-01T00:00:00Z"),
                        Filter::Id => format!("{n} eq 'x'"),
                        Filter::EmailAddresses => format!("{n}/any(a:a/address eq 'x')"),
                        Filter::Categories => format!("{n}/any(c:c eq 'x')"),
                        Filter::Unsupported => format!("{n} eq 'x'"),
                    };
                    let compiled = c.filter(&rolo_odata::parse_filter(&filter).unwrap());
                    let order = c.order(&[OrderItem { path: vec![n.into()], descending: false }]);
                    if !p.versions.has(version) {
                        assert_eq!(compiled.unwrap_err().code, "BadRequest", "{version:?} {n}");
                        assert!(order.is_err(), "{version:?} {n}");
                        continue;
                    }
                    match p.filter {
                        Filter::Unsupported => {
                            assert_eq!(compiled.unwrap_err().code, "ErrorInvalidUrlQueryFilter", "{version:?} {n}")
                        }
                        _ => assert!(compiled.is_ok(), "{version:?} {filter}: {compiled:?}"),
                    }
                    assert_eq!(order.is_ok(), p.filter.sorts(), "{version:?} $orderby={n}");
                }
            }
        }
    }

    #[test]
    fn indexed_text_uses_its_key_column() {
        assert_eq!(super::key_column("displayName"), "t.display_name_key");
        assert_eq!(super::key_column("companyName"), "t.company_name_key");
    }
}
