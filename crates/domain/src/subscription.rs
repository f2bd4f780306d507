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

/// Applies Graph's lifetime rules: under 45 minutes is raised to 45; beyond the maximum is an error.
pub fn expiration(raw: &str, now: OffsetDateTime) -> GraphResult<String> {
    let t = OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| GraphError::wrong_type("expirationDateTime", "Edm.DateTimeOffset"))?;
    if t > now + Duration::minutes(MAX_LIFETIME_MINUTES) {
        return Err(GraphError::bad_request(
            "ExtensionError",
            format!("Subscription expiration can only be {MAX_LIFETIME_MINUTES} minutes in the future."),
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
        for (k, v) in obj {
            match k.as_str() {
                "resource" => resource = string(k, v)?,
                "changeType" => change_type = string(k, v)?,
                "notificationUrl" => url = string(k, v)?,
                "lifecycleNotificationUrl" => lifecycle = string(k, v)?,
                "clientState" => client_state = string(k, v)?,
                "expirationDateTime" => expires = string(k, v)?,
                "includeResourceData" => {
                    if v.as_bool() == Some(true) {
                        return Err(GraphError::not_supported(
                            "Rich notifications (includeResourceData) are not supported by this server yet.",
                        ));
                    }
                }
                "latestSupportedTlsVersion"
                | "notificationContentType"
                | "encryptionCertificate"
                | "encryptionCertificateId"
                | "notificationUrlAppId" => {}
                "id" | "applicationId" | "creatorId" => return Err(GraphError::read_only_property(k)),
                k if k.starts_with("@odata.") => {}
                _ => return Err(GraphError::unknown_property(k, "microsoft.graph.subscription")),
            }
        }
        let required = |name: &str| bad(format!("The property '{name}' is required."));
        let client_state = client_state.filter(|s| !s.is_empty());
        if client_state.as_ref().is_some_and(|s| s.chars().count() > MAX_CLIENT_STATE) {
            return Err(bad(format!("clientState may hold at most {MAX_CLIENT_STATE} characters.")));
        }
        Ok(NewSubscription {
            resource: resource.ok_or_else(|| required("resource"))?,
            change_types: parse_change_types(&change_type.ok_or_else(|| required("changeType"))?)?,
            notification_url: url.ok_or_else(|| required("notificationUrl"))?,
            lifecycle_notification_url: lifecycle,
            client_state,
            expiration: expiration(&expires.ok_or_else(|| required("expirationDateTime"))?, now)?,
        })
    }
}

/// What a PATCH may change: the expiry (a renewal) and the notification URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionPatch {
    pub expiration: Option<String>,
    pub notification_url: Option<String>,
}

impl SubscriptionPatch {
    pub fn parse(body: &Value, now: OffsetDateTime) -> GraphResult<SubscriptionPatch> {
        let obj = body.as_object().ok_or_else(|| bad("The request body must be a JSON object."))?;
        let mut p = SubscriptionPatch::default();
        for (k, v) in obj {
            match k.as_str() {
                "expirationDateTime" => {
                    let raw = string(k, v)?.ok_or_else(|| bad("expirationDateTime cannot be null."))?;
                    p.expiration = Some(expiration(&raw, now)?);
                }
                "notificationUrl" => p.notification_url = string(k, v)?,
                "lifecycleNotificationUrl" => {
                    return Err(bad("lifecycleNotificationUrl can only be set when the subscription is created."))
                }
                "encryptionCertificate" | "encryptionCertificateId" | "latestSupportedTlsVersion" => {}
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
            "includeResourceData": null,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": null,
            "encryptionCertificateId": null,
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
            SubscriptionPatch::parse(&json!({"lifecycleNotificationUrl": "https://x.test"}), now()).unwrap_err().code,
            "InvalidRequest"
        );
    }
}
