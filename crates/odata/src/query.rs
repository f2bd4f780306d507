//! The URL query string: splitting, percent-decoding and dispatch to the option parsers.

use crate::ast::QueryOptions;
use crate::{expand, ParseError};

/// The system query options this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SystemOption {
    Select,
    Filter,
    OrderBy,
    Top,
    Skip,
    Count,
    Expand,
    Search,
    SkipToken,
    DeltaToken,
    Format,
}

impl SystemOption {
    const ALL: [SystemOption; 11] = [
        SystemOption::Select,
        SystemOption::Filter,
        SystemOption::OrderBy,
        SystemOption::Top,
        SystemOption::Skip,
        SystemOption::Count,
        SystemOption::Expand,
        SystemOption::Search,
        SystemOption::SkipToken,
        SystemOption::DeltaToken,
        SystemOption::Format,
    ];

    /// The canonical name, with `$`.
    pub fn name(self) -> &'static str {
        match self {
            SystemOption::Select => "$select",
            SystemOption::Filter => "$filter",
            SystemOption::OrderBy => "$orderby",
            SystemOption::Top => "$top",
            SystemOption::Skip => "$skip",
            SystemOption::Count => "$count",
            SystemOption::Expand => "$expand",
            SystemOption::Search => "$search",
            SystemOption::SkipToken => "$skiptoken",
            SystemOption::DeltaToken => "$deltatoken",
            SystemOption::Format => "$format",
        }
    }

    /// Looks up `name`, with or without `$`, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<SystemOption> {
        let bare = name.strip_prefix('$').unwrap_or(name);
        Self::ALL.into_iter().find(|o| o.name().get(1..).is_some_and(|n| n.eq_ignore_ascii_case(bare)))
    }
}

/// Collects options, rejecting repeats.
#[derive(Default)]
pub(crate) struct OptionsBuilder {
    pub options: QueryOptions,
    seen: Vec<SystemOption>,
}

impl OptionsBuilder {
    /// Parses `value` into `option`. Errors in the value are shifted by `value_offset`;
    /// `position` locates the option itself for a "specified more than once" error.
    /// `expand_depth` is the `$expand` nesting level of `value`.
    pub fn set(
        &mut self,
        option: SystemOption,
        value: &str,
        value_offset: usize,
        expand_depth: usize,
        position: usize,
    ) -> Result<(), ParseError> {
        if self.seen.contains(&option) {
            return Err(ParseError::new(
                format!("Query option '{}' was specified more than once", option.name()),
                position,
            ));
        }
        self.seen.push(option);
        self.parse_value(option, value, expand_depth).map_err(|e| e.shifted(value_offset))
    }

    fn parse_value(&mut self, option: SystemOption, value: &str, expand_depth: usize) -> Result<(), ParseError> {
        let o = &mut self.options;
        match option {
            SystemOption::Select => o.select = Some(crate::parse_select(value)?),
            SystemOption::Filter => o.filter = Some(crate::parse_filter(value)?),
            SystemOption::OrderBy => o.orderby = crate::parse_orderby(value)?,
            SystemOption::Top => o.top = Some(non_negative(option, value)?),
            SystemOption::Skip => o.skip = Some(non_negative(option, value)?),
            SystemOption::Count => o.count = Some(boolean(option, value)?),
            SystemOption::Expand => {
                crate::check_len(value, option.name())?;
                o.expand = expand::parse_expand(value, expand_depth)?;
            }
            SystemOption::Search => o.search = Some(unquote_search(value).to_owned()),
            SystemOption::SkipToken => o.skiptoken = Some(value.to_owned()),
            SystemOption::DeltaToken => o.deltatoken = Some(value.to_owned()),
            SystemOption::Format => o.format = Some(value.to_owned()),
        }
        Ok(())
    }
}

fn non_negative(option: SystemOption, value: &str) -> Result<u64, ParseError> {
    // `u64::from_str` would also take a leading `+`.
    value.bytes().all(|b| b.is_ascii_digit()).then(|| value.parse().ok()).flatten().ok_or_else(|| {
        ParseError::new(
            format!("Invalid value '{}' for {}: expected a non-negative integer", short(value), option.name()),
            0,
        )
    })
}

fn boolean(option: SystemOption, value: &str) -> Result<bool, ParseError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ParseError::new(
            format!("Invalid value '{}' for {}: expected true or false", short(value), option.name()),
            0,
        ))
    }
}

/// Strips the double quotes around a single quoted phrase: `"a b"` becomes `a b`, while
/// `"a" OR "b"` is kept as is.
fn unquote_search(value: &str) -> &str {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner,
        _ => value,
    }
}

/// A value shortened for an error message.
fn short(value: &str) -> String {
    const MAX: usize = 40;
    if value.chars().count() > MAX {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    } else {
        value.to_owned()
    }
}

pub(crate) fn parse_query(query: &str) -> Result<QueryOptions, ParseError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut builder = OptionsBuilder::default();
    let mut offset = 0;
    for pair in query.split('&') {
        let position = offset;
        offset += pair.chars().count() + 1;
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(option) = SystemOption::from_name(&percent_decode(name)) else {
            continue;
        };
        // Positions in a decoded value cannot be mapped back to the raw query string, so
        // value errors stay relative to the decoded value.
        builder.set(option, &percent_decode(value), 0, 0, position)?;
    }
    Ok(builder.options)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, malformed `%` escapes are kept
/// literally and invalid UTF-8 is replaced, as browsers and most servers do.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
                if let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) {
                    // Both digits are < 16, so this fits in a byte.
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("%24top"), "$top");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn option_names() {
        assert_eq!(SystemOption::from_name("top"), Some(SystemOption::Top));
        assert_eq!(SystemOption::from_name("$TOP"), Some(SystemOption::Top));
        assert_eq!(SystemOption::from_name("$OrderBy"), Some(SystemOption::OrderBy));
        assert_eq!(SystemOption::from_name("$$top"), None);
        assert_eq!(SystemOption::from_name("api-version"), None);
    }

    #[test]
    fn search_quotes() {
        assert_eq!(unquote_search("\"john doe\""), "john doe");
        assert_eq!(unquote_search("\"a\" OR \"b\""), "\"a\" OR \"b\"");
        assert_eq!(unquote_search("\""), "\"");
        assert_eq!(unquote_search("plain"), "plain");
    }
}
