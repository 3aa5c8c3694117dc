//! Rewrites a parsed Snowflake statement into SQL SQLite runs: catalogue tables become their
//! backing SQLite tables, placeholders become numbered `?N`, Snowflake functions become `sf_*`
//! user functions or SQLite built-ins, casts go through conversion functions, `/` becomes
//! `sf_div` (Snowflake fails on division by zero and never divides integers), and ORDER BY gets
//! Snowflake's NULL placement.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName, OrderByExpr, OrderBySort, Query, TableAlias, TableFactor,
    Value, ValueWithSpan, VisitMut, VisitorMut,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Span;

use super::catalog::sqlite_name;
use super::infer::sf_type;
use super::names::{missing_bind, norm, Names};
use super::types::SfType;
use super::SqlError;

/// Rewriting state for one statement.
pub struct Rewriter<'n, 'a> {
    names: &'n Names<'a>,
    ctes: HashSet<String>,
    has_generator: bool,
    /// True when the statement reads an INFORMATION_SCHEMA view.
    pub reads_info_schema: bool,
}

fn lit(s: &str) -> Expr {
    Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(s.to_owned()),
        span: Span::empty(),
    })
}

fn null() -> Expr {
    Expr::Value(ValueWithSpan {
        value: Value::Null,
        span: Span::empty(),
    })
}

fn num(n: u32) -> Expr {
    Expr::Value(ValueWithSpan {
        value: Value::Number(n.to_string(), false),
        span: Span::empty(),
    })
}

/// A plain function call `name(args…)`.
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: Vec::new(),
        }),
        within_group: Vec::new(),
        filter: None,
        null_treatment: None,
        over: None,
    })
}

fn plain_args(f: &Function) -> Vec<Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A date part given as identifier (`MONTH`) or string (`'month'`), as a string literal.
fn part_arg(e: &Expr) -> Expr {
    match e {
        Expr::Identifier(id) => lit(&id.value.to_ascii_uppercase()),
        other => other.clone(),
    }
}

fn cast_to(target: Option<SfType>, e: Expr) -> Expr {
    match target {
        Some(SfType::Fixed { scale, .. }) => call("sf_to_number", vec![e, num(scale)]),
        Some(SfType::Real) => call("sf_to_double", vec![e]),
        Some(SfType::Text { .. }) => call("sf_to_char", vec![e]),
        Some(SfType::Boolean) => call("sf_to_boolean", vec![e]),
        Some(SfType::Date) => call("sf_to_date", vec![e]),
        Some(SfType::Time { .. }) => call("sf_to_time", vec![e]),
        Some(SfType::TimestampNtz { .. } | SfType::TimestampLtz { .. }) => {
            call("sf_to_timestamp", vec![e])
        }
        Some(SfType::TimestampTz { .. }) => call("sf_to_timestamp_tz", vec![e]),
        _ => e,
    }
}

fn is_numeric_expr(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => {
            let n = f.name.to_string().to_ascii_lowercase();
            matches!(
                n.as_str(),
                "sf_date_part"
                    | "sf_datediff"
                    | "count"
                    | "sum"
                    | "avg"
                    | "length"
                    | "abs"
                    | "round"
                    | "sf_div"
            )
        }
        Expr::BinaryOp { op, .. } => matches!(
            op,
            BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Modulo
        ),
        Expr::Nested(inner) => is_numeric_expr(inner),
        _ => false,
    }
}

fn is_texty(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::Placeholder(_) | Value::SingleQuotedString(_)))
}

/// Makes a text operand numeric when compared with an expression that has no column affinity
/// (Snowflake coerces `YEAR(d) = '1995'`; SQLite would compare integer and text as unequal).
fn coerce(num_side: &Expr, other: &mut Expr) {
    if is_numeric_expr(num_side) && is_texty(other) {
        let e = std::mem::replace(other, null());
        *other = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(e),
            data_type: sqlparser::ast::DataType::Numeric(sqlparser::ast::ExactNumberInfo::None),
            format: None,
        };
    }
}

