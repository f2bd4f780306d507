//! Unit tests of the token endpoint's parsing and scope rules.
use super::*;

#[test]
fn endpoints_route_under_any_tenant() {
    assert_eq!(route("/common/oauth2/v2.0/token"), Some(("common", Endpoint::Token)));
    assert_eq!(route("/contoso.com/v2.0/.well-known/openid-configuration"), Some(("contoso.com", Endpoint::Discovery)));
    assert_eq!(route("/t/discovery/v2.0/keys/"), Some(("t", Endpoint::Keys)));
    assert_eq!(route("/t/OAuth2/V2.0/Authorize"), Some(("t", Endpoint::Authorize)));
    assert_eq!(route("/common/discovery/instance"), Some(("common", Endpoint::Instance)));
    assert_eq!(route("/devicelogin"), Some(("common", Endpoint::DeviceLogin)));
    assert_eq!(route("/t/oauth2/v2.0/devicecode"), Some(("t", Endpoint::DeviceCode)));
    assert_eq!(route("/t/oauth2/v2.0/logout"), Some(("t", Endpoint::Logout)));
    assert_eq!(route("/v1.0/me/contacts"), None);
    assert_eq!(route("//oauth2/v2.0/token"), None);
    assert_eq!(route("/t/oauth2/v2.0/token/x"), None);
}

#[test]
fn delegated_scopes() {
    let s = parse_delegated_scopes("https://graph.microsoft.com/Contacts.ReadWrite offline_access openid").unwrap();
    assert_eq!(s.graph, vec!["Contacts.ReadWrite"]);
    assert_eq!(s.oidc, vec!["offline_access", "openid"]);
    let s = parse_delegated_scopes("https://graph.microsoft.com/.default").unwrap();
    assert_eq!(s.graph, DEFAULT_DELEGATED_SCOPES.map(str::to_owned).to_vec());
    let s = parse_delegated_scopes("Contacts.Read 00000003-0000-0000-c000-000000000000/User.Read").unwrap();
    assert_eq!(s.graph, vec!["Contacts.Read", "User.Read"]);
    assert_eq!(parse_delegated_scopes("openid").unwrap().graph, vec!["User.Read"]);
    assert!(parse_delegated_scopes("https://outlook.office.com/Mail.Read").is_err());
    assert!(parse_delegated_scopes("https://graph.microsoft.com/.default Contacts.Read").is_err());
    assert!(parse_delegated_scopes("Contacts..Read").is_err());
    assert_eq!(
        granted_scope(&parse_delegated_scopes("https://graph.microsoft.com/Contacts.Read offline_access").unwrap()),
        "https://graph.microsoft.com/Contacts.Read offline_access"
    );
    assert_eq!(
        granted_scope(&parse_delegated_scopes("Contacts.Read offline_access").unwrap()),
        "Contacts.Read offline_access"
    );
    assert_eq!(
        granted_scope(&parse_delegated_scopes("openid https://graph.microsoft.com/.default").unwrap()),
        DEFAULT_DELEGATED_SCOPES.map(|s| format!("https://graph.microsoft.com/{s}")).join(" ") + " openid"
    );
}
