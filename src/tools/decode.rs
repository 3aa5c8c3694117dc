//! Typed decoding of SQL API result cells (PROTOCOL.md A.6) into JSON values.
//!
//! | wire type | JSON |
//! | --- | --- |
//! | `fixed`, `decfloat` | integer when it is a safe integer (|v| < 2^53), number when the decimal round-trips through a double exactly, else the exact decimal string |
//! | `real` | number (`NaN`/`inf` stay strings: JSON has no such numbers) |
//! | `text` | string |
//! | `boolean` | `true`/`false` |
//! | `date` | `YYYY-MM-DD` (proleptic Gregorian; years outside 0000-9999 signed) |
//! | `time` | `HH:MM:SS[.f…]`, as many fraction digits as the column's scale |
//! | `timestamp_ntz` | `YYYY-MM-DDTHH:MM:SS[.f…]` (no offset) |
//! | `timestamp_ltz` | the same in UTC with `Z` |
//! | `timestamp_tz` | the local time with its `±HH:MM` offset |
//! | `variant`, `object`, `array`, `map`, `vector`, `geography`, `geometry` | the parsed JSON (the text when it is not JSON) |
//! | `binary` | base64 (standard alphabet, padded) |
//! | anything else | string |
//!
//! With `nullable=false` Snowflake sends SQL NULL as the string `"null"`: in every column that
//! is not text it decodes to JSON `null`; in text columns it stays the string (the two are
//! indistinguishable there, which is what the caller asked for). When a request sets an
//! `*_OUTPUT_FORMAT` parameter, the affected types arrive formatted and pass through as text.
//!
//! Invariant: decoding never puts a cell's value into an error message (values may be customer
//! data); errors name the column and type only.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::snowflake::{ColumnType, Row};

/// Largest integer a double holds exactly, and every smaller one (2^53 − 1).
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;
const NANOS_PER_SEC: i128 = 1_000_000_000;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SEC;

/// A cell that does not decode as its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Snowflake sent a {kind} value in column {column:?} that does not decode as {kind}")]
pub struct DecodeError {
    /// Column name.
    pub column: String,
    /// Wire type.
    pub kind: String,
}

/// Types that arrive as formatted text because the request set an output-format parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Formatted {
    /// `DATE_OUTPUT_FORMAT`.
    pub date: bool,
    /// `TIME_OUTPUT_FORMAT`.
    pub time: bool,
    /// `TIMESTAMP_NTZ_OUTPUT_FORMAT` or `TIMESTAMP_OUTPUT_FORMAT`.
    pub ntz: bool,
    /// `TIMESTAMP_LTZ_OUTPUT_FORMAT` or `TIMESTAMP_OUTPUT_FORMAT`.
    pub ltz: bool,
    /// `TIMESTAMP_TZ_OUTPUT_FORMAT` or `TIMESTAMP_OUTPUT_FORMAT`.
    pub tz: bool,
    /// `BINARY_OUTPUT_FORMAT` (HEX or BASE64: passed through as sent).
    pub binary: bool,
}

impl Formatted {
    /// Which types the request's `parameters` switch to formatted text (keys compared
    /// case-insensitively, as Snowflake does).
    pub fn from_parameters<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out = Self::default();
        for key in keys {
            match key.to_ascii_uppercase().as_str() {
                "DATE_OUTPUT_FORMAT" => out.date = true,
                "TIME_OUTPUT_FORMAT" => out.time = true,
                "TIMESTAMP_NTZ_OUTPUT_FORMAT" => out.ntz = true,
                "TIMESTAMP_LTZ_OUTPUT_FORMAT" => out.ltz = true,
                "TIMESTAMP_TZ_OUTPUT_FORMAT" => out.tz = true,
                "TIMESTAMP_OUTPUT_FORMAT" => (out.ntz, out.ltz, out.tz) = (true, true, true),
                "BINARY_OUTPUT_FORMAT" => out.binary = true,
                _ => {}
            }
        }
        out
    }
}

/// How cells are decoded for one result.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Types that arrive formatted.
    pub formatted: Formatted,
}

/// The result's columns as `{name, type, nullable, precision, scale}` and the keys rows use
/// (the names, with `_2`, `_3`, … appended to repeats so no value is lost).
pub fn columns(row_type: &[ColumnType]) -> (Vec<Value>, Vec<String>) {
    let mut keys: Vec<String> = Vec::with_capacity(row_type.len());
    let mut described = Vec::with_capacity(row_type.len());
    for column in row_type {
        let mut key = column.name.clone();
        let mut n = 1;
        while keys.contains(&key) {
            n += 1;
            key = format!("{}_{n}", column.name);
        }
        described.push(serde_json::json!({
            "name": key,
            "type": column.kind.to_ascii_lowercase(),
            "nullable": column.nullable,
            "precision": column.precision,
            "scale": column.scale,
        }));
        keys.push(key);
    }
    (described, keys)
}

