//! `$filter` parsing: exact ASTs and exact error messages.

use rolo_odata::*;

fn path(p: &str) -> Expr {
    Expr::Path(p.split('/').map(String::from).collect())
}

fn string(s: &str) -> Expr {
    Expr::Literal(Literal::String(s.into()))
}

fn int(i: i64) -> Expr {
    Expr::Literal(Literal::Int(i))
}

fn cmp(lhs: Expr, op: CompareOp, rhs: Expr) -> Expr {
    Expr::Compare(Box::new(lhs), op, Box::new(rhs))
}

fn and(lhs: Expr, rhs: Expr) -> Expr {
    Expr::And(Box::new(lhs), Box::new(rhs))
}

fn or(lhs: Expr, rhs: Expr) -> Expr {
    Expr::Or(Box::new(lhs), Box::new(rhs))
}

fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

fn any(collection: &str, var: &str, predicate: Expr) -> Expr {
    Expr::Lambda {
        collection: collection.split('/').map(String::from).collect(),
        kind: LambdaKind::Any,
        variable: Some(var.into()),
        predicate: Some(Box::new(predicate)),
    }
}

fn call(f: Function, args: Vec<Expr>) -> Expr {
    Expr::Call(f, args)
}

fn err(s: &str) -> String {
    parse_filter(s).unwrap_err().message
}

#[test]
fn graph_examples() {
    assert_eq!(
        parse_filter("emailAddresses/any(a:a/address eq 'garth@contoso.com')").unwrap(),
        any("emailAddresses", "a", cmp(path("a/address"), CompareOp::Eq, string("garth@contoso.com")))
    );
    assert_eq!(
        parse_filter(
            "singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color' and ep/value eq 'Green')"
        )
        .unwrap(),
        any(
            "singleValueExtendedProperties",
            "ep",
            and(
                cmp(
                    path("ep/id"),
                    CompareOp::Eq,
                    string("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color")
                ),
                cmp(path("ep/value"), CompareOp::Eq, string("Green"))
            )
        )
    );
    assert_eq!(
        parse_filter("startswith(displayName,'a') or contains(givenName,'b')").unwrap(),
        or(
            call(Function::StartsWith, vec![path("displayName"), string("a")]),
            call(Function::Contains, vec![path("givenName"), string("b")])
        )
    );
    assert_eq!(
        parse_filter("categories/any(c:c eq 'Red')").unwrap(),
        any("categories", "c", cmp(path("c"), CompareOp::Eq, string("Red")))
    );
    assert_eq!(
        parse_filter("createdDateTime ge 2024-01-01T00:00:00Z").unwrap(),
        cmp(
            path("createdDateTime"),
            CompareOp::Ge,
            Expr::Literal(Literal::DateTimeOffset("2024-01-01T00:00:00Z".into()))
        )
    );
    assert_eq!(
        parse_filter("displayName eq 'O''Brien'").unwrap(),
        cmp(path("displayName"), CompareOp::Eq, string("O'Brien"))
    );
}

#[test]
fn literals() {
    let lit = |s: &str| match parse_filter(&format!("x eq {s}")).unwrap() {
        Expr::Compare(_, _, rhs) => match *rhs {
            Expr::Literal(l) => l,
            other => panic!("not a literal: {other:?}"),
        },
        other => panic!("not a comparison: {other:?}"),
    };
    assert_eq!(lit("null"), Literal::Null);
    assert_eq!(lit("true"), Literal::Bool(true));
    assert_eq!(lit("False"), Literal::Bool(false));
    assert_eq!(lit("42"), Literal::Int(42));
    assert_eq!(lit("-7"), Literal::Int(-7));
    assert_eq!(lit("1.5"), Literal::Decimal(1.5));
    assert_eq!(lit("-2.0e10"), Literal::Decimal(-2.0e10));
    assert_eq!(lit("3E-2"), Literal::Decimal(0.03));
    assert_eq!(lit("''"), Literal::String(String::new()));
    assert_eq!(lit("'a''''b'"), Literal::String("a''b".into()));
    assert_eq!(lit("'é ünï'"), Literal::String("é ünï".into()));
    assert_eq!(lit("2024-02-29"), Literal::Date("2024-02-29".into()));
    assert_eq!(lit("2024-01-01T10:00:00.5+01:00"), Literal::DateTimeOffset("2024-01-01T10:00:00.5+01:00".into()));
    assert_eq!(lit("2024-01-01T10:00-05:30"), Literal::DateTimeOffset("2024-01-01T10:00-05:30".into()));
    assert_eq!(
        lit("66F5A359-4659-4830-9070-00047ec6ac6e"),
        Literal::Guid("66f5a359-4659-4830-9070-00047ec6ac6e".into())
    );
    assert_eq!(
        lit("deadbeef-0000-4000-8000-000000000000"),
        Literal::Guid("deadbeef-0000-4000-8000-000000000000".into())
    );
}

