//! Which HTTP methods each route serves. A method a route does not serve answers 405 with an
//! `Allow` header, decided from the path alone: before authorization, the mailbox lookup and
//! the query options, so that a `TRACE` with a bad `$expand` is a 405, not a 400.

use axum::http::Method;
use rolo_domain::{ErrorKind, GraphError, GraphResult};

use crate::paths::{GraphPath, PhotoPath, Resource};

/// An `Allow` header value: the methods a route serves.
pub type Allowed = &'static str;

pub const GET: Allowed = "GET";
pub const POST: Allowed = "POST";
pub const GET_POST: Allowed = "GET, POST";
pub const GET_DELETE: Allowed = "GET, DELETE";
pub const GET_PATCH_DELETE: Allowed = "GET, PATCH, DELETE";
const GET_PUT_PATCH: Allowed = "GET, PUT, PATCH";
const GET_PUT_PATCH_DELETE: Allowed = "GET, PUT, PATCH, DELETE";

/// Graph's answer to a method the resource does not serve, with the methods it does.
pub fn method_not_allowed(method: &Method, allowed: Allowed) -> GraphError {
    GraphError::new(
        ErrorKind::MethodNotAllowed,
        "ErrorInvalidRequest",
        format!("The OData request is not supported: method '{method}' is not allowed on this resource."),
    )
    .with_allow(allowed)
}

/// Refuses `method` unless it is among `allowed`.
pub fn check(method: &Method, allowed: Allowed) -> GraphResult<()> {
    if allowed.split(", ").any(|m| m == method.as_str()) {
        Ok(())
    } else {
        Err(method_not_allowed(method, allowed))
    }
}

/// The methods a mailbox route serves.
pub fn allowed(path: &GraphPath) -> Allowed {
    if path.count {
        return GET;
    }
    match &path.resource {
        Resource::Contacts(_) | Resource::Folders(_) | Resource::Categories | Resource::Messages(_) => GET_POST,
        Resource::Events => GET_POST,
        Resource::ContactsDelta(_) | Resource::FoldersDelta | Resource::People => GET,
        Resource::ContactFile { .. } | Resource::ContactFiles(_) => GET,
        Resource::FolderImport { .. } | Resource::ContactMerge { .. } => POST,
        Resource::Contact { permanent_delete: true, .. } | Resource::Folder { permanent_delete: true, .. } => POST,
        Resource::Contact { .. } | Resource::Folder { .. } | Resource::Category(_) => GET_PATCH_DELETE,
        Resource::Message(_) | Resource::Event(_) => GET_PATCH_DELETE,
        Resource::TodoLists | Resource::Tasks(_) | Resource::ChecklistItems { id: None, .. } => GET_POST,
        Resource::TodoList(_) | Resource::Task { .. } | Resource::ChecklistItems { .. } => GET_PATCH_DELETE,
        Resource::TasksDelta(_) => GET,
        Resource::SendMail | Resource::SendDraft(_) => POST,
        Resource::ContactExtensions { extension: None, .. } | Resource::FolderPermissions { id: None, .. } => GET_POST,
        Resource::ContactExtensions { .. } | Resource::FolderPermissions { .. } => GET_PATCH_DELETE,
        // Only the full-size photo is written; contacts' photos are never deleted (as on Graph).
        Resource::ContactPhoto { photo: PhotoPath::One { size: None, value: true }, .. } => GET_PUT_PATCH,
        Resource::ContactPhoto { .. } => GET,
        Resource::UserPhoto(PhotoPath::One { size: None, value: true }) => GET_PUT_PATCH_DELETE,
        Resource::UserPhoto(PhotoPath::One { size: None, value: false }) => GET_DELETE,
        Resource::UserPhoto(_) => GET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::{routes, Area};

    /// The route table `openapi.json` is built from and this one agree on every mailbox route.
    #[test]
    fn allowed_methods_match_the_described_routes() {
        let mut checked = 0;
        for route in routes().into_iter().filter(|r| r.area == Area::Mailbox) {
            let mut path = route.path.trim_start_matches('/').to_owned();
            while let Some(open) = path.find('{') {
                let close = path.get(open..).and_then(|t| t.find('}')).map_or(path.len(), |c| open + c + 1);
                path.replace_range(open..close, "AAAAAAAAAAAAAAAAAAAAAA");
            }
            let parsed = crate::paths::parse(&path).unwrap_or_else(|e| panic!("{}: {e}", route.path));
            let mut described: Vec<String> = route.ops.iter().map(|o| o.method.to_ascii_uppercase()).collect();
            let mut served: Vec<String> = allowed(&parsed).split(", ").map(str::to_owned).collect();
            described.sort();
            served.sort();
            assert_eq!(served, described, "{}", route.path);
            checked += 1;
        }
        assert!(checked > 50, "{checked} routes");
    }

    #[test]
    fn refuses_with_the_allowed_methods() {
        assert!(check(&Method::GET, GET_POST).is_ok());
        assert!(check(&Method::POST, GET_POST).is_ok());
        let e = check(&Method::TRACE, GET_POST).unwrap_err();
        assert_eq!((e.status(), e.code.as_ref(), e.allow), (405, "ErrorInvalidRequest", Some("GET, POST")));
        // Method names are case-sensitive: `get` is not `GET`.
        assert!(check(&Method::from_bytes(b"get").unwrap(), GET).is_err());
    }
}
