//! The SQL an admin runs in Snowflake, rendered from the templates in `sql/` (embedded in the
//! binary). The connection API, `icebroker sql …` and the admin UI all render through here, so
//! they show the same text.
//!
//! A template is a header comment (when to run it, as which role, what to check afterwards,
//! and `@param` declarations with a kind and an optional default) and one or more statements
//! with `{{placeholder}}`s. Values are checked against their kind and written so that no value
//! can end a literal or identifier, open a comment or a `$$` block, or start another statement
//! (see [`kind`] for each kind's guarantee; SECURITY.md SQ-2/SQ-3).
//!
//! ```text
//! let mut values = Values::new();
//! values.set("user", "JSMITH");
//! let text = sqltpl::render("keypair_desc_user", &values)?;
//! ```

pub mod cli;
pub mod kind;
pub mod template;
pub mod values;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Serialize;

use template::{Segment, Template};
pub use values::{for_connection, Values};

/// Every template, by file name (without `.sql`).
const SOURCES: &[(&str, &str)] = &[
    (
        "oauth_create_security_integration",
        include_str!("../../sql/oauth_create_security_integration.sql"),
    ),
    (
        "oauth_show_client_secrets",
        include_str!("../../sql/oauth_show_client_secrets.sql"),
    ),
    (
        "oauth_check_redirect_uri",
        include_str!("../../sql/oauth_check_redirect_uri.sql"),
    ),
    (
        "oauth_remove_delegated_authorizations",
        include_str!("../../sql/oauth_remove_delegated_authorizations.sql"),
    ),
    (
        "keypair_set_public_key",
        include_str!("../../sql/keypair_set_public_key.sql"),
    ),
    (
        "keypair_desc_user",
        include_str!("../../sql/keypair_desc_user.sql"),
    ),
    (
        "keypair_rotate_public_key",
        include_str!("../../sql/keypair_rotate_public_key.sql"),
    ),
    (
        "keypair_unset_public_key",
        include_str!("../../sql/keypair_unset_public_key.sql"),
    ),
    (
        "keypair_service_user",
        include_str!("../../sql/keypair_service_user.sql"),
    ),
    (
        "warehouse_check_auto_resume",
        include_str!("../../sql/warehouse_check_auto_resume.sql"),
    ),
    (
        "warehouse_enable_auto_resume",
        include_str!("../../sql/warehouse_enable_auto_resume.sql"),
    ),
    (
        "auth_policy_keypair_oauth",
        include_str!("../../sql/auth_policy_keypair_oauth.sql"),
    ),
    (
        "api_integration_aws",
        include_str!("../../sql/api_integration_aws.sql"),
    ),
    (
        "api_integration_azure",
        include_str!("../../sql/api_integration_azure.sql"),
    ),
    (
        "api_integration_google",
        include_str!("../../sql/api_integration_google.sql"),
    ),
    (
        "api_integration_git",
        include_str!("../../sql/api_integration_git.sql"),
    ),
    (
        "api_integration_external_mcp",
        include_str!("../../sql/api_integration_external_mcp.sql"),
    ),
    (
        "spcs_image_repository",
        include_str!("../../sql/spcs_image_repository.sql"),
    ),
    (
        "spcs_compute_pool",
        include_str!("../../sql/spcs_compute_pool.sql"),
    ),
    (
        "spcs_external_access",
        include_str!("../../sql/spcs_external_access.sql"),
    ),
    ("spcs_service", include_str!("../../sql/spcs_service.sql")),
];

