//! Snowflake's data types as the engine tracks them, their rowType entries, how each is stored
//! in SQLite, and how stored values are encoded into SQL API cells (PROTOCOL.md A.4, A.6).
//!
//! Invariant: a cell is always encoded from the *inferred Snowflake type* of its column, never from
//! SQLite's dynamic type, so a SUM over NUMBER(12,2) prints `"1418923.15"` even though SQLite
//! summed doubles (PROTOCOL.md D.1).

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;

use super::datetime::{self, DateTime};
use super::Column;

/// Largest VARCHAR length (and default length of unsized VARCHAR).
pub const MAX_TEXT: u64 = 16_777_216;

/// A Snowflake data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfType {
    /// NUMBER(p, s).
    Fixed {
        /// Total digits (1..=38).
        precision: u32,
        /// Digits after the point.
        scale: u32,
    },
    /// FLOAT / DOUBLE.
    Real,
    /// VARCHAR(n).
    Text {
        /// Maximum characters.
        length: u64,
    },
    /// BINARY(n).
    Binary {
        /// Maximum bytes.
        length: u64,
    },
    /// BOOLEAN.
    Boolean,
    /// DATE.
    Date,
    /// TIME(s).
    Time {
        /// Fraction digits.
        scale: u32,
    },
    /// TIMESTAMP_NTZ(s).
    TimestampNtz {
        /// Fraction digits.
        scale: u32,
    },
    /// TIMESTAMP_LTZ(s).
    TimestampLtz {
        /// Fraction digits.
        scale: u32,
    },
    /// TIMESTAMP_TZ(s).
    TimestampTz {
        /// Fraction digits.
        scale: u32,
    },
    /// VARIANT (JSON text).
    Variant,
}

impl SfType {
    /// NUMBER(38,0).
    pub const INT: SfType = SfType::Fixed {
        precision: 38,
        scale: 0,
    };
    /// VARCHAR(16777216).
    pub const STRING: SfType = SfType::Text { length: MAX_TEXT };

    /// The lower-case rowType name.
    pub fn wire_name(&self) -> &'static str {
        match self {
            SfType::Fixed { .. } => "fixed",
            SfType::Real => "real",
            SfType::Text { .. } => "text",
            SfType::Binary { .. } => "binary",
            SfType::Boolean => "boolean",
            SfType::Date => "date",
            SfType::Time { .. } => "time",
            SfType::TimestampNtz { .. } => "timestamp_ntz",
            SfType::TimestampLtz { .. } => "timestamp_ltz",
            SfType::TimestampTz { .. } => "timestamp_tz",
            SfType::Variant => "variant",
        }
    }

    /// INFORMATION_SCHEMA `DATA_TYPE` (`NUMBER`, `TEXT`, `DATE`, …).
    pub fn info_name(&self) -> &'static str {
        match self {
            SfType::Fixed { .. } => "NUMBER",
            SfType::Real => "FLOAT",
            SfType::Text { .. } => "TEXT",
            SfType::Binary { .. } => "BINARY",
            SfType::Boolean => "BOOLEAN",
            SfType::Date => "DATE",
            SfType::Time { .. } => "TIME",
            SfType::TimestampNtz { .. } => "TIMESTAMP_NTZ",
            SfType::TimestampLtz { .. } => "TIMESTAMP_LTZ",
            SfType::TimestampTz { .. } => "TIMESTAMP_TZ",
            SfType::Variant => "VARIANT",
        }
    }

    /// SQLite column type (sets the column's affinity).
    pub fn sqlite_decl(&self) -> &'static str {
        match self {
            SfType::Fixed { scale: 0, .. } | SfType::Boolean => "INTEGER",
            SfType::Fixed { .. } | SfType::Real => "REAL",
            SfType::Binary { .. } => "BLOB",
            _ => "TEXT",
        }
    }

    /// True for NUMBER and FLOAT.
    pub fn is_numeric(&self) -> bool {
        matches!(self, SfType::Fixed { .. } | SfType::Real)
    }

    /// The rowType entry of a column of this type.
    pub fn column(&self, name: &str, origin: Option<&Origin>, nullable: bool) -> Column {
        let (precision, scale, length, byte_length) = match *self {
            SfType::Fixed { precision, scale } => (Some(precision), Some(scale), None, None),
            SfType::Text { length } => (None, None, Some(length), Some((length * 4).min(MAX_TEXT))),
            SfType::Binary { length } => (None, None, Some(length), Some(length)),
            SfType::Time { scale }
            | SfType::TimestampNtz { scale }
            | SfType::TimestampLtz { scale }
            | SfType::TimestampTz { scale } => (Some(0), Some(scale), None, None),
            SfType::Real | SfType::Boolean | SfType::Date | SfType::Variant => {
                (None, None, None, None)
            }
        };
        let (database, schema, table) = match origin {
            Some(o) => (o.database.clone(), o.schema.clone(), o.table.clone()),
            None => (String::new(), String::new(), String::new()),
        };
        Column {
            name: name.to_owned(),
            database,
            schema,
            table,
            kind: self.wire_name().to_owned(),
            nullable,
            precision,
            scale,
            length,
            byte_length,
            collation: None,
        }
    }
}