#[test]
fn precedence() {
    let (a, b, c) = (path("a"), path("b"), path("c"));
    assert_eq!(parse_filter("a or b and c").unwrap(), or(a.clone(), and(b.clone(), c.clone())));
    assert_eq!(parse_filter("a and b or c").unwrap(), or(and(a.clone(), b.clone()), c.clone()));
    assert_eq!(parse_filter("a or b or c").unwrap(), or(or(a.clone(), b.clone()), c.clone()));
    assert_eq!(parse_filter("not a eq 1 and b").unwrap(), and(not(cmp(a.clone(), CompareOp::Eq, int(1))), b.clone()));
    assert_eq!(parse_filter("not not a").unwrap(), not(not(a.clone())));
    assert_eq!(parse_filter("(a or b) and c").unwrap(), and(or(a.clone(), b.clone()), c.clone()));
    assert_eq!(
        parse_filter("not startswith(displayName,'A')").unwrap(),
        not(call(Function::StartsWith, vec![path("displayName"), string("A")]))
    );
    assert_eq!(parse_filter("not (a eq 1)").unwrap(), not(cmp(a, CompareOp::Eq, int(1))));
}

#[test]
fn operators_and_whitespace() {
    for (text, op) in [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("LE", CompareOp::Le),
    ] {
        assert_eq!(parse_filter(&format!(" \tsize {text}\t\t10  ")).unwrap(), cmp(path("size"), op, int(10)));
    }
    assert_eq!(
        parse_filter("a eq 1 AND b Or c").unwrap(),
        or(and(cmp(path("a"), CompareOp::Eq, int(1)), path("b")), path("c"))
    );
    assert_eq!(parse_filter("(a)and(b)").unwrap(), and(path("a"), path("b")));
}

#[test]
fn in_operator() {
    assert_eq!(
        parse_filter("x in ('a', 'b',null)").unwrap(),
        Expr::In(Box::new(path("x")), vec![string("a"), string("b"), Expr::Literal(Literal::Null)])
    );
    assert_eq!(
        parse_filter("tolower(x) IN ('a')").unwrap(),
        Expr::In(Box::new(call(Function::ToLower, vec![path("x")])), vec![string("a")])
    );
}

#[test]
fn functions() {
    assert_eq!(
        parse_filter("length(trim(toupper(x))) gt 3").unwrap(),
        cmp(
            call(Function::Length, vec![call(Function::Trim, vec![call(Function::ToUpper, vec![path("x")])])]),
            CompareOp::Gt,
            int(3)
        )
    );
    assert_eq!(
        parse_filter("EndsWith(mail, '.com')").unwrap(),
        call(Function::EndsWith, vec![path("mail"), string(".com")])
    );
}

#[test]
fn lambdas() {
    assert_eq!(
        parse_filter("a/b/any()").unwrap(),
        Expr::Lambda {
            collection: vec!["a".into(), "b".into()],
            kind: LambdaKind::Any,
            variable: None,
            predicate: None,
        }
    );
    assert_eq!(
        parse_filter("phones/ALL(p: p/type ne 'home')").unwrap(),
        Expr::Lambda {
            collection: vec!["phones".into()],
            kind: LambdaKind::All,
            variable: Some("p".into()),
            predicate: Some(Box::new(cmp(path("p/type"), CompareOp::Ne, string("home")))),
        }
    );
    // Nested lambdas and lambdas as comparison operands.
    assert_eq!(
        parse_filter("a/any(x: x/b/any(y: y eq 1)) eq true").unwrap(),
        cmp(
            any("a", "x", any("x/b", "y", cmp(path("y"), CompareOp::Eq, int(1)))),
            CompareOp::Eq,
            Expr::Literal(Literal::Bool(true))
        )
    );
    // `any` not followed by `(` is an ordinary segment.
    assert_eq!(parse_filter("a/any eq 1").unwrap(), cmp(path("a/any"), CompareOp::Eq, int(1)));
}

#[test]
fn syntax_errors() {
    assert_eq!(
        parse_filter("displayName eq )"),
        Err(ParseError {
            message: "Syntax error at position 15 in '$filter': unexpected token ')'".into(),
            position: 15,
        })
    );
    assert_eq!(err("(a eq 1"), "Syntax error at position 7 in '$filter': unexpected end of input, expected ')'");
    assert_eq!(err("a eq 1 b"), "Syntax error at position 7 in '$filter': unexpected token 'b'");
    assert_eq!(err(""), "Syntax error at position 0 in '$filter': unexpected end of input");
    assert_eq!(
        err("a eq b eq c"),
        "Syntax error at position 7 in '$filter': comparisons cannot be chained, use parentheses"
    );
    assert_eq!(
        err("a in ('x') in ('y')"),
        "Syntax error at position 11 in '$filter': comparisons cannot be chained, use parentheses"
    );
    assert_eq!(err("and eq 1"), "Syntax error at position 0 in '$filter': unexpected token 'and'");
    assert_eq!(err("a in ()"), "Syntax error at position 6 in '$filter': unexpected token ')'");
    assert_eq!(
        err("a/all()"),
        "Syntax error at position 6 in '$filter': unexpected token ')', expected a lambda variable name"
    );
    assert_eq!(err("a/any(x x eq 1)"), "Syntax error at position 8 in '$filter': unexpected token 'x', expected ':'");
    assert_eq!(err("a/b(1)"), "Syntax error at position 3 in '$filter': unexpected token '('");
    assert_eq!(err("a eq $x"), "Syntax error at position 5 in '$filter': unexpected character '$'");
    assert_eq!(
        err("a/1 eq 1"),
        "Syntax error at position 2 in '$filter': unexpected token '1', expected a property name"
    );
}