impl<'n, 'a> Rewriter<'n, 'a> {
    /// New rewriter; `sql` is scanned for generators, `ctes` lists CTE names of the statement.
    pub fn new(names: &'n Names<'a>, sql: &str, mut ctes: HashSet<String>) -> Self {
        // The generator's own recursive CTE.
        ctes.insert("__G".to_owned());
        Self {
            names,
            ctes,
            has_generator: sql.to_ascii_uppercase().contains("GENERATOR"),
            reads_info_schema: false,
        }
    }

    fn generator(&self, f: &Function) -> Result<Query, SqlError> {
        let mut rows = None;
        if let FunctionArguments::List(l) = &f.args {
            for a in &l.args {
                if let FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } = a
                {
                    if name.value.eq_ignore_ascii_case("ROWCOUNT") {
                        rows = Some(e.clone());
                    }
                }
            }
        }
        let mut rows = rows.ok_or_else(|| {
            SqlError::new(
                "001044",
                "42P13",
                "SQL compilation error:\nInvalid argument types for function 'GENERATOR'",
            )
        })?;
        self.placeholder(&mut rows)?;
        let n = rows.to_string();
        let sql = format!(
            "WITH RECURSIVE __g(__SEQ) AS (SELECT 0 WHERE {n} > 0 UNION ALL SELECT __SEQ + 1 FROM __g WHERE __SEQ + 1 < {n}) SELECT __SEQ FROM __g"
        );
        let mut p = Parser::new(&GenericDialect {})
            .try_with_sql(&sql)
            .map_err(|_| SqlError::internal("generator"))?;
        p.parse_query()
            .map(|q| *q)
            .map_err(|_| SqlError::internal("generator"))
    }

    fn placeholder(&self, e: &mut Expr) -> Result<(), SqlError> {
        if let Expr::Value(v) = e {
            if let Value::Placeholder(_) = v.value {
                let idx = self
                    .names
                    .param_index(v.span.start)
                    .ok_or_else(|| missing_bind(v.span.start))?;
                if !self.names.binds.contains_key(&idx) {
                    return Err(missing_bind(v.span.start));
                }
                v.value = Value::Placeholder(format!("?{idx}"));
            }
        }
        Ok(())
    }

    /// Rewrites a table name in place (used for INSERT targets too).
    pub fn table_name(&mut self, name: &mut ObjectName) -> Result<String, SqlError> {
        let t = self.names.table(name)?;
        if t.schema == super::infoschema::INFO {
            self.reads_info_schema = true;
        }
        *name = ObjectName::from(vec![Ident::with_quote(
            '"',
            sqlite_name(&t.database, &t.schema, &t.name),
        )]);
        Ok(t.name.clone())
    }

    fn function(&self, f: &Function) -> Option<Expr> {
        let name = f.name.to_string().to_ascii_uppercase();
        let a = plain_args(f);
        let ctx = self.names.ctx;
        let s = |v: &Option<String>| v.as_deref().map_or_else(null, lit);
        let renamed = |to: &str| {
            let mut g = f.clone();
            g.name = ObjectName::from(vec![Ident::new(to)]);
            Expr::Function(g)
        };
        let arg = |i: usize| a.get(i).cloned().unwrap_or_else(null);
        Some(match name.as_str() {
            "CURRENT_USER" => lit(&ctx.user),
            "CURRENT_ROLE" => lit(&ctx.role),
            // Snowflake: a VARCHAR holding a JSON array of role names.
            "CURRENT_AVAILABLE_ROLES" => {
                lit(&serde_json::to_string(&ctx.available_roles)
                    .unwrap_or_else(|_| "[]".to_owned()))
            }
            "CURRENT_ACCOUNT" | "CURRENT_ACCOUNT_NAME" => lit(&ctx.account),
            "CURRENT_WAREHOUSE" => s(&ctx.warehouse),
            "CURRENT_DATABASE" => s(&ctx.database),
            "CURRENT_SCHEMA" => s(&ctx.schema),
            "CURRENT_VERSION" => lit("9.30.0"),
            "CURRENT_REGION" => lit("AWS_US_WEST_2"),
            "CURRENT_TIMESTAMP" | "GETDATE" | "LOCALTIMESTAMP" | "SYSTIMESTAMP" | "SYSDATE" => {
                call("sf_now", vec![])
            }
            "CURRENT_DATE" => call("sf_current_date", vec![]),
            "CURRENT_TIME" | "LOCALTIME" => call("sf_current_time", vec![]),
            "DATE_TRUNC" => call("sf_date_trunc", vec![part_arg(&arg(0)), arg(1)]),
            "DATE_PART" => call("sf_date_part", vec![part_arg(&arg(0)), arg(1)]),
            "YEAR" | "MONTH" | "DAY" | "DAYOFMONTH" | "QUARTER" | "HOUR" | "MINUTE" | "SECOND"
            | "DAYOFWEEK" | "DAYOFYEAR" | "WEEK" | "WEEKOFYEAR" => {
                call("sf_date_part", vec![lit(&name), arg(0)])
            }
            "DATEADD" | "TIMESTAMPADD" => {
                call("sf_dateadd", vec![part_arg(&arg(0)), arg(1), arg(2)])
            }
            "DATEDIFF" | "TIMESTAMPDIFF" => {
                call("sf_datediff", vec![part_arg(&arg(0)), arg(1), arg(2)])
            }
            "TO_DATE" | "DATE" | "TRY_TO_DATE" => call("sf_to_date", vec![arg(0)]),
            "TO_TIMESTAMP" | "TO_TIMESTAMP_NTZ" | "TO_TIMESTAMP_LTZ" => {
                call("sf_to_timestamp", vec![arg(0)])
            }
            "TO_TIMESTAMP_TZ" => call("sf_to_timestamp_tz", vec![arg(0)]),
            "TO_TIME" => call("sf_to_time", vec![arg(0)]),
            "TO_NUMBER" | "TO_DECIMAL" | "TO_NUMERIC" => call(
                "sf_to_number",
                vec![arg(0), a.get(2).cloned().unwrap_or_else(|| num(0))],
            ),
            "TO_DOUBLE" => call("sf_to_double", vec![arg(0)]),
            // SQLite's json() validates (and compacts) like Snowflake's parser; malformed input
            // is an error in both.
            "PARSE_JSON" => call("json", vec![arg(0)]),
            // Only the default HEX format; other formats stay unknown rather than wrong.
            "TO_BINARY" if a.len() == 1 || is_hex_format(a.get(1)) => call("unhex", vec![arg(0)]),
            "TO_BOOLEAN" => call("sf_to_boolean", vec![arg(0)]),
            "TO_CHAR" | "TO_VARCHAR" => call("sf_to_char", vec![arg(0)]),
            "IFF" => renamed("iif"),
            "NVL" => renamed("ifnull"),
            "ZEROIFNULL" => call("ifnull", vec![arg(0), num(0)]),
            "LEN" => renamed("length"),
            "DIV0" => renamed("sf_div0"),
            "SYSTEM$WAIT" => renamed("sf_system_wait"),
            "UNIFORM" => renamed("sf_uniform"),
            "UUID_STRING" => call("sf_uuid", vec![]),
            "GREATEST" => renamed("max"),
            "LEAST" => renamed("min"),
            "CONTAINS" => Expr::BinaryOp {
                left: Box::new(call("instr", vec![arg(0), arg(1)])),
                op: BinaryOperator::Gt,
                right: Box::new(num(0)),
            },
            "STARTSWITH" => Expr::BinaryOp {
                left: Box::new(call(
                    "substr",
                    vec![arg(0), num(1), call("length", vec![arg(1)])],
                )),
                op: BinaryOperator::Eq,
                right: Box::new(arg(1)),
            },
            "SEQ1" | "SEQ2" | "SEQ4" | "SEQ8" if self.has_generator => {
                Expr::Identifier(Ident::new("__SEQ"))
            }
            "SEQ1" | "SEQ2" | "SEQ4" | "SEQ8" => Parser::new(&GenericDialect {})
                .try_with_sql("(ROW_NUMBER() OVER () - 1)")
                .and_then(|mut p| p.parse_expr())
                .ok()?,
            _ => return None,
        })
    }
}

