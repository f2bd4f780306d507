//! The service document (`GET /v1.0/`) and `$metadata`: CSDL describing exactly what Rolo serves,
//! with Graph's names. Contact properties come from the same table the JSON projection uses, so
//! the two cannot drift apart.

use std::fmt::Write;
use std::sync::OnceLock;

use rolo_domain::projection::contact_properties;
use rolo_domain::ApiVersion;

/// The EDM type of a contact property in `version`.
fn contact_property_type(name: &str, version: ApiVersion) -> &'static str {
    match name {
        "createdDateTime" | "lastModifiedDateTime" | "birthday" => "Edm.DateTimeOffset",
        "categories" | "children" | "imAddresses" | "businessPhones" | "homePhones" => "Collection(Edm.String)",
        "emailAddresses" if version == ApiVersion::Beta => "Collection(graph.typedEmailAddress)",
        "phones" => "Collection(graph.phone)",
        "postalAddresses" => "Collection(graph.physicalAddress)",
        "websites" => "Collection(graph.website)",
        "flag" => "graph.followupFlag",
        "weddingAnniversary" => "Edm.Date",
        "emailAddresses" => "Collection(graph.emailAddress)",
        "primaryEmailAddress" | "secondaryEmailAddress" | "tertiaryEmailAddress" => "graph.emailAddress",
        "homeAddress" | "businessAddress" | "otherAddress" => "graph.physicalAddress",
        _ => "Edm.String",
    }
}

const OUTLOOK_ITEM: &[&str] = &["categories", "changeKey", "createdDateTime", "lastModifiedDateTime"];

