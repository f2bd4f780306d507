//! Canonical OData text for the AST. Every printed value parses back to an equal AST: operands
//! of binary operators are parenthesised whenever they are not primaries.

use crate::ast::*;
use std::fmt::{self, Display, Formatter, Write};

fn write_path(f: &mut Formatter<'_>, path: &[String]) -> fmt::Result {
    f.write_str(&path.join("/"))
}

fn write_list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// An operand: parenthesised unless it is a primary.
struct Operand<'a>(&'a Expr);

impl Display for Operand<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Expr::Literal(_) | Expr::Path(_) | Expr::Call(..) | Expr::Lambda { .. } => {
                write!(f, "{}", self.0)
            }
            Expr::Compare(..) | Expr::In(..) | Expr::And(..) | Expr::Or(..) | Expr::Not(_) => {
                write!(f, "({})", self.0)
            }
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(literal) => write!(f, "{literal}"),
            Expr::Path(path) => write_path(f, path),
            Expr::Compare(lhs, op, rhs) => {
                write!(f, "{} {} {}", Operand(lhs), op.as_str(), Operand(rhs))
            }
            Expr::In(lhs, items) => {
                write!(f, "{} in (", Operand(lhs))?;
                write_list(f, items)?;
                f.write_char(')')
            }
            Expr::And(lhs, rhs) => write!(f, "{} and {}", Operand(lhs), Operand(rhs)),
            Expr::Or(lhs, rhs) => write!(f, "{} or {}", Operand(lhs), Operand(rhs)),
            Expr::Not(inner) => write!(f, "not {}", Operand(inner)),
            Expr::Call(function, args) => {
                write!(f, "{}(", function.name())?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Expr::Lambda { collection, kind, variable, predicate } => {
                write_path(f, collection)?;
                write!(f, "/{}(", kind.as_str())?;
                if let (Some(variable), Some(predicate)) = (variable, predicate) {
                    write!(f, "{variable}:{predicate}")?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(d) => {
                // `{:?}` is the shortest text that parses back to the same value and always
                // has a `.` or an exponent (`1.0`, `1e20`), so it re-lexes as a decimal.
                let text = format!("{d:?}");
                f.write_str(&text)?;
                if !text.contains(['.', 'e', 'E']) && d.is_finite() {
                    f.write_str(".0")?;
                }
                Ok(())
            }
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::DateTimeOffset(s) | Literal::Date(s) | Literal::Guid(s) => f.write_str(s),
        }
    }
}

impl Display for OrderItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_path(f, &self.path)?;
        if self.descending {
            f.write_str(" desc")?;
        }
        Ok(())
    }
}

impl Display for SelectItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SelectItem::All => f.write_char('*'),
            SelectItem::Path(path) => write_path(f, path),
        }
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Function {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_filter;

    #[test]
    fn canonical_text() {
        for (input, expected) in [
            ("a eq 1 and b eq 2 or c", "((a eq 1) and (b eq 2)) or c"),
            ("not startswith(x,'A')", "not startswith(x,'A')"),
            ("NOT (a Eq 1)", "not (a eq 1)"),
            ("x in ( 'a' , 'b' )", "x in ('a','b')"),
            ("tags/Any(t: t eq 'O''Brien')", "tags/any(t:t eq 'O''Brien')"),
            ("tags/any()", "tags/any()"),
            ("a eq 1.5e300 or a eq 2.0 or a eq -0.0", "((a eq 1.5e300) or (a eq 2.0)) or (a eq -0.0)"),
            ("d ge 2024-01-01T00:00:00Z", "d ge 2024-01-01T00:00:00Z"),
        ] {
            let expr = parse_filter(input).unwrap();
            assert_eq!(expr.to_string(), expected, "{input}");
            assert_eq!(parse_filter(expected).unwrap(), expr, "{expected}");
        }
    }

    #[test]
    fn decimals_always_look_decimal() {
        for d in [1.0, 1e16, 1e-7, 123456789.0, f64::MAX, f64::MIN_POSITIVE, -5.0] {
            let text = Literal::Decimal(d).to_string();
            assert!(text.contains(['.', 'e']), "{text}");
            assert_eq!(
                parse_filter(&format!("x eq {text}")).unwrap(),
                Expr::Compare(
                    Box::new(Expr::Path(vec!["x".into()])),
                    CompareOp::Eq,
                    Box::new(Expr::Literal(Literal::Decimal(d)))
                )
            );
        }
    }
}
