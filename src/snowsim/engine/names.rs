//! Name resolution shared by type inference and the SQLite rewrite: Snowflake's identifier case
//! rules, one/two/three-part table names against the session namespace, `IDENTIFIER(?)`, and the
//! numbering of `?` / `:n` placeholders.
//!
//! Invariant: unquoted identifiers compare upper-cased, quoted ones exactly (Snowflake's rule).

use std::collections::HashMap;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, ObjectName, ObjectNamePart, Value,
};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use super::bind::BoundValue;
use super::catalog::{Catalog, Table};
use super::{SessionContext, SqlError};

/// Snowflake's normal form of an identifier.
pub fn norm(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_ascii_uppercase()
    }
}

/// Error position (1-based line, 0-based column) of an identifier.
pub fn pos(id: &Ident) -> (u64, u64) {
    (
        id.span.start.line.max(1),
        id.span.start.column.saturating_sub(1),
    )
}

/// Parses an identifier text as given to `IDENTIFIER('…')` (`db.schema."Tbl"`).
pub fn parse_dotted(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    part.push(c.to_ascii_uppercase());
                    chars.next();
                } else {
                    break;
                }
            }
            if part.is_empty() || part.starts_with(|c: char| c.is_ascii_digit() || c == '$') {
                return None;
            }
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => {}
            Some(_) => return None,
        }
    }
}

/// Resolution context of one statement.
pub struct Names<'a> {
    /// Catalogue snapshot.
    pub catalog: &'a Catalog,
    /// Session namespace.
    pub ctx: &'a SessionContext,
    /// Placeholder location → binding position (1-based).
    pub params: HashMap<(u64, u64), usize>,
    /// Converted bindings by position.
    pub binds: &'a HashMap<usize, BoundValue>,
}

/// Numbers the placeholders of `sql` by their source location: `?` in order, `:n` as n.
pub fn number_placeholders(
    dialect: &dyn sqlparser::dialect::Dialect,
    sql: &str,
) -> HashMap<(u64, u64), usize> {
    let mut out = HashMap::new();
    let Ok(tokens) = Tokenizer::new(dialect, sql).tokenize_with_location() else {
        return out;
    };
    let mut next = 0;
    let mut tokens = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .peekable();
    while let Some(t) = tokens.next() {
        // `:1` may arrive as a colon followed by a number; the parser joins them.
        if t.token == Token::Colon {
            if let Some(Token::Number(n, _)) = tokens.peek().map(|n| &n.token) {
                if let Ok(idx) = n.parse::<usize>() {
                    out.insert((t.span.start.line, t.span.start.column), idx);
                }
            }
            continue;
        }
        if let Token::Placeholder(p) = &t.token {
            let Location { line, column } = t.span.start;
            let idx = if p == "?" {
                next += 1;
                next
            } else {
                match p.trim_start_matches([':', '?']).parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => continue,
                }
            };
            out.insert((line, column), idx);
        }
    }
    out
}

impl<'a> Names<'a> {
    /// Binding position of a placeholder expression.
    pub fn param_index(&self, loc: Location) -> Option<usize> {
        self.params.get(&(loc.line, loc.column)).copied()
    }

    /// The text a bound `IDENTIFIER(?)` or literal `IDENTIFIER('x')` names.
    fn identifier_arg(&self, args: &[FunctionArg]) -> Result<Vec<String>, SqlError> {
        let bad = |t: &str| SqlError::invalid_identifier(1, 0, t);
        let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))) = args.first() else {
            return Err(bad("IDENTIFIER"));
        };
        let text = match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            Value::Placeholder(_) => {
                let idx = self.param_index(v.span.start).ok_or_else(|| bad("?"))?;
                match self.binds.get(&idx).map(|b| &b.value) {
                    Some(rusqlite::types::Value::Text(s)) => s.clone(),
                    Some(_) => return Err(bad("?")),
                    None => return Err(missing_bind(v.span.start)),
                }
            }
            _ => return Err(bad("IDENTIFIER")),
        };
        parse_dotted(&text).ok_or_else(|| bad(&text))
    }

    /// Normalised parts of an object name (IDENTIFIER() expanded).
    pub fn parts(&self, name: &ObjectName) -> Result<Vec<String>, SqlError> {
        let mut out = Vec::new();
        for p in &name.0 {
            match p {
                ObjectNamePart::Identifier(id) => out.push(norm(id)),
                ObjectNamePart::Function(f) => out.extend(self.identifier_arg(&f.args)?),
            }
        }
        Ok(out)
    }

    /// Completes parts with the session database/schema: `(db, schema, object)`.
    pub fn qualify(&self, parts: &[String]) -> Result<(String, String, String), SqlError> {
        let db = || {
            self.ctx.database.clone().ok_or_else(|| {
                SqlError::new(
                    "090105",
                    "22000",
                    "Cannot perform SELECT. This session does not have a current database. Call 'USE DATABASE', or use a qualified name.",
                )
            })
        };
        match parts {
            [t] => {
                let schema = self.ctx.schema.clone().ok_or_else(|| {
                    SqlError::new(
                        "090106",
                        "22000",
                        "Cannot perform SELECT. This session does not have a current schema. Call 'USE SCHEMA', or use a qualified name.",
                    )
                })?;
                Ok((db()?, schema, t.clone()))
            }
            [s, t] => Ok((db()?, s.clone(), t.clone())),
            [d, s, t] => Ok((d.clone(), s.clone(), t.clone())),
            _ => Err(SqlError::invalid_identifier(1, 0, &parts.join("."))),
        }
    }

    /// Resolves a table name or fails with `002003`.
    pub fn table(&self, name: &ObjectName) -> Result<&'a Table, SqlError> {
        let (d, s, t) = self.qualify(&self.parts(name)?)?;
        self.catalog
            .table(&d, &s, &t)
            .ok_or_else(|| SqlError::does_not_exist("Object", &format!("{d}.{s}.{t}")))
    }
}

/// Snowflake's error for a placeholder without a binding.
pub fn missing_bind(loc: Location) -> SqlError {
    SqlError::new(
        "002049",
        "42601",
        format!(
            "SQL compilation error: error line {} at position {}\nBind variable ? not set.",
            loc.line.max(1),
            loc.column.saturating_sub(1)
        ),
    )
}
