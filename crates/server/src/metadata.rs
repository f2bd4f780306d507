//! The service document (`GET /v1.0/`) and `$metadata`: CSDL describing exactly what Rolo serves,
//! with Graph's names. The entity model is data (`model`): contact and folder properties come from
//! the tables the JSON projection uses, and `openapi.rs` renders the same model as OpenAPI, so the
//! projection, `$metadata` and `openapi.json` cannot drift apart.

use std::fmt::Write;
use std::sync::OnceLock;

use rolo_domain::projection::{contact_properties, folder_properties};
use rolo_domain::ApiVersion;

/// The EDM type of a contact property in `version`, from the property table.
fn contact_property_type(name: &str, version: ApiVersion) -> &'static str {
    rolo_domain::properties::contact_property(name, version).map_or("Edm.String", |p| p.edm(version))
}

const OUTLOOK_ITEM: &[&str] = &["categories", "changeKey", "createdDateTime", "lastModifiedDateTime"];

/// A structural property: its name, EDM type (`Edm.String`, `graph.emailAddress`,
/// `Collection(...)`) and whether it may be null.
pub(crate) struct Property {
    pub name: &'static str,
    pub ty: &'static str,
    pub nullable: bool,
}

/// A navigation property, always contained (`ContainsTarget`): Rolo serves each under its parent.
pub(crate) struct Navigation {
    pub name: &'static str,
    pub ty: &'static str,
}

/// An entity or complex type of the `microsoft.graph` namespace.
pub(crate) struct TypeDef {
    pub entity: bool,
    pub name: &'static str,
    /// `graph.entity`...
    pub base: Option<&'static str>,
    pub is_abstract: bool,
    pub open: bool,
    /// A media entity: its bytes are at `.../$value`.
    pub has_stream: bool,
    pub properties: Vec<Property>,
    pub navigation: Vec<Navigation>,
}

/// A bound function (`delta`) or action (`permanentDelete`, `reauthorize`).
pub(crate) struct Operation {
    pub name: &'static str,
    pub function: bool,
    pub binding: &'static str,
    pub returns: Option<&'static str>,
}

/// Everything `$metadata` describes for one version.
pub(crate) struct Model {
    pub enums: Vec<(&'static str, Vec<(String, i32)>)>,
    pub types: Vec<TypeDef>,
    pub operations: Vec<Operation>,
    /// (name, entity type)
    pub entity_sets: Vec<(&'static str, &'static str)>,
    pub singletons: Vec<(&'static str, &'static str)>,
}

impl Model {
    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// A type's properties, inherited ones first.
    pub fn all_properties<'a>(&'a self, t: &'a TypeDef) -> Vec<&'a Property> {
        let mut out = match t.base.and_then(|b| self.get(b.trim_start_matches("graph."))) {
            Some(base) => self.all_properties(base),
            None => Vec::new(),
        };
        out.extend(t.properties.iter());
        out
    }

