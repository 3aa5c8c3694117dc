//! Calendar arithmetic, parsing of the text forms the engine stores dates and timestamps in, and
//! Snowflake's output format tokens (`YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM`, …).
//!
//! Storage invariant (shared with `types` and `functions`): DATE is `YYYY-MM-DD`, TIME is
//! `HH:MM:SS.fffffffff`, TIMESTAMP_NTZ/LTZ are `YYYY-MM-DD HH:MM:SS.fffffffff` (LTZ in UTC) and
//! TIMESTAMP_TZ appends ` +HH:MM`. All of these sort correctly as text.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Number of days of a month.
pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// A point in time split into fields, plus an optional UTC offset in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateTime {
    /// Days since epoch.
    pub days: i64,
    /// Seconds since midnight.
    pub secs: u32,
    /// Nanoseconds.
    pub nanos: u32,
    /// UTC offset in minutes (TIMESTAMP_TZ only).
    pub offset: Option<i32>,
}

impl DateTime {
    /// Seconds since epoch of the wall-clock value (offset not applied).
    pub fn epoch_secs(&self) -> i64 {
        self.days * 86_400 + i64::from(self.secs)
    }

    /// Builds from epoch seconds and nanoseconds.
    pub fn from_epoch(secs: i64, nanos: u32) -> Self {
        Self {
            days: secs.div_euclid(86_400),
            secs: secs.rem_euclid(86_400) as u32,
            nanos,
            offset: None,
        }
    }