/// The base table a result column comes from (rowType `database`/`schema`/`table`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Database name.
    pub database: String,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub table: String,
}

/// `*_OUTPUT_FORMAT` parameters of one request, resolved per type (`None` = default encoding).
#[derive(Debug, Clone, Default)]
pub struct OutputFormats {
    date: Option<String>,
    time: Option<String>,
    ntz: Option<String>,
    ltz: Option<String>,
    tz: Option<String>,
    base64: bool,
}

impl OutputFormats {
    /// Reads the request parameters (keys upper case).
    pub fn from_parameters(p: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| p.get(k).cloned();
        let auto = |v: Option<String>, default: &str| {
            v.map(|f| {
                if f.eq_ignore_ascii_case("AUTO") {
                    default.to_owned()
                } else {
                    f
                }
            })
        };
        let ts = get("TIMESTAMP_OUTPUT_FORMAT");
        const TS: &str = "YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM";
        Self {
            date: auto(get("DATE_OUTPUT_FORMAT"), "YYYY-MM-DD"),
            time: auto(get("TIME_OUTPUT_FORMAT"), "HH24:MI:SS"),
            ntz: auto(
                get("TIMESTAMP_NTZ_OUTPUT_FORMAT").or_else(|| ts.clone()),
                "YYYY-MM-DD HH24:MI:SS.FF3",
            ),
            ltz: auto(
                get("TIMESTAMP_LTZ_OUTPUT_FORMAT").or_else(|| ts.clone()),
                TS,
            ),
            tz: auto(get("TIMESTAMP_TZ_OUTPUT_FORMAT").or(ts), TS),
            base64: get("BINARY_OUTPUT_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("BASE64")),
        }
    }
}

/// Rounds a plain decimal string (`-12.345`) half away from zero to `scale` digits.
pub fn round_decimal_str(s: &str, scale: u32) -> Option<String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = scale as usize;
    let mut digits: Vec<u8> = int.bytes().collect();
    if digits.is_empty() {
        digits.push(b'0');
    }
    let mut f: Vec<u8> = frac.bytes().collect();
    let round_up = f.len() > scale && f[scale] >= b'5';
    f.resize(scale, b'0');
    digits.extend_from_slice(&f);
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - scale;
    let mut int_part: String = String::from_utf8_lossy(&digits[..split])
        .trim_start_matches('0')
        .to_owned();
    if int_part.is_empty() {
        int_part.push('0');
    }
    let frac_part = String::from_utf8_lossy(&digits[split..]);
    let zero = digits.iter().all(|d| *d == b'0');
    let mut out = String::with_capacity(digits.len() + 2);
    if neg && !zero {
        out.push('-');
    }
    out.push_str(&int_part);
    if scale > 0 {
        out.push('.');
        out.push_str(&frac_part);
    }
    Some(out)
}

