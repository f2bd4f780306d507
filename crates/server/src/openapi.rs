//! `GET /v1.0/openapi.json` (and `/beta/openapi.json`): an OpenAPI 3.0 description of exactly what
//! Rolo serves. Paths come from one route table (`routes`); schemas are rendered from the model
//! `$metadata` is rendered from (`metadata::model`), so the two documents cannot disagree about a
//! property or its type. `childFolders` nests to any depth; like Graph's own description, this
//! one spells out two levels.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use rolo_domain::ApiVersion;
use serde_json::{json, Map, Value};

use crate::metadata::{model, Model, TypeDef};

mod groups;
mod todo;

/// Where a route lives: outside authentication, at the service root, or under each mailbox
/// (`/me` and `/users/{user-id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    Public,
    Root,
    /// The directory: `/me`, `/users`, `/organization` themselves (`users.rs`).
    Directory,
    Mailbox,
    /// Microsoft 365 groups and memberships (`groups.rs`).
    Groups,
}

/// A request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    None,
    /// JSON for creating an entity of the named type.
    Create(&'static str),
    /// JSON for updating an entity of the named type.
    Update(&'static str),
    /// Image bytes.
    Image,
    Batch,
    /// `{"post": {...}}`: a reply to a group thread or post.
    Reply,
    /// A merge of duplicates (`.../contacts/{id}/merge`, a Rolo extension).
    Merge,
    /// `POST /users`: the properties Rolo reads of a new user.
    NewUser,
}

/// A successful response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    Entity(&'static str),
    Created(&'static str),
    Collection(&'static str),
    Delta(&'static str),
    NoContent,
    /// 202 with no body (a group post's reply).
    Accepted,
    /// A photo's bytes.
    Bytes,
    /// 200 with an empty body (photo uploads).
    Empty,
    Metadata,
    OpenApi,
    ServiceDocument,
    Batch,
}

/// The query options an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    None,
    /// Contact and folder lists: `$filter $orderby $select $top $skip $count $expand`.
    List,
    /// A single contact or folder: `$select $expand`.
    Select,
    /// Delta: `$select` (first round), `$deltatoken`, `$skiptoken`.
    Delta,
    /// Schema extension definitions: `$filter $top`.
    Filter,
    /// People: `$search $filter $select $top $skip`.
    People,
    /// The user list: `$filter $search $orderby $select $top $count` (`ConsistencyLevel`).
    Users,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Op {
    pub method: &'static str,
    pub summary: &'static str,
    pub query: Query,
    pub body: Body,
    pub reply: Reply,
}

/// One path Rolo serves, with its methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// Below the version root, e.g. `/me/contacts/{contact-id}`.
    pub path: String,
    pub area: Area,
    pub ops: Vec<Op>,
}

const fn op(method: &'static str, summary: &'static str, query: Query, body: Body, reply: Reply) -> Op {
    Op { method, summary, query, body, reply }
}

const fn get(summary: &'static str, query: Query, reply: Reply) -> Op {
    op("get", summary, query, Body::None, reply)
}

const fn create(summary: &'static str, ty: &'static str) -> Op {
    op("post", summary, Query::None, Body::Create(ty), Reply::Created(ty))
}

const fn update(summary: &'static str, ty: &'static str) -> Op {
    op("patch", summary, Query::None, Body::Update(ty), Reply::Entity(ty))
}

const fn delete(summary: &'static str) -> Op {
    op("delete", summary, Query::None, Body::None, Reply::NoContent)
}

const fn action(summary: &'static str) -> Op {
    op("post", summary, Query::None, Body::None, Reply::NoContent)
}

/// The folder prefixes contacts live under: the default folder, a folder, a child folder.
const CONTACT_HOMES: &[&str] =
    &["", "/contactFolders/{contactFolder-id}", "/contactFolders/{contactFolder-id}/childFolders/{contactFolder-id1}"];

/// (collection, item) paths of folders: top-level and child folders.
const FOLDER_LEVELS: &[(&str, &str)] = &[
    ("/contactFolders", "/contactFolders/{contactFolder-id}"),
    (
        "/contactFolders/{contactFolder-id}/childFolders",
        "/contactFolders/{contactFolder-id}/childFolders/{contactFolder-id1}",
    ),
];

/// The mailbox routes, relative to the owner (`/me` or `/users/{user-id}`).
fn mailbox_routes() -> Vec<(String, Vec<Op>)> {
    let mut r: Vec<(String, Vec<Op>)> = Vec::new();
    for home in CONTACT_HOMES {
        let c = format!("{home}/contacts");
        let one = format!("{c}/{{contact-id}}");
        r.extend([
            (
                c.clone(),
                vec![
                    get("List contacts", Query::List, Reply::Collection("contact")),
                    create("Create a contact", "contact"),
                ],
            ),
            (
                format!("{c}/delta()"),
                vec![get("Contacts changed since a delta token", Query::Delta, Reply::Delta("contact"))],
            ),
            (
                one.clone(),
                vec![
                    get("Get a contact", Query::Select, Reply::Entity("contact")),
                    update("Update a contact", "contact"),
                    delete("Delete a contact"),
                ],
            ),
            (format!("{one}/permanentDelete"), vec![action("Delete a contact permanently")]),
            (
                format!("{one}/merge"),
                vec![op(
                    "post",
                    "Merge duplicates into this contact (a Rolo extension): every value kept, the others deleted",
                    Query::None,
                    Body::Merge,
                    Reply::Entity("contact"),
                )],
            ),
            (
                format!("{one}/extensions"),
                vec![
                    get("List a contact's open extensions", Query::None, Reply::Collection("openTypeExtension")),
                    create("Add an open extension", "openTypeExtension"),
                ],
            ),
            (
                format!("{one}/extensions/{{extension-id}}"),
                vec![
                    get("Get an open extension", Query::None, Reply::Entity("openTypeExtension")),
                    update("Update an open extension", "openTypeExtension"),
                    delete("Delete an open extension"),
                ],
            ),
            (
                format!("{one}/photo"),
                vec![get("A contact photo's metadata", Query::None, Reply::Entity("profilePhoto"))],
            ),
            (
                format!("{one}/photo/$value"),
                vec![
                    get("A contact photo's bytes", Query::None, Reply::Bytes),
                    op("put", "Set a contact's photo", Query::None, Body::Image, Reply::Empty),
                    op("patch", "Set a contact's photo", Query::None, Body::Image, Reply::Empty),
                ],
            ),
            (
                format!("{one}/photos"),
                vec![get("A contact photo's sizes (Rolo extension)", Query::None, Reply::Collection("profilePhoto"))],
            ),
            (
                format!("{one}/photos/{{profilePhoto-id}}"),
                vec![get("One size of a contact photo (Rolo extension)", Query::None, Reply::Entity("profilePhoto"))],
            ),
            (
                format!("{one}/photos/{{profilePhoto-id}}/$value"),
                vec![get("One size of a contact photo, its bytes (Rolo extension)", Query::None, Reply::Bytes)],
            ),
        ]);
    }
    for (coll, one) in FOLDER_LEVELS {
        r.extend([
            (
                coll.to_string(),
                vec![
                    get("List contact folders", Query::List, Reply::Collection("contactFolder")),
                    create("Create a contact folder", "contactFolder"),
                ],
            ),
            (
                one.to_string(),
                vec![
                    get("Get a contact folder", Query::Select, Reply::Entity("contactFolder")),
                    update("Update a contact folder", "contactFolder"),
                    delete("Delete a contact folder"),
                ],
            ),
            (format!("{one}/permanentDelete"), vec![action("Delete a contact folder permanently")]),
            (
                format!("{one}/permissions"),
                vec![
                    get(
                        "Who the folder is shared with (Rolo extension)",
                        Query::None,
                        Reply::Collection("contactFolderPermission"),
                    ),
                    create("Share the folder (Rolo extension)", "contactFolderPermission"),
                ],
            ),
            (
                format!("{one}/permissions/{{contactFolderPermission-id}}"),
                vec![
                    get(
                        "Get a folder permission (Rolo extension)",
                        Query::None,
                        Reply::Entity("contactFolderPermission"),
                    ),
                    update("Change a folder permission's role (Rolo extension)", "contactFolderPermission"),
                    delete("Stop sharing the folder with someone (Rolo extension)"),
                ],
            ),
        ]);
    }
    r.extend([
        (
            "/contactFolders/delta()".to_owned(),
            vec![get(
                "Every folder of the mailbox changed since a delta token",
                Query::Delta,
                Reply::Delta("contactFolder"),
            )],
        ),
        (
            "/photo".to_owned(),
            vec![
                get("The user's photo metadata", Query::None, Reply::Entity("profilePhoto")),
                delete("Delete the user's photo"),
            ],
        ),
        (
            "/photo/$value".to_owned(),
            vec![
                get("The user's photo bytes", Query::None, Reply::Bytes),
                op("put", "Set the user's photo", Query::None, Body::Image, Reply::Empty),
                op("patch", "Set the user's photo", Query::None, Body::Image, Reply::Empty),
                delete("Delete the user's photo"),
            ],
        ),
        ("/photos".to_owned(), vec![get("The user's photo sizes", Query::None, Reply::Collection("profilePhoto"))]),
        (
            "/photos/{profilePhoto-id}".to_owned(),
            vec![get("One size of the user's photo", Query::None, Reply::Entity("profilePhoto"))],
        ),
        (
            "/photos/{profilePhoto-id}/$value".to_owned(),
            vec![get("One size of the user's photo, its bytes", Query::None, Reply::Bytes)],
        ),
        (
            "/people".to_owned(),
            vec![get("The people most relevant to the mailbox", Query::People, Reply::Collection("person"))],
        ),
        (
            "/outlook/masterCategories".to_owned(),
            vec![
                get("List the master categories", Query::None, Reply::Collection("outlookCategory")),
                create("Create a master category", "outlookCategory"),
            ],
        ),
        (
            "/outlook/masterCategories/{outlookCategory-id}".to_owned(),
            vec![
                get("Get a master category", Query::None, Reply::Entity("outlookCategory")),
                update("Change a master category's colour", "outlookCategory"),
                delete("Delete a master category"),
            ],
        ),
    ]);
    r.extend(todo::routes());
    r
}

/// Every route Rolo serves under a version root, in one list: the OpenAPI paths are this list,
/// and a test walks each through `$metadata` and the URL parser.
pub(crate) fn routes() -> Vec<Route> {
    let public = |path: &str, o: Op| Route { path: path.to_owned(), area: Area::Public, ops: vec![o] };
    let root = |path: &str, ops: Vec<Op>| Route { path: path.to_owned(), area: Area::Root, ops };
    let mut out = vec![
        public("/", get("The service document", Query::None, Reply::ServiceDocument)),
        public("/$metadata", get("The CSDL description of the service", Query::None, Reply::Metadata)),
        public("/openapi.json", get("This OpenAPI description", Query::None, Reply::OpenApi)),
        root("/$batch", vec![op("post", "Run up to 20 requests in one", Query::None, Body::Batch, Reply::Batch)]),
        root(
            "/subscriptions",
            vec![
                get("List the caller's subscriptions", Query::None, Reply::Collection("subscription")),
                create("Subscribe to contact changes", "subscription"),
            ],
        ),
        root(
            "/subscriptions/{subscription-id}",
            vec![
                get("Get a subscription", Query::None, Reply::Entity("subscription")),
                update("Renew or change a subscription", "subscription"),
                delete("Delete a subscription"),
            ],
        ),
        root("/subscriptions/{subscription-id}/reauthorize", vec![action("Reauthorize a subscription")]),
        root(
            "/schemaExtensions",
            vec![
                get("List schema extension definitions", Query::Filter, Reply::Collection("schemaExtension")),
                create("Define a schema extension", "schemaExtension"),
            ],
        ),
        root(
            "/schemaExtensions/{schemaExtension-id}",
            vec![
                get("Get a schema extension definition", Query::None, Reply::Entity("schemaExtension")),
                op(
                    "patch",
                    "Update a schema extension definition",
                    Query::None,
                    Body::Update("schemaExtension"),
                    Reply::NoContent,
                ),
                delete("Delete a schema extension definition"),
            ],
        ),
    ];
    let directory = |path: &str, o: Op| Route { path: path.to_owned(), area: Area::Directory, ops: vec![o] };
    out.extend([
        directory("/me", get("The signed-in user", Query::Select, Reply::Entity("user"))),
        Route {
            path: "/users".to_owned(),
            area: Area::Directory,
            ops: vec![
                get("List the directory's users", Query::Users, Reply::Collection("user")),
                op(
                    "post",
                    "Create a user (User.ReadWrite.All or Directory.ReadWrite.All)",
                    Query::None,
                    Body::NewUser,
                    Reply::Created("user"),
                ),
            ],
        },
        directory(
            "/users/{user-id}",
            get("A user, by id or user principal name", Query::Select, Reply::Entity("user")),
        ),
        directory("/organization", get("The tenant", Query::None, Reply::Collection("organization"))),
        directory(
            "/organization/{organization-id}",
            get("The tenant, by id", Query::None, Reply::Entity("organization")),
        ),
    ]);
    let mailbox = mailbox_routes();
    for owner in ["/me", "/users/{user-id}"] {
        for (path, ops) in &mailbox {
            out.push(Route { path: format!("{owner}{path}"), area: Area::Mailbox, ops: ops.clone() });
        }
    }
    out.extend(groups::routes());
    out
}

/// The OpenAPI document of a version, built once.
pub fn document(version: ApiVersion) -> &'static [u8] {
    static V1: OnceLock<Vec<u8>> = OnceLock::new();
    static BETA: OnceLock<Vec<u8>> = OnceLock::new();
    let build = |v| serde_json::to_vec(&build(v)).unwrap_or_default();
    match version {
        ApiVersion::V1 => V1.get_or_init(|| build(ApiVersion::V1)),
        ApiVersion::Beta => BETA.get_or_init(|| build(ApiVersion::Beta)),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/microsoft.graph.{name}")})
}

/// The JSON schema of an EDM type (`Edm.String`, `graph.emailAddress`, `Collection(...)`).
fn edm_schema(model: &Model, ty: &str, nullable: bool) -> Value {
    if let Some(inner) = ty.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')')) {
        return json!({"type": "array", "items": edm_schema(model, inner, false)});
    }
    let mut s = match ty {
        "Edm.String" => json!({"type": "string"}),
        "Edm.Boolean" => json!({"type": "boolean"}),
        "Edm.Int32" => json!({"type": "integer", "format": "int32"}),
        "Edm.Double" => json!({"type": "number", "format": "double"}),
        "Edm.Date" => json!({"type": "string", "format": "date"}),
        "Edm.DateTimeOffset" => json!({"type": "string", "format": "date-time"}),
        other => {
            let name = other.trim_start_matches("graph.");
            let known = model.get(name).is_some() || model.enums.iter().any(|(e, _)| *e == name);
            debug_assert!(known, "unknown type {other}");
            if nullable {
                return json!({"allOf": [schema_ref(name)], "nullable": true});
            }
            return schema_ref(name);
        }
    };
    if nullable {
        s["nullable"] = json!(true);
    }
    s
}

