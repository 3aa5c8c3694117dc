//! Parses one `sql/*.sql` template: the header comment (title, `When:`/`As:`/`Then:`, `@param`
//! declarations) and the body, which is cut into statements and text/placeholder segments by a
//! small Snowflake lexer.
//!
//! Invariants checked here, once, for every embedded template: every placeholder is declared
//! and every declaration is used; a placeholder never sits in a comment or a quoted identifier,
//! and sits in a string literal or a `$$` block only if its kind's output is inert there
//! ([`Kind::allowed`]); defaults pass their kind's check; the body ends outside any literal,
//! block or comment, and every statement ends with a top-level `;`.

use super::kind::{Context, Form, Kind};

/// One declared parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// Placeholder name.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Value used when none is given (`None`: required).
    pub default: Option<String>,
    /// One line of help.
    pub help: String,
}

/// A piece of a statement.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Template text, copied as is.
    Text(String),
    /// A placeholder: index into the params, how it is written, where it sits.
    Slot(usize, Form, Context),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    /// File stem, e.g. `keypair_set_public_key`.
    pub name: String,
    /// First header line.
    pub title: String,
    /// `When:` text.
    pub when: String,
    /// `As:` text.
    pub run_as: String,
    /// `Then:` text.
    pub then: String,
    /// The header as printed above the statements (without `@param` lines).
    pub header: String,
    /// Declared parameters, in order.
    pub params: Vec<Param>,
    /// The statements, each ending with `;`.
    pub statements: Vec<Vec<Segment>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Code,
    Single,
    Double,
    Dollar,
    LineComment,
    BlockComment,
}

impl Template {
    /// Parses `source` (the file's text) as template `name`.
    pub fn parse(name: &str, source: &str) -> Result<Self, String> {
        let lines: Vec<&str> = source.lines().collect();
        let header_len = lines.iter().take_while(|l| l.starts_with("--")).count();
        let mut header = Vec::new();
        let mut params = Vec::new();
        let mut fields: [(&str, String); 3] = [
            ("When:", String::new()),
            ("As:", String::new()),
            ("Then:", String::new()),
        ];
        let mut current: Option<usize> = None;
        for line in &lines[..header_len] {
            let text = line.trim_start_matches("--").trim();
            if let Some(decl) = text.strip_prefix("@param ") {
                params.push(parse_param(decl).map_err(|e| format!("{name}: {e}"))?);
                current = None;
                continue;
            }
            header.push(line.trim_end());
            if let Some(k) = fields.iter().position(|(key, _)| text.starts_with(key)) {
                fields[k].1 = text[fields[k].0.len()..].trim().to_owned();
                current = Some(k);
            } else if let (Some(k), false) = (current, text.is_empty()) {
                fields[k].1.push(' ');
                fields[k].1.push_str(text);
            } else {
                current = None;
            }
        }
        while header.last().is_some_and(|l| l.trim() == "--") {
            header.pop();
        }
        let title = header
            .first()
            .map(|l| l.trim_start_matches("--").trim().to_owned())
            .unwrap_or_default();
        let [(_, when), (_, run_as), (_, then)] = fields;
        if title.is_empty() || when.is_empty() || run_as.is_empty() || then.is_empty() {
            return Err(format!(
                "{name}: the header needs a title line and When:, As: and Then:"
            ));
        }
        for (i, p) in params.iter().enumerate() {
            if params[..i].iter().any(|q| q.name == p.name) {
                return Err(format!("{name}: parameter {} declared twice", p.name));
            }
        }
        let body = lines[header_len..].join("\n");
        let statements = lex_body(&body, &params).map_err(|e| format!("{name}: {e}"))?;
        if statements.is_empty() {
            return Err(format!("{name}: no statement"));
        }
        let used = |i: usize| {
            statements
                .iter()
                .flatten()
                .any(|s| matches!(s, Segment::Slot(j, _, _) if *j == i))
        };
        if let Some(p) = params.iter().enumerate().find(|(i, _)| !used(*i)) {
            return Err(format!("{name}: parameter {} is never used", p.1.name));
        }
        Ok(Self {
            name: name.to_owned(),
            title,
            when,
            run_as,
            then,
            header: header.join("\n"),
            params,
            statements,
        })
    }
}

fn parse_param(decl: &str) -> Result<Param, String> {
    let mut words = decl.split_whitespace();
    let name = words.next().unwrap_or_default().to_owned();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    {
        return Err(format!("@param name {name:?} must be [a-z0-9_]+"));
    }
    let kind =
        Kind::parse(words.next().unwrap_or_default()).map_err(|e| format!("@param {name}: {e}"))?;
    let mut rest: Vec<&str> = words.collect();
    let default = match rest.first().and_then(|w| w.strip_prefix("default=")) {
        Some(d) => {
            let d = d.to_owned();
            rest.remove(0);
            kind.check(&d)
                .map_err(|e| format!("@param {name}: default {d:?}: {e}"))?;
            Some(d)
        }
        None => None,
    };
    Ok(Param {
        name,
        kind,
        default,
        help: rest.join(" "),
    })
}

