//! Snowflake functions the rewritten SQL calls as SQLite user functions (`sf_*`), plus the
//! per-thread execution state they read (statement start time, cancel flag).
//!
//! Invariant: a function that fails returns an error whose text is [`encode_error`] of a
//! [`SqlError`], which the executor decodes back, so Snowflake's code reaches the caller.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;

use super::datetime::{self, DateTime};
use super::types::round_decimal_str;
use super::SqlError;

/// State of the statement running on this thread.
#[derive(Clone)]
pub struct ExecState {
    /// Set when the statement must stop.
    pub cancel: Arc<AtomicBool>,
    /// Statement start (UTC), what CURRENT_TIMESTAMP returns.
    pub now: DateTime,
}

thread_local! {
    static CURRENT: RefCell<Option<ExecState>> = const { RefCell::new(None) };
}

/// Installs `state` for the duration of `f` on this thread.
pub fn with_state<T>(state: ExecState, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|c| *c.borrow_mut() = Some(state));
    let out = f();
    CURRENT.with(|c| *c.borrow_mut() = None);
    out
}

/// True when the running statement was cancelled.
pub fn cancelled() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|s| s.cancel.load(Ordering::Relaxed))
    })
}

fn now() -> DateTime {
    CURRENT
        .with(|c| c.borrow().as_ref().map(|s| s.now))
        .unwrap_or_else(system_now)
}

/// The wall clock as a UTC [`DateTime`].
pub fn system_now() -> DateTime {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    DateTime::from_epoch(d.as_secs() as i64, d.subsec_nanos())
}

const MARK: &str = "SFERR\u{1}";

/// Text a user function fails with to carry a Snowflake error through SQLite.
pub fn encode_error(e: &SqlError) -> String {
    format!("{MARK}{}\u{1}{}\u{1}{}", e.code, e.sql_state, e.message)
}

/// Recovers a Snowflake error from an SQLite error message, if it carries one.
pub fn decode_error(msg: &str) -> Option<SqlError> {
    let rest = &msg[msg.find(MARK)? + MARK.len()..];
    let mut parts = rest.splitn(3, '\u{1}');
    Some(SqlError::new(parts.next()?, parts.next()?, parts.next()?))
}

fn fail(e: SqlError) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(encode_error(&e).into())
}

fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(hex::encode_upper(b)),
    }
}

fn num(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn to_dt(v: ValueRef<'_>, kind: &str) -> rusqlite::Result<Option<(DateTime, bool)>> {
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some((DateTime::from_epoch(i, 0), false))),
        _ => {
            let t = text(v).unwrap_or_default();
            let dt = datetime::parse_datetime(&t)
                .ok_or_else(|| fail(SqlError::not_recognized(kind, &t)))?;
            let date_only = !t.trim().contains(':');
            Ok(Some((dt, date_only)))
        }
    }
}

fn part(p: &str) -> String {
    let p = p.trim().to_ascii_uppercase();
    match p.as_str() {
        "Y" | "YY" | "YYY" | "YYYY" | "YR" | "YEARS" | "YRS" => "YEAR".into(),
        "MM" | "MON" | "MONS" | "MONTHS" => "MONTH".into(),
        "D" | "DD" | "DAYS" | "DAYOFMONTH" => "DAY".into(),
        "W" | "WK" | "WEEKOFYEAR" | "WOY" | "WY" => "WEEK".into(),
        "Q" | "QTR" | "QTRS" | "QUARTERS" => "QUARTER".into(),
        "H" | "HH" | "HR" | "HOURS" | "HRS" => "HOUR".into(),
        "M" | "MI" | "MIN" | "MINUTES" | "MINS" => "MINUTE".into(),
        "S" | "SEC" | "SECONDS" | "SECS" => "SECOND".into(),
        "DOW" | "WEEKDAY" | "DW" => "DAYOFWEEK".into(),
        "DOY" | "YD" | "DY" => "DAYOFYEAR".into(),
        _ => p,
    }
}

