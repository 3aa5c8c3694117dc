//! Placeholder kinds: how a value is checked and how it is written into SQL.
//!
//! Invariants (each kind's output is closed under the lexical context it may appear in):
//! - `ident` is always a double-quoted identifier with `"` doubled, and never holds a control
//!   character, so it cannot end its quotes, a line, or the statement;
//! - `string` is always a single-quoted literal with `\` and `'` escaped (SQ-3) and newline, CR
//!   and tab written as `\n`, `\r`, `\t`; other control characters are refused;
//! - `name`, `host`, `tag`, `number`, `enum` and `bool` output only `[A-Za-z0-9_.-]` (no `$`,
//!   quote, `;`, `/`, `*` or whitespace), so they are safe bare, inside a string literal and
//!   inside a `$$` block;
//! - `url` outputs only RFC 3986 characters minus `'`, `"`, `\`, `$`, `` ` `` and whitespace; bare
//!   it is written as a string literal (a URL holds `//`, a Snowflake comment opener).

use std::fmt;

/// Where a placeholder sits in a template (decides which kinds may appear there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Plain SQL.
    Code,
    /// Inside a `'…'` literal written in the template.
    Literal,
    /// Inside a `$$ … $$` block.
    Dollar,
}

/// How a placeholder is written: `{{x}}`, `{{x:literal}}` or `{{x:lower}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The kind's own rendering.
    Plain,
    /// An identifier's resolved name as a string literal (e.g. for `LIKE` or `SYSTEM$…('…')`).
    Literal,
    /// A `name` in lower case (image paths).
    Lower,
}

/// The type of a template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Any object name, written double-quoted.
    Ident,
    /// An unquoted identifier `[A-Za-z_][A-Za-z0-9_]*`, written upper case (for objects whose
    /// names Snowflake does not accept quoted, e.g. Snowpark Container Services).
    Name,
    /// A string literal.
    Str,
    /// An absolute `http(s)://` URL.
    Url,
    /// A DNS host name.
    Host,
    /// An image tag `[A-Za-z0-9][A-Za-z0-9._-]*`.
    Tag,
    /// A whole number within `min..=max`.
    Number {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// One of fixed words (case-insensitive input, written as declared).
    Enum(Vec<String>),
    /// `TRUE` or `FALSE`.
    Bool,
    /// A comma-separated list of `string`, `url`, `name` or `ident`, written `(a, b)`.
    List(Box<Kind>),
}

/// Snowflake's reserved keywords: refused as `name` values, since bare they would not parse.
const RESERVED: &[&str] = &[
    "ACCOUNT",
    "ALL",
    "ALTER",
    "AND",
    "ANY",
    "AS",
    "ASOF",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CHECK",
    "COLUMN",
    "CONNECT",
    "CONNECTION",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "DATABASE",
    "DELETE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "EXISTS",
    "FALSE",
    "FOLLOWING",
    "FOR",
    "FROM",
    "FULL",
    "GRANT",
    "GROUP",
    "GSCLUSTER",
    "HAVING",
    "ILIKE",
    "IN",
    "INCREMENT",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "ISSUE",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "MATCH_CONDITION",
    "MINUS",
    "NATURAL",
    "NOT",
    "NULL",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "ORGANIZATION",
    "QUALIFY",
    "REGEXP",
    "REVOKE",
    "RIGHT",
    "RLIKE",
    "ROW",
    "ROWS",
    "SAMPLE",
    "SCHEMA",
    "SELECT",
    "SET",
    "SOME",
    "START",
    "TABLE",
    "TABLESAMPLE",
    "THEN",
    "TO",
    "TRIGGER",
    "TRUE",
    "TRY_CAST",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHENEVER",
    "WHERE",
    "WITH",
];

const MAX_IDENT: usize = 255;
const MAX_STRING: usize = 16_384;
const MAX_URL: usize = 2_048;