/// Why a template could not be rendered. [`TemplateError::code`] is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No template has that name.
    #[error("no SQL template named {0:?}; `icebroker sql list` shows them")]
    UnknownTemplate(String),
    /// Values were given for placeholders the template does not have.
    #[error("template {template} has no placeholder {}; it takes: {}", .names.join(", "), .known.join(", "))]
    UnknownPlaceholder {
        /// The template.
        template: String,
        /// The unknown names.
        names: Vec<String>,
        /// The names it takes.
        known: Vec<String>,
    },
    /// Required values are missing.
    #[error("template {template} needs a value for: {} (give them with --set NAME=VALUE)", .names.join(", "))]
    MissingValue {
        /// The template.
        template: String,
        /// The missing names.
        names: Vec<String>,
    },
    /// A value does not pass its placeholder's check.
    #[error("invalid value for {name} ({kind}) in template {template}: {reason}")]
    InvalidValue {
        /// The template.
        template: String,
        /// The placeholder.
        name: String,
        /// Its kind.
        kind: String,
        /// What is wrong.
        reason: String,
    },
    /// An embedded template does not parse (a bug caught by the unit tests).
    #[error("the embedded SQL templates are broken: {0}")]
    Broken(String),
}

impl TemplateError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownTemplate(_) => "sql_template_not_found",
            Self::UnknownPlaceholder { .. } => "sql_placeholder_unknown",
            Self::MissingValue { .. } => "sql_value_missing",
            Self::InvalidValue { .. } => "sql_value_invalid",
            Self::Broken(_) => "sql_template_broken",
        }
    }
}

impl From<TemplateError> for crate::error::AppError {
    fn from(err: TemplateError) -> Self {
        match err {
            TemplateError::Broken(_) => Self::internal(err),
            other => Self::new(
                crate::error::ErrorCode::InvalidRequest,
                format!("{}: {other}", other.code()),
            ),
        }
    }
}

/// A template parameter, as shown to people.
#[derive(Debug, Clone, Serialize)]
pub struct ParamInfo {
    /// Placeholder name (the key of `--set`).
    pub name: String,
    /// Its kind (`ident`, `string`, `number(1..9)`, `enum(A|B)`, `list(url)`, …).
    pub kind: String,
    /// Default value, if any.
    pub default: Option<String>,
    /// Whether a value must be given.
    pub required: bool,
    /// What it is.
    pub help: String,
}

/// A template, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInfo {
    /// Name (file stem).
    pub name: String,
    /// One-line title.
    pub title: String,
    /// When to run it.
    pub when: String,
    /// As which role.
    pub run_as: String,
    /// What to check afterwards.
    pub then: String,
    /// Number of statements.
    pub statements: usize,
    /// Its parameters.
    pub params: Vec<ParamInfo>,
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The header comment (title, When/As/Then).
    pub header: String,
    /// The statements, each ending with `;`.
    pub statements: Vec<String>,
}

impl Rendered {
    /// Header and statements, the text an admin pastes.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.header, self.sql())
    }

    /// The statements only, separated by blank lines.
    pub fn sql(&self) -> String {
        self.statements.join("\n\n")
    }
}

struct Registry {
    templates: Vec<Template>,
    infos: Vec<TemplateInfo>,
}

static REGISTRY: LazyLock<Result<Registry, String>> = LazyLock::new(|| {
    let templates = SOURCES
        .iter()
        .map(|(name, source)| Template::parse(name, source))
        .collect::<Result<Vec<_>, _>>()?;
    let infos = templates.iter().map(info).collect();
    Ok(Registry { templates, infos })
});

fn registry() -> Result<&'static Registry, TemplateError> {
    REGISTRY
        .as_ref()
        .map_err(|e| TemplateError::Broken(e.clone()))
}

fn info(t: &Template) -> TemplateInfo {
    TemplateInfo {
        name: t.name.clone(),
        title: t.title.clone(),
        when: t.when.clone(),
        run_as: t.run_as.clone(),
        then: t.then.clone(),
        statements: t.statements.len(),
        params: t
            .params
            .iter()
            .map(|p| ParamInfo {
                name: p.name.clone(),
                kind: p.kind.to_string(),
                default: p.default.clone(),
                required: p.default.is_none(),
                help: p.help.clone(),
            })
            .collect(),
    }
}

/// Every template (empty only if the embedded templates are broken, which tests rule out).
pub fn list() -> &'static [TemplateInfo] {
    registry().map(|r| r.infos.as_slice()).unwrap_or(&[])
}

