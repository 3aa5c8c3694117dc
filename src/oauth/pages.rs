//! The browser pages of the OAuth flow, rendered from `templates/` with minijinja.
//!
//! Invariants (OA-7): templates are compiled into the binary; `.html` templates auto-escape every
//! value; pages load nothing from anywhere (inline CSS only, no scripts, images or fonts), so the
//! callback page never sends a `Referer` or request to a third party.

use minijinja::{context, Environment};

/// The compiled templates.
pub struct Pages {
    env: Environment<'static>,
}

const TEMPLATES: [(&str, &str); 5] = [
    ("layout.html", include_str!("../../templates/layout.html")),
    (
        "link_expired.html",
        include_str!("../../templates/link_expired.html"),
    ),
    (
        "connected.html",
        include_str!("../../templates/connected.html"),
    ),
    ("denied.html", include_str!("../../templates/denied.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

impl Pages {
    /// Compiles every template (a syntax error is a startup failure, not a request failure).
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    fn render(&self, name: &str, ctx: minijinja::Value) -> String {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| {
                tracing::error!(template = name, error = %e, "page rendering failed");
                "icebroker could not render this page.".to_owned()
            })
    }

    /// "This link has expired".
    pub fn link_expired(&self) -> String {
        self.render("link_expired.html", context! {})
    }

    /// "Your Snowflake account is connected".
    pub fn connected(&self, connection: &str, snowflake_user: Option<&str>) -> String {
        self.render(
            "connected.html",
            context! { connection => connection, snowflake_user => snowflake_user },
        )
    }

    /// "Authorization declined".
    pub fn denied(&self, connection: &str) -> String {
        self.render("denied.html", context! { connection => connection })
    }

    /// A failure with a title and a message.
    pub fn error(&self, title: &str, message: &str) -> String {
        self.render(
            "error.html",
            context! { title => title, message => message },
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_pages_load_nothing_external() {
        let pages = Pages::new().unwrap();
        let html = pages.connected("<script>x</script>", Some("\"JS\"<b>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        for page in [
            html,
            pages.link_expired(),
            pages.denied("c"),
            pages.error("t", "m"),
        ] {
            for needle in ["http://", "https://", "src=", "<script", "<link", "@import"] {
                assert!(!page.contains(needle), "{needle} in {page}");
            }
        }
    }
}