fn fixed_from_int(i: i64, scale: u32) -> String {
    if scale == 0 {
        i.to_string()
    } else {
        format!("{i}.{}", "0".repeat(scale as usize))
    }
}

/// Encodes a float the way Snowflake prints REAL (shortest round-trip form).
pub fn real_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{f}")
    }
}

fn epoch_text(secs: i64, nanos: u32) -> String {
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    let sign = if total < 0 { "-" } else { "" };
    let a = total.unsigned_abs();
    format!("{sign}{}.{:09}", a / 1_000_000_000, a % 1_000_000_000)
}

fn as_text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(real_text(f)),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode_upper(b)),
    }
}

/// Encodes one stored value as a SQL API cell of type `ty`.
pub fn encode(ty: &SfType, v: ValueRef<'_>, fmt: &OutputFormats) -> Option<String> {
    if matches!(v, ValueRef::Null) {
        return None;
    }
    let text = || as_text(v).unwrap_or_default();
    Some(match ty {
        SfType::Fixed { scale, .. } => match v {
            ValueRef::Integer(i) => fixed_from_int(i, *scale),
            ValueRef::Real(f) if f.is_finite() => {
                round_decimal_str(&format!("{f}"), *scale).unwrap_or_else(|| real_text(f))
            }
            _ => {
                let t = text();
                round_decimal_str(t.trim(), *scale).unwrap_or(t)
            }
        },
        SfType::Real => text(),
        SfType::Boolean => match v {
            ValueRef::Integer(i) => (i != 0).to_string(),
            ValueRef::Real(f) => (f != 0.0).to_string(),
            _ => text().to_ascii_lowercase(),
        },
        SfType::Binary { .. } => match v {
            ValueRef::Blob(b) if fmt.base64 => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.encode(b)
            }
            _ => text(),
        },
        SfType::Date => {
            let days = match v {
                ValueRef::Integer(i) => Some(i),
                _ => datetime::parse_date(&text()),
            };
            match (days, &fmt.date) {
                (Some(d), Some(f)) => datetime::format_snowflake(
                    f,
                    &DateTime {
                        days: d,
                        ..DateTime::default()
                    },
                ),
                (Some(d), None) => d.to_string(),
                (None, _) => text(),
            }
        }
        SfType::Time { .. } => match datetime::parse_time(&text()) {
            Some((s, n)) => match &fmt.time {
                Some(f) => datetime::format_snowflake(
                    f,
                    &DateTime {
                        secs: s,
                        nanos: n,
                        ..DateTime::default()
                    },
                ),
                None => epoch_text(i64::from(s), n),
            },
            None => text(),
        },
        SfType::TimestampNtz { .. } | SfType::TimestampLtz { .. } | SfType::TimestampTz { .. } => {
            let Some(mut dt) = datetime::parse_datetime(&text()) else {
                return Some(text());
            };
            let offset = dt.offset.unwrap_or(0);
            let utc = dt.epoch_secs() - i64::from(offset) * 60;
            let f = match ty {
                SfType::TimestampNtz { .. } => &fmt.ntz,
                SfType::TimestampLtz { .. } => &fmt.ltz,
                _ => &fmt.tz,
            };
            match (f, ty) {
                (Some(f), _) => {
                    dt.offset = Some(offset);
                    datetime::format_snowflake(f, &dt)
                }
                (None, SfType::TimestampTz { .. }) => {
                    format!("{} {}", epoch_text(utc, dt.nanos), offset + 1440)
                }
                (None, SfType::TimestampNtz { .. }) => epoch_text(dt.epoch_secs(), dt.nanos),
                (None, _) => epoch_text(utc, dt.nanos),
            }
        }
        SfType::Text { .. } | SfType::Variant => text(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // STYLE.md §9: tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn decimal_rounding_is_exact_and_half_up() {
        assert_eq!(
            round_decimal_str("1418923.1500000001", 2).unwrap(),
            "1418923.15"
        );
        assert_eq!(round_decimal_str("0.145", 2).unwrap(), "0.15");
        assert_eq!(round_decimal_str("-9.995", 2).unwrap(), "-10.00");
        assert_eq!(round_decimal_str("-0.001", 2).unwrap(), "0.00");
        assert_eq!(round_decimal_str("12", 3).unwrap(), "12.000");
        assert_eq!(round_decimal_str("1.5", 0).unwrap(), "2");
        assert!(round_decimal_str("1e5", 0).is_none());
    }

    #[test]
    fn encodes_every_type_like_snowflake() {
        let d = OutputFormats::default();
        let fixed = SfType::Fixed {
            precision: 12,
            scale: 2,
        };
        let cases: Vec<(SfType, ValueRef<'_>, &str)> = vec![
            (fixed, ValueRef::Real(1.5), "1.50"),
            (fixed, ValueRef::Integer(3), "3.00"),
            (SfType::INT, ValueRef::Integer(-42), "-42"),
            (SfType::Real, ValueRef::Real(1.5), "1.5"),
            (SfType::STRING, ValueRef::Text(b"abc"), "abc"),
            (
                SfType::Binary { length: 2 },
                ValueRef::Blob(&[0xAB, 0xCD]),
                "ABCD",
            ),
            (SfType::Boolean, ValueRef::Integer(1), "true"),
            (SfType::Boolean, ValueRef::Integer(0), "false"),
            (SfType::Date, ValueRef::Text(b"2020-01-01"), "18262"),
            (
                SfType::Time { scale: 9 },
                ValueRef::Text(b"23:01:59.000000000"),
                "82919.000000000",
            ),
            (
                SfType::TimestampNtz { scale: 9 },
                ValueRef::Text(b"2021-03-19 17:06:59.000000000"),
                "1616173619.000000000",
            ),
            (
                SfType::TimestampLtz { scale: 9 },
                ValueRef::Text(b"2021-03-19 17:06:59.000000000"),
                "1616173619.000000000",
            ),
            (
                SfType::TimestampTz { scale: 9 },
                ValueRef::Text(b"2021-03-19 18:06:59.000000000 +01:00"),
                "1616173619.000000000 1500",
            ),
        ];
        for (ty, v, want) in cases {
            assert_eq!(encode(&ty, v, &d).as_deref(), Some(want), "{ty:?}");
        }
        assert_eq!(encode(&SfType::Date, ValueRef::Null, &d), None);
    }

    #[test]
    fn output_format_parameters_switch_to_formatted_text() {
        let mut p = BTreeMap::new();
        p.insert("DATE_OUTPUT_FORMAT".to_owned(), "MM/DD/YYYY".to_owned());
        p.insert(
            "TIMESTAMP_OUTPUT_FORMAT".to_owned(),
            "YYYY-MM-DD HH24:MI".to_owned(),
        );
        p.insert("BINARY_OUTPUT_FORMAT".to_owned(), "BASE64".to_owned());
        let f = OutputFormats::from_parameters(&p);
        let enc = |ty: SfType, v: ValueRef<'_>| encode(&ty, v, &f).unwrap();
        assert_eq!(
            enc(SfType::Date, ValueRef::Text(b"2019-03-27")),
            "03/27/2019"
        );
        assert_eq!(
            enc(
                SfType::TimestampNtz { scale: 9 },
                ValueRef::Text(b"2019-03-27 10:11:12.000000000")
            ),
            "2019-03-27 10:11"
        );
        assert_eq!(
            enc(SfType::Binary { length: 2 }, ValueRef::Blob(&[0xAB, 0xCD])),
            "q80="
        );
    }
}
