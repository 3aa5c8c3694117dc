//! Constructors for the Snowflake errors the engine reports. Codes, SQLSTATEs and message texts
//! follow Snowflake's (PROTOCOL.md A.4): the HTTP layer copies them into 422 bodies verbatim.

use super::SqlError;

impl SqlError {
    /// Builds an error from its three parts.
    pub fn new(code: &str, sql_state: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            sql_state: sql_state.to_owned(),
            message: message.into(),
        }
    }

    /// `001003` syntax error at a 1-based line and 0-based position.
    pub fn syntax(line: u64, pos: u64, unexpected: &str) -> Self {
        Self::new(
            "001003",
            "42000",
            format!(
                "SQL compilation error:\nsyntax error line {line} at position {pos} unexpected '{unexpected}'."
            ),
        )
    }

    /// `000904` invalid identifier.
    pub fn invalid_identifier(line: u64, pos: u64, name: &str) -> Self {
        Self::new(
            "000904",
            "42000",
            format!("SQL compilation error: error line {line} at position {pos}\ninvalid identifier '{name}'"),
        )
    }

    /// `002003` missing (or not authorized) object; `kind` is e.g. `Object`, `Database`, `Schema`.
    pub fn does_not_exist(kind: &str, name: &str) -> Self {
        Self::new(
            "002003",
            "42S02",
            format!("SQL compilation error:\n{kind} '{name}' does not exist or not authorized."),
        )
    }

    /// `002002` object already exists.
    pub fn already_exists(name: &str) -> Self {
        Self::new(
            "002002",
            "42710",
            format!("SQL compilation error:\nObject '{name}' already exists."),
        )
    }

    /// `100051` division by zero.
    pub fn division_by_zero() -> Self {
        Self::new("100051", "22012", "Division by zero")
    }

    /// `000604` the statement was cancelled (by the caller or a timeout).
    pub fn cancelled() -> Self {
        Self::new("000604", "57014", "SQL execution canceled")
    }

    /// `100037` a bind value that does not parse as its declared type.
    pub fn bad_bind(kind: &str, value: &str) -> Self {
        Self::new(
            "100037",
            "22018",
            format!("{kind} value '{value}' is not recognized"),
        )
    }

    /// `002049` unsupported feature / statement.
    pub fn unsupported(what: &str) -> Self {
        Self::new(
            "002049",
            "0A000",
            format!("SQL compilation error: Unsupported feature '{what}'."),
        )
    }

    /// `100038`/`22018`-style numeric/date conversion failures at run time.
    pub fn not_recognized(kind: &str, value: &str) -> Self {
        Self::new(
            "100040",
            "22007",
            format!("{kind} '{value}' is not recognized"),
        )
    }

    /// An engine-internal failure; details stay out of the message (STYLE.md §4).
    pub fn internal(context: &str) -> Self {
        Self::new(
            "000603",
            "XX000",
            format!(
                "SQL execution internal error: Processing aborted due to error 300002:{context}."
            ),
        )
    }
}
