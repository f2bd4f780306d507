//! `$orderby`, `$select`, `$expand` and the query string as a whole.

use rolo_odata::*;

fn segments(p: &str) -> Vec<String> {
    p.split('/').map(String::from).collect()
}

fn filter_id_eq(value: &str) -> Expr {
    Expr::Compare(
        Box::new(Expr::Path(segments("id"))),
        CompareOp::Eq,
        Box::new(Expr::Literal(Literal::String(value.into()))),
    )
}

#[test]
fn orderby() {
    assert_eq!(
        parse_orderby("displayName, homeAddress/city desc ,b ASC").unwrap(),
        vec![
            OrderItem { path: segments("displayName"), descending: false },
            OrderItem { path: segments("homeAddress/city"), descending: true },
            OrderItem { path: segments("b"), descending: false },
        ]
    );
    assert_eq!(
        parse_orderby("a,").unwrap_err().message,
        "Syntax error at position 2 in '$orderby': unexpected end of input, expected a property name"
    );
    assert_eq!(
        parse_orderby("a up").unwrap_err().message,
        "Syntax error at position 2 in '$orderby': unexpected token 'up'"
    );
}

#[test]
fn select() {
    assert_eq!(
        parse_select(" givenName ,surname,homeAddress/city , * ").unwrap(),
        vec![
            SelectItem::Path(segments("givenName")),
            SelectItem::Path(segments("surname")),
            SelectItem::Path(segments("homeAddress/city")),
            SelectItem::All,
        ]
    );
    assert_eq!(
        parse_select("a,,b").unwrap_err().message,
        "Syntax error at position 2 in '$select': unexpected token ',', expected a property name"
    );
    assert_eq!(
        parse_select("a b").unwrap_err().message,
        "Syntax error at position 2 in '$select': unexpected token 'b'"
    );
}

#[test]
fn display_of_items() {
    for text in ["a", "a/b desc"] {
        let items = parse_orderby(text).unwrap();
        assert_eq!(items[0].to_string(), text);
    }
    let items = parse_select("*,a/b").unwrap();
    assert_eq!(items[0].to_string(), "*");
    assert_eq!(items[1].to_string(), "a/b");
}

#[test]
fn expand() {
    let items = parse_expand(
        "extensions($filter=id eq 'Com.Contoso.Referral'),singleValueExtendedProperties($filter=id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color')",
    )
    .unwrap();
    assert_eq!(
        items,
        vec![
            ExpandItem {
                path: segments("extensions"),
                options: QueryOptions { filter: Some(filter_id_eq("Com.Contoso.Referral")), ..Default::default() },
            },
            ExpandItem {
                path: segments("singleValueExtendedProperties"),
                options: QueryOptions {
                    filter: Some(filter_id_eq("String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color")),
                    ..Default::default()
                },
            },
        ]
    );
}

#[test]
fn expand_nested_options() {
    let items = parse_expand(
        "a/b( select=x,y ; $FILTER=(id eq 'a;b)(''') and startswith(id,'c,d') ; $orderby=x desc;$top=2;skip=1;$count=true;$expand=c($select=z)), d",
    )
    .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].path, segments("a/b"));
    let o = &items[0].options;
    assert_eq!(o.select, Some(vec![SelectItem::Path(segments("x")), SelectItem::Path(segments("y"))]));
    assert_eq!(
        o.filter.as_ref().map(ToString::to_string).as_deref(),
        Some("(id eq 'a;b)(''') and startswith(id,'c,d')")
    );
    assert_eq!(o.orderby, vec![OrderItem { path: segments("x"), descending: true }]);
    assert_eq!((o.top, o.skip, o.count), (Some(2), Some(1), Some(true)));
    assert_eq!(o.expand.len(), 1);
    assert_eq!(o.expand[0].path, segments("c"));
    assert_eq!(o.expand[0].options.select, Some(vec![SelectItem::Path(segments("z"))]));
    assert_eq!(items[1], ExpandItem { path: segments("d"), options: QueryOptions::default() });
    assert_eq!(
        parse_expand("a()").unwrap(),
        vec![ExpandItem { path: segments("a"), options: QueryOptions::default() }]
    );
}