#[test]
fn function_errors() {
    assert_eq!(
        parse_filter("foo(x) eq 1"),
        Err(ParseError { message: "Unknown function 'foo' in $filter".into(), position: 0 })
    );
    assert_eq!(err("startswith(displayName)"), "Function 'startswith' takes 2 arguments but 1 was given in $filter");
    assert_eq!(err("tolower(a, b)"), "Function 'tolower' takes 1 argument but 2 were given in $filter");
    assert_eq!(err("length()"), "Function 'length' takes 1 argument but 0 were given in $filter");
}

#[test]
fn literal_errors() {
    assert_eq!(
        parse_filter("displayName eq 'abc"),
        Err(ParseError { message: "Unterminated string literal in $filter".into(), position: 15 })
    );
    assert_eq!(err("d eq 2024-02-30"), "Invalid date literal '2024-02-30' in $filter");
    assert_eq!(err("d eq 2024-01-01T10:00:00+1:00"), "Invalid date-time literal '2024-01-01T10:00:00+1:00' in $filter");
    assert_eq!(err("n eq 99999999999999999999"), "Integer literal '99999999999999999999' is out of range in $filter");
    assert_eq!(err("n eq -1e400"), "Decimal literal '-1e400' is out of range in $filter");
}

#[test]
fn limits() {
    let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(err(&deep), "Expression nesting exceeds the maximum depth of 100 in $filter");
    let nots = format!("{}a", "not ".repeat(500));
    assert!(err(&nots).contains("maximum depth"));
    let calls = format!("{}a{}", "tolower(".repeat(300), ")".repeat(300));
    assert!(err(&calls).contains("maximum depth"));
    let lambdas = format!("{}x eq 1{}", "a/any(x:".repeat(300), ")".repeat(300));
    assert!(err(&lambdas).contains("maximum depth"));

    // Long chains are parsed without recursion but still build deep trees.
    let ors = vec!["a"; 150].join(" or ");
    assert!(err(&ors).contains("maximum depth"));
    let ok = vec!["a"; 100].join(" or ");
    assert!(parse_filter(&ok).is_ok());

    let ok = format!("{}a{}", "(".repeat(90), ")".repeat(90));
    assert_eq!(parse_filter(&ok).unwrap(), path("a"));

    let long = format!("a eq '{}'", "x".repeat(MAX_INPUT_LEN));
    assert_eq!(err(&long), "$filter exceeds the maximum length of 65536 bytes");
}

/// Ways to put an expression one level deeper in the tree.
const WRAPPERS: [fn(Expr) -> Expr; 9] = [
    not,
    |e| and(e, path("b")),
    |e| or(path("b"), e),
    |e| cmp(e, CompareOp::Eq, int(1)),
    |e| cmp(int(1), CompareOp::Ne, e),
    |e| Expr::In(Box::new(e), vec![int(1)]),
    |e| Expr::In(Box::new(path("x")), vec![int(1), e]),
    |e| call(Function::ToLower, vec![e]),
    |e| any("a/b", "v", e),
];

fn nest(depth: usize, wrap: impl Fn(usize, Expr) -> Expr) -> Expr {
    (1..depth).fold(path("x"), |e, level| wrap(level, e))
}

/// Trees of the maximum depth print to text that parses back, one level more is rejected, and
/// both fit comfortably in a small stack even unoptimised.
#[test]
fn max_depth_trees_round_trip() {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let mixed = |level: usize, e| WRAPPERS[level % WRAPPERS.len()](e);
            let mut shapes: Vec<Box<dyn Fn(usize, Expr) -> Expr>> = vec![Box::new(mixed)];
            for wrap in WRAPPERS {
                shapes.push(Box::new(move |_, e| wrap(e)));
            }
            for shape in shapes {
                let deepest = nest(MAX_DEPTH, &shape);
                let text = deepest.to_string();
                assert_eq!(parse_filter(&text).as_ref(), Ok(&deepest), "{text}");
                let text = nest(MAX_DEPTH + 1, &shape).to_string();
                assert_eq!(
                    parse_filter(&text).unwrap_err().message,
                    "Expression nesting exceeds the maximum depth of 100 in $filter",
                    "{text}"
                );
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