fn date_part(p: &str, dt: &DateTime) -> Option<i64> {
    let (y, m, d) = datetime::civil_from_days(dt.days);
    Some(match part(p).as_str() {
        "YEAR" => y,
        "MONTH" => i64::from(m),
        "DAY" => i64::from(d),
        "QUARTER" => i64::from((m - 1) / 3 + 1),
        "DAYOFWEEK" => (dt.days + 4).rem_euclid(7),
        "DAYOFYEAR" => dt.days - datetime::days_from_civil(y, 1, 1) + 1,
        "WEEK" => (dt.days - datetime::days_from_civil(y, 1, 1)) / 7 + 1,
        "HOUR" => i64::from(dt.secs / 3600),
        "MINUTE" => i64::from((dt.secs / 60) % 60),
        "SECOND" => i64::from(dt.secs % 60),
        "EPOCH_SECOND" => dt.epoch_secs(),
        _ => return None,
    })
}

fn render(dt: &DateTime, date_only: bool) -> String {
    if date_only {
        datetime::date_to_iso(dt.days)
    } else {
        dt.to_storage()
    }
}

fn date_trunc(p: &str, mut dt: DateTime) -> Option<DateTime> {
    let (y, m, _) = datetime::civil_from_days(dt.days);
    match part(p).as_str() {
        "YEAR" => dt.days = datetime::days_from_civil(y, 1, 1),
        "QUARTER" => dt.days = datetime::days_from_civil(y, (m - 1) / 3 * 3 + 1, 1),
        "MONTH" => dt.days = datetime::days_from_civil(y, m, 1),
        "WEEK" => dt.days -= (dt.days + 3).rem_euclid(7),
        "DAY" => {}
        "HOUR" => dt.secs -= dt.secs % 3600,
        "MINUTE" => dt.secs -= dt.secs % 60,
        "SECOND" => {}
        _ => return None,
    }
    if matches!(
        part(p).as_str(),
        "YEAR" | "QUARTER" | "MONTH" | "WEEK" | "DAY"
    ) {
        dt.secs = 0;
    }
    dt.nanos = 0;
    Some(dt)
}

fn date_add(p: &str, n: i64, mut dt: DateTime) -> Option<(DateTime, bool)> {
    let add_months = |dt: &mut DateTime, months: i64| {
        let (y, m, d) = datetime::civil_from_days(dt.days);
        let total = y * 12 + i64::from(m) - 1 + months;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        dt.days = datetime::days_from_civil(ny, nm, d.min(datetime::days_in_month(ny, nm)));
    };
    let mut secs = |s: i64| {
        let total = dt.epoch_secs() + s;
        let nanos = dt.nanos;
        let off = dt.offset;
        dt = DateTime::from_epoch(total, nanos);
        dt.offset = off;
    };
    let keeps_date = match part(p).as_str() {
        "YEAR" => {
            add_months(&mut dt, n * 12);
            true
        }
        "QUARTER" => {
            add_months(&mut dt, n * 3);
            true
        }
        "MONTH" => {
            add_months(&mut dt, n);
            true
        }
        "WEEK" => {
            dt.days += n * 7;
            true
        }
        "DAY" => {
            dt.days += n;
            true
        }
        "HOUR" => {
            secs(n * 3600);
            false
        }
        "MINUTE" => {
            secs(n * 60);
            false
        }
        "SECOND" => {
            secs(n);
            false
        }
        _ => return None,
    };
    Some((dt, keeps_date))
}

fn invalid_part(p: &str) -> rusqlite::Error {
    fail(SqlError::new(
        "001065",
        "22023",
        format!("SQL compilation error:\ninvalid value [{p}] for parameter 'date or time part'"),
    ))
}

