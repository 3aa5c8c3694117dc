//! Snowflake result-type inference over the parsed (not yet rewritten) query: resolves column
//! references through FROM scopes and CTEs and applies Snowflake's typing rules (`SUM(NUMBER(p,s))`
//! → NUMBER(38,s), `COUNT` → NUMBER(18,0), arithmetic scale rules, literals, date functions …).
//!
//! Unknown expressions infer `ty: None`; the executor then types that column from its values.

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, TableFactor, UnaryOperator, Value,
};

use super::names::{norm, pos, Names};
use super::types::{Origin, SfType, MAX_TEXT};
use super::SqlError;

/// A typed output column.
#[derive(Debug, Clone)]
pub struct Col {
    /// Output name.
    pub name: String,
    /// Inferred type (None = decide from values).
    pub ty: Option<SfType>,
    /// Nullability.
    pub nullable: bool,
    /// Base table when the column is a plain reference.
    pub origin: Option<Origin>,
}

/// One FROM item in scope: its alias and columns.
#[derive(Debug, Clone)]
pub struct Rel {
    alias: String,
    cols: Vec<Col>,
}

/// Inference state of one statement.
pub struct Infer<'n, 'a> {
    names: &'n Names<'a>,
    ctes: Vec<(String, Vec<Col>)>,
}

fn fixed(p: u32, s: u32) -> Option<SfType> {
    Some(SfType::Fixed {
        precision: p.clamp(1, 38),
        scale: s.min(37),
    })
}

/// Maps a SQL data type (as written) to a Snowflake type.
pub fn sf_type(dt: &DataType) -> Option<SfType> {
    let text = dt.to_string().to_ascii_uppercase();
    let (base, args) = match text.split_once('(') {
        Some((b, a)) => (b.trim().to_owned(), a.trim_end_matches(')').to_owned()),
        None => (text.trim().to_owned(), String::new()),
    };
    let nums: Vec<u64> = args
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let n = |i: usize, d: u64| nums.get(i).copied().unwrap_or(d);
    Some(match base.as_str() {
        "NUMBER" | "DECIMAL" | "NUMERIC" | "DEC" => SfType::Fixed {
            precision: n(0, 38) as u32,
            scale: n(1, 0) as u32,
        },
        "INT" | "INTEGER" | "BIGINT" | "SMALLINT" | "TINYINT" | "BYTEINT" => SfType::INT,
        "FLOAT" | "FLOAT4" | "FLOAT8" | "DOUBLE" | "DOUBLE PRECISION" | "REAL" | "DECFLOAT" => {
            SfType::Real
        }
        "VARCHAR" | "STRING" | "TEXT" | "CHAR" | "CHARACTER" | "NVARCHAR" | "NCHAR"
        | "CHARACTER VARYING" | "CHAR VARYING" | "NVARCHAR2" => SfType::Text {
            length: n(
                0,
                if base.starts_with("CHAR") && nums.is_empty() && !base.contains("VARYING") {
                    1
                } else {
                    MAX_TEXT
                },
            ),
        },
        "BINARY" | "VARBINARY" => SfType::Binary {
            length: n(0, 8_388_608),
        },
        "BOOLEAN" | "BOOL" => SfType::Boolean,
        "DATE" => SfType::Date,
        "TIME" => SfType::Time {
            scale: n(0, 9) as u32,
        },
        "TIMESTAMP"
        | "TIMESTAMP_NTZ"
        | "DATETIME"
        | "TIMESTAMPNTZ"
        | "TIMESTAMP WITHOUT TIME ZONE" => SfType::TimestampNtz {
            scale: n(0, 9) as u32,
        },
        "TIMESTAMP_LTZ" | "TIMESTAMPLTZ" | "TIMESTAMP WITH LOCAL TIME ZONE" => {
            SfType::TimestampLtz {
                scale: n(0, 9) as u32,
            }
        }
        "TIMESTAMP_TZ" | "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => SfType::TimestampTz {
            scale: n(0, 9) as u32,
        },
        "VARIANT" | "OBJECT" | "ARRAY" => SfType::Variant,
        _ => return None,
    })
}