/// Cuts the body into statements of segments, tracking the lexical state of each placeholder.
fn lex_body(body: &str, params: &[Param]) -> Result<Vec<Vec<Segment>>, String> {
    let chars: Vec<char> = body.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut statements = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut text = String::new();
    let mut state = State::Code;
    let mut i = 0;
    while let Some(c) = at(i) {
        if c == '{' && at(i + 1) == Some('{') {
            let close = (i + 2..chars.len().saturating_sub(1))
                .find(|&j| chars[j] == '}' && chars[j + 1] == '}')
                .ok_or("unclosed {{")?;
            let inner: String = chars[i + 2..close].iter().collect();
            let (pname, form) = match inner.split_once(':') {
                None => (inner.as_str(), Form::Plain),
                Some((p, "literal")) => (p, Form::Literal),
                Some((p, "lower")) => (p, Form::Lower),
                Some((_, other)) => return Err(format!("unknown placeholder form {other:?}")),
            };
            let index = params
                .iter()
                .position(|p| p.name == pname)
                .ok_or_else(|| format!("placeholder {{{{{pname}}}}} is not declared by @param"))?;
            let context = match state {
                State::Code => Context::Code,
                State::Single => Context::Literal,
                State::Dollar => Context::Dollar,
                State::Double | State::LineComment | State::BlockComment => {
                    return Err(format!(
                        "placeholder {{{{{pname}}}}} sits in a comment or quoted identifier"
                    ))
                }
            };
            if !params[index].kind.allowed(context, form) {
                return Err(format!(
                    "placeholder {{{{{inner}}}}} ({}) is not allowed in {context:?} context",
                    params[index].kind
                ));
            }
            if !text.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut text)));
            }
            segments.push(Segment::Slot(index, form, context));
            i = close + 2;
            continue;
        }
        text.push(c);
        let next = at(i + 1);
        let mut step = 1;
        match state {
            State::Code => match (c, next) {
                ('\'', _) => state = State::Single,
                ('"', _) => state = State::Double,
                ('$', Some('$')) => {
                    state = State::Dollar;
                    text.push('$');
                    step = 2;
                }
                ('-', Some('-')) | ('/', Some('/')) => state = State::LineComment,
                ('/', Some('*')) => {
                    state = State::BlockComment;
                    text.push('*');
                    step = 2;
                }
                (';', _) => {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                    statements.push(trim_segments(std::mem::take(&mut segments)));
                }
                _ => {}
            },
            State::Single => match (c, next) {
                ('\\', Some(n)) | ('\'', Some(n @ '\'')) => {
                    text.push(n);
                    step = 2;
                }
                ('\'', _) => state = State::Code,
                _ => {}
            },
            State::Double => match (c, next) {
                ('"', Some('"')) => {
                    text.push('"');
                    step = 2;
                }
                ('"', _) => state = State::Code,
                _ => {}
            },
            State::Dollar => {
                if c == '$' && next == Some('$') {
                    text.push('$');
                    step = 2;
                    state = State::Code;
                }
            }
            State::LineComment => {
                if c == '\n' {
                    state = State::Code;
                }
            }
            State::BlockComment => {
                if c == '*' && next == Some('/') {
                    text.push('/');
                    step = 2;
                    state = State::Code;
                }
            }
        }
        i += step;
    }
    if state != State::Code && state != State::LineComment {
        return Err(format!("the body ends inside {state:?}"));
    }
    let trailing_code = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
    if trailing_code || !segments.is_empty() {
        return Err("text after the last `;`".to_owned());
    }
    Ok(statements)
}

/// Drops leading blank lines of a statement's first text segment.
fn trim_segments(mut segments: Vec<Segment>) -> Vec<Segment> {
    if let Some(Segment::Text(t)) = segments.first_mut() {
        *t = t.trim_start().to_owned();
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "-- Do a thing\n--\n-- When: now.\n-- As:   ACCOUNTADMIN.\n-- Then: look\n--       twice.\n--\n-- @param user ident The user.\n-- @param slot enum(A|B) default=A Which.\nALTER USER {{user}} SET {{slot}} = 'x''{{slot}}';\n-- second\nDESC USER {{user}};\n";

    #[test]
    fn header_params_and_statements_are_parsed() {
        let t = Template::parse("t", GOOD).unwrap();
        assert_eq!(t.title, "Do a thing");
        assert_eq!(t.when, "now.");
        assert_eq!(t.run_as, "ACCOUNTADMIN.");
        assert_eq!(t.then, "look twice.");
        assert!(!t.header.contains("@param"));
        assert_eq!(t.params.len(), 2);
        assert_eq!(t.params[1].default.as_deref(), Some("A"));
        assert_eq!(t.statements.len(), 2);
        assert!(matches!(
            t.statements[0][3],
            Segment::Slot(1, Form::Plain, Context::Code)
        ));
        assert!(matches!(
            t.statements[0][5],
            Segment::Slot(1, Form::Plain, Context::Literal)
        ));
    }

    #[test]
    fn template_mistakes_are_refused() {
        let head = "-- T\n-- When: w\n-- As: a\n-- Then: t\n";
        for (body, why) in [
            ("-- @param u ident x\nSELECT {{v}};", "not declared"),
            ("-- @param u ident x\nSELECT 1;", "never used"),
            ("-- @param u ident x\nSELECT '{{u}}';", "not allowed"),
            ("-- @param u string x\nSELECT $${{u}}$$;", "not allowed"),
            ("-- @param u name x\nSELECT 1 -- {{u}}\n;", "comment"),
            ("-- @param u name x\nSELECT \"{{u}}\";", "comment or quoted"),
            ("-- @param u name x\nSELECT {{u}}", "after the last"),
            ("-- @param u name x\nSELECT '{{u}};", "ends inside"),
            (
                "-- @param u number(1..2) default=3 x\nSELECT {{u}};",
                "default",
            ),
            ("-- @param u host x\nSELECT {{u}};", "not allowed"),
        ] {
            let err = Template::parse("t", &format!("{head}{body}")).unwrap_err();
            assert!(err.contains(why), "{body}: {err}");
        }
        assert!(Template::parse("t", "-- T\nSELECT 1;")
            .unwrap_err()
            .contains("When:"));
    }
}
