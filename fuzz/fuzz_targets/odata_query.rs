//! Feeds arbitrary bytes to the OData parsers: nothing may panic, and every `$filter` that
//! parses must print to text that parses back to the same tree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rolo_odata::{
    parse_expand, parse_filter, parse_orderby, parse_select, Expr, QueryOptions, MAX_INPUT_LEN,
};
use std::fmt::Display;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);

    if let Ok(options) = QueryOptions::parse(&input) {
        if let Some(filter) = options.filter {
            check_filter_round_trip(filter);
        }
    }
    if let Ok(filter) = parse_filter(&input) {
        check_filter_round_trip(filter);
    }

    if let Ok(items) = parse_orderby(&input) {
        let text = join(&items);
        assert_eq!(parse_orderby(&text), Ok(items));
    }
    if let Ok(items) = parse_select(&input) {
        let text = join(&items);
        assert_eq!(parse_select(&text), Ok(items));
    }
    let _ = parse_expand(&input);
});

fn join<T: Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn check_filter_round_trip(filter: Expr) {
    let text = filter.to_string();
    // Canonical text can be a little longer than the input (added parentheses), so a filter
    // near the length limit may legitimately print past it.
    if text.len() <= MAX_INPUT_LEN {
        assert_eq!(parse_filter(&text), Ok(filter), "printed as {text:?}");
    }
}