    /// Storage text: `YYYY-MM-DD HH:MM:SS.fffffffff[ +HH:MM]`.
    pub fn to_storage(self) -> String {
        let mut s = format!(
            "{} {}",
            date_to_iso(self.days),
            time_to_storage(self.secs, self.nanos)
        );
        if let Some(off) = self.offset {
            s.push(' ');
            s.push_str(&offset_text(off, true));
        }
        s
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn date_to_iso(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS.fffffffff`.
pub fn time_to_storage(secs: u32, nanos: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}.{nanos:09}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `+HH:MM` (or `+HHMM` without colon).
pub fn offset_text(off: i32, colon: bool) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.unsigned_abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    } else {
        format!("{sign}{:02}{:02}", a / 60, a % 60)
    }
}

fn digits(s: &[u8], i: &mut usize, max: usize) -> Option<(u64, usize)> {
    let start = *i;
    let mut v: u64 = 0;
    while *i < s.len() && *i - start < max && s[*i].is_ascii_digit() {
        v = v * 10 + u64::from(s[*i] - b'0');
        *i += 1;
    }
    (*i > start).then_some((v, *i - start))
}

/// Parses `YYYY-MM-DD` (also `YYYY/MM/DD`, `MM/DD/YYYY`) into days; trailing time is ignored.
pub fn parse_date(text: &str) -> Option<i64> {
    parse_datetime(text).map(|dt| dt.days)
}

/// Parses a date, timestamp or timestamp with offset (`2020-01-01`, `2020-01-01 10:00:00.5`,
/// `2020-01-01T10:00:00Z`, `2020-01-01 10:00:00 +01:00`).
pub fn parse_datetime(text: &str) -> Option<DateTime> {
    let s = text.trim().as_bytes();
    let mut i = 0;
    let (a, alen) = digits(s, &mut i, 4)?;
    let sep = *s.get(i)?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    i += 1;
    let (b, _) = digits(s, &mut i, 2)?;
    if s.get(i) != Some(&sep) {
        return None;
    }
    i += 1;
    let (c, clen) = digits(s, &mut i, 4)?;
    let (y, m, d) = if alen == 4 {
        (a as i64, b as u32, c as u32)
    } else if clen == 4 && sep == b'/' {
        (c as i64, a as u32, b as u32)
    } else {
        return None;
    };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut dt = DateTime {
        days: days_from_civil(y, m, d),
        ..DateTime::default()
    };
    if i < s.len() && (s[i] == b' ' || s[i] == b'T') {
        i += 1;
        while i < s.len() && s[i] == b' ' {
            i += 1;
        }
        let (secs, nanos) = parse_clock(s, &mut i)?;
        dt.secs = secs;
        dt.nanos = nanos;
        while i < s.len() && s[i] == b' ' {
            i += 1;
        }
        if i < s.len() {
            dt.offset = Some(parse_offset(&s[i..])?);
            i = s.len();
        }
    }
    (i == s.len()).then_some(dt)
}

fn parse_clock(s: &[u8], i: &mut usize) -> Option<(u32, u32)> {
    let (h, _) = digits(s, i, 2)?;
    if s.get(*i) != Some(&b':') {
        return None;
    }
    *i += 1;
    let (mi, _) = digits(s, i, 2)?;
    let mut sec = 0;
    let mut nanos = 0u64;
    if s.get(*i) == Some(&b':') {
        *i += 1;
        sec = digits(s, i, 2)?.0;
        if s.get(*i) == Some(&b'.') {
            *i += 1;
            let (f, flen) = digits(s, i, 9)?;
            nanos = f * 10u64.pow(9 - flen as u32);
            while *i < s.len() && s[*i].is_ascii_digit() {
                *i += 1;
            }
        }
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(((h * 3600 + mi * 60 + sec) as u32, nanos as u32))
}

fn parse_offset(s: &[u8]) -> Option<i32> {
    if s == b"Z" {
        return Some(0);
    }
    let sign = match s.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut i = 1;
    let (h, hl) = digits(s, &mut i, 2)?;
    if s.get(i) == Some(&b':') {
        i += 1;
    }
    let m = if i < s.len() {
        digits(s, &mut i, 2)?.0
    } else {
        0
    };
    (i == s.len() && hl == 2 && h <= 18 && m < 60).then_some(sign * (h * 60 + m) as i32)
}

/// Parses `HH:MM[:SS[.fffffffff]]` into (seconds since midnight, nanos).
pub fn parse_time(text: &str) -> Option<(u32, u32)> {
    let s = text.trim().as_bytes();
    let mut i = 0;
    let r = parse_clock(s, &mut i)?;
    (i == s.len()).then_some(r)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Formats with Snowflake's format tokens (`YYYY YY MM MON MMMM DD DY HH24 HH12 AM PM MI SS FF[1-9]
/// TZH TZM`; `"…"` quotes literal text; everything else is copied).
pub fn format_snowflake(fmt: &str, dt: &DateTime) -> String {
    let (y, mo, d) = civil_from_days(dt.days);
    let (h, mi, s) = (dt.secs / 3600, (dt.secs / 60) % 60, dt.secs % 60);
    let off = dt.offset.unwrap_or(0);
    let mut out = String::with_capacity(fmt.len() + 8);
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let starts = |i: usize, tok: &str| -> bool {
        let t: Vec<char> = tok.chars().collect();
        i + t.len() <= chars.len()
            && chars[i..i + t.len()]
                .iter()
                .zip(&t)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    while i < chars.len() {
        if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let (text, used) = if starts(i, "YYYY") {
            (format!("{y:04}"), 4)
        } else if starts(i, "YY") {
            (format!("{:02}", y.rem_euclid(100)), 2)
        } else if starts(i, "MMMM") {
            (MONTHS[(mo - 1) as usize].to_owned(), 4)
        } else if starts(i, "MON") {
            (MONTHS[(mo - 1) as usize][..3].to_owned(), 3)
        } else if starts(i, "MM") {
            (format!("{mo:02}"), 2)
        } else if starts(i, "MI") {
            (format!("{mi:02}"), 2)
        } else if starts(i, "DD") {
            (format!("{d:02}"), 2)
        } else if starts(i, "DY") {
            (DAYS[dt.days.rem_euclid(7) as usize].to_owned(), 2)
        } else if starts(i, "HH24") {
            (format!("{h:02}"), 4)
        } else if starts(i, "HH12") || starts(i, "HH") {
            let h12 = if h % 12 == 0 { 12 } else { h % 12 };
            (format!("{h12:02}"), if starts(i, "HH12") { 4 } else { 2 })
        } else if starts(i, "AM") || starts(i, "PM") {
            ((if h < 12 { "AM" } else { "PM" }).to_owned(), 2)
        } else if starts(i, "SS") {
            (format!("{s:02}"), 2)
        } else if starts(i, "FF") {
            let n = chars
                .get(i + 2)
                .and_then(|c| c.to_digit(10))
                .filter(|n| *n > 0);
            let width = n.unwrap_or(9) as usize;
            let f = format!("{:09}", dt.nanos);
            (f[..width].to_owned(), if n.is_some() { 3 } else { 2 })
        } else if starts(i, "TZH:TZM") {
            (offset_text(off, true), 7)
        } else if starts(i, "TZHTZM") {
            (offset_text(off, false), 6)
        } else if starts(i, "TZH") {
            (offset_text(off, false)[..3].to_owned(), 3)
        } else if starts(i, "TZM") {
            (format!("{:02}", off.unsigned_abs() % 60), 3)
        } else {
            (chars[i].to_string(), 1)
        };
        out.push_str(&text);
        i += used;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // STYLE.md §9: tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_and_known_days() {
        assert_eq!(days_from_civil(2020, 1, 1), 18262);
        assert_eq!(days_from_civil(2019, 3, 27), 17982);
        assert_eq!(civil_from_days(18262), (2020, 1, 1));
        for z in [-800_000, -1, 0, 59, 10_957, 18_262, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn parses_the_usual_text_forms() {
        assert_eq!(parse_date("2019-03-27"), Some(17982));
        assert_eq!(parse_date("03/27/2019"), Some(17982));
        assert_eq!(parse_date("2019-02-30"), None);
        let dt = parse_datetime("2021-03-19 17:06:59.5 +01:00").unwrap();
        assert_eq!(
            (dt.secs, dt.nanos, dt.offset),
            (61_619, 500_000_000, Some(60))
        );
        assert_eq!(parse_time("23:01:59"), Some((82_919, 0)));
        assert!(parse_datetime("1995-01-01' OR '1'='1").is_none());
    }

    #[test]
    fn formats_snowflake_tokens() {
        let dt = DateTime {
            days: 17982,
            secs: 13 * 3600 + 5 * 60 + 9,
            nanos: 123_456_789,
            offset: Some(-420),
        };
        assert_eq!(format_snowflake("MM/DD/YYYY", &dt), "03/27/2019");
        assert_eq!(
            format_snowflake("YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM", &dt),
            "2019-03-27 13:05:09.123 -0700"
        );
        assert_eq!(
            format_snowflake("DY, DD MON YY HH12 AM", &dt),
            "Wed, 27 Mar 19 01 PM"
        );
    }
}