/// Decodes rows into objects keyed by `keys`.
pub fn rows(
    row_type: &[ColumnType],
    keys: &[String],
    data: &[Row],
    options: DecodeOptions,
) -> Result<Vec<Value>, DecodeError> {
    data.iter()
        .map(|row| {
            let mut object = Map::with_capacity(keys.len());
            for (i, (column, key)) in row_type.iter().zip(keys).enumerate() {
                let cell = row.get(i).and_then(Option::as_deref);
                object.insert(key.clone(), cell_value(column, cell, options)?);
            }
            Ok(Value::Object(object))
        })
        .collect()
}

/// Decodes one cell of `column`.
pub fn cell_value(
    column: &ColumnType,
    cell: Option<&str>,
    options: DecodeOptions,
) -> Result<Value, DecodeError> {
    let Some(text) = cell else {
        return Ok(Value::Null);
    };
    let kind = column.kind.to_ascii_lowercase();
    // `nullable=false`'s NULL marker; never a valid value of these types otherwise, so it is
    // read the same whether or not this result was requested with `nullable=false`.
    if text == "null" && kind != "text" {
        return Ok(Value::Null);
    }
    let f = options.formatted;
    let scale = column
        .scale
        .and_then(|s| u32::try_from(s).ok())
        .map_or(9, |s| s.min(9));
    let decoded = match kind.as_str() {
        "fixed" | "decfloat" => fixed(text),
        "real" => Some(real(text)),
        "boolean" => boolean(text),
        "date" if !f.date => date(text),
        "time" if !f.time => time(text, scale),
        "timestamp_ntz" if !f.ntz => timestamp(text, scale, Zone::None),
        "timestamp_ltz" if !f.ltz => timestamp(text, scale, Zone::Utc),
        "timestamp_tz" if !f.tz => timestamp_tz(text, scale),
        "binary" if !f.binary => binary(text),
        "variant" | "object" | "array" | "map" | "vector" | "geography" | "geometry" => {
            Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
        }
        _ => Some(Value::String(text.to_owned())),
    };
    decoded.ok_or_else(|| DecodeError {
        column: column.name.clone(),
        kind,
    })
}

/// A decimal string (`-12.50`, `1E+40` for DECFLOAT) as the most precise JSON it fits.
fn fixed(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(if i.unsigned_abs() <= MAX_SAFE_INTEGER as u64 {
            Value::Number(i.into())
        } else {
            Value::String(t.to_owned())
        });
    }
    let canonical = canonical_decimal(t)?;
    if !canonical.contains('.') {
        // An integer beyond i64 (NUMBER(38,0)): the exact digits.
        return Some(Value::String(canonical));
    }
    let double = t.parse::<f64>().ok().filter(|d| d.is_finite())?;
    let round_trip = canonical_decimal(&format!("{double}"));
    Some(match (round_trip, Number::from_f64(double)) {
        (Some(back), Some(number)) if back == canonical => Value::Number(number),
        _ => Value::String(canonical),
    })
}

