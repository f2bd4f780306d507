//! Change-notification subscriptions on contacts: the resource, Graph's rules for creating and
//! renewing one, and the notification payloads Rolo sends.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::error::{ErrorKind, GraphError, GraphResult};

pub const CHANGE_TYPES: &[&str] = &["created", "updated", "deleted"];
/// Graph's bounds on a contact subscription's lifetime, in minutes.
pub const MIN_LIFETIME_MINUTES: i64 = 45;
pub const MAX_LIFETIME_MINUTES: i64 = 10_080;
/// ... and with resource data (rich notifications).
pub const MAX_RICH_LIFETIME_MINUTES: i64 = 1_440;
/// Active subscriptions one mailbox may hold, across apps.
pub const MAX_PER_MAILBOX: usize = 1000;
const MAX_CLIENT_STATE: usize = 128;

/// A stored subscription. `scope` is the folder id it watches, or `*` for every contact of the
/// mailbox (`/me/contacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub resource: String,
    pub change_types: Vec<String>,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    /// UTC, `2024-01-01T00:00:00Z`.
    pub expiration: String,
    pub application_id: String,
    pub creator_id: String,
    pub mailbox_id: String,
    pub scope: String,
    /// Rich notifications: the contact's `$select`ed properties, encrypted for this certificate.
    #[serde(default)]
    pub include_resource_data: bool,
    #[serde(default)]
    pub encryption_certificate: Option<String>,
    #[serde(default)]
    pub encryption_certificate_id: Option<String>,
    /// The `$select` of the resource, for rich notifications.
    #[serde(default)]
    pub select: Option<String>,
}

/// What a create body asks for, before the server resolves the resource and validates the URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub resource: String,
    pub change_types: Vec<String>,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    pub expiration: String,
    pub include_resource_data: bool,
    pub encryption_certificate: Option<String>,
    pub encryption_certificate_id: Option<String>,
}

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("InvalidRequest", message)
}

fn string(key: &str, v: &Value) -> GraphResult<Option<String>> {
    crate::contact::opt_string(key, v)
}

/// `created,updated` → checked, de-duplicated, in the order given.
pub fn parse_change_types(s: &str) -> GraphResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split(',').map(str::trim) {
        let t = CHANGE_TYPES.iter().find(|t| t.eq_ignore_ascii_case(part)).ok_or_else(|| {
            bad(format!("'{part}' is not a valid change type; use created, updated or deleted, separated by commas."))
        })?;
        if !out.iter().any(|o| o == t) {
            out.push((*t).to_owned());
        }
    }
    Ok(out)
}

/// Applies Graph's lifetime rules: under 45 minutes is raised to 45; beyond the maximum (shorter
/// with resource data) is an error.
pub fn expiration(raw: &str, now: OffsetDateTime, rich: bool) -> GraphResult<String> {
    let t = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| GraphError::wrong_type("expirationDateTime", "Edm.DateTimeOffset"))?;
    let max = if rich { MAX_RICH_LIFETIME_MINUTES } else { MAX_LIFETIME_MINUTES };
    if t > now + Duration::minutes(max) {
        return Err(GraphError::bad_request(
            "ExtensionError",
            format!("Subscription expiration can only be {max} minutes in the future."),
        ));
    }
    let floor = now + Duration::minutes(MIN_LIFETIME_MINUTES);
    Ok(crate::time::format_utc(if t < floor { floor } else { t }))
}

