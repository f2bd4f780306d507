//! Parser for OData v4 system query options (`$filter`, `$orderby`, `$select`, `$expand`,
//! `$top`, ...) into the typed AST of [`ast`]. No Graph knowledge and no dependencies.
//!
//! Keywords (`and`, `eq`, `any`, `asc`, `null`, function names, ...) are matched ignoring ASCII
//! case: OData spells them in lower case, but Microsoft Graph accepts any case and its own
//! documentation writes `Any`. The flip side is that a property cannot be named like an
//! operator keyword when it is the first segment of a `$filter` path.
//!
//! Error positions are 0-based character offsets into the option value.
//!
//! In a raw query string `+` means a space, so a date-time offset such as `+01:00` must be sent
//! percent-encoded (`%2B01:00`), as with any URL.

pub mod ast;
mod display;
mod expand;
mod lexer;
mod parser;
mod query;

pub use ast::*;

use std::fmt;

/// The longest option value accepted, in bytes.
pub const MAX_INPUT_LEN: usize = 64 * 1024;

/// How deeply a `$filter` expression tree (a single literal has depth 1) and `$expand`
/// options may nest. Nested parentheses, function arguments and lambda bodies in `$filter`
/// text are limited to the same number, redundant parentheses included.
pub const MAX_DEPTH: usize = 100;

/// A query option that could not be parsed. `message` is meant for API clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    /// 0-based character offset into the option value (or into the query string for errors
    /// about the query string itself).
    pub position: usize,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>, position: usize) -> Self {
        ParseError { message: message.into(), position }
    }

    pub(crate) fn syntax(option: &str, position: usize, detail: impl fmt::Display) -> Self {
        Self::new(format!("Syntax error at position {position} in '{option}': {detail}"), position)
    }

    /// Moves the position of an error found in a nested value to the enclosing text.
    pub(crate) fn shifted(mut self, by: usize) -> Self {
        self.position += by;
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

fn check_len(s: &str, option: &str) -> Result<(), ParseError> {
    if s.len() > MAX_INPUT_LEN {
        return Err(ParseError::new(
            format!("{option} exceeds the maximum length of {MAX_INPUT_LEN} bytes"),
            MAX_INPUT_LEN,
        ));
    }
    Ok(())
}

/// Parses a `$filter` expression.
pub fn parse_filter(s: &str) -> Result<Expr, ParseError> {
    check_len(s, "$filter")?;
    parser::parse_filter(s)
}

/// Parses `$orderby`: comma-separated `path [asc|desc]`.
pub fn parse_orderby(s: &str) -> Result<Vec<OrderItem>, ParseError> {
    check_len(s, "$orderby")?;
    parser::parse_orderby(s)
}

/// Parses `$select`: comma-separated paths or `*`.
pub fn parse_select(s: &str) -> Result<Vec<SelectItem>, ParseError> {
    check_len(s, "$select")?;
    parser::parse_select(s)
}

/// Parses `$expand`: comma-separated paths, each optionally followed by nested options in
/// parentheses separated by `;`, e.g. `extensions($filter=id eq 'x';$select=id)`.
pub fn parse_expand(s: &str) -> Result<Vec<ExpandItem>, ParseError> {
    check_len(s, "$expand")?;
    expand::parse_expand(s, 0)
}

impl QueryOptions {
    /// Parses a raw URL query string such as `%24filter=displayName%20eq%20%27A%27&$top=5`.
    ///
    /// Names and values are percent-decoded (`+` is a space). Option names match ignoring
    /// ASCII case, with or without the `$` prefix. Parameters that are not system query
    /// options are ignored; a system option given twice is an error.
    pub fn parse(query: &str) -> Result<QueryOptions, ParseError> {
        query::parse_query(query)
    }
}
