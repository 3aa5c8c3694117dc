//! A small tokenizer and cursor for the account-administration statements, with Snowflake's
//! lexical rules: unquoted identifiers and keywords are case-insensitive (identifiers are stored
//! upper case), `"quoted"` identifiers are exact with `""` for a quote, string literals use `'…'`
//! with `''` (and backslash escapes), `--`/`//` line comments and `/* */` block comments are
//! skipped. Errors are Snowflake's `001003` syntax error with line and position.

use super::super::engine::SqlError;

/// A token kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// Unquoted word (keyword or identifier), as written.
    Word(String),
    /// `"quoted identifier"`, unescaped.
    Quoted(String),
    /// `'string literal'`, unescaped.
    Str(String),
    /// Number literal.
    Num(String),
    /// Any other character (`=`, `(`, `)`, `,`, `.`, …).
    Sym(char),
}

/// A token with its byte span in the statement.
#[derive(Debug, Clone)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Splits `sql` into tokens; `None` for an unterminated string, identifier or comment (the
/// engine then reports the statement's syntax error).
pub fn lex(sql: &str) -> Option<Vec<Token>> {
    let chars: Vec<(usize, char)> = sql.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let pos = |i: usize| chars.get(i).map_or(sql.len(), |&(b, _)| b);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let start = i;
        if c.is_whitespace() || c == ';' {
            i += 1;
            continue;
        }
        if (c == '-' && at(i + 1) == Some('-')) || (c == '/' && at(i + 1) == Some('/')) {
            while at(i).is_some_and(|c| c != '\n') {
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == Some('*') {
            i += 2;
            loop {
                match at(i) {
                    None => return None,
                    Some('*') if at(i + 1) == Some('/') => break,
                    Some(_) => i += 1,
                }
            }
            i += 2;
            continue;
        }
        let tok = if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match at(i)? {
                    q if q == c && at(i + 1) == Some(c) => {
                        text.push(c);
                        i += 2;
                    }
                    q if q == c => break,
                    '\\' if c == '\'' => {
                        let escaped = at(i + 1)?;
                        text.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            '0' => '\0',
                            other => other,
                        });
                        i += 2;
                    }
                    other => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            i += 1;
            if c == '\'' {
                Tok::Str(text)
            } else {
                Tok::Quoted(text)
            }
        } else if c.is_ascii_digit() {
            while at(i).is_some_and(|c| c.is_ascii_digit() || c == '.') {
                i += 1;
            }
            Tok::Num(sql[pos(start)..pos(i)].to_owned())
        } else if is_word_char(c) {
            while at(i).is_some_and(is_word_char) {
                i += 1;
            }
            Tok::Word(sql[pos(start)..pos(i)].to_owned())
        } else {
            i += 1;
            Tok::Sym(c)
        };
        out.push(Token {
            tok,
            start: pos(start),
            end: pos(i),
        });
    }
    Some(out)
}

/// A cursor over the tokens of one statement.
pub struct Parser<'a> {
    sql: &'a str,
    toks: Vec<Token>,
    i: usize,
}

impl<'a> Parser<'a> {
    /// A cursor at the first token.
    pub fn new(sql: &'a str, toks: Vec<Token>) -> Self {
        Self { sql, toks, i: 0 }
    }

