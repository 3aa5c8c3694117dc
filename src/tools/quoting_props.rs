//! Property tests of SECURITY.md SQ-1..SQ-3: 100,000 random names and LIKE patterns full of
//! quotes, backslashes, semicolons, comment markers, `$$` and non-ASCII never change the
//! structure of a generated statement (checked with sqlparser's Snowflake tokenizer: the token
//! sequence is the template's, and the one quoted token holds exactly the input), and valid
//! input never fails. A seeded generator keeps runs reproducible and fast.

use sqlparser::dialect::SnowflakeDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use super::inputs::{
    DbObjectType, GrantView, ShowDatabasesSchemasInput, ShowGrantsInput, ShowWarehousesInput,
};
use super::show;
use super::sql::{self, info_schema_view, InfoQuery};

const CASES: usize = 100_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// 1..=max pieces from a hostile alphabet (never a control character).
    fn text(&mut self, max: usize) -> String {
        const PIECES: [&str; 36] = [
            "'",
            "\"",
            "\\",
            ";",
            "--",
            "/*",
            "*/",
            "$$",
            "%",
            "_",
            " ",
            "a",
            "Z",
            "0",
            "é",
            "漢",
            "😀",
            "\u{202e}",
            "''",
            "\"\"",
            "\\'",
            "\\\"",
            "' OR '1'='1",
            "\"; DROP TABLE t; --",
            "$",
            ".",
            "(",
            ")",
            "?",
            ":1",
            "#",
            "`",
            "[",
            "]",
            "\u{a0}",
            "ß",
        ];
        let n = 1 + self.below(max);
        (0..n).map(|_| PIECES[self.below(PIECES.len())]).collect()
    }
}

fn tokens(statement: &str) -> Vec<Token> {
    Tokenizer::new(&SnowflakeDialect {}, statement)
        .with_unescape(true)
        .tokenize()
        .unwrap_or_else(|e| panic!("{statement:?} does not tokenize: {e}"))
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(Whitespace::Space)))
        .collect()
}

fn keyword(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.clone()),
        _ => None,
    }
}

fn quoted_ident(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style == Some('"') => Some(w.value.clone()),
        _ => None,
    }
}

fn literal(t: &Token) -> Option<String> {
    match t {
        Token::SingleQuotedString(s) => Some(s.clone()),
        _ => None,
    }
}

fn assert_keywords(toks: &[Token], words: &[&str], statement: &str) {
    let got: Vec<Option<String>> = toks.iter().take(words.len()).map(keyword).collect();
    let want: Vec<Option<String>> = words.iter().map(|w| Some((*w).to_owned())).collect();
    assert_eq!(got, want, "{statement:?}");
}

#[test]
fn random_names_and_patterns_never_change_show_statements() {
    let mut rng = Rng(0x1CEB_0CE5_u64);
    for i in 0..CASES {
        let name = rng.text(12);
        let pattern = rng.text(12);

        // SQ-2: quote_ident output shape and round trip.
        sql::check_name("role_name", &name).expect("valid names are accepted");
        let quoted = sql::quote_ident(&name);
        assert!(quoted.starts_with('"') && quoted.ends_with('"') && quoted.len() >= 2);
        let inner = &quoted[1..quoted.len() - 1];
        assert!(!inner.replace("\"\"", "").contains('"'), "{quoted:?}");
        assert_eq!(inner.replace("\"\"", "\""), name);

        // SQ-3: quote_literal output shape.
        sql::check_pattern("like_pattern", &pattern).expect("valid patterns are accepted");
        let lit = sql::quote_literal(&pattern);
        let body = &lit[1..lit.len() - 1];
        let stripped = body.replace("\\\\", "").replace("''", "");
        assert!(
            !stripped.contains('\'') && !stripped.contains('\\'),
            "{lit:?}"
        );

        // Whole statements: exact token structure, each payload in exactly one token.
        let schemas = show::databases_schemas_sql(&ShowDatabasesSchemasInput {
            object_type: DbObjectType::Schemas,
            database_name: Some(name.clone()),
            like_pattern: Some(pattern.clone()),
            role: None,
            warehouse: None,
        })
        .expect("valid input builds");
        let toks = tokens(&schemas);
        assert_eq!(toks.len(), 7, "{schemas:?}");
        assert_keywords(&toks, &["SHOW", "SCHEMAS", "LIKE"], &schemas);
        assert_eq!(literal(&toks[3]).as_deref(), Some(pattern.as_str()));
        assert_eq!(keyword(&toks[4]).as_deref(), Some("IN"));
        assert_eq!(keyword(&toks[5]).as_deref(), Some("DATABASE"));
        assert_eq!(quoted_ident(&toks[6]).as_deref(), Some(name.as_str()));

        // The two single-payload statements on every 8th case (tokenizing is the slow part;
        // the schemas statement above carries both payloads on every case).
        if i % 8 != 0 {
            continue;
        }
        let grants = show::grants_sql(&ShowGrantsInput {
            grant_view: GrantView::ToRole,
            role_name: Some(name.clone()),
            user_name: None,
            object_type: None,
            object_name: None,
            role: None,
            warehouse: None,
        })
        .expect("valid input builds");
        let toks = tokens(&grants);
        assert_eq!(toks.len(), 5, "{grants:?}");
        assert_keywords(&toks, &["SHOW", "GRANTS", "TO", "ROLE"], &grants);
        assert_eq!(quoted_ident(&toks[4]).as_deref(), Some(name.as_str()));

        let warehouses = show::warehouses_sql(&ShowWarehousesInput {
            like_pattern: Some(pattern.clone()),
            role: None,
            warehouse: None,
        })
        .expect("valid input builds");
        let toks = tokens(&warehouses);
        assert_eq!(toks.len(), 4, "{warehouses:?}");
        assert_eq!(literal(&toks[3]).as_deref(), Some(pattern.as_str()));
    }
}

