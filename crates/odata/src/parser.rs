//! Recursive-descent parsers for `$filter`, `$orderby` and `$select` over the lexer's tokens.
//!
//! `$filter` precedence, lowest first: `or`, `and`, `not`, comparison / `in`, primary.
//! Comparisons do not chain: `a eq b eq c` is an error. Trees deeper than `MAX_DEPTH` are
//! rejected.

use crate::ast::*;
use crate::lexer::{snippet, tokenize, Tok, Token};
use crate::{ParseError, MAX_DEPTH};

/// Limit on recursive entries (parentheses, arguments, lambda bodies) while parsing `$filter`.
/// Canonical printing (see `display`) costs at most one entry per tree level, so every tree
/// within `MAX_DEPTH` prints to text that parses back.
const MAX_RECURSION: usize = MAX_DEPTH;

/// Words that cannot start a `$filter` member path.
const RESERVED: [&str; 13] = ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "null", "true", "false"];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

pub(crate) fn parse_filter(s: &str) -> Result<Expr, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser::new(&chars, "$filter")?;
    let node = p.expr()?;
    p.expect_eof()?;
    Ok(*node.expr)
}

pub(crate) fn parse_orderby(s: &str) -> Result<Vec<OrderItem>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser::new(&chars, "$orderby")?;
    p.comma_list(|p| {
        let path = p.path()?;
        let descending = if p.eat_word("desc") {
            true
        } else {
            p.eat_word("asc");
            false
        };
        Ok(OrderItem { path, descending })
    })
}

pub(crate) fn parse_select(s: &str) -> Result<Vec<SelectItem>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser::new(&chars, "$select")?;
    p.comma_list(|p| {
        if p.peek().tok == Tok::Star {
            p.advance();
            Ok(SelectItem::All)
        } else {
            p.path().map(SelectItem::Path)
        }
    })
}

/// Parses a single path such as `homeAddress/city` (used for `$expand` items).
pub(crate) fn parse_path(s: &str, option: &'static str) -> Result<Vec<String>, ParseError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser::new(&chars, option)?;
    let path = p.path()?;
    p.expect_eof()?;
    Ok(path)
}

struct Parser<'s> {
    src: &'s [char],
    tokens: Vec<Token>,
    pos: usize,
    option: &'static str,
    /// Current number of nested recursive entries, see `enter`.
    recursion: usize,
}

/// An expression and the depth of its tree (a leaf has depth 1). Boxed because deep nesting
/// keeps many of these on the stack, and composite nodes want a box anyway.
struct Node {
    expr: Box<Expr>,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn new(src: &'s [char], option: &'static str) -> Result<Self, ParseError> {
        Ok(Parser { src, tokens: tokenize(src, option)?, pos: 0, option, recursion: 0 })
    }

    fn peek(&self) -> &Token {
        self.peek_nth(0)
    }

