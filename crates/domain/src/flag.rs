//! The beta `followupFlag` of a contact, validated as Exchange validates it.
//!
//! Graph documents one rule (a due date needs a start date); Exchange's flag model adds the others
//! (what each status may carry). Dates are `dateTimeTimeZone` values: a wall-clock time and a zone
//! name. Times given in UTC or a fixed offset are stored in UTC; named zones are kept as given,
//! since Rolo carries no time-zone database (see docs/COMPATIBILITY.md).

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::error::{GraphError, GraphResult};

pub const STATUSES: &[&str] = &["notFlagged", "complete", "flagged"];
const DATES: &[&str] = &["startDateTime", "dueDateTime", "completedDateTime"];

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("ErrorInvalidArgument", message)
}

/// The flag a contact without one reports.
pub fn not_flagged() -> Value {
    json!({"flagStatus": "notFlagged"})
}

/// Parses a `followupFlag` body into its stored form (`None` for `null` or a plain `notFlagged`).
pub fn parse(value: &Value) -> GraphResult<Option<Value>> {
    let obj = match value {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(GraphError::wrong_type("flag", "microsoft.graph.followupFlag")),
    };
    let mut out = Map::new();
    let mut status = None;
    for (k, v) in obj {
        match k.as_str() {
            "flagStatus" => {
                let s = v.as_str().ok_or_else(|| GraphError::wrong_type(k, "microsoft.graph.followupFlagStatus"))?;
                let s = STATUSES.iter().find(|x| x.eq_ignore_ascii_case(s)).ok_or_else(|| {
                    GraphError::bad_request(
                        "RequestBodyRead",
                        format!(
                            "The value '{s}' is not valid for the enumeration 'microsoft.graph.followupFlagStatus'."
                        ),
                    )
                })?;
                status = Some(*s);
            }
            k if DATES.contains(&k) => {
                if !v.is_null() {
                    out.insert(k.to_owned(), date_time_time_zone(k, v)?);
                }
            }
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.followupFlag")),
        }
    }
    let has = |k: &str| out.contains_key(k);
    // A flag with dates and no status is a flag being set.
    let status = status.unwrap_or(if has("completedDateTime") {
        "complete"
    } else if has("startDateTime") || has("dueDateTime") {
        "flagged"
    } else {
        "notFlagged"
    });
    if has("dueDateTime") && !has("startDateTime") {
        return Err(invalid("The start date must be set when the due date is set."));
    }
    match status {
        "notFlagged" if !out.is_empty() => {
            return Err(invalid("A flag whose status is notFlagged cannot carry start, due or completion dates."))
        }
        "flagged" if has("completedDateTime") => {
            return Err(invalid("A flag whose status is flagged cannot carry a completion date."))
        }
        "flagged" if has("startDateTime") != has("dueDateTime") => {
            return Err(invalid("The start and due dates of a flag must be set together."))
        }
        "complete" if has("startDateTime") || has("dueDateTime") => {
            return Err(invalid("A flag whose status is complete cannot carry start or due dates."))
        }
        _ => {}
    }
    if let (Some(s), Some(d)) = (out.get("startDateTime"), out.get("dueDateTime")) {
        if s["timeZone"] == d["timeZone"] && s["dateTime"].as_str() > d["dateTime"].as_str() {
            return Err(invalid("The due date of a flag cannot be before its start date."));
        }
    }
    if status == "notFlagged" {
        return Ok(None);
    }
    out.insert("flagStatus".into(), json!(status));
    Ok(Some(Value::Object(out)))
}

/// Normalises a `dateTimeTimeZone`: `dateTime` with seven fractional digits as Graph writes it;
/// UTC, `Etc/GMT` and offsets are converted to UTC.
pub fn date_time_time_zone(key: &str, v: &Value) -> GraphResult<Value> {
    let obj = v.as_object().ok_or_else(|| GraphError::wrong_type(key, "microsoft.graph.dateTimeTimeZone"))?;
    let mut date_time = None;
    let mut zone = None;
    for (k, v) in obj {
        match k.as_str() {
            "dateTime" => date_time = v.as_str(),
            "timeZone" => zone = v.as_str().filter(|z| !z.trim().is_empty()),
            k if k.starts_with("@odata.") => {}
            _ => return Err(GraphError::unknown_property(k, "microsoft.graph.dateTimeTimeZone")),
        }
    }
    let raw = date_time.ok_or_else(|| invalid(format!("The property '{key}' needs a dateTime.")))?;
    let bad = || invalid(format!("'{raw}' is not a valid dateTime for '{key}'."));
    // An explicit offset in the value wins over the zone name, as on Exchange.
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(json!({"dateTime": wall_clock(t.to_offset(UtcOffset::UTC)), "timeZone": "UTC"}));
    }
    let local = parse_local(raw).ok_or_else(bad)?;
    let zone = zone.unwrap_or("UTC");
    match fixed_offset(zone) {
        Some(offset) => {
            let t = local.assume_offset(offset).to_offset(UtcOffset::UTC);
            Ok(json!({"dateTime": wall_clock(t), "timeZone": "UTC"}))
        }
        None => {
            if zone.len() > 128 || zone.chars().any(char::is_control) {
                return Err(invalid(format!("'{zone}' is not a valid time zone.")));
            }
            Ok(json!({"dateTime": wall_clock(local.assume_utc()), "timeZone": zone}))
        }
    }
}