impl Kind {
    /// Parses a kind as declared in a template (`ident`, `number(1..9)`, `list(url)`, …).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let inner = |prefix: &str| {
            spec.strip_prefix(prefix)
                .and_then(|s| s.strip_suffix(')'))
                .map(str::to_owned)
        };
        Ok(match spec {
            "ident" => Self::Ident,
            "name" => Self::Name,
            "string" => Self::Str,
            "url" => Self::Url,
            "host" => Self::Host,
            "tag" => Self::Tag,
            "bool" => Self::Bool,
            _ => {
                if let Some(range) = inner("number(") {
                    let (min, max) = range
                        .split_once("..")
                        .ok_or_else(|| format!("kind {spec:?}: expected number(MIN..MAX)"))?;
                    let num = |s: &str| {
                        s.parse::<u64>()
                            .map_err(|_| format!("kind {spec:?}: {s:?} is not a number"))
                    };
                    Self::Number {
                        min: num(min)?,
                        max: num(max)?,
                    }
                } else if let Some(words) = inner("enum(") {
                    let words: Vec<String> = words.split('|').map(str::to_owned).collect();
                    if words.iter().any(|w| {
                        w.is_empty() || !w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    }) {
                        return Err(format!("kind {spec:?}: enum words are [A-Za-z0-9_]+"));
                    }
                    Self::Enum(words)
                } else if let Some(element) = inner("list(") {
                    let element = Self::parse(&element)?;
                    if !matches!(element, Self::Str | Self::Url | Self::Name | Self::Ident) {
                        return Err(format!(
                            "kind {spec:?}: lists hold string, url, name or ident"
                        ));
                    }
                    Self::List(Box::new(element))
                } else {
                    return Err(format!("unknown kind {spec:?}"));
                }
            }
        })
    }

    /// Whether `{{x:form}}` of this kind may sit in `context`.
    pub fn allowed(&self, context: Context, form: Form) -> bool {
        match form {
            Form::Literal => matches!(self, Self::Ident | Self::Name) && context == Context::Code,
            Form::Lower => matches!(self, Self::Name),
            Form::Plain => match context {
                Context::Code => !matches!(self, Self::Host | Self::Tag),
                Context::Literal | Context::Dollar => {
                    !matches!(self, Self::Ident | Self::Str | Self::List(_))
                }
            },
        }
    }

    /// Checks `raw` and returns its canonical value (what is rendered, before quoting).
    pub fn check(&self, raw: &str) -> Result<String, String> {
        match self {
            Self::Ident => resolve_ident(raw),
            Self::Name => check_name(raw),
            Self::Str => check_string(raw),
            Self::Url => check_url(raw),
            Self::Host => check_host(raw),
            Self::Tag => check_tag(raw),
            Self::Number { min, max } => {
                let n: u64 = raw
                    .trim()
                    .parse()
                    .map_err(|_| format!("{raw:?} is not a whole number"))?;
                if n < *min || n > *max {
                    return Err(format!("{n} is outside {min}..={max}"));
                }
                Ok(n.to_string())
            }
            Self::Enum(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(raw.trim()))
                .cloned()
                .ok_or_else(|| format!("{raw:?} is not one of {}", words.join(", "))),
            Self::Bool => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok("TRUE".to_owned()),
                "false" | "no" | "off" | "0" => Ok("FALSE".to_owned()),
                _ => Err(format!("{raw:?} is not true or false")),
            },
            Self::List(element) => {
                let items: Vec<&str> = raw
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                if items.is_empty() {
                    return Err("the list is empty".to_owned());
                }
                let checked: Result<Vec<String>, String> =
                    items.iter().map(|i| element.check(i)).collect();
                // Elements are re-split by `render`; none of them can hold a NUL.
                Ok(checked?.join("\0"))
            }
        }
    }

    /// Writes a value returned by [`Kind::check`] in `form`.
    pub fn render(&self, value: &str, form: Form) -> String {
        match (self, form) {
            (Self::Ident | Self::Name, Form::Literal) => quote_literal(value),
            (Self::Name, Form::Lower) => value.to_ascii_lowercase(),
            (_, Form::Lower | Form::Literal) => value.to_owned(),
            (Self::Ident, Form::Plain) => quote_ident(value),
            (Self::Str, Form::Plain) => quote_literal(value),
            (Self::List(element), Form::Plain) => {
                let items: Vec<String> = value
                    .split('\0')
                    .map(|v| element.render_in_code(v))
                    .collect();
                format!("({})", items.join(", "))
            }
            (_, Form::Plain) => value.to_owned(),
        }
    }

    /// The rendering of an element in plain SQL (`url` becomes a literal there).
    fn render_in_code(&self, value: &str) -> String {
        match self {
            Self::Url => quote_literal(value),
            other => other.render(value, Form::Plain),
        }
    }

    /// Like [`Kind::render`], aware that a bare URL is written as a literal.
    pub fn render_at(&self, value: &str, form: Form, context: Context) -> String {
        if context == Context::Code && form == Form::Plain {
            self.render_in_code(value)
        } else {
            self.render(value, form)
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ident => f.write_str("ident"),
            Self::Name => f.write_str("name"),
            Self::Str => f.write_str("string"),
            Self::Url => f.write_str("url"),
            Self::Host => f.write_str("host"),
            Self::Tag => f.write_str("tag"),
            Self::Bool => f.write_str("bool"),
            Self::Number { min, max } => write!(f, "number({min}..{max})"),
            Self::Enum(words) => write!(f, "enum({})", words.join("|")),
            Self::List(element) => write!(f, "list({element})"),
        }
    }
}