impl VisitorMut for Rewriter<'_, '_> {
    type Break = SqlError;

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<SqlError> {
        let replacement = match tf {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let parts = match self.names.parts(name) {
                    Ok(p) => p,
                    Err(e) => return ControlFlow::Break(e),
                };
                if parts.len() == 1 && self.ctes.contains(&parts[0]) {
                    return ControlFlow::Continue(());
                }
                match self.table_name(name) {
                    Ok(short) => {
                        if alias.is_none() {
                            *alias = Some(TableAlias {
                                explicit: true,
                                name: Ident::with_quote('"', short),
                                columns: Vec::new(),
                                at: None,
                            });
                        }
                        None
                    }
                    Err(e) => return ControlFlow::Break(e),
                }
            }
            TableFactor::TableFunction {
                expr: Expr::Function(f),
                alias,
            } if f.name.to_string().eq_ignore_ascii_case("GENERATOR") => match self.generator(f) {
                Ok(q) => Some(TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(q),
                    alias: alias.take(),
                    sample: None,
                }),
                Err(e) => return ControlFlow::Break(e),
            },
            _ => None,
        };
        if let Some(r) = replacement {
            *tf = r;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<SqlError> {
        let new = match e {
            Expr::Value(_) => {
                if let Err(err) = self.placeholder(e) {
                    return ControlFlow::Break(err);
                }
                None
            }
            Expr::Function(f) => self.function(f),
            Expr::Cast {
                expr, data_type, ..
            } => {
                let inner = std::mem::replace(expr.as_mut(), null());
                Some(cast_to(sf_type(data_type), inner))
            }
            Expr::TypedString(ts) => {
                let v = match &ts.value.value {
                    Value::SingleQuotedString(s) => lit(s),
                    _ => null(),
                };
                Some(cast_to(sf_type(&ts.data_type), v))
            }
            Expr::Extract { field, expr, .. } => {
                let inner = std::mem::replace(expr.as_mut(), null());
                Some(call(
                    "sf_date_part",
                    vec![lit(&field.to_string().to_ascii_uppercase()), inner],
                ))
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Divide,
                right,
            } => {
                let l = std::mem::replace(left.as_mut(), null());
                let r = std::mem::replace(right.as_mut(), null());
                Some(call("sf_div", vec![l, r]))
            }
            Expr::BinaryOp {
                left,
                op:
                    BinaryOperator::Eq
                    | BinaryOperator::NotEq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq,
                right,
            } => {
                coerce(left, right);
                coerce(right, left);
                None
            }
            Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any,
            } => {
                let l = std::mem::replace(expr.as_mut(), null());
                let p = std::mem::replace(pattern.as_mut(), null());
                Some(Expr::Like {
                    negated: *negated,
                    any: *any,
                    expr: Box::new(call("lower", vec![l])),
                    pattern: Box::new(call("lower", vec![p])),
                    escape_char: escape_char.take(),
                })
            }
            Expr::CompoundIdentifier(ids) if ids.len() > 2 => {
                let keep = ids.split_off(ids.len() - 2);
                Some(Expr::CompoundIdentifier(keep))
            }
            _ => None,
        };
        if let Some(n) = new {
            *e = n;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_order_by_expr(&mut self, o: &mut OrderByExpr) -> ControlFlow<SqlError> {
        if o.options.nulls_first.is_none() {
            // Snowflake sorts NULL as the largest value; SQLite as the smallest.
            o.options.nulls_first = Some(matches!(o.options.sort, Some(OrderBySort::Desc)));
        }
        ControlFlow::Continue(())
    }
}

/// Names of every CTE in a statement (they shadow catalogue tables of the same name).
pub fn cte_names<V: VisitMut>(stmt: &mut V) -> HashSet<String> {
    struct C(HashSet<String>);
    impl VisitorMut for C {
        type Break = ();
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            if let Some(w) = &q.with {
                for c in &w.cte_tables {
                    self.0.insert(norm(&c.alias.name));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut c = C(HashSet::new());
    let _ = stmt.visit(&mut c);
    c.0
}

/// Whether a TO_BINARY format argument is the literal `'HEX'` (any case).
fn is_hex_format(arg: Option<&Expr>) -> bool {
    matches!(
        arg,
        Some(Expr::Value(v)) if matches!(&v.value, sqlparser::ast::Value::SingleQuotedString(s) if s.eq_ignore_ascii_case("HEX"))
    )
}