impl NewSubscription {
    pub fn parse(body: &Value, now: OffsetDateTime) -> GraphResult<NewSubscription> {
        let obj = body.as_object().ok_or_else(|| bad("The request body must be a JSON object."))?;
        let mut resource = None;
        let mut change_type = None;
        let mut url = None;
        let mut lifecycle = None;
        let mut client_state = None;
        let mut expires = None;
        let mut rich = false;
        let mut certificate = None;
        let mut certificate_id = None;
        for (k, v) in obj {
            match k.as_str() {
                "resource" => resource = string(k, v)?,
                "changeType" => change_type = string(k, v)?,
                "notificationUrl" => url = string(k, v)?,
                "lifecycleNotificationUrl" => lifecycle = string(k, v)?,
                "clientState" => client_state = string(k, v)?,
                "expirationDateTime" => expires = string(k, v)?,
                "includeResourceData" => {
                    rich = match v {
                        Value::Null => false,
                        Value::Bool(b) => *b,
                        _ => return Err(GraphError::wrong_type(k, "Edm.Boolean")),
                    }
                }
                "encryptionCertificate" => certificate = string(k, v)?,
                "encryptionCertificateId" => certificate_id = string(k, v)?,
                "latestSupportedTlsVersion" | "notificationContentType" | "notificationUrlAppId" => {}
                "id" | "applicationId" | "creatorId" => return Err(GraphError::read_only_property(k)),
                k if k.starts_with("@odata.") => {}
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.subscription")),
            }
        }
        let required = |name: &str| bad(format!("The property '{name}' is required."));
        let client_state = client_state.filter(|s| !s.is_empty());
        if rich && (certificate.is_none() || certificate_id.is_none()) {
            return Err(bad(
                "encryptionCertificate and encryptionCertificateId are required when includeResourceData is true.",
            ));
        }
        if certificate_id.as_ref().is_some_and(|c: &String| c.chars().count() > 128) {
            return Err(bad("encryptionCertificateId may hold at most 128 characters."));
        }
        if client_state.as_ref().is_some_and(|s| s.chars().count() > MAX_CLIENT_STATE) {
            return Err(bad(format!("clientState may hold at most {MAX_CLIENT_STATE} characters.")));
        }
        Ok(NewSubscription {
            resource: resource.ok_or_else(|| required("resource"))?,
            change_types: parse_change_types(&change_type.ok_or_else(|| required("changeType"))?)?,
            notification_url: url.ok_or_else(|| required("notificationUrl"))?,
            lifecycle_notification_url: lifecycle,
            client_state,
            expiration: expiration(&expires.ok_or_else(|| required("expirationDateTime"))?, now, rich)?,
            include_resource_data: rich,
            encryption_certificate: certificate,
            encryption_certificate_id: certificate_id,
        })
    }
}

/// What a PATCH may change: the expiry (a renewal) and the notification URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPatch {
    pub expiration: Option<String>,
    pub notification_url: Option<String>,
    pub encryption_certificate: Option<String>,
    pub encryption_certificate_id: Option<String>,
}

impl SubscriptionPatch {
    /// `rich` says whether the subscription carries resource data (its maximum lifetime is shorter).
    pub fn parse(body: &Value, now: OffsetDateTime, rich: bool) -> GraphResult<SubscriptionPatch> {
        let obj = body.as_object().ok_or_else(|| bad("The request body must be a JSON object."))?;
        let mut p = SubscriptionPatch::default();
        for (k, v) in obj {
            match k.as_str() {
                "expirationDateTime" => {
                    let raw = string(k, v)?.ok_or_else(|| bad("expirationDateTime cannot be null."))?;
                    p.expiration = Some(expiration(&raw, now, rich)?);
                }
                "notificationUrl" => p.notification_url = string(k, v)?,
                "lifecycleNotificationUrl" => {
                    return Err(bad("lifecycleNotificationUrl can only be set when the subscription is created."))
                }
                "encryptionCertificate" => p.encryption_certificate = string(k, v)?,
                "encryptionCertificateId" => p.encryption_certificate_id = string(k, v)?,
                "latestSupportedTlsVersion" => {}
                k if k.starts_with("@odata.") => {}
                "id"
                | "resource"
                | "changeType"
                | "clientState"
                | "applicationId"
                | "creatorId"
                | "includeResourceData" => return Err(GraphError::read_only_property(k)),
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.subscription")),
            }
        }
        Ok(p)
    }
}

impl Subscription {
    /// The subscription as Graph renders it. `clientState` is never returned on reads.
    pub fn to_json(&self, with_client_state: bool) -> Value {
        json!({
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": self.change_types.join(","),
            "clientState": if with_client_state { self.client_state.clone() } else { None },
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": null,
            "notificationContentType": null,
            "lifecycleNotificationUrl": self.lifecycle_notification_url,
            "expirationDateTime": self.expiration,
            "creatorId": self.creator_id,
            "includeResourceData": if self.include_resource_data { Some(true) } else { None },
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": self.encryption_certificate,
            "encryptionCertificateId": self.encryption_certificate_id,
            "notificationUrlAppId": null,
        })
    }