/// `"name"` with embedded quotes doubled (Snowflake's quoted identifier).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with `\` and `'` escaped and newline, CR, tab as escape sequences (SQ-3).
pub fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn is_unquoted_ident(s: &str, allow_dollar: bool) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || (allow_dollar && b == b'$'))
}

/// Snowflake's identifier rules applied to input: `"exact"` (with `""` for a quote) is taken
/// as written; a valid unquoted identifier is folded to upper case as Snowflake folds it;
/// anything else is the exact name. The result is 1-255 characters without control characters.
fn resolve_ident(raw: &str) -> Result<String, String> {
    let name = if let Some(inner) = raw
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|s| !s.replace("\"\"", "").contains('"'))
    {
        inner.replace("\"\"", "\"")
    } else if is_unquoted_ident(raw, true) {
        raw.to_uppercase()
    } else {
        raw.to_owned()
    };
    if name.is_empty() || name.chars().count() > MAX_IDENT {
        return Err("an identifier has 1 to 255 characters".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("an identifier cannot hold control characters (newline, tab, NUL…)".to_owned());
    }
    Ok(name)
}

fn check_name(raw: &str) -> Result<String, String> {
    let upper = raw.trim().to_ascii_uppercase();
    if upper.len() > MAX_IDENT || !is_unquoted_ident(&upper, false) {
        return Err(format!(
            "{raw:?} must be an unquoted identifier: a letter or _, then letters, digits or _"
        ));
    }
    if RESERVED.contains(&upper.as_str()) {
        return Err(format!("{upper} is a reserved word in Snowflake"));
    }
    Ok(upper)
}

fn check_string(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_STRING {
        return Err(format!("a string has at most {MAX_STRING} bytes"));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!(
            "control character U+{:04X} is not allowed in a string",
            c as u32
        ));
    }
    Ok(raw.to_owned())
}

fn check_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!&()*+,;=%".contains(&b);
    if raw.len() > MAX_URL || !raw.bytes().all(safe) {
        return Err(format!(
            "{raw:?} is not a plain URL (no spaces, quotes, backslashes or $; percent-encode them)"
        ));
    }
    let parsed = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(format!("{raw:?} must be an absolute http(s) URL"));
    }
    Ok(raw.to_owned())
}

fn check_host(raw: &str) -> Result<String, String> {
    let host = raw.trim().to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(format!("{raw:?} is not a host name"));
    }
    Ok(host)
}