/// One template's description.
pub fn get(name: &str) -> Result<&'static TemplateInfo, TemplateError> {
    registry()?
        .infos
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| TemplateError::UnknownTemplate(name.to_owned()))
}

/// Renders template `name` with `values`: the full text to paste (header and statements).
pub fn render(name: &str, values: &Values) -> Result<String, TemplateError> {
    Ok(render_parts(name, values)?.text())
}

/// Renders template `name` with `values` into its header and statements.
///
/// Values for keys the template does not declare are refused, unless `values` was built with
/// [`Values::lenient`] (values derived from a connection cover many templates at once).
pub fn render_parts(name: &str, values: &Values) -> Result<Rendered, TemplateError> {
    let template = registry()?
        .templates
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| TemplateError::UnknownTemplate(name.to_owned()))?;
    let unknown: Vec<String> = values
        .strict_keys()
        .filter(|k| !template.params.iter().any(|p| &p.name == *k))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(TemplateError::UnknownPlaceholder {
            template: name.to_owned(),
            names: unknown,
            known: template.params.iter().map(|p| p.name.clone()).collect(),
        });
    }
    let missing: Vec<String> = template
        .params
        .iter()
        .filter(|p| values.get(&p.name).is_none() && p.default.is_none())
        .map(|p| p.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(TemplateError::MissingValue {
            template: name.to_owned(),
            names: missing,
        });
    }
    let mut checked = BTreeMap::new();
    for (i, p) in template.params.iter().enumerate() {
        let raw = values
            .get(&p.name)
            .or(p.default.as_deref())
            .unwrap_or_default();
        let value = p
            .kind
            .check(raw)
            .map_err(|reason| TemplateError::InvalidValue {
                template: name.to_owned(),
                name: p.name.clone(),
                kind: p.kind.to_string(),
                reason,
            })?;
        checked.insert(i, value);
    }
    let statements = template
        .statements
        .iter()
        .map(|segments| {
            let mut out = String::new();
            for segment in segments {
                match segment {
                    Segment::Text(t) => out.push_str(t),
                    Segment::Slot(i, form, context) => {
                        let value = checked.get(i).map(String::as_str).unwrap_or_default();
                        out.push_str(&template.params[*i].kind.render_at(value, *form, *context));
                    }
                }
            }
            out.trim().to_owned()
        })
        .collect();
    Ok(Rendered {
        header: template.header.clone(),
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_template_parses_and_has_a_unique_name() {
        let registry = registry().unwrap();
        assert_eq!(registry.templates.len(), SOURCES.len());
        let mut names: Vec<&str> = SOURCES.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SOURCES.len());
        assert_eq!(list().len(), SOURCES.len());
    }

    #[test]
    fn errors_name_the_template_and_the_placeholders() {
        let err = render("nope", &Values::new()).unwrap_err();
        assert_eq!(err.code(), "sql_template_not_found");
        let err = render("keypair_desc_user", &Values::new()).unwrap_err();
        assert_eq!(err.code(), "sql_value_missing");
        assert!(err.to_string().contains("user"), "{err}");
        let mut v = Values::new();
        v.set("user", "JSMITH");
        v.set("usr", "x");
        let err = render("keypair_desc_user", &v).unwrap_err();
        assert_eq!(err.code(), "sql_placeholder_unknown");
        assert!(err.to_string().contains("usr"), "{err}");
        let mut v = Values::new();
        v.set("user", "a\nb");
        let err = render("keypair_desc_user", &v).unwrap_err();
        assert_eq!(err.code(), "sql_value_invalid");
    }

    #[test]
    fn rendered_text_starts_with_the_header_and_ends_with_the_statement() {
        let mut v = Values::new();
        v.set("user", "jsmith");
        let text = render("keypair_desc_user", &v).unwrap();
        assert!(text.starts_with("-- "), "{text}");
        assert!(text.contains("-- When:"), "{text}");
        assert!(!text.contains("@param"), "{text}");
        assert!(text.ends_with("DESC USER \"JSMITH\";"), "{text}");
    }
}