    pub fn wants(&self, change_type: &str) -> bool {
        self.change_types.iter().any(|c| c == change_type)
    }

    /// A change notification (without `tenantId`, which the sender adds).
    pub fn notification(&self, id: &str, change_type: &str, contact_id: &str, change_key: &str) -> Value {
        let resource = format!("Users/{}/Contacts/{contact_id}", self.mailbox_id);
        json!({
            "id": id,
            "subscriptionId": self.id,
            "subscriptionExpirationDateTime": self.expiration,
            "clientState": self.client_state,
            "changeType": change_type,
            "resource": resource,
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Contact",
                "@odata.id": resource,
                "@odata.etag": crate::projection::etag(change_key),
                "id": contact_id,
            }
        })
    }

    /// For a rich subscription, what the sender encrypts: the contact's `$select`ed properties
    /// (with its type and id annotations) and the certificate to encrypt them for.
    pub fn rich_content(&self, contact: &crate::Contact) -> Option<Value> {
        use crate::projection::{ContactJson, FieldSet, CONTACT_V1_PROPERTIES};
        if !self.include_resource_data {
            return None;
        }
        let items = rolo_odata::parse_select(self.select.as_deref().unwrap_or("id")).ok()?;
        let fields = FieldSet::from_select(&items, CONTACT_V1_PROPERTIES, crate::contact::CONTACT_TYPE).ok()?;
        let mut data = serde_json::to_value(ContactJson::new(contact, fields, crate::ApiVersion::V1)).ok()?;
        data["@odata.type"] = json!("#microsoft.graph.contact");
        data["@odata.id"] = json!(format!("Users/{}/Contacts/{}", self.mailbox_id, contact.id));
        Some(json!({
            "appId": self.application_id,
            "certificate": self.encryption_certificate,
            "certificateId": self.encryption_certificate_id,
            "data": data,
        }))
    }

    /// A lifecycle notification: `reauthorizationRequired`, `subscriptionRemoved` or `missed`.
    pub fn lifecycle(&self, event: &str) -> Value {
        json!({
            "subscriptionId": self.id,
            "subscriptionExpirationDateTime": self.expiration,
            "clientState": self.client_state,
            "lifecycleEvent": event,
        })
    }
}

pub fn not_found() -> GraphError {
    GraphError::new(ErrorKind::NotFound, "ResourceNotFound", "The object was not found.")
}

pub fn quota_exceeded() -> GraphError {
    GraphError::new(
        ErrorKind::Forbidden,
        "ExtensionError",
        format!("The mailbox has reached its limit of {MAX_PER_MAILBOX} subscriptions."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse("2024-01-01T00:00:00Z", &Rfc3339).unwrap()
    }

    #[test]
    fn creation_follows_graphs_rules() {
        let body = json!({"resource": "me/contacts", "changeType": "created,Updated,created",
            "notificationUrl": "https://x.test/hook", "expirationDateTime": "2024-01-01T00:10:00Z", "clientState": "s"});
        let s = NewSubscription::parse(&body, now()).unwrap();
        assert_eq!(s.change_types, ["created", "updated"]);
        assert_eq!(s.expiration, "2024-01-01T00:45:00Z", "raised to 45 minutes");
        let far = json!({"resource": "me/contacts", "changeType": "created", "notificationUrl": "https://x.test",
            "expirationDateTime": "2024-01-09T00:00:00Z"});
        assert_eq!(NewSubscription::parse(&far, now()).unwrap_err().code, "ExtensionError");
        let bad_type = json!({"resource": "me/contacts", "changeType": "moved", "notificationUrl": "https://x.test",
            "expirationDateTime": "2024-01-02T00:00:00Z"});
        assert_eq!(NewSubscription::parse(&bad_type, now()).unwrap_err().code, "InvalidRequest");
        let long_state = json!({"resource": "me/contacts", "changeType": "created", "notificationUrl": "https://x.test",
            "expirationDateTime": "2024-01-02T00:00:00Z", "clientState": "x".repeat(129)});
        assert_eq!(NewSubscription::parse(&long_state, now()).unwrap_err().code, "InvalidRequest");
        assert_eq!(
            SubscriptionPatch::parse(&json!({"lifecycleNotificationUrl": "https://x.test"}), now(), false)
                .unwrap_err()
                .code,
            "InvalidRequest"
        );
    }
}