    /// The token `n` ahead; the trailing `Eof` token repeats forever.
    fn peek_nth(&self, n: usize) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[(self.pos + n).min(last)]
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.peek().is_word(word);
        if found {
            self.advance();
        }
        found
    }

    fn describe(&self, token: &Token) -> String {
        match token.tok {
            Tok::Eof => "end of input".to_owned(),
            _ => format!("token '{}'", snippet(self.src, token.start, token.end)),
        }
    }

    fn unexpected(&self) -> ParseError {
        let token = self.peek();
        ParseError::syntax(self.option, token.start, format_args!("unexpected {}", self.describe(token)))
    }

    fn expected(&self, what: &str) -> ParseError {
        let token = self.peek();
        ParseError::syntax(
            self.option,
            token.start,
            format_args!("unexpected {}, expected {what}", self.describe(token)),
        )
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), ParseError> {
        if self.peek().tok == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_eof(&self) -> Result<(), ParseError> {
        match self.peek().tok {
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    /// `item (',' item)*` up to the end of input.
    fn comma_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let mut items = vec![item(self)?];
        while self.peek().tok == Tok::Comma {
            self.advance();
            items.push(item(self)?);
        }
        self.expect_eof()?;
        Ok(items)
    }

    /// `ident ('/' ident)*`. Any identifier is allowed here, keywords included.
    fn path(&mut self) -> Result<Vec<String>, ParseError> {
        let mut segments = vec![self.ident("a property name")?];
        while self.peek().tok == Tok::Slash {
            self.advance();
            segments.push(self.ident("a property name")?);
        }
        Ok(segments)
    }

    fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match &self.peek().tok {
            Tok::Ident(name) => {
                let name = name.clone();
                self.advance();
                Ok(name)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn too_deep(&self) -> ParseError {
        ParseError::new(
            format!("Expression nesting exceeds the maximum depth of {MAX_DEPTH} in {}", self.option),
            self.peek().start,
        )
    }

    /// Guards every recursive entry so that hostile nesting (even of redundant parentheses)
    /// fails instead of overflowing the stack.
    fn enter(&mut self) -> Result<(), ParseError> {
        self.recursion += 1;
        if self.recursion > MAX_RECURSION {
            return Err(self.too_deep());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.recursion -= 1;
    }

    /// Wraps a new tree node, enforcing `MAX_DEPTH` on the tree itself: long `and`/`or` chains
    /// are parsed without recursion but still nest, and callers walk the tree recursively.
    fn node(&self, expr: Expr, children: &[usize]) -> Result<Node, ParseError> {
        let depth = 1 + children.iter().copied().max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok(Node { expr: Box::new(expr), depth })
    }

    /// `or` / `and` / `not` over comparisons. The two binary levels are folded with an
    /// explicit left operand each instead of one function per level: deep nesting then costs
    /// fewer and smaller stack frames (this matters in unoptimised builds).
    fn expr(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let mut pending_or: Option<Node> = None;
        let mut pending_and: Option<Node> = None;
        loop {
            let mut operand = self.comparison()?;
            if let Some(lhs) = pending_and.take() {
                operand = self.binary(Expr::And, lhs, operand)?;
            }
            if self.eat_word("and") {
                pending_and = Some(operand);
                continue;
            }
            if let Some(lhs) = pending_or.take() {
                operand = self.binary(Expr::Or, lhs, operand)?;
            }
            if self.eat_word("or") {
                pending_or = Some(operand);
                continue;
            }
            self.leave();
            return Ok(operand);
        }
    }

    fn binary(&self, make: fn(Box<Expr>, Box<Expr>) -> Expr, lhs: Node, rhs: Node) -> Result<Node, ParseError> {
        let depths = [lhs.depth, rhs.depth];
        self.node(make(lhs.expr, rhs.expr), &depths)
    }

    fn compare_op(&self) -> Option<CompareOp> {
        match &self.peek().tok {
            Tok::Ident(word) => CompareOp::from_keyword(word),
            _ => None,
        }
    }

    /// `not* primary [(eq|ne|...) primary | in (list)]`. A run of `not`s is counted rather than
    /// recursed into.
    fn comparison(&mut self) -> Result<Node, ParseError> {
        let mut nots = 0;
        while self.eat_word("not") {
            nots += 1;
        }
        let lhs = self.primary()?;
        let mut node = if let Some(op) = self.compare_op() {
            self.advance();
            let rhs = self.primary()?;
            let depths = [lhs.depth, rhs.depth];
            self.node(Expr::Compare(lhs.expr, op, rhs.expr), &depths)?
        } else if self.eat_word("in") {
            self.expect(Tok::LParen, "'('")?;
            let (items, items_depth) = self.expr_list()?;
            self.expect(Tok::RParen, "',' or ')'")?;
            self.node(Expr::In(lhs.expr, items), &[lhs.depth, items_depth])?
        } else {
            lhs
        };
        if self.compare_op().is_some() || self.peek().is_word("in") {
            return Err(ParseError::syntax(
                self.option,
                self.peek().start,
                "comparisons cannot be chained, use parentheses",
            ));
        }
        for _ in 0..nots {
            node = self.node(Expr::Not(node.expr), &[node.depth])?;
        }
        Ok(node)
    }

    /// `expr (',' expr)*`, returning the deepest item's depth too.
    fn expr_list(&mut self) -> Result<(Vec<Expr>, usize), ParseError> {
        let mut items = Vec::new();
        let mut depth = 0;
        loop {
            let item = self.expr()?;
            depth = depth.max(item.depth);
            items.push(*item.expr);
            if self.peek().tok != Tok::Comma {
                return Ok((items, depth));
            }
            self.advance();
        }
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let literal = match &self.peek().tok {
            Tok::LParen => {
                self.advance();
                let inner = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                return Ok(inner);
            }
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Int(i) => Literal::Int(*i),
            Tok::Decimal(d) => Literal::Decimal(*d),
            Tok::Date(s) => Literal::Date(s.clone()),
            Tok::DateTime(s) => Literal::DateTimeOffset(s.clone()),
            Tok::Guid(s) => Literal::Guid(s.clone()),
            Tok::Ident(word) if word.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Ident(word) if word.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(word) if word.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Ident(word) if !is_reserved(word) => {
                return if self.peek_nth(1).tok == Tok::LParen { self.call() } else { self.member() };
            }
            _ => return Err(self.unexpected()),
        };
        self.advance();
        self.node(Expr::Literal(literal), &[])
    }

    fn call(&mut self) -> Result<Node, ParseError> {
        let name_token = self.peek().clone();
        self.advance();
        let function = match &name_token.tok {
            Tok::Ident(name) => Function::from_name(name),
            _ => None,
        };
        let function = function.ok_or_else(|| {
            ParseError::new(
                format!(
                    "Unknown function '{}' in {}",
                    snippet(self.src, name_token.start, name_token.end),
                    self.option
                ),
                name_token.start,
            )
        })?;
        self.advance(); // '('
        let (args, args_depth) = if self.peek().tok == Tok::RParen { (Vec::new(), 0) } else { self.expr_list()? };
        self.expect(Tok::RParen, "',' or ')'")?;
        let arity = function.arity();
        if args.len() != arity {
            return Err(ParseError::new(
                format!(
                    "Function '{}' takes {arity} argument{} but {} {} given in {}",
                    function.name(),
                    if arity == 1 { "" } else { "s" },
                    args.len(),
                    if args.len() == 1 { "was" } else { "were" },
                    self.option
                ),
                name_token.start,
            ));
        }
        self.node(Expr::Call(function, args), &[args_depth])
    }

    /// A member path, possibly ending in a lambda: `a/b`, `a/any(x: x eq 1)`.
    fn member(&mut self) -> Result<Node, ParseError> {
        let mut segments = vec![self.ident("a property name")?];
        while self.peek().tok == Tok::Slash {
            self.advance();
            let segment = self.ident("a property name")?;
            if self.peek().tok == Tok::LParen {
                return match LambdaKind::from_keyword(&segment) {
                    Some(kind) => self.lambda(segments, kind),
                    None => Err(self.unexpected()),
                };
            }
            segments.push(segment);
        }
        self.node(Expr::Path(segments), &[])
    }

    fn lambda(&mut self, collection: Vec<String>, kind: LambdaKind) -> Result<Node, ParseError> {
        self.advance(); // '('
        if kind == LambdaKind::Any && self.peek().tok == Tok::RParen {
            self.advance();
            let lambda = Expr::Lambda { collection, kind, variable: None, predicate: None };
            return self.node(lambda, &[]);
        }
        let variable = match &self.peek().tok {
            Tok::Ident(name) if !is_reserved(name) => name.clone(),
            _ => return Err(self.expected("a lambda variable name")),
        };
        self.advance();
        self.expect(Tok::Colon, "':'")?;
        let predicate = self.expr()?;
        self.expect(Tok::RParen, "')'")?;
        let lambda = Expr::Lambda { collection, kind, variable: Some(variable), predicate: Some(predicate.expr) };
        self.node(lambda, &[predicate.depth])
    }
}
