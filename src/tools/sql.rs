//! Safe SQL for the metadata tools (SECURITY.md §6).
//!
//! Invariants:
//! - SQ-1: INFORMATION_SCHEMA statements are fixed texts chosen by which filters are present;
//!   every user value is a bind variable, the view is named by `IDENTIFIER(?)` with the database
//!   quoted per SQ-2 inside the bound string. The only non-constant text is the `LIMIT`, a
//!   validated integer in 1..=10,000.
//! - SQ-2: identifiers that must be spliced (SHOW cannot be bound) go through [`quote_ident`]
//!   after [`check_name`]: never empty, ≤ 255 characters, no control characters.
//! - SQ-3: string literals (SHOW … LIKE) go through [`quote_literal`]: `\` and `'` escaped.
//! - SQ-4: no generated statement contains a `;` outside a quoted part, and tools never set
//!   `MULTI_STATEMENT_COUNT`.

use super::input_error;
use crate::error::AppError;

/// Snowflake's limit on identifier length.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest LIKE pattern a tool accepts.
pub const MAX_PATTERN_CHARS: usize = 1024;
/// Default and bounds of `limit`.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest `limit`.
pub const MAX_LIMIT: u32 = 10_000;

/// Checks a name: not empty, at most 255 characters, no control characters.
pub fn check_name(field: &str, name: &str) -> Result<(), AppError> {
    if name.is_empty() {
        return Err(input_error(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(input_error(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(input_error(field, "must not contain control characters"));
    }
    Ok(())
}

/// Checks a LIKE pattern: at most 1024 characters, no control characters (may be empty).
pub fn check_pattern(field: &str, pattern: &str) -> Result<(), AppError> {
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(input_error(
            field,
            format!("must be at most {MAX_PATTERN_CHARS} characters"),
        ));
    }
    if pattern.chars().any(char::is_control) {
        return Err(input_error(field, "must not contain control characters"));
    }
    Ok(())
}

/// The `limit` to use: default 100, refused outside 1..=10,000.
pub fn limit(value: Option<u32>) -> Result<u32, AppError> {
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(input_error(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// `"name"` with embedded `"` doubled (SQ-2). Call [`check_name`] first.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `'text'` with `\` → `\\` and `'` → `''` (SQ-3: Snowflake literals read backslash escapes,
/// so doubling quotes alone would let `\'` reopen the literal). Call [`check_pattern`] first.
pub fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Parses an object name in Snowflake identifier syntax (`db.schema."My Table"`): unquoted
/// parts are `[A-Za-z_][A-Za-z0-9_$]*` and resolve upper-cased, quoted parts keep their case
/// with `""` for a quote. Returns the parts as Snowflake holds them (1 to 3).
pub fn parse_object_name(field: &str, text: &str) -> Result<Vec<String>, AppError> {
    let bad = || {
        input_error(
            field,
            "must be an object name like DB.SCHEMA.TABLE (double-quote parts with other \
             characters: \"My Table\")",
        )
    };
    let mut parts = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().ok_or_else(bad)? {
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
                let ok = if part.is_empty() {
                    c.is_ascii_alphabetic() || c == '_'
                } else {
                    c.is_ascii_alphanumeric() || c == '_' || c == '$'
                };
                if !ok {
                    break;
                }
                part.push(c.to_ascii_uppercase());
                chars.next();
            }
        }
        check_name(field, &part).map_err(|_| bad())?;
        parts.push(part);
        match chars.next() {
            None if parts.len() <= 3 => return Ok(parts),
            Some('.') if parts.len() < 3 => {}
            _ => return Err(bad()),
        }
    }
}

/// Parts quoted and joined with `.`.
pub fn quote_path(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// The bound text naming `"<database>".INFORMATION_SCHEMA.<view>` for `IDENTIFIER(?)`.
pub fn info_schema_view(database: &str, view: &str) -> String {
    format!("{}.INFORMATION_SCHEMA.{view}", quote_ident(database))
}

/// One INFORMATION_SCHEMA query: fixed text plus TEXT bindings in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundQuery {
    /// The statement (no user bytes in it).
    pub statement: String,
    /// Values for the `?` placeholders, in order.
    pub bindings: Vec<String>,
}

/// Builds `SELECT <columns> FROM IDENTIFIER(?) [alias] [WHERE …] ORDER BY … LIMIT n`.
pub struct InfoQuery {
    select: &'static str,
    from: &'static str,
    conditions: Vec<&'static str>,
    bindings: Vec<String>,
    order_by: &'static str,
}

impl InfoQuery {
    /// `select` is the column list, `from` what follows `FROM` (with `IDENTIFIER(?)` in it);
    /// `view_bindings` are the bound view names of `from`, in order.
    pub fn new(select: &'static str, from: &'static str, view_bindings: Vec<String>) -> Self {
        Self {
            select,
            from,
            conditions: Vec::new(),
            bindings: view_bindings,
            order_by: "",
        }
    }

    /// Adds `condition` (one `?`) with `value` when the value is present.
    pub fn filter(mut self, condition: &'static str, value: Option<&str>) -> Self {
        if let Some(value) = value {
            self.conditions.push(condition);
            self.bindings.push(value.to_owned());
        }
        self
    }

    /// Sets the `ORDER BY` list.
    pub fn order_by(mut self, order_by: &'static str) -> Self {
        self.order_by = order_by;
        self
    }

    /// The statement with `LIMIT limit`.
    pub fn build(self, limit: u32) -> BoundQuery {
        let mut statement = format!("SELECT {} FROM {}", self.select, self.from);
        if !self.conditions.is_empty() {
            statement.push_str(" WHERE ");
            statement.push_str(&self.conditions.join(" AND "));
        }
        if !self.order_by.is_empty() {
            statement.push_str(" ORDER BY ");
            statement.push_str(self.order_by);
        }
        statement.push_str(&format!(" LIMIT {limit}"));
        BoundQuery {
            statement,
            bindings: self.bindings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_sq2_and_sq3_vectors() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("ORDERS"), "\"ORDERS\"");
        assert_eq!(quote_literal("\\'"), "'\\\\'''");
        assert_eq!(quote_literal("%' OR '1'='1"), "'%'' OR ''1''=''1'");
        assert_eq!(quote_literal("a_b"), "'a_b'");
    }

    #[test]
    fn names_are_checked_before_quoting() {
        for (bad, why) in [
            ("", "empty"),
            ("a\u{0}b", "NUL"),
            ("a\nb", "newline"),
            ("\u{7f}", "DEL"),
        ] {
            assert!(check_name("table", bad).is_err(), "{why}");
        }
        assert!(check_name("table", &"x".repeat(256)).is_err(), "too long");
        assert!(check_name("table", &"é".repeat(255)).is_ok(), "255 chars");
    }

    #[test]
    fn limit_defaults_to_100_and_is_bounded() {
        assert_eq!(limit(None).unwrap(), 100);
        assert_eq!(limit(Some(1)).unwrap(), 1);
        assert_eq!(limit(Some(10_000)).unwrap(), 10_000);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(10_001)).is_err());
    }

    #[test]
    fn object_names_parse_in_identifier_syntax() {
        assert_eq!(
            parse_object_name(
                "object_name",
                "snowflake_sample_data.tpch_sf1.\"My \"\"T\"\"\""
            )
            .unwrap(),
            ["SNOWFLAKE_SAMPLE_DATA", "TPCH_SF1", "My \"T\""]
        );
        assert_eq!(
            parse_object_name("object_name", "\"a.b\"").unwrap(),
            ["a.b"]
        );
        for bad in [
            "", "a..b", "a.b.c.d", "1abc", "a b", "\"open", "a;drop", "\"\"",
        ] {
            assert!(parse_object_name("object_name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn info_queries_keep_values_out_of_the_text() {
        let q = InfoQuery::new(
            "TABLE_NAME",
            "IDENTIFIER(?)",
            vec![info_schema_view("x\"; DROP", "TABLES")],
        )
        .filter("TABLE_SCHEMA = ?", Some("'; DROP TABLE t; --"))
        .filter("TABLE_NAME ILIKE ? ESCAPE '\\\\'", None)
        .order_by("TABLE_NAME")
        .build(7);
        assert_eq!(
            q.statement,
            "SELECT TABLE_NAME FROM IDENTIFIER(?) WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME LIMIT 7"
        );
        assert_eq!(
            q.bindings,
            [
                "\"x\"\"; DROP\".INFORMATION_SCHEMA.TABLES",
                "'; DROP TABLE t; --"
            ]
        );
    }
}