/// `[-]digits[.digits]` with no leading zeros, no trailing fraction zeros, `0` for zero;
/// `None` when `text` is not a plain decimal (exponents are expanded).
fn canonical_decimal(text: &str) -> Option<String> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.as_bytes().first()? {
        b'-' => (true, &mantissa[1..]),
        b'+' => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || exponent.unsigned_abs() > 400
    {
        return None;
    }
    // Shift the decimal point by the exponent.
    let all: String = format!("{int}{frac}");
    let point = int.len() as i64 + i64::from(exponent);
    let (int, frac) = if point <= 0 {
        (
            String::from("0"),
            format!("{}{all}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else if point as usize >= all.len() {
        (
            format!("{all}{}", "0".repeat(point as usize - all.len())),
            String::new(),
        )
    } else {
        (
            all[..point as usize].to_owned(),
            all[point as usize..].to_owned(),
        )
    };
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let zero = int == "0" && frac.is_empty();
    let sign = if negative && !zero { "-" } else { "" };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn real(text: &str) -> Value {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

fn boolean(text: &str) -> Option<Value> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(Value::Bool(true)),
        "false" | "0" => Some(Value::Bool(false)),
        _ => None,
    }
}

fn date(text: &str) -> Option<Value> {
    let days: i64 = text.trim().parse().ok()?;
    Some(Value::String(format_date(days)))
}

/// `"<seconds>[.<fraction>]"` (signed, fraction up to 9 digits) as nanoseconds.
fn epoch_nanos(text: &str) -> Option<i128> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || int.len() > 20
        || frac.len() > 9
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i128 = int.parse().ok()?;
    let nanos: i128 = format!("{frac:0<9}").parse().ok()?;
    let total = secs * NANOS_PER_SEC + nanos;
    Some(if negative { -total } else { total })
}

fn time(text: &str, scale: u32) -> Option<Value> {
    let nanos = epoch_nanos(text)?;
    if !(0..NANOS_PER_DAY).contains(&nanos) {
        return None;
    }
    Some(Value::String(format_time_of_day(nanos, scale)))
}

#[derive(Clone, Copy)]
enum Zone {
    None,
    Utc,
}

fn timestamp(text: &str, scale: u32, zone: Zone) -> Option<Value> {
    let nanos = epoch_nanos(text)?;
    let mut out = format_datetime(nanos, scale)?;
    if let Zone::Utc = zone {
        out.push('Z');
    }
    Some(Value::String(out))
}

/// `"<utc seconds> <offset minutes + 1440>"` as local time with its offset.
fn timestamp_tz(text: &str, scale: u32) -> Option<Value> {
    let (value, offset) = text.trim().split_once(' ')?;
    let minutes = offset.trim().parse::<i64>().ok()? - 1440;
    if minutes.abs() > 1440 {
        return None;
    }
    let local = epoch_nanos(value)? + i128::from(minutes) * 60 * NANOS_PER_SEC;
    let mut out = format_datetime(local, scale)?;
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    out.push_str(&format!("{sign}{:02}:{:02}", m / 60, m % 60));
    Some(Value::String(out))
}

fn binary(text: &str) -> Option<Value> {
    let bytes = hex::decode(text.trim()).ok()?;
    Some(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (H. Hinnant's `civil_from_days`).
fn format_date(days: i64) -> String {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("+{year}")
    };
    format!("{year}-{month:02}-{day:02}")
}

fn format_time_of_day(nanos: i128, scale: u32) -> String {
    let secs = nanos / NANOS_PER_SEC;
    let frac = nanos % NANOS_PER_SEC;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if scale > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(&digits[..scale as usize]);
    }
    out
}

fn format_datetime(nanos: i128, scale: u32) -> Option<String> {
    let days = i64::try_from(nanos.div_euclid(NANOS_PER_DAY)).ok()?;
    let of_day = nanos.rem_euclid(NANOS_PER_DAY);
    Some(format!(
        "{}T{}",
        format_date(days),
        format_time_of_day(of_day, scale)
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn col(kind: &str, scale: Option<i64>) -> ColumnType {
        ColumnType {
            name: "C".into(),
            kind: kind.into(),
            scale,
            ..ColumnType::default()
        }
    }

    fn dec(kind: &str, scale: Option<i64>, cell: Option<&str>, options: DecodeOptions) -> Value {
        cell_value(&col(kind, scale), cell, options).unwrap()
    }

    /// The decoding table: every wire type, including the edges the issue names.
    #[test]
    fn every_wire_type_decodes_to_its_json_form() {
        let plain = DecodeOptions::default();
        let cases: Vec<(&str, Option<i64>, Option<&str>, Value)> = vec![
            ("fixed", Some(0), Some("123"), json!(123)),
            ("fixed", Some(0), Some("-42"), json!(-42)),
            (
                "fixed",
                Some(0),
                Some("9007199254740991"),
                json!(9_007_199_254_740_991_i64),
            ),
            (
                "fixed",
                Some(0),
                Some("9007199254740993"),
                json!("9007199254740993"),
            ),
            (
                "fixed",
                Some(0),
                Some("99999999999999999999999999999999999999"),
                json!("99999999999999999999999999999999999999"),
            ),
            (
                "fixed",
                Some(0),
                Some("-99999999999999999999999999999999999999"),
                json!("-99999999999999999999999999999999999999"),
            ),
            ("fixed", Some(2), Some("1.50"), json!(1.5)),
            ("fixed", Some(2), Some("172799.49"), json!(172_799.49)),
            ("fixed", Some(2), Some("-0.10"), json!(-0.1)),
            (
                "fixed",
                Some(10),
                Some("12345678901234567.1234567891"),
                json!("12345678901234567.1234567891"),
            ),
            ("decfloat", None, Some("1.23e-40"), json!(1.23e-40)),
            ("real", None, Some("1.5"), json!(1.5)),
            ("real", None, Some("-3"), json!(-3.0)),
            ("real", None, Some("NaN"), json!("NaN")),
            ("real", None, Some("inf"), json!("inf")),
            ("text", None, Some("abc"), json!("abc")),
            ("text", None, Some(""), json!("")),
            ("boolean", None, Some("true"), json!(true)),
            ("boolean", None, Some("false"), json!(false)),
            ("boolean", None, Some("1"), json!(true)),
            ("date", None, Some("18262"), json!("2020-01-01")),
            ("date", None, Some("17982"), json!("2019-03-27")),
            ("date", None, Some("0"), json!("1970-01-01")),
            ("date", None, Some("-1"), json!("1969-12-31")),
            ("date", None, Some("-719528"), json!("0000-01-01")),
            ("date", None, Some("-719529"), json!("-0001-12-31")),
            ("date", None, Some("2932896"), json!("9999-12-31")),
            (
                "time",
                Some(9),
                Some("82919.000000000"),
                json!("23:01:59.000000000"),
            ),
            (
                "time",
                Some(3),
                Some("3723.123456789"),
                json!("01:02:03.123"),
            ),
            ("time", Some(0), Some("0.000000000"), json!("00:00:00")),
            (
                "timestamp_ntz",
                Some(9),
                Some("1620151584.132000000"),
                json!("2021-05-04T18:06:24.132000000"),
            ),
            (
                "timestamp_ntz",
                Some(3),
                Some("-1.500000000"),
                json!("1969-12-31T23:59:58.500"),
            ),
            (
                "timestamp_ntz",
                Some(0),
                Some("-2208988800.000000000"),
                json!("1900-01-01T00:00:00"),
            ),
            (
                "timestamp_ltz",
                Some(3),
                Some("1616173619.000000000"),
                json!("2021-03-19T17:06:59.000Z"),
            ),
            (
                "timestamp_ltz",
                Some(0),
                Some("-86400.000000000"),
                json!("1969-12-31T00:00:00Z"),
            ),
            (
                "timestamp_tz",
                Some(0),
                Some("1616173619.000000000 1500"),
                json!("2021-03-19T18:06:59+01:00"),
            ),
            (
                "timestamp_tz",
                Some(3),
                Some("0.250000000 960"),
                json!("1969-12-31T16:00:00.250-08:00"),
            ),
            (
                "timestamp_tz",
                Some(0),
                Some("-1.000000000 1770"),
                json!("1970-01-01T05:29:59+05:30"),
            ),
            ("variant", None, Some("{\n  \"a\": 1\n}"), json!({"a": 1})),
            ("object", None, Some("{\"k\":[1,2]}"), json!({"k": [1, 2]})),
            (
                "array",
                None,
                Some("[1, \"x\", null]"),
                json!([1, "x", null]),
            ),
            ("variant", None, Some("\"str\""), json!("str")),
            ("binary", None, Some("ABCD"), json!("q80=")),
            ("binary", None, Some(""), json!("")),
            ("geography", None, Some("POINT(1 2)"), json!("POINT(1 2)")),
            ("fixed", Some(0), None, Value::Null),
            ("timestamp_tz", Some(9), None, Value::Null),
        ];
        for (kind, scale, cell, want) in cases {
            assert_eq!(dec(kind, scale, cell, plain), want, "{kind} {cell:?}");
        }
    }

    #[test]
    fn nullable_false_null_markers_become_null_except_in_text() {
        let options = DecodeOptions::default();
        for kind in [
            "fixed",
            "real",
            "boolean",
            "date",
            "time",
            "timestamp_ntz",
            "timestamp_ltz",
            "timestamp_tz",
            "binary",
            "variant",
        ] {
            assert_eq!(
                dec(kind, Some(0), Some("null"), options),
                Value::Null,
                "{kind}"
            );
        }
        assert_eq!(dec("text", None, Some("null"), options), json!("null"));
        assert_eq!(dec("fixed", Some(0), Some("7"), options), json!(7));
    }

    #[test]
    fn formatted_types_pass_through_and_garbage_is_an_error_without_the_value() {
        let options = DecodeOptions {
            formatted: Formatted::from_parameters(["date_output_format"]),
        };
        assert_eq!(
            dec("date", None, Some("03/27/2019"), options),
            json!("03/27/2019")
        );
        for (kind, bad) in [
            ("fixed", "12a"),
            ("boolean", "maybe"),
            ("date", "x"),
            ("time", "90000.0"),
            ("timestamp_tz", "1.0"),
            ("binary", "XYZ"),
        ] {
            let err =
                cell_value(&col(kind, None), Some(bad), DecodeOptions::default()).unwrap_err();
            assert!(!err.to_string().contains(bad), "{err}");
            assert_eq!(err.kind, kind);
        }
    }

    #[test]
    fn repeated_column_names_get_distinct_keys() {
        let (described, keys) = columns(&[col("fixed", Some(0)), col("FIXED", Some(0))]);
        assert_eq!(keys, ["C", "C_2"]);
        assert_eq!(described[1]["type"], "fixed");
        let rows = rows(
            &[col("fixed", Some(0)), col("text", None)],
            &keys,
            &[vec![Some("1".into()), Some("x".into())]],
            DecodeOptions::default(),
        )
        .unwrap();
        assert_eq!(rows, [json!({"C": 1, "C_2": "x"})]);
    }
}
