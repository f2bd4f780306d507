//! `$expand`: `path[(option=value;...)]` items separated by commas.
//!
//! Nested values are arbitrary `$filter` text, so items and options are split on `,` and `;`
//! only outside parentheses and single-quoted strings.

use crate::ast::ExpandItem;
use crate::lexer::snippet;
use crate::query::{OptionsBuilder, SystemOption};
use crate::{parser, ParseError, MAX_DEPTH};

const OPTION: &str = "$expand";

/// Character range `start..end` of the source.
type Span = (usize, usize);

pub(crate) fn parse_expand(s: &str, depth: usize) -> Result<Vec<ExpandItem>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(ParseError::new(format!("$expand nesting exceeds the maximum depth of {MAX_DEPTH}"), 0));
    }
    let src: Vec<char> = s.chars().collect();
    split_top_level(&src, (0, src.len()), ',')?.into_iter().map(|span| item(&src, span, depth)).collect()
}

fn text(src: &[char], (start, end): Span) -> String {
    src[start..end].iter().collect()
}

fn trim(src: &[char], (mut start, mut end): Span) -> Span {
    while start < end && src[start].is_whitespace() {
        start += 1;
    }
    while end > start && src[end - 1].is_whitespace() {
        end -= 1;
    }
    (start, end)
}

/// Splits `span` on `sep` outside parentheses and quotes; checks that both are balanced.
fn split_top_level(src: &[char], span: Span, sep: char) -> Result<Vec<Span>, ParseError> {
    let (start, end) = span;
    let mut parts = Vec::new();
    let mut part_start = start;
    let mut depth = 0usize;
    let mut quote_start = None;
    for (i, &c) in src.iter().enumerate().take(end).skip(start) {
        if quote_start.is_some() {
            // A doubled '' closes and reopens, which leaves the state right.
            if c == '\'' {
                quote_start = None;
            }
            continue;
        }
        match c {
            '\'' => quote_start = Some(i),
            '(' => depth += 1,
            ')' if depth == 0 => {
                return Err(ParseError::syntax(OPTION, i, "unexpected token ')'"));
            }
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                parts.push((part_start, i));
                part_start = i + 1;
            }
            _ => {}
        }
    }
    if let Some(q) = quote_start {
        return Err(ParseError::new(format!("Unterminated string literal in {OPTION}"), q));
    }
    if depth > 0 {
        return Err(ParseError::syntax(OPTION, end, "unexpected end of input, expected ')'"));
    }
    parts.push((part_start, end));
    Ok(parts)
}

/// One `path[(options)]` item.
fn item(src: &[char], span: Span, depth: usize) -> Result<ExpandItem, ParseError> {
    let (start, end) = trim(src, span);
    let open = (start..end).find(|&i| src[i] == '(');
    let path_span = trim(src, (start, open.unwrap_or(end)));
    let path = parser::parse_path(&text(src, path_span), OPTION).map_err(|e| e.shifted(path_span.0))?;
    let mut builder = OptionsBuilder::default();
    if let Some(open) = open {
        let close = matching_paren(src, open, end)
            .ok_or_else(|| ParseError::syntax(OPTION, end, "unexpected end of input, expected ')'"))?;
        if close + 1 != end {
            return Err(ParseError::syntax(
                OPTION,
                close + 1,
                format_args!("unexpected token '{}'", snippet(src, close + 1, end)),
            ));
        }
        for option_span in split_top_level(src, (open + 1, close), ';')? {
            nested_option(src, trim(src, option_span), depth, &mut builder)?;
        }
    }
    Ok(ExpandItem { path, options: builder.options })
}

/// Index of the `)` matching the `(` at `open`, before `end`.
fn matching_paren(src: &[char], open: usize, end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_quote = false;
    for (i, &c) in src.iter().enumerate().take(end).skip(open) {
        match c {
            '\'' => in_quote = !in_quote,
            '(' if !in_quote => depth += 1,
            ')' if !in_quote => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// One `name=value` inside the parentheses; empty options (`a(;$top=1)`) are skipped.
fn nested_option(src: &[char], span: Span, depth: usize, builder: &mut OptionsBuilder) -> Result<(), ParseError> {
    let (start, end) = span;
    if start == end {
        return Ok(());
    }
    let eq = (start..end).find(|&i| src[i] == '=');
    let name = text(src, trim(src, (start, eq.unwrap_or(end))));
    let option = SystemOption::from_name(&name)
        .filter(|o| {
            matches!(
                o,
                SystemOption::Select
                    | SystemOption::Filter
                    | SystemOption::OrderBy
                    | SystemOption::Top
                    | SystemOption::Skip
                    | SystemOption::Count
                    | SystemOption::Expand
            )
        })
        .ok_or_else(|| {
            ParseError::new(
                format!("Unsupported query option '{}' in {OPTION}", snippet(src, start, eq.unwrap_or(end))),
                start,
            )
        })?;
    let Some(eq) = eq else {
        return Err(ParseError::syntax(OPTION, end, format_args!("expected '=' after '{}'", option.name())));
    };
    let value_span = trim(src, (eq + 1, end));
    builder.set(option, &text(src, value_span), value_span.0, depth + 1, start)
}
