//! Every SQL template rendered with hostile values (quotes, backslashes, `$$`, newlines,
//! semicolons, comment openers, unicode) stays exactly the statements it was meant to be
//! (SQ-2/SQ-3): the text is tokenized with sqlparser's Snowflake dialect — Snowflake's rules
//! for literals, quoted identifiers, `$$` blocks and `--`, `//`, `/* */` comments — and
//! compared with a benign rendering: same statement count, one `;` per statement, the same
//! token shapes, and every hostile literal and identifier read back exactly as given.

use std::mem::discriminant;

use icebroker::sqltpl::{self, kind::Kind, ParamInfo, Values};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

const HOSTILE_STRING: &str =
    "it's \\' \\\\ $$ x $$ ; DROP TABLE t; -- c /* b */ // d \"q\" \n2nd line\r\n\ttab 日本語 🙂 '";
const HOSTILE_IDENT: &str = "x\"; DROP USER y; --'\\ $$ /* 日本 🙂 //";
const TRICKY_URL: &str = "https://h.example/a--b/*c*/d;e//f?x=1&y=(2)#frag";

fn kind(p: &ParamInfo) -> Kind {
    Kind::parse(&p.kind).unwrap()
}

/// A value of `kind`: benign, or as hostile as the kind accepts.
fn value(kind: &Kind, hostile: bool, n: usize) -> String {
    match kind {
        Kind::Ident if hostile => format!("{HOSTILE_IDENT}{n}"),
        Kind::Ident => format!("BENIGN_{n}"),
        Kind::Str if hostile => format!("{HOSTILE_STRING}{n}"),
        Kind::Str => format!("benign {n}"),
        Kind::Name => format!("BENIGN_{n}"),
        Kind::Url if hostile => format!("{TRICKY_URL}{n}"),
        Kind::Url => format!("https://benign.example/{n}"),
        Kind::Host => "acct-1.eu-west-1.snowflakecomputing.com".to_owned(),
        Kind::Tag => "1.2.3-rc.1".to_owned(),
        Kind::Number { min, max } => (if hostile { *max } else { *min }).to_string(),
        Kind::Enum(words) => (if hostile { words.last() } else { words.first() })
            .unwrap()
            .clone(),
        Kind::Bool => (if hostile { "FALSE" } else { "TRUE" }).to_owned(),
        // Elements have no commas; two of them exercise the separator.
        Kind::List(element) => format!(
            "{}, {}",
            value(element, hostile, n).replace(',', " "),
            value(element, hostile, n + 100).replace(',', " ")
        ),
    }
}

fn values_for(params: &[ParamInfo], hostile: bool) -> Values {
    let mut v = Values::new();
    for (n, p) in params.iter().enumerate() {
        v.set(p.name.as_str(), value(&kind(p), hostile, n));
    }
    v
}

fn tokens(sql: &str) -> Vec<Token> {
    Tokenizer::new(&SnowflakeDialect, sql)
        .with_unescape(true)
        .tokenize()
        .unwrap_or_else(|e| panic!("does not tokenize: {e}\n{sql}"))
        .into_iter()
        .filter(|t| {
            !matches!(
                t,
                Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
            )
        })
        .collect()
}

fn semicolons(tokens: &[Token]) -> usize {
    tokens.iter().filter(|t| **t == Token::SemiColon).count()
}

/// Literal and quoted-identifier contents, as Snowflake reads them.
fn contents(tokens: &[Token]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut literals, mut idents, mut dollars) = (vec![], vec![], vec![]);
    for t in tokens {
        match t {
            Token::SingleQuotedString(s) => literals.push(s.clone()),
            Token::Word(w) if w.quote_style == Some('"') => idents.push(w.value.clone()),
            Token::DollarQuotedString(d) => dollars.push(d.value.clone()),
            _ => {}
        }
    }
    (literals, idents, dollars)
}

