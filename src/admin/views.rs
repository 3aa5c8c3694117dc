//! The admin UI's templates (compiled into the binary from `templates/admin/`, auto-escaped)
//! and the small helpers pages use: timestamps, status badges, and the HTML response builder.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use minijinja::{context, Environment, Value};

use super::guard::AdminError;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "admin/base.html",
        include_str!("../../templates/admin/base.html"),
    ),
    (
        "admin/_sql.html",
        include_str!("../../templates/admin/_sql.html"),
    ),
    (
        "admin/_field.html",
        include_str!("../../templates/admin/_field.html"),
    ),
    (
        "admin/login.html",
        include_str!("../../templates/admin/login.html"),
    ),
    (
        "admin/error.html",
        include_str!("../../templates/admin/error.html"),
    ),
    (
        "admin/connections.html",
        include_str!("../../templates/admin/connections.html"),
    ),
    (
        "admin/connection_new.html",
        include_str!("../../templates/admin/connection_new.html"),
    ),
    (
        "admin/connection.html",
        include_str!("../../templates/admin/connection.html"),
    ),
    (
        "admin/connection_delete.html",
        include_str!("../../templates/admin/connection_delete.html"),
    ),
    (
        "admin/result.html",
        include_str!("../../templates/admin/result.html"),
    ),
    (
        "admin/api_keys.html",
        include_str!("../../templates/admin/api_keys.html"),
    ),
    (
        "admin/audit.html",
        include_str!("../../templates/admin/audit.html"),
    ),
];

/// The stylesheet served at `/admin/static/admin.css`.
pub const ADMIN_CSS: &str = include_str!("../../static/admin.css");
/// The script served at `/admin/static/admin.js` (copy buttons only).
pub const ADMIN_JS: &str = include_str!("../../static/admin.js");

/// The strict CSP of every admin response: our own files only, no inline script or style, no
/// framing, forms post only to us.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; object-src 'none'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

static ENV: LazyLock<Result<Environment<'static>, String>> = LazyLock::new(build);

fn build() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    // `.html` templates auto-escape every value (minijinja's default for the extension).
    for (name, source) in TEMPLATES {
        env.add_template(name, source).map_err(|e| e.to_string())?;
    }
    env.add_filter("time", |secs: Option<u64>| {
        secs.map(format_time).unwrap_or_default()
    });
    env.add_filter("time_ms", |ms: Option<u64>| {
        ms.map(|ms| format_time(ms / 1000)).unwrap_or_default()
    });
    env.add_filter("label", |s: String| s.replace('_', " "));
    Ok(env)
}

/// Renders `name` with `ctx`.
pub fn render(name: &str, ctx: Value) -> Result<String, AdminError> {
    let env = ENV.as_ref().map_err(|e| AdminError::Render(e.clone()))?;
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| AdminError::Render(format!("{name}: {e:#}")))
}

/// An HTML page with `status`. Security headers come from the admin scope's middleware.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Renders a page with status 200.
pub fn page(name: &str, ctx: Value) -> Result<HttpResponse, AdminError> {
    Ok(html(StatusCode::OK, render(name, ctx)?))
}

/// The error page (no navigation: it may be shown without a session).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let body = render(
        "admin/error.html",
        context! { title => title, message => message, status => status.as_u16() },
    )
    .unwrap_or_else(|_| "icebroker: this admin page could not be rendered.".to_owned());
    html(status, body)
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch.
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch at 00:00 UTC of a `YYYY-MM-DD` date.
pub fn parse_date(date: &str) -> Option<u64> {
    let mut parts = date.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let (cy, cm, cd) = civil_from_days(days);
    // Refuse dates like 2026-02-31 instead of rolling them over.
    ((cy, cm, cd) == (y, m, d)).then_some(days as u64 * 86_400)
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian, days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        assert!(ENV.as_ref().is_ok(), "{:?}", ENV.as_ref().err());
    }

    #[test]
    fn times_format_and_dates_parse() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_795_416_945), "2026-11-23 06:55:45 UTC");
        assert_eq!(parse_date("2026-11-23"), Some(1_795_392_000));
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800));
        for bad in ["2026-02-30", "2026-13-01", "x", "", "1969-12-31", "2026-1"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let html = render(
            "admin/error.html",
            context! { title => "<script>", message => "\"><img src=x>", status => 400 },
        )
        .unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"));
    }
}
