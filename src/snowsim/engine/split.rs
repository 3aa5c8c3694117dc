//! Splits a multi-statement text on top-level `;`, skipping semicolons inside string literals,
//! quoted identifiers, `$$…$$` blocks and comments (`--`, `//`, `/* */`).

use super::SqlError;

/// Splits `sql` into statements (trimmed; pieces with no code are dropped).
pub fn split_statements(sql: &str) -> Result<Vec<String>, SqlError> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                loop {
                    if i >= b.len() {
                        return Err(unterminated(sql));
                    }
                    if b[i] == b'\\' && q == b'\'' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                has_code = true;
                i += 1;
            }
            b'$' if b.get(i + 1) == Some(&b'$') => {
                match sql[i + 2..].find("$$") {
                    Some(end) => i = i + 2 + end + 2,
                    None => return Err(unterminated(sql)),
                }
                has_code = true;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => match sql[i + 2..].find("*/") {
                Some(end) => i = i + 2 + end + 2,
                None => return Err(unterminated(sql)),
            },
            b';' => {
                if has_code {
                    out.push(sql[start..i].trim().to_owned());
                }
                has_code = false;
                i += 1;
                start = i;
            }
            c => {
                if !c.is_ascii_whitespace() {
                    has_code = true;
                }
                i += 1;
            }
        }
    }
    if has_code {
        out.push(sql[start..].trim().to_owned());
    }
    Ok(out)
}

fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

fn unterminated(sql: &str) -> SqlError {
    let line = sql.lines().count().max(1) as u64;
    SqlError::syntax(line, 0, "<EOF>")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // STYLE.md §9: tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let got = split_statements(
            "select 1; select 'a;b' -- c;d\n; select \"x;y\" from t /* ; */;\n\n  ; $$;$$",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                "select 1",
                "select 'a;b' -- c;d",
                "select \"x;y\" from t /* ; */",
                "$$;$$"
            ]
        );
        assert_eq!(split_statements("select 'it''s;' ;  ").unwrap().len(), 1);
        assert!(split_statements("select 'open").is_err());
        assert!(split_statements("  ;; -- only a comment")
            .unwrap()
            .is_empty());
    }
}