#[test]
fn random_object_names_round_trip_through_identifier_syntax() {
    let mut rng = Rng(0xDEAD_BEEF_u64);
    for _ in 0..CASES / 4 {
        let parts: Vec<String> = (0..1 + rng.below(3)).map(|_| rng.text(6)).collect();
        let written = sql::quote_path(&parts);
        assert_eq!(
            sql::parse_object_name("object_name", &written).expect("quoted names parse"),
            parts
        );
        let statement = show::grants_sql(&ShowGrantsInput {
            grant_view: GrantView::OnObject,
            role_name: None,
            user_name: None,
            object_type: Some("table".into()),
            object_name: Some(written.clone()),
            role: None,
            warehouse: None,
        })
        .expect("valid input builds");
        let toks = tokens(&statement);
        assert_keywords(&toks, &["SHOW", "GRANTS", "ON", "TABLE"], &statement);
        let named: Vec<String> = toks[4..]
            .iter()
            .filter(|t| !matches!(t, Token::Period))
            .map(|t| quoted_ident(t).unwrap_or_else(|| panic!("{statement:?}: {t:?}")))
            .collect();
        assert_eq!(named, parts, "{statement:?}");
    }
}

#[test]
fn random_values_never_reach_information_schema_statement_text() {
    let mut rng = Rng(0x5EED_u64);
    let constant = InfoQuery::new("TABLE_NAME", "IDENTIFIER(?)", vec![String::new()])
        .filter("TABLE_SCHEMA = ?", Some(""))
        .filter("TABLE_NAME ILIKE ? ESCAPE '\\\\'", Some(""))
        .build(100)
        .statement;
    for _ in 0..CASES / 4 {
        let (db, schema, like) = (rng.text(10), rng.text(10), rng.text(10));
        let q = InfoQuery::new(
            "TABLE_NAME",
            "IDENTIFIER(?)",
            vec![info_schema_view(&db, "TABLES")],
        )
        .filter("TABLE_SCHEMA = ?", Some(&schema))
        .filter("TABLE_NAME ILIKE ? ESCAPE '\\\\'", Some(&like))
        .build(100);
        assert_eq!(q.statement, constant);
        assert_eq!(q.bindings[1], schema);
        assert_eq!(q.bindings[2], like);
        let parts =
            sql::parse_object_name("database", &q.bindings[0]).expect("the bound name parses");
        assert_eq!(parts, [db, "INFORMATION_SCHEMA".into(), "TABLES".into()]);
    }
}

#[test]
fn control_characters_and_oversized_names_are_refused() {
    for bad in ["a\u{0}", "\n", "x\ty", "\u{1b}[31m", "\u{7f}"] {
        assert!(sql::check_name("table", bad).is_err(), "{bad:?}");
        assert!(sql::check_pattern("like_pattern", bad).is_err(), "{bad:?}");
    }
    assert!(sql::check_name("table", "").is_err());
    assert!(sql::check_name("table", &"n".repeat(256)).is_err());
    assert!(sql::check_pattern("like_pattern", &"%".repeat(1025)).is_err());
}
