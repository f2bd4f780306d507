//! The narrow waist between the generic store logic and the two databases: SQL text with `?`
//! placeholders, a small value type, and connections/transactions that run it. Each backend
//! implements only this; everything else is written once.

use async_trait::async_trait;
use rolo_domain::GraphResult;

/// The SQL dialect, for the few expressions that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A JSON member of the document column as text.
    pub fn json_text(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{key}')"),
            Dialect::Postgres => format!("({column} ->> '{key}')"),
        }
    }

    /// The placeholder for a JSON document parameter.
    pub fn doc_param(self) -> &'static str {
        match self {
            Dialect::Sqlite => "?",
            Dialect::Postgres => "CAST(CAST(? AS TEXT) AS JSONB)",
        }
    }

    /// The document column read back as text.
    pub fn doc_select(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => column.to_owned(),
            Dialect::Postgres => format!("{column}::text"),
        }
    }
}

/// A SQL parameter or result value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn text(s: impl Into<String>) -> Value {
        Value::Text(s.into())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Consumes a text value (empty for anything else).
    pub fn into_string(self) -> String {
        match self {
            Value::Text(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Null | Value::Bytes(_) => String::new(),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Value::Bytes(b) => b,
            Value::Text(s) => s.into_bytes(),
            _ => Vec::new(),
        }
    }

    pub fn into_opt_string(self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b)
    }
}
impl From<Option<String>> for Value {
    fn from(s: Option<String>) -> Value {
        s.map_or(Value::Null, Value::Text)
    }
}

pub type Row = Vec<Value>;

/// A connection or an open transaction.
#[async_trait]
pub trait Sql: Send {
    async fn query(&mut self, sql: &str, params: &[Value]) -> GraphResult<Vec<Row>>;
    async fn execute(&mut self, sql: &str, params: &[Value]) -> GraphResult<u64>;

    async fn query_opt(&mut self, sql: &str, params: &[Value]) -> GraphResult<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }
}

/// A write transaction. Dropping it without `commit` rolls it back.
#[async_trait]
pub trait Tx: Sql {
    async fn commit(self: Box<Self>) -> GraphResult<()>;
}

/// A database: read connections and write transactions.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    async fn read(&self) -> GraphResult<Box<dyn Sql + '_>>;
    async fn begin(&self) -> GraphResult<Box<dyn Tx + '_>>;
}

/// Rewrites `?` placeholders as `$1, $2, ...` for PostgreSQL. Our SQL never has `?` inside
/// string literals, which keeps this a plain scan.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_like() {
        assert_eq!(numbered_placeholders("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(like_escape("50%_a\\"), "50\\%\\_a\\\\");
    }
}