#[test]
fn expand_errors() {
    let err = |s: &str| parse_expand(s).unwrap_err();
    assert_eq!(
        err("a($filter=id eq 'x'"),
        ParseError {
            message: "Syntax error at position 19 in '$expand': unexpected end of input, expected ')'".into(),
            position: 19
        }
    );
    assert_eq!(err("a($filter=id eq 'x)").message, "Unterminated string literal in $expand");
    assert_eq!(err("a)").message, "Syntax error at position 1 in '$expand': unexpected token ')'");
    assert_eq!(err("a(x)b").message, "Syntax error at position 4 in '$expand': unexpected token 'b'");
    assert_eq!(err("a($search=x)").message, "Unsupported query option '$search' in $expand");
    assert_eq!(err("a($top)").message, "Syntax error at position 6 in '$expand': expected '=' after '$top'");
    assert_eq!(err("a($top=1;top=2)").message, "Query option '$top' was specified more than once");
    // Errors inside nested values name the nested option; the position is within `$expand`.
    assert_eq!(
        err("a($filter=id eq ,x)"),
        ParseError { message: "Syntax error at position 6 in '$filter': unexpected token ','".into(), position: 16 }
    );
    assert_eq!(err("a($top=-1)").message, "Invalid value '-1' for $top: expected a non-negative integer");
    assert_eq!(
        err(",a").message,
        "Syntax error at position 0 in '$expand': unexpected end of input, expected a property name"
    );
    let deep = format!("{}{}", "a($expand=".repeat(150), ")".repeat(150));
    assert!(err(&deep).message.contains("maximum depth"));
}

#[test]
fn query_string() {
    let q = QueryOptions::parse(
        "%24filter=displayName%20eq%20%27A%27&$top=5&SKIP=10&$Count=TRUE&$select=a,b&orderby=a+desc\
         &$expand=extensions&$search=%22john+doe%22&$skiptoken=abc%3D&$deltatoken=x&$format=json&api-version=2&$foo=1&&",
    )
    .unwrap();
    assert_eq!(
        q,
        QueryOptions {
            select: Some(vec![SelectItem::Path(segments("a")), SelectItem::Path(segments("b"))]),
            filter: Some(Expr::Compare(
                Box::new(Expr::Path(segments("displayName"))),
                CompareOp::Eq,
                Box::new(Expr::Literal(Literal::String("A".into())))
            )),
            orderby: vec![OrderItem { path: segments("a"), descending: true }],
            top: Some(5),
            skip: Some(10),
            count: Some(true),
            expand: vec![ExpandItem { path: segments("extensions"), options: QueryOptions::default() }],
            search: Some("john doe".into()),
            skiptoken: Some("abc=".into()),
            deltatoken: Some("x".into()),
            format: Some("json".into()),
        }
    );
    assert_eq!(QueryOptions::parse("").unwrap(), QueryOptions::default());
    assert_eq!(QueryOptions::parse("?top=1").unwrap().top, Some(1));
    assert_eq!(QueryOptions::parse("$search=plain").unwrap().search.as_deref(), Some("plain"));
}

#[test]
fn query_string_errors() {
    let err = |s: &str| QueryOptions::parse(s).unwrap_err();
    assert_eq!(
        err("$top=1&a=b&top=2"),
        ParseError { message: "Query option '$top' was specified more than once".into(), position: 11 }
    );
    assert_eq!(err("%24filter=a&$FILTER=b").message, "Query option '$filter' was specified more than once");
    assert_eq!(err("$top=-1").message, "Invalid value '-1' for $top: expected a non-negative integer");
    assert_eq!(err("$skip=%2B3").message, "Invalid value '+3' for $skip: expected a non-negative integer");
    assert_eq!(
        err("$top=99999999999999999999").message,
        "Invalid value '99999999999999999999' for $top: expected a non-negative integer"
    );
    assert_eq!(err("$top=").message, "Invalid value '' for $top: expected a non-negative integer");
    assert_eq!(err("$count=yes").message, "Invalid value 'yes' for $count: expected true or false");
    assert_eq!(err("$filter=foo(a)").message, "Unknown function 'foo' in $filter");
}