type Scalar = fn(&Context<'_>) -> rusqlite::Result<Value>;

fn det() -> FunctionFlags {
    FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC
}

/// Registers every `sf_*` function on a connection.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let scalars: &[(&str, i32, bool, Scalar)] = &[
        ("sf_div", 2, true, |c| {
            let (a, b) = (c.get_raw(0), c.get_raw(1));
            let (Some(a), Some(b)) = (num(a), num(b)) else {
                return Ok(Value::Null);
            };
            if b == 0.0 {
                return Err(fail(SqlError::division_by_zero()));
            }
            Ok(Value::Real(a / b))
        }),
        ("sf_div0", 2, true, |c| {
            let (Some(a), Some(b)) = (num(c.get_raw(0)), num(c.get_raw(1))) else {
                return Ok(Value::Null);
            };
            Ok(Value::Real(if b == 0.0 { 0.0 } else { a / b }))
        }),
        ("sf_now", 0, false, |_| Ok(Value::Text(now().to_storage()))),
        ("sf_current_date", 0, false, |_| {
            Ok(Value::Text(datetime::date_to_iso(now().days)))
        }),
        ("sf_current_time", 0, false, |_| {
            let n = now();
            Ok(Value::Text(datetime::time_to_storage(n.secs, n.nanos)))
        }),
        ("sf_date_part", 2, true, |c| {
            let p = text(c.get_raw(0)).unwrap_or_default();
            let Some((dt, _)) = to_dt(c.get_raw(1), "Timestamp")? else {
                return Ok(Value::Null);
            };
            date_part(&p, &dt)
                .map(Value::Integer)
                .ok_or_else(|| invalid_part(&p))
        }),
        ("sf_date_trunc", 2, true, |c| {
            let p = text(c.get_raw(0)).unwrap_or_default();
            let Some((dt, date_only)) = to_dt(c.get_raw(1), "Timestamp")? else {
                return Ok(Value::Null);
            };
            let t = date_trunc(&p, dt).ok_or_else(|| invalid_part(&p))?;
            Ok(Value::Text(render(&t, date_only)))
        }),
        ("sf_dateadd", 3, true, |c| {
            let p = text(c.get_raw(0)).unwrap_or_default();
            let Some(n) = num(c.get_raw(1)) else {
                return Ok(Value::Null);
            };
            let Some((dt, date_only)) = to_dt(c.get_raw(2), "Timestamp")? else {
                return Ok(Value::Null);
            };
            let (t, keeps) = date_add(&p, n as i64, dt).ok_or_else(|| invalid_part(&p))?;
            Ok(Value::Text(render(&t, date_only && keeps)))
        }),
        ("sf_datediff", 3, true, |c| {
            let p = part(&text(c.get_raw(0)).unwrap_or_default());
            let (Some((a, _)), Some((b, _))) = (
                to_dt(c.get_raw(1), "Timestamp")?,
                to_dt(c.get_raw(2), "Timestamp")?,
            ) else {
                return Ok(Value::Null);
            };
            let (ya, ma, _) = datetime::civil_from_days(a.days);
            let (yb, mb, _) = datetime::civil_from_days(b.days);
            let months = (yb * 12 + i64::from(mb)) - (ya * 12 + i64::from(ma));
            Ok(Value::Integer(match p.as_str() {
                "YEAR" => yb - ya,
                "QUARTER" => {
                    (yb * 4 + i64::from((mb - 1) / 3)) - (ya * 4 + i64::from((ma - 1) / 3))
                }
                "MONTH" => months,
                "WEEK" => {
                    (b.days - (b.days + 3).rem_euclid(7) - a.days + (a.days + 3).rem_euclid(7)) / 7
                }
                "DAY" => b.days - a.days,
                "HOUR" => b.epoch_secs() / 3600 - a.epoch_secs() / 3600,
                "MINUTE" => b.epoch_secs() / 60 - a.epoch_secs() / 60,
                "SECOND" => b.epoch_secs() - a.epoch_secs(),
                _ => return Err(invalid_part(&p)),
            }))
        }),
        ("sf_to_date", 1, true, |c| {
            Ok(match to_dt(c.get_raw(0), "Date")? {
                Some((dt, _)) => Value::Text(datetime::date_to_iso(dt.days)),
                None => Value::Null,
            })
        }),
        ("sf_to_timestamp", 1, true, |c| {
            Ok(match to_dt(c.get_raw(0), "Timestamp")? {
                Some((mut dt, _)) => {
                    dt.offset = None;
                    Value::Text(dt.to_storage())
                }
                None => Value::Null,
            })
        }),
        ("sf_to_timestamp_tz", 1, true, |c| {
            Ok(match to_dt(c.get_raw(0), "Timestamp")? {
                Some((mut dt, _)) => {
                    dt.offset = Some(dt.offset.unwrap_or(0));
                    Value::Text(dt.to_storage())
                }
                None => Value::Null,
            })
        }),
        ("sf_to_time", 1, true, |c| {
            let Some(t) = text(c.get_raw(0)) else {
                return Ok(Value::Null);
            };
            let (s, n) = datetime::parse_time(&t)
                .or_else(|| datetime::parse_datetime(&t).map(|d| (d.secs, d.nanos)))
                .ok_or_else(|| fail(SqlError::not_recognized("Time", &t)))?;
            Ok(Value::Text(datetime::time_to_storage(s, n)))
        }),
        ("sf_to_number", 2, true, |c| {
            let scale = c.get::<i64>(1)?.clamp(0, 37) as u32;
            let v = c.get_raw(0);
            let t = match v {
                ValueRef::Null => return Ok(Value::Null),
                ValueRef::Real(f) => format!("{f}"),
                _ => text(v).unwrap_or_default(),
            };
            let r = round_decimal_str(t.trim(), scale).ok_or_else(|| {
                fail(SqlError::new(
                    "100038",
                    "22018",
                    format!("Numeric value '{t}' is not recognized"),
                ))
            })?;
            Ok(if scale == 0 {
                r.parse::<i64>().map_or(Value::Text(r), Value::Integer)
            } else {
                r.parse::<f64>().map_or(Value::Text(r), Value::Real)
            })
        }),
        ("sf_to_double", 1, true, |c| {
            let v = c.get_raw(0);
            if matches!(v, ValueRef::Null) {
                return Ok(Value::Null);
            }
            num(v).map(Value::Real).ok_or_else(|| {
                let t = text(v).unwrap_or_default();
                fail(SqlError::new(
                    "100038",
                    "22018",
                    format!("Numeric value '{t}' is not recognized"),
                ))
            })
        }),
        ("sf_to_boolean", 1, true, |c| {
            let v = c.get_raw(0);
            let Some(t) = text(v) else {
                return Ok(Value::Null);
            };
            match t.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "on" | "1" => Ok(Value::Integer(1)),
                "false" | "f" | "no" | "n" | "off" | "0" => Ok(Value::Integer(0)),
                _ => match num(v) {
                    Some(f) => Ok(Value::Integer(i64::from(f != 0.0))),
                    None => Err(fail(SqlError::new(
                        "100037",
                        "22018",
                        format!("Boolean value '{t}' is not recognized"),
                    ))),
                },
            }
        }),
        ("sf_to_char", 1, true, |c| {
            Ok(text(c.get_raw(0)).map_or(Value::Null, Value::Text))
        }),
        ("sf_uuid", 0, false, |_| {
            Ok(Value::Text(uuid::Uuid::new_v4().to_string()))
        }),
    ];
    for (name, n, deterministic, f) in scalars {
        let flags = if *deterministic {
            det()
        } else {
            FunctionFlags::SQLITE_UTF8
        };
        let f = *f;
        conn.create_scalar_function(*name, *n, flags, f)?;
    }
    for n in [1, 2] {
        conn.create_scalar_function("sf_system_wait", n, FunctionFlags::SQLITE_UTF8, |c| {
            let amount = num(c.get_raw(0)).unwrap_or(0.0).max(0.0);
            let unit = if c.len() > 1 {
                text(c.get_raw(1)).unwrap_or_default().to_ascii_uppercase()
            } else {
                "SECONDS".to_owned()
            };
            let secs = match unit.as_str() {
                "MILLISECONDS" => amount / 1000.0,
                "SECONDS" => amount,
                _ => {
                    return Err(fail(SqlError::new(
                        "100069",
                        "22023",
                        format!("Invalid time unit '{unit}'"),
                    )))
                }
            };
            let deadline = Instant::now() + Duration::from_secs_f64(secs.min(604_800.0));
            while Instant::now() < deadline {
                if cancelled() {
                    return Err(fail(SqlError::cancelled()));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                std::thread::sleep(left.min(Duration::from_millis(10)));
            }
            Ok(Value::Text("waited".to_owned()))
        })?;
    }
    conn.create_scalar_function("sf_uniform", 3, FunctionFlags::SQLITE_UTF8, |c| {
        let (lo, hi) = (c.get_raw(0), c.get_raw(1));
        let r: u64 = rand_u64();
        match (lo, hi) {
            (ValueRef::Integer(a), ValueRef::Integer(b)) if a <= b => {
                let span = (b - a) as u64 + 1;
                Ok(Value::Integer(a + (r % span) as i64))
            }
            _ => {
                let (a, b) = (num(lo).unwrap_or(0.0), num(hi).unwrap_or(0.0));
                Ok(Value::Real(a + (r as f64 / u64::MAX as f64) * (b - a)))
            }
        }
    })?;
    Ok(())
}

fn rand_u64() -> u64 {
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_err() {
        return 4;
    }
    u64::from_le_bytes(buf)
}
