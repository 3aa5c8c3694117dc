//! SQL API bind variables (`{"type": "FIXED", "value": "123"}`) converted into SQLite values in
//! the engine's storage forms, with Snowflake's error for values that do not parse
//! (`100037`/`22018` `"<TYPE> value '<v>' is not recognized"`, PROTOCOL.md A.3).

use rusqlite::types::Value;

use super::datetime::{self, DateTime};
use super::types::SfType;
use super::{Binding, SqlError};

/// A converted bind value and the Snowflake type it carries into type inference.
#[derive(Debug, Clone)]
pub struct BoundValue {
    /// SQLite value in storage form.
    pub value: Value,
    /// Type of the placeholder.
    pub ty: SfType,
}

/// The Snowflake type a binding kind gives its placeholder (also validates the kind).
pub fn kind_type(kind: &str) -> Result<SfType, SqlError> {
    Ok(match kind.to_ascii_uppercase().as_str() {
        "FIXED" => SfType::INT,
        "REAL" | "DECFLOAT" => SfType::Real,
        "TEXT" => SfType::STRING,
        "BINARY" => SfType::Binary { length: 8_388_608 },
        "BOOLEAN" => SfType::Boolean,
        "DATE" => SfType::Date,
        "TIME" => SfType::Time { scale: 9 },
        "TIMESTAMP_NTZ" | "TIMESTAMP" => SfType::TimestampNtz { scale: 9 },
        "TIMESTAMP_LTZ" => SfType::TimestampLtz { scale: 9 },
        "TIMESTAMP_TZ" => SfType::TimestampTz { scale: 9 },
        other => {
            return Err(SqlError::new(
                "002040",
                "42601",
                format!("SQL compilation error:\nUnsupported data type '{other}'."),
            ))
        }
    })
}

fn split_nanos(ns: i128) -> (i64, u32) {
    let secs = ns.div_euclid(1_000_000_000);
    (secs as i64, ns.rem_euclid(1_000_000_000) as u32)
}

/// Converts one binding.
pub fn convert(b: &Binding) -> Result<BoundValue, SqlError> {
    let kind = b.kind.to_ascii_uppercase();
    let ty = kind_type(&kind)?;
    let Some(raw) = b.value.as_deref() else {
        return Ok(BoundValue {
            value: Value::Null,
            ty,
        });
    };
    let bad = || SqlError::bad_bind(&kind, raw);
    let v = raw.trim();
    let value = match kind.as_str() {
        "FIXED" => {
            if let Ok(i) = v.parse::<i64>() {
                Value::Integer(i)
            } else if !v.is_empty()
                && v.trim_start_matches(['-', '+'])
                    .bytes()
                    .all(|c| c.is_ascii_digit() || c == b'.')
            {
                Value::Real(v.parse::<f64>().map_err(|_| bad())?)
            } else {
                return Err(bad());
            }
        }
        "REAL" | "DECFLOAT" => {
            let f: f64 = v.parse().map_err(|_| bad())?;
            if !f.is_finite() && !v.to_ascii_lowercase().contains("inf") {
                return Err(bad());
            }
            Value::Real(f)
        }
        "TEXT" => Value::Text(raw.to_owned()),
        "BINARY" => Value::Blob(hex::decode(v).map_err(|_| bad())?),
        "BOOLEAN" => match v.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "y" | "on" => Value::Integer(1),
            "false" | "f" | "0" | "no" | "n" | "off" => Value::Integer(0),
            _ => return Err(bad()),
        },
        "DATE" => {
            let ms: i64 = v.parse().map_err(|_| bad())?;
            Value::Text(datetime::date_to_iso(ms.div_euclid(86_400_000)))
        }
        "TIME" => {
            let ns: i128 = v.parse().map_err(|_| bad())?;
            let (secs, nanos) = split_nanos(ns);
            Value::Text(datetime::time_to_storage(
                secs.rem_euclid(86_400) as u32,
                nanos,
            ))
        }
        "TIMESTAMP_TZ" => {
            let mut parts = v.split_whitespace();
            let ns: i128 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let off: i32 = match parts.next() {
                Some(p) => p.parse::<i32>().map_err(|_| bad())? - 1440,
                None => 0,
            };
            if parts.next().is_some() || !(-1440..=1440).contains(&off) {
                return Err(bad());
            }
            let (secs, nanos) = split_nanos(ns);
            let mut dt = DateTime::from_epoch(secs + i64::from(off) * 60, nanos);
            dt.offset = Some(off);
            Value::Text(dt.to_storage())
        }
        _ => {
            let ns: i128 = v.parse().map_err(|_| bad())?;
            let (secs, nanos) = split_nanos(ns);
            Value::Text(DateTime::from_epoch(secs, nanos).to_storage())
        }
    };
    Ok(BoundValue { value, ty })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // STYLE.md §9: tests may unwrap
mod tests {
    use super::*;

    fn b(kind: &str, value: &str) -> Binding {
        Binding {
            kind: kind.to_owned(),
            value: Some(value.to_owned()),
        }
    }

    #[test]
    fn converts_every_binding_type_to_storage_form() {
        let cases = [
            (b("FIXED", "123"), Value::Integer(123)),
            (b("REAL", "1.5"), Value::Real(1.5)),
            (b("DECFLOAT", "1.5e3"), Value::Real(1500.0)),
            (b("TEXT", "abc"), Value::Text("abc".into())),
            (b("BINARY", "ABCD"), Value::Blob(vec![0xAB, 0xCD])),
            (b("BOOLEAN", "true"), Value::Integer(1)),
            (b("DATE", "1577836800000"), Value::Text("2020-01-01".into())),
            (
                b("TIME", "82919000000000"),
                Value::Text("23:01:59.000000000".into()),
            ),
            (
                b("TIMESTAMP_NTZ", "1616173619000000000"),
                Value::Text("2021-03-19 17:06:59.000000000".into()),
            ),
            (
                b("TIMESTAMP_TZ", "1616173619000000000 1500"),
                Value::Text("2021-03-19 18:06:59.000000000 +01:00".into()),
            ),
        ];
        for (binding, want) in cases {
            assert_eq!(convert(&binding).unwrap().value, want, "{binding:?}");
        }
    }

    #[test]
    fn bad_values_fail_with_snowflakes_100037() {
        for (kind, value) in [
            ("FIXED", "abc"),
            ("REAL", "x1"),
            ("BOOLEAN", "maybe"),
            ("DATE", "2020-01-01"),
            ("BINARY", "XYZ"),
            ("TIMESTAMP_TZ", "1 99999"),
        ] {
            let e = convert(&b(kind, value)).unwrap_err();
            assert_eq!(e.code, "100037");
            assert_eq!(e.sql_state, "22018");
            assert_eq!(
                e.message,
                format!("{kind} value '{value}' is not recognized")
            );
        }
    }
}