/// Snowflake's type of two branches combined (CASE, COALESCE, UNION …).
fn common(a: Option<SfType>, b: Option<SfType>) -> Option<SfType> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (
            Some(SfType::Fixed {
                precision: p1,
                scale: s1,
            }),
            Some(SfType::Fixed {
                precision: p2,
                scale: s2,
            }),
        ) => {
            let s = s1.max(s2);
            fixed((p1 - s1).max(p2 - s2) + s, s)
        }
        (Some(x), Some(y)) if x.is_numeric() && y.is_numeric() => Some(SfType::Real),
        (Some(SfType::Text { length: l1 }), Some(SfType::Text { length: l2 })) => {
            Some(SfType::Text { length: l1.max(l2) })
        }
        (Some(x), _) => Some(x),
    }
}

fn arith(op: &BinaryOperator, a: Option<SfType>, b: Option<SfType>) -> Option<SfType> {
    use BinaryOperator as B;
    match (a?, b?) {
        (
            SfType::Fixed {
                precision: p1,
                scale: s1,
            },
            SfType::Fixed {
                precision: p2,
                scale: s2,
            },
        ) => {
            let (l1, l2) = (p1 - s1, p2 - s2);
            match op {
                B::Plus | B::Minus => {
                    let s = s1.max(s2);
                    fixed(l1.max(l2) + 1 + s, s)
                }
                B::Multiply => {
                    let s = (s1 + s2).min(s1.max(s2).max(12));
                    fixed(l1 + l2 + s, s)
                }
                B::Divide => {
                    let s = s1.max((s1 + 6).min(12));
                    fixed(l1 + s2 + s, s)
                }
                B::Modulo => fixed(p1.max(p2), s1.max(s2)),
                _ => None,
            }
        }
        (SfType::Date, SfType::Date) if matches!(op, B::Minus) => fixed(9, 0),
        (SfType::Date, SfType::Fixed { .. }) if matches!(op, B::Plus | B::Minus) => {
            Some(SfType::Date)
        }
        (x, y) if x.is_numeric() && y.is_numeric() => Some(SfType::Real),
        _ => None,
    }
}

fn number_literal(s: &str) -> Option<SfType> {
    if s.contains(['e', 'E']) {
        return Some(SfType::Real);
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let lead = int.trim_start_matches('0').len() as u32;
    let scale = frac.len() as u32;
    fixed((lead + scale).max(1), scale)
}

/// Upper-cased display text Snowflake uses to name an unaliased expression.
pub fn display_name(e: &Expr) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        out.push(if quoted { c } else { c.to_ascii_uppercase() });
    }
    out
}

