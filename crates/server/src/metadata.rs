//! The service document (`GET /v1.0/`) and `$metadata`: CSDL describing exactly what Rolo serves,
//! with Graph's names. Contact properties come from the same table the JSON projection uses, so
//! the two cannot drift apart.

use std::fmt::Write;
use std::sync::OnceLock;

use rolo_domain::projection::CONTACT_V1_PROPERTIES;

/// The EDM type of a v1.0 contact property.
fn contact_property_type(name: &str) -> &'static str {
    match name {
        "createdDateTime" | "lastModifiedDateTime" | "birthday" => "Edm.DateTimeOffset",
        "categories" | "children" | "imAddresses" | "businessPhones" | "homePhones" => "Collection(Edm.String)",
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

fn build() -> String {
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
      </ComplexType>
      <EntityType Name="entity" Abstract="true">
        <Key><PropertyRef Name="id" /></Key>
        <Property Name="id" Type="Edm.String" Nullable="false" />
      </EntityType>
      <EntityType Name="outlookItem" BaseType="graph.entity" Abstract="true">
"#,
    );
    for name in OUTLOOK_ITEM {
        property(&mut x, name, contact_property_type(name));
    }
    x.push_str(
        "      </EntityType>\n      <EntityType Name=\"contact\" BaseType=\"graph.outlookItem\" OpenType=\"true\">\n",
    );
    for name in CONTACT_V1_PROPERTIES.iter().filter(|n| **n != "id" && !OUTLOOK_ITEM.contains(n)) {
        property(&mut x, name, contact_property_type(name));
    }
    x.push_str(
        r#"        <NavigationProperty Name="photo" Type="graph.profilePhoto" ContainsTarget="true" />
      </EntityType>
      <EntityType Name="contactFolder" BaseType="graph.entity">
        <Property Name="displayName" Type="Edm.String" />
        <Property Name="parentFolderId" Type="Edm.String" />
        <NavigationProperty Name="childFolders" Type="Collection(graph.contactFolder)" ContainsTarget="true" />
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
        <Singleton Name="me" Type="graph.user" />
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"#,
    );
    x
}

/// The CSDL document, built once.
pub fn csdl() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(build)
}

/// The OData service document: the entity sets and singletons at the service root.
pub fn service_document(base: &str) -> serde_json::Value {
    serde_json::json!({
        "@odata.context": format!("{base}/$metadata"),
        "value": [
            {"name": "users", "kind": "EntitySet", "url": "users"},
            {"name": "me", "kind": "Singleton", "url": "me"}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_contact_property_is_described() {
        let doc = csdl();
        for name in CONTACT_V1_PROPERTIES.iter().filter(|n| **n != "id") {
            assert!(doc.contains(&format!(r#"<Property Name="{name}" "#)), "{name} missing from $metadata");
        }
        assert!(doc.contains(r#"<Member Name="preset24" Value="24" />"#));
        assert_eq!(doc.matches("<EntityType ").count(), 8);
    }
}