    /// The token under the cursor.
    pub fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    /// The statement text between two byte offsets.
    pub fn text(&self, start: usize, end: usize) -> &'a str {
        self.sql.get(start..end).unwrap_or("")
    }

    /// Whether the token at `offset` from the cursor is the keyword `w`.
    pub fn is_kw_at(&self, offset: usize, w: &str) -> bool {
        matches!(self.toks.get(self.i + offset), Some(Token { tok: Tok::Word(x), .. }) if x.eq_ignore_ascii_case(w))
    }

    /// Consumes the keyword `w` if it is next.
    pub fn kw(&mut self, w: &str) -> bool {
        let hit = self.is_kw_at(0, w);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// Consumes the keywords `ws` if they are all next, in order.
    pub fn kws(&mut self, ws: &[&str]) -> bool {
        let hit = ws.iter().enumerate().all(|(k, w)| self.is_kw_at(k, w));
        if hit {
            self.i += ws.len();
        }
        hit
    }

    /// Requires the keyword `w`.
    pub fn expect(&mut self, w: &str) -> Result<(), SqlError> {
        if self.kw(w) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Consumes the symbol `c` if it is next.
    pub fn sym(&mut self, c: char) -> bool {
        let hit = matches!(self.peek(), Some(Token { tok: Tok::Sym(x), .. }) if *x == c);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// Requires the symbol `c`.
    pub fn expect_sym(&mut self, c: char) -> Result<(), SqlError> {
        if self.sym(c) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// An identifier: unquoted → upper case, quoted → exact.
    pub fn ident(&mut self) -> Result<String, SqlError> {
        let out = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) => w.to_uppercase(),
            Some(Tok::Quoted(q)) if !q.is_empty() => q.clone(),
            _ => return Err(self.error()),
        };
        self.i += 1;
        Ok(out)
    }

    /// A possibly qualified name (`db.schema.name`); returns its parts.
    pub fn dotted(&mut self) -> Result<Vec<String>, SqlError> {
        let mut parts = vec![self.ident()?];
        while self.sym('.') {
            parts.push(self.ident()?);
        }
        Ok(parts)
    }

    /// A bare word (property name), upper-cased.
    pub fn word(&mut self) -> Result<String, SqlError> {
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) => {
                let w = w.to_ascii_uppercase();
                self.i += 1;
                Ok(w)
            }
            _ => Err(self.error()),
        }
    }

    /// A string literal.
    pub fn string(&mut self) -> Result<String, SqlError> {
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.i += 1;
                Ok(s)
            }
            _ => Err(self.error()),
        }
    }

    /// A name given as an identifier or as a string literal (taken exactly).
    pub fn name_or_string(&mut self) -> Result<String, SqlError> {
        if let Some(Tok::Str(_)) = self.peek().map(|t| &t.tok) {
            return self.string();
        }
        Ok(self.dotted()?.join("."))
    }

    /// `TRUE`/`FALSE` (also quoted).
    pub fn boolean(&mut self) -> Result<bool, SqlError> {
        let text = match self.peek().map(|t| &t.tok) {
            Some(Tok::Word(w)) | Some(Tok::Str(w)) => w.to_ascii_uppercase(),
            _ => return Err(self.error()),
        };
        let value = match text.as_str() {
            "TRUE" => true,
            "FALSE" => false,
            _ => return Err(self.error()),
        };
        self.i += 1;
        Ok(value)
    }

    /// A non-negative integer literal.
    pub fn number(&mut self) -> Result<u64, SqlError> {
        let n = match self.peek().map(|t| &t.tok) {
            Some(Tok::Num(n)) => n.parse::<u64>().map_err(|_| self.error())?,
            _ => return Err(self.error()),
        };
        self.i += 1;
        Ok(n)
    }

    /// `( 'a', 'b' )` (identifiers are accepted too, upper-cased); `()` is an empty list.
    pub fn list(&mut self) -> Result<Vec<String>, SqlError> {
        self.expect_sym('(')?;
        let mut out = Vec::new();
        if self.sym(')') {
            return Ok(out);
        }
        loop {
            out.push(self.name_or_string()?);
            if self.sym(')') {
                return Ok(out);
            }
            self.expect_sym(',')?;
        }
    }

    /// Skips a value this module accepts but does not model (a literal, word or balanced list).
    pub fn skip_value(&mut self) -> Result<(), SqlError> {
        let mut depth = 0usize;
        loop {
            let tok = self
                .peek()
                .map(|t| t.tok.clone())
                .ok_or_else(|| self.error())?;
            self.i += 1;
            match tok {
                Tok::Sym('(') => depth += 1,
                Tok::Sym(')') if depth > 0 => depth -= 1,
                Tok::Sym(')') => return Err(self.error()),
                _ => {}
            }
            if depth == 0 {
                return Ok(());
            }
        }
    }

    /// Whether every token was consumed.
    pub fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    /// Requires the end of the statement.
    pub fn end(&self) -> Result<(), SqlError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Snowflake's syntax error at the cursor.
    pub fn error(&self) -> SqlError {
        let (offset, what) = match self.peek() {
            Some(t) => (t.start, self.text(t.start, t.end).to_owned()),
            None => (self.sql.len(), "<EOF>".to_owned()),
        };
        let before = self.text(0, offset);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
        SqlError {
            code: "001003".into(),
            sql_state: "42000".into(),
            message: format!(
                "SQL compilation error:\nsyntax error line {line} at position {column} unexpected '{what}'."
            ),
        }
    }
}

/// The first keyword of `sql` after whitespace and comments, as written; `None` when it does
/// not start with a word. Cheap (no allocation): it is on every statement's path.
pub fn first_word(sql: &str) -> Option<&str> {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--").or_else(|| rest.strip_prefix("//")) {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map(|(_, after)| after)?;
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_strings_and_comments_follow_snowflake_rules() {
        let sql = "-- hi\nALTER user \"Mixed\"\"Q\" SET x = 'it''s' /* c */ , y=42;";
        let toks = lex(sql).unwrap();
        let mut p = Parser::new(sql, toks);
        assert!(p.kws(&["ALTER", "USER"]));
        assert_eq!(p.ident().unwrap(), "Mixed\"Q");
        assert!(p.kw("set"));
        assert_eq!(p.word().unwrap(), "X");
        assert!(p.sym('='));
        assert_eq!(p.string().unwrap(), "it's");
        assert!(p.sym(','));
        assert_eq!(p.ident().unwrap(), "Y");
        assert!(p.sym('='));
        assert_eq!(p.number().unwrap(), 42);
        assert!(p.at_end());
        assert_eq!(first_word(sql), Some("ALTER"));
        assert_eq!(first_word("  /* x */ select 1"), Some("select"));
    }

    #[test]
    fn unterminated_input_is_not_lexed_and_errors_name_the_position() {
        assert!(lex("ALTER USER x SET RSA_PUBLIC_KEY = 'abc").is_none());
        let sql = "ALTER USER\n x FOO";
        let mut p = Parser::new(sql, lex(sql).unwrap());
        p.kws(&["ALTER", "USER"]);
        p.ident().unwrap();
        let e = p.expect("SET").unwrap_err();
        assert_eq!(e.code, "001003");
        assert!(
            e.message.contains("line 2 at position 3 unexpected 'FOO'"),
            "{}",
            e.message
        );
    }
}