fn args_of(f: &sqlparser::ast::Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                | FunctionArg::Named {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                }
                | FunctionArg::ExprNamed {
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn literal_int(e: Option<&&Expr>) -> Option<u32> {
    match e {
        Some(Expr::Value(v)) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl<'n, 'a> Infer<'n, 'a> {
    /// New inference over `names`.
    pub fn new(names: &'n Names<'a>) -> Self {
        Self {
            names,
            ctes: Vec::new(),
        }
    }

    /// Output columns of a query.
    pub fn query(&mut self, q: &Query, outer: &[Vec<Rel>]) -> Result<Vec<Col>, SqlError> {
        let depth = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                let mut cols = self.query(&cte.query, outer)?;
                for (c, alias) in cols.iter_mut().zip(&cte.alias.columns) {
                    c.name = norm(&alias.name);
                }
                self.ctes.push((norm(&cte.alias.name), cols));
            }
        }
        let out = self.set_expr(&q.body, outer);
        self.ctes.truncate(depth);
        out
    }

    fn set_expr(&mut self, body: &SetExpr, outer: &[Vec<Rel>]) -> Result<Vec<Col>, SqlError> {
        match body {
            SetExpr::Select(s) => self.select(s, outer),
            SetExpr::Query(q) => self.query(q, outer),
            SetExpr::SetOperation { left, right, .. } => {
                let mut l = self.set_expr(left, outer)?;
                let r = self.set_expr(right, outer)?;
                for (a, b) in l.iter_mut().zip(r) {
                    a.ty = common(a.ty, b.ty);
                    a.nullable |= b.nullable;
                    a.origin = None;
                }
                Ok(l)
            }
            SetExpr::Values(v) => {
                let mut cols: Vec<Col> = Vec::new();
                for row in &v.rows {
                    for (i, e) in row.iter().enumerate() {
                        let t = self.expr(e, outer)?;
                        match cols.get_mut(i) {
                            Some(c) => {
                                c.ty = common(c.ty, t.ty);
                                c.nullable |= t.nullable;
                            }
                            None => cols.push(Col {
                                name: format!("COLUMN{}", i + 1),
                                origin: None,
                                ..t
                            }),
                        }
                    }
                }
                Ok(cols)
            }
            _ => Err(SqlError::unsupported("statement in query")),
        }
    }

    fn factor(
        &mut self,
        tf: &TableFactor,
        outer: &[Vec<Rel>],
        rels: &mut Vec<Rel>,
    ) -> Result<(), SqlError> {
        match tf {
            TableFactor::Table { name, alias, .. } => {
                let parts = self.names.parts(name)?;
                let cte = match parts.as_slice() {
                    [one] => self
                        .ctes
                        .iter()
                        .rev()
                        .find(|(n, _)| n == one)
                        .map(|(_, c)| c.clone()),
                    _ => None,
                };
                let (default_alias, cols) = match cte {
                    Some(cols) => (parts[0].clone(), cols),
                    None => {
                        let t = self.names.table(name)?;
                        let origin = Origin {
                            database: t.database.clone(),
                            schema: t.schema.clone(),
                            table: t.name.clone(),
                        };
                        let cols = t
                            .columns
                            .iter()
                            .map(|c| Col {
                                name: c.name.clone(),
                                ty: Some(c.ty),
                                nullable: c.nullable,
                                origin: Some(origin.clone()),
                            })
                            .collect();
                        (t.name.clone(), cols)
                    }
                };
                rels.push(Rel {
                    alias: alias.as_ref().map_or(default_alias, |a| norm(&a.name)),
                    cols,
                });
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let mut cols = self.query(subquery, outer)?;
                if let Some(a) = alias {
                    for (c, n) in cols.iter_mut().zip(&a.columns) {
                        c.name = norm(&n.name);
                    }
                }
                rels.push(Rel {
                    alias: alias.as_ref().map_or(String::new(), |a| norm(&a.name)),
                    cols,
                });
            }
            TableFactor::TableFunction { alias, .. } | TableFactor::Function { alias, .. } => {
                rels.push(Rel {
                    alias: alias.as_ref().map_or(String::new(), |a| norm(&a.name)),
                    cols: Vec::new(),
                });
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.factor(&table_with_joins.relation, outer, rels)?;
                for j in &table_with_joins.joins {
                    self.factor(&j.relation, outer, rels)?;
                }
            }
            _ => return Err(SqlError::unsupported("table expression")),
        }
        Ok(())
    }

    fn select(&mut self, s: &Select, outer: &[Vec<Rel>]) -> Result<Vec<Col>, SqlError> {
        let mut rels = Vec::new();
        for twj in &s.from {
            self.factor(&twj.relation, outer, &mut rels)?;
            for j in &twj.joins {
                self.factor(&j.relation, outer, &mut rels)?;
            }
        }
        let mut scopes = outer.to_vec();
        scopes.push(rels);
        let mut out: Vec<Col> = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let t = self.expr_with_aliases(e, &scopes, &out)?;
                    let name = match (e, &t.origin) {
                        (Expr::Identifier(_) | Expr::CompoundIdentifier(_), _) => t.name.clone(),
                        _ => display_name(e),
                    };
                    out.push(Col { name, ..t });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let t = self.expr_with_aliases(expr, &scopes, &out)?;
                    out.push(Col {
                        name: norm(alias),
                        ..t
                    });
                }
                SelectItem::Wildcard(_) => {
                    if let Some(rels) = scopes.last() {
                        out.extend(rels.iter().flat_map(|r| r.cols.iter().cloned()));
                    }
                }
                SelectItem::QualifiedWildcard(
                    SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => {
                    let want = self.names.parts(n)?.pop().unwrap_or_default();
                    let rel = scopes
                        .last()
                        .and_then(|rels| rels.iter().find(|r| r.alias == want))
                        .ok_or_else(|| SqlError::invalid_identifier(1, 0, &format!("{want}.*")))?;
                    out.extend(rel.cols.iter().cloned());
                }
                _ => return Err(SqlError::unsupported("select item")),
            }
        }
        Ok(out)
    }

    fn expr_with_aliases(
        &mut self,
        e: &Expr,
        scopes: &[Vec<Rel>],
        prior: &[Col],
    ) -> Result<Col, SqlError> {
        let mut scopes = scopes.to_vec();
        // Snowflake lets later select items use earlier aliases ("lateral column alias").
        scopes.insert(
            0,
            vec![Rel {
                alias: String::new(),
                cols: prior.to_vec(),
            }],
        );
        self.expr(e, &scopes)
    }

    fn lookup(&self, scopes: &[Vec<Rel>], rel: Option<&str>, col: &str) -> Option<Col> {
        scopes.iter().rev().find_map(|rels| {
            rels.iter()
                .filter(|r| rel.is_none_or(|a| a == r.alias))
                .find_map(|r| r.cols.iter().find(|c| c.name == col).cloned())
        })
    }

    fn computed(ty: Option<SfType>, nullable: bool) -> Col {
        Col {
            name: String::new(),
            ty,
            nullable,
            origin: None,
        }
    }

    /// Type of an expression.
    pub fn expr(&mut self, e: &Expr, scopes: &[Vec<Rel>]) -> Result<Col, SqlError> {
        use BinaryOperator as B;
        let c = Self::computed;
        Ok(match e {
            Expr::Identifier(id) => {
                let name = norm(id);
                match self.lookup(scopes, None, &name) {
                    Some(col) => col,
                    None => {
                        let (l, p) = pos(id);
                        return Err(SqlError::invalid_identifier(l, p, &name));
                    }
                }
            }
            Expr::CompoundIdentifier(ids) if ids.len() >= 2 => {
                let col = norm(&ids[ids.len() - 1]);
                let rel = norm(&ids[ids.len() - 2]);
                match self.lookup(scopes, Some(&rel), &col) {
                    Some(found) => found,
                    None => {
                        let (l, p) = pos(&ids[0]);
                        let full: Vec<String> = ids.iter().map(norm).collect();
                        return Err(SqlError::invalid_identifier(l, p, &full.join(".")));
                    }
                }
            }
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => c(number_literal(n), false),
                Value::SingleQuotedString(s)
                | Value::DollarQuotedString(sqlparser::ast::DollarQuotedString {
                    value: s, ..
                }) => c(
                    Some(SfType::Text {
                        length: s.chars().count() as u64,
                    }),
                    false,
                ),
                Value::Boolean(_) => c(Some(SfType::Boolean), false),
                Value::Null => c(None, true),
                Value::Placeholder(_) => {
                    let ty = self
                        .names
                        .param_index(v.span.start)
                        .and_then(|i| self.names.binds.get(&i))
                        .map(|b| b.ty);
                    c(ty, true)
                }
                _ => c(None, true),
            },
            Expr::Nested(inner) => {
                let t = self.expr(inner, scopes)?;
                c(t.ty, t.nullable)
            }
            Expr::BinaryOp { left, op, right } => {
                let (l, r) = (self.expr(left, scopes)?, self.expr(right, scopes)?);
                let nullable = l.nullable || r.nullable;
                match op {
                    B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                        c(arith(op, l.ty, r.ty), nullable || matches!(op, B::Divide))
                    }
                    B::StringConcat => {
                        let len = |t: Option<SfType>| match t {
                            Some(SfType::Text { length }) => length,
                            _ => 40,
                        };
                        c(
                            Some(SfType::Text {
                                length: (len(l.ty) + len(r.ty)).min(MAX_TEXT),
                            }),
                            nullable,
                        )
                    }
                    _ => c(Some(SfType::Boolean), nullable),
                }
            }
            Expr::UnaryOp { op, expr } => {
                let t = self.expr(expr, scopes)?;
                match op {
                    UnaryOperator::Not => c(Some(SfType::Boolean), t.nullable),
                    _ => c(t.ty, t.nullable),
                }
            }
            Expr::Cast {
                data_type, expr, ..
            } => {
                let t = self.expr(expr, scopes)?;
                c(sf_type(data_type), t.nullable)
            }
            Expr::TypedString(ts) => c(sf_type(&ts.data_type), false),
            Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsNotTrue(_)
            | Expr::IsNotFalse(_)
            | Expr::IsDistinctFrom(..)
            | Expr::IsNotDistinctFrom(..)
            | Expr::Exists { .. } => c(Some(SfType::Boolean), false),
            Expr::InList { .. }
            | Expr::InSubquery { .. }
            | Expr::Between { .. }
            | Expr::Like { .. }
            | Expr::ILike { .. }
            | Expr::RLike { .. }
            | Expr::SimilarTo { .. } => c(Some(SfType::Boolean), true),
            Expr::Subquery(q) => {
                let cols = self.query(q, scopes)?;
                c(cols.first().and_then(|c| c.ty), true)
            }
            Expr::Case {
                conditions,
                else_result,
                ..
            } => {
                let mut ty = None;
                for w in conditions {
                    ty = common(ty, self.expr(&w.result, scopes)?.ty);
                }
                if let Some(e) = else_result {
                    ty = common(ty, self.expr(e, scopes)?.ty);
                }
                c(ty, true)
            }
            Expr::Extract { .. } => c(fixed(9, 0), true),
            Expr::Substring { expr, .. } | Expr::Trim { expr, .. } => {
                let t = self.expr(expr, scopes)?;
                c(
                    t.ty.filter(|t| matches!(t, SfType::Text { .. }))
                        .or(Some(SfType::STRING)),
                    t.nullable,
                )
            }
            Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => {
                let t = self.expr(expr, scopes)?;
                c(
                    match t.ty {
                        Some(SfType::Fixed { precision, scale }) => fixed(precision - scale + 1, 0),
                        other => other,
                    },
                    t.nullable,
                )
            }
            Expr::Function(f) => self.function(f, scopes)?,
            _ => c(None, true),
        })
    }

    fn function(
        &mut self,
        f: &sqlparser::ast::Function,
        scopes: &[Vec<Rel>],
    ) -> Result<Col, SqlError> {
        let c = Self::computed;
        let name = f.name.to_string().to_ascii_uppercase();
        let args = args_of(f);
        let star = matches!(&f.args, FunctionArguments::List(l) if l.args.iter().any(|a| matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Wildcard))));
        let mut types = Vec::with_capacity(args.len());
        if !matches!(
            name.as_str(),
            "DATE_TRUNC" | "DATEADD" | "DATEDIFF" | "DATE_PART" | "TIMESTAMPADD" | "TIMESTAMPDIFF"
        ) {
            for a in &args {
                types.push(self.expr(a, scopes)?);
            }
        } else {
            for a in args.iter().skip(1) {
                types.push(self.expr(a, scopes)?);
            }
        }
        let first = types.first().and_then(|t| t.ty);
        let any_null = types.iter().any(|t| t.nullable);
        let text = Some(SfType::STRING);
        Ok(match name.as_str() {
            "COUNT" | "COUNT_IF" if star || !args.is_empty() => c(fixed(18, 0), false),
            "SUM" => c(
                match first {
                    Some(SfType::Fixed { scale, .. }) => fixed(38, scale),
                    other => other,
                },
                true,
            ),
            "AVG" | "MEDIAN" => c(
                match first {
                    Some(SfType::Fixed { precision, scale }) => {
                        let s = scale.max((scale + 6).min(12));
                        fixed((precision - scale + s).max(38), s)
                    }
                    Some(_) => Some(SfType::Real),
                    None => None,
                },
                true,
            ),
            "MIN" | "MAX" | "ANY_VALUE" => c(first, true),
            "STDDEV" | "VARIANCE" | "STDDEV_SAMP" | "VAR_SAMP" => c(Some(SfType::Real), true),
            "CURRENT_USER"
            | "CURRENT_ROLE"
            | "CURRENT_AVAILABLE_ROLES"
            | "CURRENT_ACCOUNT"
            | "CURRENT_WAREHOUSE"
            | "CURRENT_DATABASE"
            | "CURRENT_SCHEMA"
            | "CURRENT_VERSION"
            | "CURRENT_REGION"
            | "CURRENT_ACCOUNT_NAME"
            | "CURRENT_ORGANIZATION_NAME"
            | "CURRENT_CLIENT"
            | "CURRENT_SESSION" => c(
                text,
                matches!(
                    name.as_str(),
                    "CURRENT_WAREHOUSE" | "CURRENT_DATABASE" | "CURRENT_SCHEMA"
                ),
            ),
            "CURRENT_TIMESTAMP" | "GETDATE" | "LOCALTIMESTAMP" | "SYSTIMESTAMP" => {
                c(Some(SfType::TimestampLtz { scale: 9 }), false)
            }
            "SYSDATE" => c(Some(SfType::TimestampNtz { scale: 9 }), false),
            "CURRENT_DATE" => c(Some(SfType::Date), false),
            "CURRENT_TIME" | "LOCALTIME" => c(Some(SfType::Time { scale: 9 }), false),
            "DATE_TRUNC" | "DATEADD" | "TIMESTAMPADD" => {
                c(types.last().and_then(|t| t.ty), any_null)
            }
            "DATEDIFF" | "TIMESTAMPDIFF" => c(fixed(18, 0), any_null),
            "YEAR" | "MONTH" | "DAY" | "DAYOFMONTH" | "QUARTER" | "HOUR" | "MINUTE" | "SECOND"
            | "DAYOFWEEK" | "DAYOFYEAR" | "WEEK" | "WEEKOFYEAR" | "DATE_PART" | "YEAROFWEEK" => {
                c(fixed(9, 0), any_null)
            }
            "TO_DATE" | "DATE" | "TRY_TO_DATE" => c(Some(SfType::Date), any_null),
            "TO_TIMESTAMP" | "TO_TIMESTAMP_NTZ" => {
                c(Some(SfType::TimestampNtz { scale: 9 }), any_null)
            }
            "TO_TIMESTAMP_LTZ" => c(Some(SfType::TimestampLtz { scale: 9 }), any_null),
            "TO_TIMESTAMP_TZ" => c(Some(SfType::TimestampTz { scale: 9 }), any_null),
            "TO_TIME" => c(Some(SfType::Time { scale: 9 }), any_null),
            "TO_NUMBER" | "TO_DECIMAL" | "TO_NUMERIC" => {
                let p = literal_int(args.get(1)).unwrap_or(38);
                let s = literal_int(args.get(2)).unwrap_or(0);
                c(fixed(p, s), any_null)
            }
            "TO_DOUBLE" => c(Some(SfType::Real), any_null),
            "PARSE_JSON" => c(Some(SfType::Variant), any_null),
            "TO_BINARY" => c(Some(SfType::Binary { length: 8_388_608 }), any_null),
            "TO_BOOLEAN" => c(Some(SfType::Boolean), any_null),
            "TO_CHAR" | "TO_VARCHAR" | "UUID_STRING" | "SYSTEM$WAIT" | "LISTAGG" => {
                c(text, any_null)
            }
            "IFF" => c(
                common(
                    types.get(1).and_then(|t| t.ty),
                    types.get(2).and_then(|t| t.ty),
                ),
                true,
            ),
            "COALESCE" | "NVL" | "IFNULL" | "NULLIF" | "ZEROIFNULL" | "GREATEST" | "LEAST" => {
                let ty = types.iter().fold(None, |acc, t| common(acc, t.ty));
                c(ty, types.iter().all(|t| t.nullable))
            }
            "UPPER" | "LOWER" | "TRIM" | "LTRIM" | "RTRIM" | "INITCAP" | "REVERSE" => c(
                first.filter(|t| matches!(t, SfType::Text { .. })).or(text),
                any_null,
            ),
            "SUBSTR" | "SUBSTRING" | "LEFT" | "RIGHT" | "REPLACE" | "CONCAT" | "LPAD" | "RPAD"
            | "SPLIT_PART" => c(text, any_null),
            "LENGTH" | "LEN" | "CHARINDEX" | "POSITION" => c(fixed(18, 0), any_null),
            "ABS" => c(first, any_null),
            "ROUND" | "TRUNC" | "TRUNCATE" => {
                let digits = literal_int(args.get(1)).unwrap_or(0);
                c(
                    match first {
                        Some(SfType::Fixed { precision, scale }) => {
                            fixed(precision, scale.min(digits))
                        }
                        other => other,
                    },
                    any_null,
                )
            }
            "CEIL" | "FLOOR" => c(
                match first {
                    Some(SfType::Fixed { precision, scale }) => fixed(precision - scale + 1, 0),
                    other => other,
                },
                any_null,
            ),
            "SEQ1" | "SEQ2" | "SEQ4" | "SEQ8" | "RANDOM" | "HASH" => c(fixed(38, 0), false),
            "UNIFORM" => {
                let ints = types
                    .iter()
                    .take(2)
                    .all(|t| matches!(t.ty, Some(SfType::Fixed { scale: 0, .. })));
                c(
                    if ints {
                        fixed(38, 0)
                    } else {
                        Some(SfType::Real)
                    },
                    false,
                )
            }
            "DIV0" => c(
                arith(
                    &BinaryOperator::Divide,
                    first,
                    types.get(1).and_then(|t| t.ty),
                ),
                any_null,
            ),
            "CONTAINS" | "STARTSWITH" | "ENDSWITH" => c(Some(SfType::Boolean), any_null),
            "ROW_NUMBER" | "RANK" | "DENSE_RANK" => c(fixed(38, 0), false),
            _ => c(None, true),
        })
    }
}