/// Properties a client may not write.
const READ_ONLY: &[&str] = &[
    "id",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "wellKnownName",
    "applicationId",
    "creatorId",
    "owner",
    "allowedRoles",
    "isRemovable",
    "isInsideOrganization",
];

fn type_schema(model: &Model, t: &TypeDef, writing: bool) -> Value {
    let mut props = Map::new();
    for p in model.all_properties(t) {
        if writing && READ_ONLY.contains(&p.name) {
            continue;
        }
        let nullable = p.nullable && !p.ty.starts_with("Collection(");
        props.insert(p.name.to_owned(), edm_schema(model, p.ty, nullable));
    }
    if !writing {
        for n in model.all_navigation(t) {
            let nullable = !n.ty.starts_with("Collection(");
            props.insert(n.name.to_owned(), edm_schema(model, n.ty, nullable));
        }
    }
    let title = if writing { format!("{} (for writing)", t.name) } else { t.name.to_owned() };
    json!({"title": title, "type": "object", "properties": props})
}

fn error_schemas() -> [(&'static str, Value); 4] {
    [
        (
            "microsoft.graph.ODataErrors.ODataError",
            json!({"type": "object", "required": ["error"], "properties": {
                "error": {"$ref": "#/components/schemas/microsoft.graph.ODataErrors.MainError"}}}),
        ),
        (
            "microsoft.graph.ODataErrors.MainError",
            json!({"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "target": {"type": "string", "nullable": true},
                "details": {"type": "array", "items": {"$ref": "#/components/schemas/microsoft.graph.ODataErrors.ErrorDetails"}},
                "innerError": {"$ref": "#/components/schemas/microsoft.graph.ODataErrors.InnerError"}}}),
        ),
        (
            "microsoft.graph.ODataErrors.ErrorDetails",
            json!({"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string", "nullable": true}}}),
        ),
        (
            "microsoft.graph.ODataErrors.InnerError",
            json!({"type": "object", "properties": {
                // UTC without an offset (`2024-05-01T12:00:00`), as Graph writes it: not RFC 3339.
                "date": {"type": "string", "nullable": true},
                "request-id": {"type": "string", "nullable": true},
                "client-request-id": {"type": "string", "nullable": true}}}),
        ),
    ]
}

