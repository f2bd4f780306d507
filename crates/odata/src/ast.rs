//! The typed syntax tree of OData system query options. Pure data: no Graph knowledge.

/// All system query options of one request, as parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// `$select`: property names (paths of one or more segments), or `*`.
    pub select: Option<Vec<SelectItem>>,
    pub filter: Option<Expr>,
    /// `$orderby`: empty when absent.
    pub orderby: Vec<OrderItem>,
    pub top: Option<u64>,
    pub skip: Option<u64>,
    pub count: Option<bool>,
    /// `$expand`: empty when absent. Grammar only: the caller decides what it supports.
    pub expand: Vec<ExpandItem>,
    /// `$search`: the search expression text, quotes removed.
    pub search: Option<String>,
    /// `$skiptoken` and `$deltatoken`: opaque to this crate.
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
    /// `$format`, accepted for completeness (only `json` is meaningful).
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`
    All,
    /// A property path such as `displayName` or `homeAddress/city`.
    Path(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// A property path such as `displayName` or `homeAddress/city`.
    pub path: Vec<String>,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    /// The navigation property path, e.g. `extensions`.
    pub path: Vec<String>,
    /// Nested options in parentheses: `extensions($filter=id eq 'x';$select=a)`.
    pub options: QueryOptions,
}

/// A `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    /// A member path: `displayName`, `homeAddress/city`, or inside a lambda `a/address`
    /// (the first segment is then the lambda variable).
    Path(Vec<String>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    /// `x in ('a', 'b')`
    In(Box<Expr>, Vec<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// A built-in function call such as `startswith(displayName,'A')`.
    Call(Function, Vec<Expr>),
    /// `collection/any(v: predicate)`, `collection/all(v: predicate)`; `collection/any()` has no
    /// variable or predicate.
    Lambda {
        collection: Vec<String>,
        kind: LambdaKind,
        variable: Option<String>,
        predicate: Option<Box<Expr>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaKind {
    Any,
    All,
}

/// The built-in functions the parser knows. Which of them a resource supports is the caller's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    StartsWith,
    EndsWith,
    Contains,
    ToLower,
    ToUpper,
    Trim,
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    /// A decimal or floating literal, e.g. `1.5` or `2e10`.
    Decimal(f64),
    /// A string literal with `''` escapes already resolved.
    String(String),
    /// An RFC 3339 date-time literal, e.g. `2024-01-01T00:00:00Z`, kept as written.
    DateTimeOffset(String),
    /// A date literal `2024-01-01`.
    Date(String),
    /// A GUID literal, lower-cased.
    Guid(String),
}

impl CompareOp {
    pub const ALL: [CompareOp; 6] =
        [CompareOp::Eq, CompareOp::Ne, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le];

    /// The OData keyword, e.g. `eq`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Looks up a comparison keyword, ignoring ASCII case.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        Self::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl LambdaKind {
    /// The OData keyword, `any` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            LambdaKind::Any => "any",
            LambdaKind::All => "all",
        }
    }

    /// Looks up a lambda keyword, ignoring ASCII case (Graph documents `Any`).
    pub fn from_keyword(word: &str) -> Option<LambdaKind> {
        [LambdaKind::Any, LambdaKind::All].into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(word))
    }
}

impl Function {
    pub const ALL: [Function; 7] = [
        Function::StartsWith,
        Function::EndsWith,
        Function::Contains,
        Function::ToLower,
        Function::ToUpper,
        Function::Trim,
        Function::Length,
    ];

    /// The canonical (lower-case) OData name, e.g. `startswith`.
    pub fn name(self) -> &'static str {
        match self {
            Function::StartsWith => "startswith",
            Function::EndsWith => "endswith",
            Function::Contains => "contains",
            Function::ToLower => "tolower",
            Function::ToUpper => "toupper",
            Function::Trim => "trim",
            Function::Length => "length",
        }
    }

    /// Number of arguments the function takes.
    pub fn arity(self) -> usize {
        match self {
            Function::StartsWith | Function::EndsWith | Function::Contains => 2,
            Function::ToLower | Function::ToUpper | Function::Trim | Function::Length => 1,
        }
    }

    /// Looks up a function by name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Function> {
        Self::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }
}