fn check_tag(raw: &str) -> Result<String, String> {
    let tag = raw.trim();
    let mut bytes = tag.bytes();
    let ok = tag.len() <= 128
        && matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(format!(
            "{raw:?} is not an image tag ([A-Za-z0-9._-], 128 at most)"
        ));
    }
    Ok(tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_fold_like_snowflake_and_quote_everything() {
        let k = Kind::Ident;
        let render = |raw: &str| k.check(raw).map(|v| k.render(&v, Form::Plain));
        assert_eq!(render("analyst").unwrap(), "\"ANALYST\"");
        assert_eq!(render("\"analyst\"").unwrap(), "\"analyst\"");
        assert_eq!(render("\"a\"\"b\"").unwrap(), "\"a\"\"b\"");
        assert_eq!(render("a\"b").unwrap(), "\"a\"\"b\"");
        assert_eq!(render("my user").unwrap(), "\"my user\"");
        assert_eq!(render("jsmith@corp.com").unwrap(), "\"jsmith@corp.com\"");
        for bad in ["", "a\nb", "a\0b", &"x".repeat(256)] {
            assert!(k.check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn literals_escape_quotes_backslashes_and_line_breaks() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("\\'"), "'\\\\'''");
        assert_eq!(quote_literal("a\nb\tc"), "'a\\nb\\tc'");
        assert!(Kind::Str.check("a\u{7}b").is_err());
        assert!(Kind::Str.check("a\0b").is_err());
        assert_eq!(Kind::Str.check("日本 $$ ; --").unwrap(), "日本 $$ ; --");
    }

    #[test]
    fn bare_kinds_refuse_anything_that_could_change_the_syntax() {
        for bad in ["a$b", "a b", "a;b", "select", "1abc", "a-b", "\"A\""] {
            assert!(Kind::Name.check(bad).is_err(), "name {bad:?}");
        }
        assert_eq!(Kind::Name.check("icebroker_db").unwrap(), "ICEBROKER_DB");
        for bad in ["a b.com", "a'.com", "-a.com", "a..b", "a.com:443"] {
            assert!(Kind::Host.check(bad).is_err(), "host {bad:?}");
        }
        for bad in [
            "https://a.com/'",
            "https://a.com/$$",
            "https://a b",
            "ftp://a",
            "a.com",
        ] {
            assert!(Kind::Url.check(bad).is_err(), "url {bad:?}");
        }
        assert!(Kind::Tag.check("1.2.3-rc1").is_ok());
        assert!(Kind::Tag.check("latest;drop").is_err());
    }

    #[test]
    fn numbers_enums_bools_and_lists() {
        let n = Kind::parse("number(86400..7776000)").unwrap();
        assert_eq!(n.check("86400").unwrap(), "86400");
        assert!(n.check("86399").is_err());
        assert!(n.check("1;").is_err());
        let e = Kind::parse("enum(RSA_PUBLIC_KEY|RSA_PUBLIC_KEY_2)").unwrap();
        assert_eq!(e.check("rsa_public_key_2").unwrap(), "RSA_PUBLIC_KEY_2");
        assert!(e.check("PASSWORD").is_err());
        assert_eq!(Kind::Bool.check("yes").unwrap(), "TRUE");
        let l = Kind::parse("list(url)").unwrap();
        let v = l.check("https://a.com/x, https://b.com").unwrap();
        assert_eq!(
            l.render_at(&v, Form::Plain, Context::Code),
            "('https://a.com/x', 'https://b.com')"
        );
        let roles = Kind::parse("list(string)").unwrap();
        let v = roles.check("ACCOUNTADMIN,it's").unwrap();
        assert_eq!(roles.render(&v, Form::Plain), "('ACCOUNTADMIN', 'it''s')");
        assert!(Kind::parse("list(bool)").is_err());
        assert!(Kind::parse("enum(a b)").is_err());
        assert_eq!(Kind::parse("list(url)").unwrap().to_string(), "list(url)");
    }

    #[test]
    fn kinds_are_only_allowed_where_their_output_is_inert() {
        assert!(!Kind::Str.allowed(Context::Dollar, Form::Plain));
        assert!(!Kind::Ident.allowed(Context::Literal, Form::Plain));
        assert!(Kind::Url.allowed(Context::Dollar, Form::Plain));
        assert!(!Kind::Host.allowed(Context::Code, Form::Plain));
        assert!(Kind::Name.allowed(Context::Dollar, Form::Lower));
        assert!(!Kind::Str.allowed(Context::Code, Form::Lower));
        assert!(Kind::Ident.allowed(Context::Code, Form::Literal));
    }
}