    /// A type's navigation properties, inherited ones first.
    pub fn all_navigation<'a>(&'a self, t: &'a TypeDef) -> Vec<&'a Navigation> {
        let mut out = match t.base.and_then(|b| self.get(b.trim_start_matches("graph."))) {
            Some(base) => self.all_navigation(base),
            None => Vec::new(),
        };
        out.extend(t.navigation.iter());
        out
    }
}

fn prop(name: &'static str, ty: &'static str) -> Property {
    Property { name, ty, nullable: true }
}

fn required(name: &'static str, ty: &'static str) -> Property {
    Property { name, ty, nullable: false }
}

fn strings(names: &[&'static str]) -> Vec<Property> {
    names.iter().map(|n| prop(n, "Edm.String")).collect()
}

fn nav(name: &'static str, ty: &'static str) -> Navigation {
    Navigation { name, ty }
}

fn complex(name: &'static str, base: Option<&'static str>, properties: Vec<Property>) -> TypeDef {
    TypeDef {
        entity: false,
        name,
        base,
        is_abstract: false,
        open: false,
        has_stream: false,
        properties,
        navigation: Vec::new(),
    }
}

fn entity(name: &'static str, properties: Vec<Property>, navigation: Vec<Navigation>) -> TypeDef {
    TypeDef {
        entity: true,
        name,
        base: Some("graph.entity"),
        is_abstract: false,
        open: false,
        has_stream: false,
        properties,
        navigation,
    }
}

/// Microsoft To Do's types, as `rolo_domain::todo` projects them.
fn todo_types() -> Vec<TypeDef> {
    let dates = ["dueDateTime", "startDateTime", "reminderDateTime", "completedDateTime"];
    let mut task = vec![
        prop("title", "Edm.String"),
        prop("body", "graph.itemBody"),
        prop("importance", "Edm.String"),
        prop("status", "Edm.String"),
        required("categories", "Collection(Edm.String)"),
        prop("isReminderOn", "Edm.Boolean"),
        prop("createdDateTime", "Edm.DateTimeOffset"),
        prop("lastModifiedDateTime", "Edm.DateTimeOffset"),
        prop("bodyLastModifiedDateTime", "Edm.DateTimeOffset"),
        prop("hasAttachments", "Edm.Boolean"),
    ];
    task.extend(dates.iter().map(|d| prop(d, "graph.dateTimeTimeZone")));
    vec![
        complex("itemBody", None, strings(&["content", "contentType"])),
        entity("todo", Vec::new(), vec![nav("lists", "Collection(graph.todoTaskList)")]),
        entity(
            "todoTaskList",
            vec![
                prop("displayName", "Edm.String"),
                prop("isOwner", "Edm.Boolean"),
                prop("isShared", "Edm.Boolean"),
                prop("wellknownListName", "Edm.String"),
            ],
            vec![nav("tasks", "Collection(graph.todoTask)")],
        ),
        entity("todoTask", task, vec![nav("checklistItems", "Collection(graph.checklistItem)")]),
        entity(
            "checklistItem",
            vec![
                prop("displayName", "Edm.String"),
                prop("createdDateTime", "Edm.DateTimeOffset"),
                prop("checkedDateTime", "Edm.DateTimeOffset"),
                prop("isChecked", "Edm.Boolean"),
            ],
            Vec::new(),
        ),
    ]
}

/// Microsoft 365 groups and their conversations, as `rolo_domain::group` projects them.
fn group_types() -> Vec<TypeDef> {
    let mut directory_object =
        entity("directoryObject", vec![prop("deletedDateTime", "Edm.DateTimeOffset")], Vec::new());
    directory_object.is_abstract = true;
    let mut group = entity(
        "group",
        {
            let mut p = strings(&["classification", "description", "displayName", "mail", "mailNickname"]);
            p.extend([
                prop("createdDateTime", "Edm.DateTimeOffset"),
                prop("expirationDateTime", "Edm.DateTimeOffset"),
                prop("renewedDateTime", "Edm.DateTimeOffset"),
                required("creationOptions", "Collection(Edm.String)"),
                required("groupTypes", "Collection(Edm.String)"),
                required("proxyAddresses", "Collection(Edm.String)"),
                required("resourceBehaviorOptions", "Collection(Edm.String)"),
                required("resourceProvisioningOptions", "Collection(Edm.String)"),
                prop("isAssignableToRole", "Edm.Boolean"),
                prop("mailEnabled", "Edm.Boolean"),
                prop("securityEnabled", "Edm.Boolean"),
            ]);
            p.extend(strings(&[
                "membershipRule",
                "membershipRuleProcessingState",
                "preferredDataLocation",
                "preferredLanguage",
                "theme",
                "visibility",
            ]));
            p
        },
        vec![
            nav("members", "Collection(graph.directoryObject)"),
            nav("conversations", "Collection(graph.conversation)"),
            nav("threads", "Collection(graph.conversationThread)"),
        ],
    );
    group.base = Some("graph.directoryObject");
    let summary = |extra: Vec<Property>| {
        let mut p = vec![
            prop("topic", "Edm.String"),
            prop("hasAttachments", "Edm.Boolean"),
            prop("lastDeliveredDateTime", "Edm.DateTimeOffset"),
            required("uniqueSenders", "Collection(Edm.String)"),
            prop("preview", "Edm.String"),
        ];
        p.extend(extra);
        p
    };
    let mut post = entity(
        "post",
        vec![
            prop("body", "graph.itemBody"),
            prop("receivedDateTime", "Edm.DateTimeOffset"),
            prop("hasAttachments", "Edm.Boolean"),
            prop("from", "graph.recipient"),
            prop("sender", "graph.recipient"),
            prop("conversationThreadId", "Edm.String"),
            prop("conversationId", "Edm.String"),
            required("newParticipants", "Collection(graph.recipient)"),
        ],
        Vec::new(),
    );
    post.base = Some("graph.outlookItem");
    vec![
        complex("recipient", None, vec![prop("emailAddress", "graph.emailAddress")]),
        directory_object,
        group,
        entity("conversation", summary(Vec::new()), vec![nav("threads", "Collection(graph.conversationThread)")]),
        entity(
            "conversationThread",
            summary(vec![
                required("toRecipients", "Collection(graph.recipient)"),
                required("ccRecipients", "Collection(graph.recipient)"),
                prop("isLocked", "Edm.Boolean"),
            ]),
            vec![nav("posts", "Collection(graph.post)")],
        ),
        post,
    ]
}

/// The model of a version, built once.
pub(crate) fn model(version: ApiVersion) -> &'static Model {
    static V1: OnceLock<Model> = OnceLock::new();
    static BETA: OnceLock<Model> = OnceLock::new();
    match version {
        ApiVersion::V1 => V1.get_or_init(|| build_model(ApiVersion::V1)),
        ApiVersion::Beta => BETA.get_or_init(|| build_model(ApiVersion::Beta)),
    }
}

fn build_model(version: ApiVersion) -> Model {
    let beta = version == ApiVersion::Beta;
    let mut colors = vec![("none".to_owned(), -1)];
    colors.extend((0..=24).map(|i| (format!("preset{i}"), i)));

    let mut types = vec![complex("emailAddress", None, strings(&["address", "name"]))];
    let mut address = strings(&["city", "countryOrRegion", "postalCode", "state", "street"]);
    if beta {
        address.extend(strings(&["postOfficeBox", "type"]));
    }
    types.push(complex("physicalAddress", None, address));
    // Of a mailbox's settings, Rolo serves only whether it is a person's or a shared mailbox.
    types.push(complex("mailboxSettings", None, strings(&["userPurpose"])));
    if beta {
        types.extend([
            complex("typedEmailAddress", Some("graph.emailAddress"), strings(&["otherLabel", "type"])),
            complex("phone", None, strings(&["number", "type"])),
            complex("website", None, strings(&["address", "displayName", "type"])),
            complex("dateTimeTimeZone", None, vec![required("dateTime", "Edm.String"), prop("timeZone", "Edm.String")]),
            complex(
                "followupFlag",
                None,
                vec![
                    prop("completedDateTime", "graph.dateTimeTimeZone"),
                    prop("dueDateTime", "graph.dateTimeTimeZone"),
                    prop("flagStatus", "Edm.String"),
                    prop("startDateTime", "graph.dateTimeTimeZone"),
                ],
            ),
        ]);
    }
    types.push(complex("extensionSchemaProperty", None, strings(&["name", "type"])));
    // The People API's person and its parts.
    if !beta {
        // Beta declares it above, for the contact's flag.
        types.push(complex(
            "dateTimeTimeZone",
            None,
            vec![required("dateTime", "Edm.String"), prop("timeZone", "Edm.String")],
        ));
        types.push(complex("phone", None, strings(&["number", "type"])));
        types.push(complex("website", None, strings(&["address", "displayName", "type"])));
    }
    types.extend([
        complex(
            "scoredEmailAddress",
            None,
            vec![
                prop("address", "Edm.String"),
                prop("relevanceScore", "Edm.Double"),
                prop("selectionLikelihood", "Edm.String"),
            ],
        ),
        complex("personType", None, strings(&["class", "subclass"])),
    ]);

    let mut base_entity = entity("entity", vec![required("id", "Edm.String")], Vec::new());
    base_entity.base = None;
    base_entity.is_abstract = true;
    types.push(base_entity);
    let mut outlook_item = entity(
        "outlookItem",
        OUTLOOK_ITEM.iter().map(|n| prop(n, contact_property_type(n, version))).collect(),
        Vec::new(),
    );
    outlook_item.is_abstract = true;
    types.push(outlook_item);
    let mut contact = entity(
        "contact",
        contact_properties(version)
            .iter()
            .filter(|n| **n != "id" && !OUTLOOK_ITEM.contains(n))
            .map(|n| prop(n, contact_property_type(n, version)))
            .collect(),
        vec![
            nav("photo", "graph.profilePhoto"),
            // Sized renditions of a contact's photo: a Rolo extension (Graph has them for users).
            nav("photos", "Collection(graph.profilePhoto)"),
            nav("extensions", "Collection(graph.extension)"),
            nav("singleValueExtendedProperties", "Collection(graph.singleValueLegacyExtendedProperty)"),
            nav("multiValueExtendedProperties", "Collection(graph.multiValueLegacyExtendedProperty)"),
        ],
    );
    contact.base = Some("graph.outlookItem");
    contact.open = true;
    types.push(contact);
    let mut extension = entity("extension", Vec::new(), Vec::new());
    extension.open = true;
    extension.is_abstract = true;
    types.push(extension);
    let mut open_extension = entity("openTypeExtension", vec![required("extensionName", "Edm.String")], Vec::new());
    open_extension.base = Some("graph.extension");
    open_extension.open = true;
    types.push(open_extension);
    types.extend([
        entity("singleValueLegacyExtendedProperty", vec![prop("value", "Edm.String")], Vec::new()),
        entity("multiValueLegacyExtendedProperty", vec![prop("value", "Collection(Edm.String)")], Vec::new()),
        entity(
            "schemaExtension",
            vec![
                prop("description", "Edm.String"),
                required("owner", "Edm.String"),
                required("properties", "Collection(graph.extensionSchemaProperty)"),
                required("status", "Edm.String"),
                required("targetTypes", "Collection(Edm.String)"),
            ],
            Vec::new(),
        ),
        entity(
            "contactFolder",
            folder_properties(version).iter().filter(|n| **n != "id").map(|n| prop(n, "Edm.String")).collect(),
            vec![
                nav("childFolders", "Collection(graph.contactFolder)"),
                nav("contacts", "Collection(graph.contact)"),
                // Folder sharing: a Rolo extension.
                nav("permissions", "Collection(graph.contactFolderPermission)"),
            ],
        ),
        // Rolo's folder sharing, shaped like Graph's calendarPermission.
        entity(
            "contactFolderPermission",
            vec![
                prop("emailAddress", "graph.emailAddress"),
                prop("role", "Edm.String"),
                required("allowedRoles", "Collection(Edm.String)"),
                prop("isRemovable", "Edm.Boolean"),
                prop("isInsideOrganization", "Edm.Boolean"),
            ],
            Vec::new(),
        ),
    ]);
    let mut photo = entity("profilePhoto", vec![prop("height", "Edm.Int32"), prop("width", "Edm.Int32")], Vec::new());
    photo.has_stream = true;
    types.push(photo);
    types.extend([
        entity(
            "outlookCategory",
            vec![prop("displayName", "Edm.String"), prop("color", "graph.categoryColor")],
            Vec::new(),
        ),
        entity("outlookUser", Vec::new(), vec![nav("masterCategories", "Collection(graph.outlookCategory)")]),
        entity(
            "subscription",
            vec![
                prop("applicationId", "Edm.String"),
                required("changeType", "Edm.String"),
                prop("clientState", "Edm.String"),
                prop("creatorId", "Edm.String"),
                prop("encryptionCertificate", "Edm.String"),
                prop("encryptionCertificateId", "Edm.String"),
                required("expirationDateTime", "Edm.DateTimeOffset"),
                prop("includeResourceData", "Edm.Boolean"),
                prop("latestSupportedTlsVersion", "Edm.String"),
                prop("lifecycleNotificationUrl", "Edm.String"),
                prop("notificationContentType", "Edm.String"),
                prop("notificationQueryOptions", "Edm.String"),
                required("notificationUrl", "Edm.String"),
                prop("notificationUrlAppId", "Edm.String"),
                required("resource", "Edm.String"),
            ],
            Vec::new(),
        ),
    ]);
    types.push(entity(
        "person",
        {
            let mut p = strings(&[
                "displayName",
                "givenName",
                "surname",
                "birthday",
                "personNotes",
                "jobTitle",
                "companyName",
                "yomiCompany",
                "department",
                "officeLocation",
                "profession",
                "userPrincipalName",
                "imAddress",
            ]);
            p.extend([
                prop("isFavorite", "Edm.Boolean"),
                prop("scoredEmailAddresses", "Collection(graph.scoredEmailAddress)"),
                prop("phones", "Collection(graph.phone)"),
                prop("postalAddresses", "Collection(graph.physicalAddress)"),
                prop("websites", "Collection(graph.website)"),
                prop("personType", "graph.personType"),
            ]);
            p
        },
        Vec::new(),
    ));
    let mut user = entity(
        "user",
        {
            // What `users.rs` serves (Graph's default set, then the `$select`-only ones).
            let mut p = vec![prop("businessPhones", "Collection(Edm.String)")];
            p.extend(strings(&[
                "displayName",
                "givenName",
                "jobTitle",
                "mail",
                "mobilePhone",
                "officeLocation",
                "preferredLanguage",
                "surname",
                "userPrincipalName",
            ]));
            p.extend([prop("accountEnabled", "Edm.Boolean"), prop("mailNickname", "Edm.String")]);
            p.push(prop("userType", "Edm.String"));
            p.push(prop("mailboxSettings", "graph.mailboxSettings"));
            p
        },
        vec![
            nav("contacts", "Collection(graph.contact)"),
            nav("contactFolders", "Collection(graph.contactFolder)"),
            nav("outlook", "graph.outlookUser"),
            nav("photo", "graph.profilePhoto"),
            nav("photos", "Collection(graph.profilePhoto)"),
            nav("people", "Collection(graph.person)"),
            nav("todo", "graph.todo"),
            nav("memberOf", "Collection(graph.directoryObject)"),
        ],
    );
    user.open = true;
    types.push(user);
    types.extend(todo_types());
    types.extend(group_types());
    types.push(complex(
        "verifiedDomain",
        None,
        vec![
            prop("capabilities", "Edm.String"),
            prop("isDefault", "Edm.Boolean"),
            prop("isInitial", "Edm.Boolean"),
            prop("name", "Edm.String"),
            prop("type", "Edm.String"),
        ],
    ));
    types.push(entity(
        "organization",
        {
            let mut p =
                vec![prop("deletedDateTime", "Edm.DateTimeOffset"), prop("businessPhones", "Collection(Edm.String)")];
            p.extend(strings(&["city", "country", "countryLetterCode"]));
            p.push(prop("createdDateTime", "Edm.DateTimeOffset"));
            p.push(prop("displayName", "Edm.String"));
            p.push(prop("marketingNotificationEmails", "Collection(Edm.String)"));
            p.extend(strings(&["postalCode", "preferredLanguage", "state", "street"]));
            p.push(prop("technicalNotificationMails", "Collection(Edm.String)"));
            p.push(prop("tenantType", "Edm.String"));
            p.push(prop("verifiedDomains", "Collection(graph.verifiedDomain)"));
            p
        },
        Vec::new(),
    ));

    let operations = vec![
        Operation {
            name: "delta",
            function: true,
            binding: "Collection(graph.contact)",
            returns: Some("Collection(graph.contact)"),
        },
        Operation {
            name: "delta",
            function: true,
            binding: "Collection(graph.contactFolder)",
            returns: Some("Collection(graph.contactFolder)"),
        },
        Operation {
            name: "delta",
            function: true,
            binding: "Collection(graph.todoTask)",
            returns: Some("Collection(graph.todoTask)"),
        },
        Operation { name: "permanentDelete", function: false, binding: "graph.contact", returns: None },
        Operation { name: "merge", function: false, binding: "graph.contact", returns: Some("graph.contact") },
        Operation { name: "permanentDelete", function: false, binding: "graph.contactFolder", returns: None },
        Operation { name: "reauthorize", function: false, binding: "graph.subscription", returns: None },
        Operation { name: "reply", function: false, binding: "graph.conversationThread", returns: None },
        Operation { name: "reply", function: false, binding: "graph.post", returns: None },
    ];
    Model {
        enums: vec![("categoryColor", colors)],
        types,
        operations,
        entity_sets: vec![
            ("users", "graph.user"),
            ("organization", "graph.organization"),
            ("schemaExtensions", "graph.schemaExtension"),
            ("subscriptions", "graph.subscription"),
            ("groups", "graph.group"),
        ],
        singletons: vec![("me", "graph.user")],
    }
}

fn render(model: &Model) -> String {
    let mut x = String::new();
    x.push_str(
        r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
"#,
    );
    for (name, members) in &model.enums {
        let _ = writeln!(x, r#"      <EnumType Name="{name}">"#);
        for (member, value) in members {
            let _ = writeln!(x, r#"        <Member Name="{member}" Value="{value}" />"#);
        }
        x.push_str("      </EnumType>\n");
    }
    for t in &model.types {
        let element = if t.entity { "EntityType" } else { "ComplexType" };
        let _ = write!(x, r#"      <{element} Name="{}""#, t.name);
        if let Some(base) = t.base {
            let _ = write!(x, r#" BaseType="{base}""#);
        }
        for (on, attr) in [(t.is_abstract, "Abstract"), (t.open, "OpenType"), (t.has_stream, "HasStream")] {
            if on {
                let _ = write!(x, r#" {attr}="true""#);
            }
        }
        if t.properties.is_empty() && t.navigation.is_empty() && t.base.is_some() {
            x.push_str(" />\n");
            continue;
        }
        x.push_str(">\n");
        if t.entity && t.base.is_none() {
            x.push_str("        <Key><PropertyRef Name=\"id\" /></Key>\n");
        }
        for p in &t.properties {
            let nullable = if p.nullable { "" } else { r#" Nullable="false""# };
            let _ = writeln!(x, r#"        <Property Name="{}" Type="{}"{nullable} />"#, p.name, p.ty);
        }
        for n in &t.navigation {
            let _ = writeln!(
                x,
                r#"        <NavigationProperty Name="{}" Type="{}" ContainsTarget="true" />"#,
                n.name, n.ty
            );
        }
        let _ = writeln!(x, "      </{element}>");
    }
    for op in &model.operations {
        let element = if op.function { "Function" } else { "Action" };
        let _ = writeln!(x, r#"      <{element} Name="{}" IsBound="true">"#, op.name);
        let _ = writeln!(x, r#"        <Parameter Name="bindingParameter" Type="{}" />"#, op.binding);
        if let Some(r) = op.returns {
            let _ = writeln!(x, r#"        <ReturnType Type="{r}" />"#);
        }
        let _ = writeln!(x, "      </{element}>");
    }
    x.push_str("      <EntityContainer Name=\"GraphService\">\n");
    for (name, ty) in &model.entity_sets {
        let _ = writeln!(x, r#"        <EntitySet Name="{name}" EntityType="{ty}" />"#);
    }
    for (name, ty) in &model.singletons {
        let _ = writeln!(x, r#"        <Singleton Name="{name}" Type="{ty}" />"#);
    }
    x.push_str("      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n");
    x
}

/// The CSDL document of a version, built once.
pub fn csdl(version: ApiVersion) -> &'static str {
    static V1: OnceLock<String> = OnceLock::new();
    static BETA: OnceLock<String> = OnceLock::new();
    match version {
        ApiVersion::V1 => V1.get_or_init(|| render(model(ApiVersion::V1))),
        ApiVersion::Beta => BETA.get_or_init(|| render(model(ApiVersion::Beta))),
    }
}

/// The OData service document: the entity sets and singletons at the service root.
pub fn service_document(base: &str) -> serde_json::Value {
    let m = model(ApiVersion::V1);
    let sets = m.entity_sets.iter().map(|(name, _)| (name, "EntitySet"));
    let value: Vec<serde_json::Value> = sets
        .chain(m.singletons.iter().map(|(name, _)| (name, "Singleton")))
        .map(|(name, kind)| serde_json::json!({"name": name, "kind": kind, "url": name}))
        .collect();
    serde_json::json!({"@odata.context": format!("{base}/$metadata"), "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_contact_property_is_described() {
        for version in [ApiVersion::V1, ApiVersion::Beta] {
            let doc = csdl(version);
            // Every entry of the property table is a property of the contact type (inherited
            // ones included) with the table's type, in exactly the versions that have it.
            let m = model(version);
            let described = m.all_properties(m.get("contact").unwrap());
            for p in rolo_domain::properties::CONTACT_PROPERTIES {
                let found = described.iter().find(|d| d.name == p.name);
                assert_eq!(found.is_some(), p.versions.has(version), "{} in {version:?}", p.name);
                if let Some(d) = found {
                    assert_eq!(d.ty, p.edm(version), "{}", p.name);
                    let line = format!(r#"<Property Name="{}" Type="{}""#, p.name, d.ty);
                    assert!(p.name == "id" || doc.contains(&line), "{line} in {version:?}");
                }
            }
            assert_eq!(described.len(), contact_properties(version).len());
            assert!(doc.contains(r#"<Member Name="preset24" Value="24" />"#));
            // 17, To Do's todo, todoTaskList, todoTask and checklistItem, and the groups'
            // directoryObject, group, conversation, conversationThread and post.
            assert_eq!(doc.matches("<EntityType ").count(), 26);
            assert!(doc.contains(r#"<EntitySet Name="groups" EntityType="graph.group" />"#));
            for name in rolo_domain::group::POST_PROPERTIES.iter().filter(|n| **n != "id") {
                assert!(doc.contains(&format!(r#"<Property Name="{name}" "#)), "post.{name} missing");
            }
            assert!(doc.contains(
                r#"<NavigationProperty Name="checklistItems" Type="Collection(graph.checklistItem)" ContainsTarget="true" />"#
            ));
            for name in rolo_domain::todo::TASK_PROPERTIES.iter().filter(|n| !["id", "checklistItems"].contains(n)) {
                assert!(doc.contains(&format!(r#"<Property Name="{name}" "#)), "todoTask.{name} missing");
            }
            assert!(doc.contains(r#"<EntitySet Name="organization" EntityType="graph.organization" />"#));
            assert!(doc.contains(r#"<Property Name="verifiedDomains" Type="Collection(graph.verifiedDomain)" />"#));
            assert!(doc.contains(r#"<EntitySet Name="subscriptions" EntityType="graph.subscription" />"#));
            assert!(doc.contains(
                r#"<NavigationProperty Name="permissions" Type="Collection(graph.contactFolderPermission)" ContainsTarget="true" />"#
            ));
        }
        assert!(csdl(ApiVersion::Beta).contains(r#"<ComplexType Name="followupFlag">"#));
        assert!(csdl(ApiVersion::Beta).contains(r#"<Property Name="wellKnownName" Type="Edm.String" />"#));
        assert!(!csdl(ApiVersion::V1).contains("followupFlag"));
        assert!(!csdl(ApiVersion::V1).contains("wellKnownName"));
    }
}