#[test]
fn every_template_rendered_with_hostile_values_keeps_its_statements_and_values() {
    let templates = sqltpl::list();
    assert!(templates.len() >= 21, "{}", templates.len());
    for t in templates {
        let benign = sqltpl::render_parts(&t.name, &values_for(&t.params, false))
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        let hostile = sqltpl::render_parts(&t.name, &values_for(&t.params, true))
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(hostile.statements.len(), t.statements, "{}", t.name);

        // The whole paste text (header comment included) is exactly the intended statements.
        let all = tokens(&hostile.text());
        assert_eq!(
            semicolons(&all),
            t.statements,
            "{}:\n{}",
            t.name,
            hostile.text()
        );
        assert_eq!(all.last(), Some(&Token::SemiColon), "{}", t.name);

        for (b, h) in benign.statements.iter().zip(&hostile.statements) {
            let (bt, ht) = (tokens(b), tokens(h));
            assert_eq!(semicolons(&ht), 1, "{}: {h}", t.name);
            assert_eq!(ht.last(), Some(&Token::SemiColon), "{}: {h}", t.name);
            let shape = |ts: &[Token]| ts.iter().map(discriminant).collect::<Vec<_>>();
            assert_eq!(
                shape(&bt),
                shape(&ht),
                "{}: token shape changed:\n{b}\n{h}",
                t.name
            );
            // Where sqlparser knows the statement, the hostile one parses to one statement too.
            if Parser::parse_sql(&SnowflakeDialect, b).is_ok() {
                let parsed = Parser::parse_sql(&SnowflakeDialect, h)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{h}", t.name));
                assert_eq!(parsed.len(), 1, "{}: {h}", t.name);
            }
        }

        // Every hostile value reads back exactly, as a literal, an identifier or in the $$ block.
        let (literals, idents, dollars) = contents(&all);
        for (n, p) in t.params.iter().enumerate() {
            let k = kind(p);
            let given = value(&k, true, n);
            let expect: Vec<String> = match &k {
                Kind::List(_) => given.split(", ").map(str::to_owned).collect(),
                _ => vec![given.clone()],
            };
            let element = match &k {
                Kind::List(e) => (**e).clone(),
                other => other.clone(),
            };
            for want in expect {
                let found = match element {
                    Kind::Str => literals.contains(&want),
                    // `{{x:literal}}` writes an identifier's name as a string literal.
                    Kind::Ident => idents.contains(&want) || literals.contains(&want),
                    Kind::Url => {
                        literals.contains(&want) || dollars.iter().any(|d| d.contains(&want))
                    }
                    // `{{x:lower}}` writes a name in lower case (image paths).
                    _ => hostile.text().to_lowercase().contains(&want.to_lowercase()),
                };
                assert!(found, "{}: {} = {want:?} not read back", t.name, p.name);
            }
        }
    }
}

#[test]
fn values_a_kind_cannot_hold_safely_are_refused_with_sql_value_invalid() {
    let cases: &[(&str, &[&str])] = &[
        ("ident", &["a\nb", "a\0b", ""]),
        ("string", &["a\0b", "bell\u{7}"]),
        ("name", &["a$$b", "a;b", "a b", "a--b", "SELECT", "\"A\""]),
        (
            "url",
            &[
                "https://a.example/'x",
                "https://a.example/$$",
                "https://a b",
                "javascript:x",
            ],
        ),
        ("host", &["a.example;", "a'.example", "a.example:443/x"]),
        ("tag", &["v1;", "$$", "v 1"]),
        ("number(1..100)", &["0", "101", "1;", "1e3"]),
        ("bool", &["maybe", "TRUE;"]),
    ];
    for t in sqltpl::list() {
        for (n, p) in t.params.iter().enumerate() {
            let Some((_, bad)) = cases.iter().find(|(k, _)| {
                *k == p.kind || (k.starts_with("number") && p.kind.starts_with("number"))
            }) else {
                continue;
            };
            for b in bad.iter() {
                let mut v = values_for(&t.params, false);
                v.set(p.name.as_str(), *b);
                // number(…) ranges differ: only out-of-syntax inputs are certain to fail.
                if p.kind.starts_with("number") && b.parse::<u64>().is_ok() {
                    continue;
                }
                let err = sqltpl::render(&t.name, &v).expect_err(&format!(
                    "{}: {} ({}) accepted {b:?} (param #{n})",
                    t.name, p.name, p.kind
                ));
                assert_eq!(err.code(), "sql_value_invalid", "{}: {err}", t.name);
                assert!(err.to_string().contains(&p.name), "{err}");
            }
        }
    }
}

#[test]
fn every_template_says_when_as_whom_and_what_to_check_and_declares_its_values() {
    for t in sqltpl::list() {
        assert!(!t.title.is_empty() && !t.when.is_empty(), "{}", t.name);
        assert!(!t.run_as.is_empty() && !t.then.is_empty(), "{}", t.name);
        for p in &t.params {
            assert!(!p.help.is_empty(), "{}: {} has no help", t.name, p.name);
        }
        let text = sqltpl::render(&t.name, &values_for(&t.params, false)).unwrap();
        assert!(
            text.contains("-- When:") && text.contains("-- As:"),
            "{}",
            t.name
        );
        assert!(
            text.contains("-- Then:") && !text.contains("{{"),
            "{}",
            t.name
        );
    }
}