fn property(out: &mut String, name: &str, ty: &str) {
    let _ = writeln!(out, r#"        <Property Name="{name}" Type="{ty}" />"#);
}

fn build(version: ApiVersion) -> String {
    let beta = version == ApiVersion::Beta;
    let mut x = String::new();
    x.push_str(
        r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="microsoft.graph" Alias="graph" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EnumType Name="categoryColor">
        <Member Name="none" Value="-1" />
"#,
    );
    for i in 0..=24 {
        let _ = writeln!(x, r#"        <Member Name="preset{i}" Value="{i}" />"#);
    }
    x.push_str(
        r#"      </EnumType>
      <ComplexType Name="emailAddress">
        <Property Name="address" Type="Edm.String" />
        <Property Name="name" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="physicalAddress">
        <Property Name="city" Type="Edm.String" />
        <Property Name="countryOrRegion" Type="Edm.String" />
        <Property Name="postalCode" Type="Edm.String" />
        <Property Name="state" Type="Edm.String" />
        <Property Name="street" Type="Edm.String" />
"#,
    );
    if beta {
        x.push_str(
            r#"        <Property Name="postOfficeBox" Type="Edm.String" />
        <Property Name="type" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="typedEmailAddress" BaseType="graph.emailAddress">
        <Property Name="otherLabel" Type="Edm.String" />
        <Property Name="type" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="phone">
        <Property Name="number" Type="Edm.String" />
        <Property Name="type" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="website">
        <Property Name="address" Type="Edm.String" />
        <Property Name="displayName" Type="Edm.String" />
        <Property Name="type" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="dateTimeTimeZone">
        <Property Name="dateTime" Type="Edm.String" Nullable="false" />
        <Property Name="timeZone" Type="Edm.String" />
      </ComplexType>
      <ComplexType Name="followupFlag">
        <Property Name="completedDateTime" Type="graph.dateTimeTimeZone" />
        <Property Name="dueDateTime" Type="graph.dateTimeTimeZone" />
        <Property Name="flagStatus" Type="Edm.String" />
        <Property Name="startDateTime" Type="graph.dateTimeTimeZone" />
      </ComplexType>
"#,
        );
    } else {
        x.push_str("      </ComplexType>\n");
    }
    x.push_str(
        r#"      <ComplexType Name="extensionSchemaProperty">
        <Property Name="name" Type="Edm.String" />
        <Property Name="type" Type="Edm.String" />
      </ComplexType>
      <EntityType Name="entity" Abstract="true">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
      </EntityType>
      <EntityType Name="outlookItem" BaseType="graph.entity" Abstract="true">
"#,
    );
    for name in OUTLOOK_ITEM {
        property(&mut x, name, contact_property_type(name, version));
    }
    x.push_str(
        "      </EntityType>\n      <EntityType Name=\"contact\" BaseType=\"graph.outlookItem\" OpenType=\"true\">\n",
    );
    for name in contact_properties(version).iter().filter(|n| **n != "id" && !OUTLOOK_ITEM.contains(n)) {
        property(&mut x, name, contact_property_type(name, version));
    }
    x.push_str(
        r#"        <NavigationProperty Name="photo" Type="graph.profilePhoto" ContainsTarget="true" />
        <NavigationProperty Name="extensions" Type="Collection(graph.extension)" ContainsTarget="true" />
        <NavigationProperty Name="singleValueExtendedProperties" Type="Collection(graph.singleValueLegacyExtendedProperty)" ContainsTarget="true" />
        <NavigationProperty Name="multiValueExtendedProperties" Type="Collection(graph.multiValueLegacyExtendedProperty)" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="extension" BaseType="graph.entity" OpenType="true" Abstract="true" />
      <EntityType Name="openTypeExtension" BaseType="graph.extension" OpenType="true">
        <Property Name="extensionName" Type="Edm.String" Nullable="false" />
      </EntityType>
      <EntityType Name="singleValueLegacyExtendedProperty" BaseType="graph.entity">
        <Property Name="value" Type="Edm.String" />
      </EntityType>
      <EntityType Name="multiValueLegacyExtendedProperty" BaseType="graph.entity">
        <Property Name="value" Type="Collection(Edm.String)" />
      </EntityType>
      <EntityType Name="schemaExtension" BaseType="graph.entity">
        <Property Name="description" Type="Edm.String" />
        <Property Name="owner" Type="Edm.String" Nullable="false" />
        <Property Name="properties" Type="Collection(graph.extensionSchemaProperty)" Nullable="false" />
        <Property Name="status" Type="Edm.String" Nullable="false" />
        <Property Name="targetTypes" Type="Collection(Edm.String)" Nullable="false" />
      </EntityType>
      <EntityType Name="contactFolder" BaseType="graph.entity">
        <Property Name="displayName" Type="Edm.String" />
        <Property Name="parentFolderId" Type="Edm.String" />
"#,
    );
    if beta {
        property(&mut x, "wellKnownName", "Edm.String");
    }
    x.push_str(
        r#"        <NavigationProperty Name="childFolders" Type="Collection(graph.contactFolder)" ContainsTarget="true" />
        <NavigationProperty Name="contacts" Type="Collection(graph.contact)" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="profilePhoto" BaseType="graph.entity" HasStream="true">
        <Property Name="height" Type="Edm.Int32" />
        <Property Name="width" Type="Edm.Int32" />
      </EntityType>
      <EntityType Name="outlookCategory" BaseType="graph.entity">
        <Property Name="displayName" Type="Edm.String" />
        <Property Name="color" Type="graph.categoryColor" />
      </EntityType>
      <EntityType Name="outlookUser" BaseType="graph.entity">
        <NavigationProperty Name="masterCategories" Type="Collection(graph.outlookCategory)" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="user" BaseType="graph.entity" OpenType="true">
        <Property Name="displayName" Type="Edm.String" />
        <Property Name="userPrincipalName" Type="Edm.String" />
        <NavigationProperty Name="contacts" Type="Collection(graph.contact)" ContainsTarget="true" />
        <NavigationProperty Name="contactFolders" Type="Collection(graph.contactFolder)" ContainsTarget="true" />
        <NavigationProperty Name="outlook" Type="graph.outlookUser" ContainsTarget="true" />
        <NavigationProperty Name="photo" Type="graph.profilePhoto" ContainsTarget="true" />
        <NavigationProperty Name="photos" Type="Collection(graph.profilePhoto)" ContainsTarget="true" />
      </EntityType>
      <Function Name="delta" IsBound="true">
        <Parameter Name="bindingParameter" Type="Collection(graph.contact)" />
        <ReturnType Type="Collection(graph.contact)" />
      </Function>
      <Function Name="delta" IsBound="true">
        <Parameter Name="bindingParameter" Type="Collection(graph.contactFolder)" />
        <ReturnType Type="Collection(graph.contactFolder)" />
      </Function>
      <Action Name="permanentDelete" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.contact" />
      </Action>
      <Action Name="permanentDelete" IsBound="true">
        <Parameter Name="bindingParameter" Type="graph.contactFolder" />
      </Action>
      <EntityContainer Name="GraphService">
        <EntitySet Name="users" EntityType="graph.user" />
        <EntitySet Name="schemaExtensions" EntityType="graph.schemaExtension" />
        <Singleton Name="me" Type="graph.user" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"#,
    );
    x
}

/// The CSDL document of a version, built once.
pub fn csdl(version: ApiVersion) -> &'static str {
    static V1: OnceLock<String> = OnceLock::new();
    static BETA: OnceLock<String> = OnceLock::new();
    match version {
        ApiVersion::V1 => V1.get_or_init(|| build(ApiVersion::V1)),
        ApiVersion::Beta => BETA.get_or_init(|| build(ApiVersion::Beta)),
    }
}

/// The OData service document: the entity sets and singletons at the service root.
pub fn service_document(base: &str) -> serde_json::Value {
    serde_json::json!({
        "@odata.context": format!("{base}/$metadata"),
        "value": [
            {"name": "users", "kind": "EntitySet", "url": "users"},
            {"name": "schemaExtensions", "kind": "EntitySet", "url": "schemaExtensions"},
            {"name": "me", "kind": "Singleton", "url": "me"}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_contact_property_is_described() {
        for version in [ApiVersion::V1, ApiVersion::Beta] {
            let doc = csdl(version);
            for name in contact_properties(version).iter().filter(|n| **n != "id") {
                assert!(doc.contains(&format!(r#"<Property Name="{name}" "#)), "{name} missing from {version:?}");
            }
            assert!(doc.contains(r#"<Member Name="preset24" Value="24" />"#));
            assert_eq!(doc.matches("<EntityType ").count(), 13);
        }
        assert!(csdl(ApiVersion::Beta).contains(r#"<ComplexType Name="followupFlag">"#));
        assert!(!csdl(ApiVersion::V1).contains("followupFlag"));
    }
}
