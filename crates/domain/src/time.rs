//! Timestamps as Graph writes them: ISO 8601 in UTC with second precision (`2024-01-02T03:04:05Z`).

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, UtcOffset};

use crate::error::{GraphError, GraphResult};

/// Now, as a Graph timestamp.
pub fn now_utc() -> String {
    format_utc(OffsetDateTime::now_utc())
}

pub fn format_utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A UTC timestamp with milliseconds (`2024-01-02T03:04:05.678Z`), `offset_ms` from now: fixed
/// width, so such timestamps order correctly as text.
pub fn millis_from_now(offset_ms: i64) -> String {
    let t = OffsetDateTime::now_utc() + time::Duration::milliseconds(offset_ms);
    let whole = format_utc(t);
    format!("{}.{:03}Z", whole.get(..19).unwrap_or(&whole), t.millisecond())
}

/// The Graph timestamp `minutes` from now (negative for the past).
pub fn minutes_from_now(minutes: i64) -> String {
    format_utc(OffsetDateTime::now_utc() + time::Duration::minutes(minutes))
}

pub fn now_millis() -> String {
    millis_from_now(0)
}

/// Parses an RFC 3339 date-time (any offset) into the normalised UTC form, so stored timestamps
/// compare correctly as text in both databases.
pub fn normalize_datetime(s: &str) -> Option<String> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(format_utc)
}

/// The Graph timestamp `days` days ago.
pub fn days_ago(days: u32) -> String {
    format_utc(OffsetDateTime::now_utc() - time::Duration::days(i64::from(days)))
}

/// The `error.innerError.date` form: no zone designator.
pub fn error_date() -> String {
    let mut s = now_utc();
    s.pop();
    s
}

/// Accepts a date-time or a bare date (Graph's own PATCH example sends `"1974-07-22"`) and
/// returns the normalised date-time.
pub fn parse_birthday(field: &str, s: &str) -> GraphResult<String> {
    if let Some(n) = normalize_datetime(s) {
        return Ok(n);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(s, &fmt) {
        Ok(d) => Ok(format_utc(d.midnight().assume_utc())),
        Err(_) => Err(GraphError::wrong_type(field, "Edm.DateTimeOffset")),
    }
}

/// An `Edm.Date` (`2024-05-01`); a date-time is accepted and cut to its date.
pub fn parse_date(field: &str, s: &str) -> GraphResult<String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(s, &fmt) {
        return Ok(d.format(&fmt).unwrap_or_default());
    }
    match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => Ok(t.date().format(&fmt).unwrap_or_default()),
        Err(_) => Err(GraphError::wrong_type(field, "Edm.Date")),
    }
}

/// A monotonic clock that a test can move forward instead of sleeping. Production code reads
/// it where an interval matters (how often keys may be fetched again, say); clones share one
/// offset, so a test advances the clock of the server it holds.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Clock {
    pub fn now(&self) -> std::time::Instant {
        let ahead = self.ahead_ms.load(std::sync::atomic::Ordering::Relaxed);
        std::time::Instant::now() + std::time::Duration::from_millis(ahead)
    }

    /// Moves this clock (and its clones) forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.ahead_ms.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_runs_ahead_and_clones_share_it() {
        let clock = Clock::default();
        let clone = clock.clone();
        let before = std::time::Instant::now();
        clone.advance(std::time::Duration::from_secs(60));
        assert!(clock.now() >= before + std::time::Duration::from_secs(60));
        assert!(Clock::default().now() < before + std::time::Duration::from_secs(60));
    }

    #[test]
    fn normalises_offsets_and_dates() {
        assert_eq!(normalize_datetime("2024-01-01T10:00:00+02:00").unwrap(), "2024-01-01T08:00:00Z");
        assert_eq!(parse_birthday("birthday", "1974-07-22").unwrap(), "1974-07-22T00:00:00Z");
        assert!(parse_birthday("birthday", "July").is_err());
        assert_eq!(parse_date("d", "2024-05-01").unwrap(), "2024-05-01");
        assert_eq!(parse_date("d", "2024-05-01T10:00:00Z").unwrap(), "2024-05-01");
        assert!(parse_date("d", "2024-13-01").is_err());
        assert_eq!(now_utc().len(), 20);
        assert_eq!(error_date().len(), 19);
    }
}