fn parse_local(s: &str) -> Option<PrimitiveDateTime> {
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => (m, f),
        Some(_) => return None,
        None => (s, ""),
    };
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let t = PrimitiveDateTime::parse(main, &fmt).ok()?;
    let nanos: u32 = format!("{frac:0<9}").parse().ok()?;
    t.replace_nanosecond(nanos).ok()
}

fn wall_clock(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// Zone names with a fixed offset: UTC and its aliases, and `Etc/GMT±N` (whose sign is inverted,
/// as in the tz database).
fn fixed_offset(zone: &str) -> Option<UtcOffset> {
    let z = zone.trim();
    if ["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Coordinated Universal Time", "tzone://Microsoft/Utc"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(z))
    {
        return Some(UtcOffset::UTC);
    }
    let rest = z.strip_prefix("Etc/GMT").or_else(|| z.strip_prefix("etc/gmt"))?;
    let hours: i8 = rest.parse().ok()?;
    if !(-14..=12).contains(&hours) {
        return None;
    }
    UtcOffset::from_hms(-hours, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str, z: &str) -> Value {
        json!({"dateTime": s, "timeZone": z})
    }

    #[test]
    fn flags_are_normalised() {
        let f = parse(&json!({"flagStatus": "flagged", "startDateTime": dt("2024-05-01T08:00:00", "Etc/GMT-2"),
            "dueDateTime": dt("2024-05-02T08:00:00.5", "UTC")}))
        .unwrap()
        .unwrap();
        assert_eq!(f["startDateTime"], dt("2024-05-01T06:00:00.0000000", "UTC"));
        assert_eq!(f["dueDateTime"], dt("2024-05-02T08:00:00.5000000", "UTC"));
        let named = parse(&json!({"startDateTime": dt("2024-05-01T08:00:00", "Pacific Standard Time"),
            "dueDateTime": dt("2024-05-03T08:00:00", "Pacific Standard Time")}))
        .unwrap()
        .unwrap();
        assert_eq!(named["flagStatus"], "flagged");
        assert_eq!(named["startDateTime"]["timeZone"], "Pacific Standard Time");
        assert_eq!(parse(&json!({"flagStatus": "notFlagged"})).unwrap(), None);
        assert_eq!(parse(&json!(null)).unwrap(), None);
    }

    #[test]
    fn exchange_rules_are_enforced() {
        let code = |v: Value| parse(&v).unwrap_err().code;
        assert_eq!(
            code(json!({"flagStatus": "flagged", "dueDateTime": dt("2024-01-01T00:00:00", "UTC")})),
            "ErrorInvalidArgument"
        );
        assert_eq!(
            code(
                json!({"flagStatus": "complete", "startDateTime": dt("2024-01-01T00:00:00", "UTC"), "dueDateTime": dt("2024-01-01T00:00:00", "UTC")})
            ),
            "ErrorInvalidArgument"
        );
        assert_eq!(
            code(json!({"flagStatus": "notFlagged", "completedDateTime": dt("2024-01-01T00:00:00", "UTC")})),
            "ErrorInvalidArgument"
        );
        assert_eq!(
            code(json!({"flagStatus": "flagged", "completedDateTime": dt("2024-01-01T00:00:00", "UTC")})),
            "ErrorInvalidArgument"
        );
        assert_eq!(code(json!({"flagStatus": "later"})), "RequestBodyRead");
        assert_eq!(
            code(
                json!({"flagStatus": "flagged", "startDateTime": dt("yesterday", "UTC"), "dueDateTime": dt("2024-01-01T00:00:00", "UTC")})
            ),
            "ErrorInvalidArgument"
        );
        assert_eq!(
            code(
                json!({"flagStatus": "flagged", "startDateTime": dt("2024-02-01T00:00:00", "UTC"), "dueDateTime": dt("2024-01-01T00:00:00", "UTC")})
            ),
            "ErrorInvalidArgument"
        );
        assert_eq!(code(json!({"color": "red"})), "RequestBodyRead");
        assert_eq!(code(json!("flagged")), "RequestBodyRead");
    }
}
