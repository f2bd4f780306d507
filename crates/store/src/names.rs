//! Property names in `$filter` and `$orderby` match case-insensitively, as on Graph, whose
//! examples write `GivenName eq 'Jan'` and `emailAddresses/any(a: a/Address eq '...')`. Each
//! path is rewritten once to the canonical spelling before compilation, so the compiler (and
//! its error messages for names it does not know) sees exact names only.

use rolo_domain::mail::{EVENT_PROPERTIES, MESSAGE_PROPERTIES};
use rolo_domain::projection::{CONTACT_BETA_PROPERTIES, CONTACT_V1_PROPERTIES, FOLDER_BETA_PROPERTIES};
use rolo_odata::{Expr, OrderItem};

use crate::query::Entity;

/// Segments of filterable paths that are not top-level properties of the entity.
const CONTACT_NESTED: &[&str] =
    &["flagStatus", "singleValueExtendedProperties", "multiValueExtendedProperties", "extensions"];
const ADDRESS_NESTED: &[&str] = &["emailAddress", "address"];
const EVENT_NESTED: &[&str] = &["emailAddress", "address", "dateTime"];

/// The names a lambda variable's members may take, by collection.
fn lambda_members(collection: &[String]) -> &'static [&'static str] {
    match collection.last().map(String::as_str) {
        Some("emailAddresses") => &["address", "name"],
        Some("singleValueExtendedProperties") => &["id", "value"],
        Some("extensions") => &["id"],
        _ => &[],
    }
}

fn vocabulary(entity: Entity) -> [&'static [&'static str]; 3] {
    match entity {
        Entity::Contact => [CONTACT_V1_PROPERTIES, CONTACT_BETA_PROPERTIES, CONTACT_NESTED],
        Entity::Folder => [FOLDER_BETA_PROPERTIES, &[], &[]],
        Entity::Message => [MESSAGE_PROPERTIES, ADDRESS_NESTED, &[]],
        Entity::Event => [EVENT_PROPERTIES, EVENT_NESTED, &[]],
        Entity::Task => [rolo_domain::todo::TASK_PROPERTIES, &["dateTime"], &[]],
        Entity::Post => [rolo_domain::group::POST_PROPERTIES, ADDRESS_NESTED, &[]],
    }
}

/// `name` in its canonical spelling when `words` knows it (ignoring ASCII case).
fn canonical_word<'a>(name: &str, words: impl IntoIterator<Item = &'a &'static str>) -> String {
    words.into_iter().find(|w| w.eq_ignore_ascii_case(name)).map_or_else(|| name.to_owned(), |w| (*w).to_owned())
}

/// A property path in canonical spelling. Schema-extension paths (`ext123_name/member`, the only
/// names holding `_`) are left as written: their names are the client's own.
fn canonical_path(entity: Entity, path: &[String]) -> Vec<String> {
    if path.first().is_some_and(|p| p.contains('_')) {
        return path.to_vec();
    }
    let words = vocabulary(entity);
    path.iter().map(|seg| canonical_word(seg, words.iter().flat_map(|w| w.iter()))).collect()
}

/// `$orderby` items in canonical spelling.
pub fn canonical_order(entity: Entity, items: &[OrderItem]) -> Vec<OrderItem> {
    items.iter().map(|i| OrderItem { path: canonical_path(entity, &i.path), descending: i.descending }).collect()
}

/// A `$filter` in canonical spelling.
pub fn canonical_filter(entity: Entity, e: &Expr) -> Expr {
    rewrite(entity, e, None)
}

/// `lambda`: the variable in scope and the members its collection has.
fn rewrite(entity: Entity, e: &Expr, lambda: Option<(&str, &'static [&'static str])>) -> Expr {
    let again = |x: &Expr| Box::new(rewrite(entity, x, lambda));
    match e {
        Expr::Literal(_) => e.clone(),
        Expr::Path(p) => match (lambda, p.as_slice()) {
            (Some((var, members)), [first, rest @ ..]) if first == var => {
                let mut out = vec![first.clone()];
                out.extend(rest.iter().map(|m| canonical_word(m, members)));
                Expr::Path(out)
            }
            _ => Expr::Path(canonical_path(entity, p)),
        },
        Expr::Compare(l, op, r) => Expr::Compare(again(l), *op, again(r)),
        Expr::In(l, items) => Expr::In(again(l), items.iter().map(|i| rewrite(entity, i, lambda)).collect()),
        Expr::And(a, b) => Expr::And(again(a), again(b)),
        Expr::Or(a, b) => Expr::Or(again(a), again(b)),
        Expr::Not(a) => Expr::Not(again(a)),
        Expr::Call(f, args) => Expr::Call(*f, args.iter().map(|a| rewrite(entity, a, lambda)).collect()),
        Expr::Lambda { collection, kind, variable, predicate } => {
            let collection = canonical_path(entity, collection);
            let inner = variable.as_deref().map(|v| (v, lambda_members(&collection)));
            let predicate = predicate.as_ref().map(|p| Box::new(rewrite(entity, p, inner.or(lambda))));
            Expr::Lambda { collection, kind: *kind, variable: variable.clone(), predicate }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(entity: Entity, f: &str) -> String {
        canonical_filter(entity, &rolo_odata::parse_filter(f).unwrap()).to_string()
    }

    #[test]
    fn filters_take_the_canonical_spelling() {
        let c = Entity::Contact;
        assert_eq!(canon(c, "GivenName eq 'Jan'"), canon(c, "givenName eq 'Jan'"));
        assert_eq!(
            canon(c, "EmailAddresses/any(a:a/Address eq 'x')"),
            canon(c, "emailAddresses/any(a:a/address eq 'x')")
        );
        assert_eq!(
            canon(c, "SingleValueExtendedProperties/any(ep:ep/Id eq 'x' and contains(ep/VALUE,'y'))"),
            canon(c, "singleValueExtendedProperties/any(ep:ep/id eq 'x' and contains(ep/value,'y'))")
        );
        assert_eq!(canon(c, "FLAG/FLAGSTATUS eq 'flagged'"), canon(c, "flag/flagStatus eq 'flagged'"));
        // Lambda variables are the client's; schema extensions' names too; unknown names stay.
        assert_eq!(canon(c, "categories/any(C:C eq 'x')"), canon(c, "categories/any(C:C eq 'x')"));
        assert_eq!(canon(c, "ext1_X/Member eq 1"), "ext1_X/Member eq 1");
        assert_eq!(canon(c, "Nope eq 'x'"), "Nope eq 'x'");
        assert_eq!(
            canon(Entity::Message, "From/EmailAddress/Address eq 'a'"),
            canon(Entity::Message, "from/emailAddress/address eq 'a'")
        );
        assert_eq!(canon(Entity::Event, "Start/DateTime ge '2024'"), canon(Entity::Event, "start/dateTime ge '2024'"));
        assert_eq!(canon(Entity::Folder, "DisplayName eq 'a'"), canon(Entity::Folder, "displayName eq 'a'"));
    }

    #[test]
    fn orderby_takes_the_canonical_spelling() {
        let items = [OrderItem { path: vec!["DISPLAYNAME".into()], descending: true }];
        assert_eq!(
            canonical_order(Entity::Contact, &items),
            vec![OrderItem { path: vec!["displayName".into()], descending: true }]
        );
    }
}
