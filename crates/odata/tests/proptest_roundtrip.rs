//! Property tests: printed ASTs parse back to themselves, and no input makes a parser panic.

use proptest::prelude::*;
use rolo_odata::*;

const RESERVED: [&str; 13] = ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "null", "true", "false"];

fn ident() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_filter("reserved word", |s| !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)))
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(ident(), 1..4)
}

fn date() -> impl Strategy<Value = String> {
    (0u32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn date_time() -> impl Strategy<Value = String> {
    let fraction = prop::option::of(1u32..=999_999).prop_map(|f| match f {
        Some(f) => format!(".{f}"),
        None => String::new(),
    });
    let offset = prop_oneof![
        Just("Z".to_owned()),
        ("[+-]", 0u32..=23, 0u32..=59).prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
    ];
    (date(), 0u32..=23, 0u32..=59, 0u32..=59, fraction, offset)
        .prop_map(|(d, h, m, s, f, o)| format!("{d}T{h:02}:{m:02}:{s:02}{f}{o}"))
}

fn guid() -> impl Strategy<Value = String> {
    any::<[u8; 16]>().prop_map(|b| {
        let hex = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
        format!("{}-{}-{}-{}-{}", hex(0..4), hex(4..6), hex(6..8), hex(8..10), hex(10..16))
    })
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        any::<f64>().prop_filter("finite", |d| d.is_finite()).prop_map(Literal::Decimal),
        any::<String>().prop_map(Literal::String),
        date().prop_map(Literal::Date),
        date_time().prop_map(Literal::DateTimeOffset),
        guid().prop_map(Literal::Guid),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        literal().prop_map(Expr::Literal),
        path().prop_map(Expr::Path),
        path().prop_map(|collection| Expr::Lambda {
            collection,
            kind: LambdaKind::Any,
            variable: None,
            predicate: None,
        }),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        let boxed = || inner.clone().prop_map(Box::new);
        prop_oneof![
            (boxed(), compare_op(), boxed()).prop_map(|(l, op, r)| Expr::Compare(l, op, r)),
            (boxed(), prop::collection::vec(inner.clone(), 1..4)).prop_map(|(l, items)| Expr::In(l, items)),
            (boxed(), boxed()).prop_map(|(l, r)| Expr::And(l, r)),
            (boxed(), boxed()).prop_map(|(l, r)| Expr::Or(l, r)),
            boxed().prop_map(Expr::Not),
            (prop::sample::select(Function::ALL.to_vec()), prop::collection::vec(inner.clone(), 2)).prop_map(
                |(f, mut args)| {
                    args.truncate(f.arity());
                    Expr::Call(f, args)
                }
            ),
            (path(), any::<bool>(), ident(), boxed()).prop_map(|(collection, all, v, p)| {
                Expr::Lambda {
                    collection,
                    kind: if all { LambdaKind::All } else { LambdaKind::Any },
                    variable: Some(v),
                    predicate: Some(p),
                }
            }),
        ]
    })
}

/// Text made of the characters the grammars care about, so that fuzzing gets past the lexer.
fn query_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[ a-zA-Z0-9_()',/:.*;=&%$+\"-]",
            Just("eq ".to_owned()),
            Just(" and ".to_owned()),
            Just("not ".to_owned()),
            Just("/any(".to_owned()),
            Just("startswith(".to_owned()),
            Just("2024-01-01T".to_owned()),
            Just("$filter=".to_owned()),
            Just("$expand=".to_owned()),
            Just("é".to_owned()),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn filter_roundtrip(e in expr()) {
        let text = e.to_string();
        let parsed = parse_filter(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&e), "text: {}", text);
    }

    #[test]
    fn orderby_roundtrip(items in prop::collection::vec(
        (path(), any::<bool>()).prop_map(|(path, descending)| OrderItem { path, descending }),
        1..4,
    )) {
        let text = items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        prop_assert_eq!(parse_orderby(&text), Ok(items));
    }

    #[test]
    fn select_roundtrip(items in prop::collection::vec(
        prop_oneof![Just(SelectItem::All), path().prop_map(SelectItem::Path)],
        1..4,
    )) {
        let text = items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        prop_assert_eq!(parse_select(&text), Ok(items));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        check_no_panic(&s);
    }

    #[test]
    fn query_like_strings_never_panic(s in query_like()) {
        check_no_panic(&s);
    }
}

fn check_no_panic(s: &str) {
    let _ = parse_orderby(s);
    let _ = parse_select(s);
    let _ = parse_expand(s);
    let _ = QueryOptions::parse(s);
    if let Ok(e) = parse_filter(s) {
        assert_eq!(parse_filter(&e.to_string()), Ok(e));
    }
}
