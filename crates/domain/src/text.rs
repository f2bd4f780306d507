//! Text helpers that never index a string by byte position: client-supplied text may put a
//! multi-byte character anywhere, and slicing inside one panics.

/// `s` without `prefix`, compared ignoring ASCII case; `None` when `s` does not start with it.
pub fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..)).flatten()
}

/// At most `max` bytes of `s`, cut at the last character boundary before that.
pub fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_ignore_ascii_case_and_never_split_a_character() {
        assert_eq!(strip_prefix_ignore_ascii_case("TOPIC:x", "topic:"), Some("x"));
        assert_eq!(strip_prefix_ignore_ascii_case("topic", "topic:"), None);
        // The 7th byte falls inside 'Ð' (two bytes): no panic, no match.
        assert_eq!(strip_prefix_ignore_ascii_case("ÒÙgÐx", "topic:"), None);
        assert_eq!(strip_prefix_ignore_ascii_case("", "topic:"), None);
    }

    #[test]
    fn truncation_stops_at_a_boundary() {
        assert_eq!(truncate_at_char("aé", 2), "a");
        assert_eq!(truncate_at_char("abc", 5), "abc");
        assert_eq!(truncate_at_char("😀", 3), "");
    }
}