fn query_parameters(query: Query) -> Vec<Value> {
    let string = |name: &str, what: &str| json!({"name": name, "in": "query", "description": what, "schema": {"type": "string"}});
    let top = json!({"name": "$top", "in": "query", "description": "Page size (1 to 1000)", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}});
    match query {
        Query::None => Vec::new(),
        Query::List => vec![
            string("$filter", "Filter items by property values"),
            string("$orderby", "Order items by property values"),
            string("$select", "Properties to return"),
            string("$expand", "Related entities to expand"),
            top,
            json!({"name": "$skip", "in": "query", "description": "Skip the first n items", "schema": {"type": "integer", "minimum": 0}}),
            json!({"name": "$count", "in": "query", "description": "Include the count of items", "schema": {"type": "boolean"}}),
        ],
        Query::Select => {
            vec![string("$select", "Properties to return"), string("$expand", "Related entities to expand")]
        }
        Query::Delta => vec![
            string("$select", "Properties to return (first round only)"),
            string("$deltatoken", "The token of a previous round's deltaLink"),
            string("$skiptoken", "The token of a nextLink"),
        ],
        Query::Filter => vec![string("$filter", "Filter by id, description, status or owner"), top],
        Query::Users => vec![
            string("$filter", "eq, ne, in, startswith, and, or, not on the user's properties"),
            string("$search", "\"property:words\" clauses joined by AND / OR (needs ConsistencyLevel: eventual)"),
            string("$orderby", "displayName or userPrincipalName"),
            string("$select", "Properties to return"),
            json!({"name": "$top", "in": "query", "description": "Page size (1 to 999)", "schema": {"type": "integer", "minimum": 1, "maximum": 999}}),
            json!({"name": "$count", "in": "query", "description": "Include @odata.count (needs ConsistencyLevel: eventual)", "schema": {"type": "boolean"}}),
            json!({"name": "ConsistencyLevel", "in": "header", "description": "eventual, for $search and $count", "schema": {"type": "string", "enum": ["eventual"]}}),
        ],
        Query::People => vec![
            string("$search", "People-picker search over names and addresses, or topic:words"),
            string("$filter", "Filter on personType/class and personType/subclass"),
            string("$select", "Properties to return"),
            top,
            json!({"name": "$skip", "in": "query", "description": "Skip the first n people (not with $search)", "schema": {"type": "integer", "minimum": 0}}),
        ],
    }
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn responses(reply: Reply) -> Value {
    let collection = |name: &str, delta: bool| {
        let mut props = json!({
            "@odata.context": {"type": "string"},
            "@odata.nextLink": {"type": "string"},
            "value": {"type": "array", "items": schema_ref(name)},
        });
        if delta {
            props["@odata.deltaLink"] = json!({"type": "string"});
        } else {
            props["@odata.count"] = json!({"type": "integer", "minimum": 0});
        }
        json!({"type": "object", "required": ["value"], "properties": props})
    };
    let (status, body) = match reply {
        Reply::Entity(t) => ("200", json!({"description": "The entity", "content": json_content(schema_ref(t))})),
        Reply::Created(t) => ("201", json!({"description": "Created", "content": json_content(schema_ref(t))})),
        Reply::Collection(t) => {
            ("200", json!({"description": "A page of the collection", "content": json_content(collection(t, false))}))
        }
        Reply::Delta(t) => {
            ("200", json!({"description": "A page of changes", "content": json_content(collection(t, true))}))
        }
        Reply::NoContent => ("204", json!({"description": "Done"})),
        Reply::Accepted => ("202", json!({"description": "Accepted"})),
        Reply::Empty => ("200", json!({"description": "Stored"})),
        Reply::Bytes => (
            "200",
            json!({"description": "The image", "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}}),
        ),
        Reply::Metadata => {
            ("200", json!({"description": "CSDL", "content": {"application/xml": {"schema": {"type": "string"}}}}))
        }
        Reply::OpenApi => {
            ("200", json!({"description": "OpenAPI 3.0", "content": json_content(json!({"type": "object"}))}))
        }
        Reply::ServiceDocument => (
            "200",
            json!({"description": "The entity sets and singletons", "content": json_content(json!({
                "type": "object", "required": ["value"], "properties": {
                    "@odata.context": {"type": "string"},
                    "value": {"type": "array", "items": {"type": "object", "required": ["name", "kind", "url"], "properties": {
                        "name": {"type": "string"}, "kind": {"type": "string"}, "url": {"type": "string"}}}}}}))}),
        ),
        Reply::Batch => (
            "200",
            json!({"description": "The responses, in request order", "content": json_content(json!({
                "type": "object", "required": ["responses"], "properties": {
                    "responses": {"type": "array", "items": {"type": "object", "required": ["id", "status"], "properties": {
                        "id": {"type": "string"}, "status": {"type": "integer"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}}, "body": {}}}}}}))}),
        ),
    };
    let mut out = Map::new();
    out.insert(status.to_owned(), body);
    out.insert("default".to_owned(), json!({"$ref": "#/components/responses/error"}));
    Value::Object(out)
}

fn request_body(body: Body) -> Option<Value> {
    let json_body = |schema: Value| json!({"required": true, "content": json_content(schema)});
    match body {
        Body::None => None,
        Body::Create(t) | Body::Update(t) => {
            Some(json_body(json!({"$ref": format!("#/components/schemas/microsoft.graph.{t}-write")})))
        }
        Body::Reply => Some(json_body(json!({"type": "object", "required": ["post"], "properties": {
            "post": {"$ref": "#/components/schemas/microsoft.graph.post-write"}}}))),
        Body::Image => Some(json!({"required": true, "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}}}})),
        Body::NewUser => Some(json_body(json!({
            "type": "object", "required": ["displayName", "userPrincipalName"], "properties": {
                "displayName": {"type": "string"}, "userPrincipalName": {"type": "string"},
                "mailNickname": {"type": "string"}, "accountEnabled": {"type": "boolean"},
                "mailboxSettings": {"type": "object", "description": "userPurpose shared (a Rolo extension): a shared mailbox, without passwordProfile",
                    "properties": {"userPurpose": {"type": "string", "enum": ["user", "shared"]}}},
                "passwordProfile": {"type": "object", "required": ["password"], "properties": {
                    "password": {"type": "string"}, "forceChangePasswordNextSignIn": {"type": "boolean"}}}}}))),
        Body::Merge => Some(json_body(json!({
            "type": "object", "required": ["contacts"], "additionalProperties": false, "properties": {
                "contacts": {"type": "array", "minItems": 1, "maxItems": crate::merge::MAX_MERGED,
                             "items": {"type": "string"}, "description": "The other contacts' ids: merged in, then deleted"},
                "values": {"$ref": "#/components/schemas/microsoft.graph.contact-write",
                           "description": "Values chosen where the contacts differ, applied as a PATCH"}}}))),
        Body::Batch => Some(json_body(json!({
            "type": "object", "required": ["requests"], "properties": {
                "requests": {"type": "array", "items": {"type": "object", "required": ["id", "method", "url"], "properties": {
                    "id": {"type": "string"}, "method": {"type": "string"}, "url": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "body": {}, "dependsOn": {"type": "array", "items": {"type": "string"}}}}}}}))),
    }
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let what = if name == "user-id" { "The user's id or userPrincipalName" } else { "key: id" };
            json!({"name": name, "in": "path", "required": true, "description": what, "schema": {"type": "string"}})
        })
        .collect()
}

fn build(version: ApiVersion) -> Value {
    let model = model(version);
    let mut paths = Map::new();
    for route in routes() {
        let mut item = Map::new();
        let params = path_parameters(&route.path);
        if !params.is_empty() {
            item.insert("parameters".into(), Value::Array(params));
        }
        let tag = route.path.trim_start_matches('/').split('/').next().unwrap_or("").to_owned();
        for o in &route.ops {
            let mut operation = json!({
                "operationId": format!("{} {}", o.method.to_ascii_uppercase(), route.path),
                "summary": o.summary,
                "tags": [if tag.is_empty() { "service".to_owned() } else { tag.clone() }],
                "responses": responses(o.reply),
            });
            let q = query_parameters(o.query);
            if !q.is_empty() {
                operation["parameters"] = Value::Array(q);
            }
            if let Some(b) = request_body(o.body) {
                operation["requestBody"] = b;
            }
            if route.area == Area::Public {
                operation["security"] = json!([]);
            }
            item.insert(o.method.to_owned(), operation);
        }
        paths.insert(route.path.clone(), Value::Object(item));
    }

    let mut schemas = Map::new();
    for (name, members) in &model.enums {
        let values: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
        schemas.insert(format!("microsoft.graph.{name}"), json!({"title": name, "type": "string", "enum": values}));
    }
    let written: BTreeSet<&str> = routes()
        .iter()
        .flat_map(|r| r.ops.iter())
        .filter_map(|o| match o.body {
            Body::Create(t) | Body::Update(t) => Some(t),
            Body::Reply => Some("post"),
            _ => None,
        })
        .collect();
    for t in &model.types {
        schemas.insert(format!("microsoft.graph.{}", t.name), type_schema(model, t, false));
        if written.contains(t.name) {
            schemas.insert(format!("microsoft.graph.{}-write", t.name), type_schema(model, t, true));
        }
    }
    for (name, schema) in error_schemas() {
        schemas.insert(name.to_owned(), schema);
    }

    json!({
        "openapi": "3.0.3",
        "info": {
            "title": format!("Rolo: Microsoft Graph personal contacts ({})", version.segment()),
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What this Rolo server serves, generated from the same model as $metadata. \
                childFolders nests to any depth; two levels are spelled out here.",
        },
        "servers": [{"url": format!("/{}", version.segment())}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"error": {"description": "An error, in Graph's envelope", "content": json_content(
                json!({"$ref": "#/components/schemas/microsoft.graph.ODataErrors.ODataError"}))}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    })
}

#[cfg(test)]
mod tests;
