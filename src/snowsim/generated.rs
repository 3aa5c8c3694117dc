//! Results of `SELECT … FROM TABLE(GENERATOR(ROWCOUNT => n))` produced on demand, one partition at
//! a time, so snowsim can serve a result of any size (the broker's 1 GiB streaming benchmark)
//! without ever holding it: a finished statement keeps only the plan below, and each partition's
//! rows are computed when a client asks for that partition.
//!
//! Only the plain shape is taken: a projection of `SEQ1/2/4/8()`, `RANDOM([seed])`,
//! `UNIFORM(min, max, gen)` and `RANDSTR(length, gen)` (integer literals, `gen` one of `RANDOM()`,
//! `RANDOM(seed)`, `SEQn()` or an integer constant, optionally `AS alias`) over one generator
//! with a literal `ROWCOUNT`, and nothing else (no WHERE, ORDER BY, LIMIT, joins, binds). Any
//! other statement goes to the SQL engine as before.
//!
//! Semantics follow Snowflake's documentation: `SEQn()` counts rows from 0 and wraps at n bytes;
//! `RANDOM()` is a 64-bit signed value; `UNIFORM` is uniform on `[min, max]`; `RANDSTR` draws its
//! characters uniformly from `[0-9A-Za-z]`, and the same `gen` value always gives the same string.
//! Values are deterministic per statement (a per-statement seed mixed with the row number), so a
//! partition fetched twice is identical, like Snowflake's persisted results.

use std::fmt::Write as _;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr, Statement,
    TableFactor,
};
use sqlparser::dialect::SnowflakeDialect;
use sqlparser::parser::Parser;

use super::engine::Column;

/// Longest `RANDSTR` accepted here (Snowflake's VARCHAR limit).
const MAX_RANDSTR: u64 = 16_777_216;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Where a function's random input comes from, per row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// `RANDOM()` / `RANDOM(seed)`: a 64-bit value from the seed (or the statement's seed) and
    /// the row number; `salt` keeps separate calls independent.
    Random { seed: Option<i64>, salt: u64 },
    /// `SEQn()`: the row number wrapped at `bytes` bytes.
    Seq { bytes: u32 },
    /// An integer constant.
    Constant(i64),
}

/// One projected column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Gen {
    /// `SEQn()` or `RANDOM(…)` itself.
    Value(Source),
    /// `UNIFORM(min, max, gen)` with integer bounds.
    Uniform { min: i64, max: i64, gen: Source },
    /// `RANDSTR(length, gen)`.
    RandStr { length: u64, gen: Source },
}

/// A generator statement's result, computed partition by partition.
#[derive(Debug, Clone)]
pub struct GeneratedRows {
    gens: Vec<Gen>,
    seed: u64,
    rows: u64,
    partition_rows: u64,
}

fn mix(mut z: u64) -> u64 {
    // splitmix64's finaliser: a bijective, well-distributed hash of a 64-bit value.
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn int_literal(e: &Expr) -> Option<i64> {
    e.to_string().parse().ok()
}

/// The plain positional arguments of a function call rendered back exactly as parsed, or `None`
/// for anything fancier (named arguments, OVER, FILTER, DISTINCT …).
fn call_args<'a>(e: &'a Expr, name: &str) -> Option<Vec<&'a Expr>> {
    let Expr::Function(f) = e else { return None };
    if !f.name.to_string().eq_ignore_ascii_case(name) {
        return None;
    }
    let args: Vec<&Expr> = match &f.args {
        FunctionArguments::List(l) if l.duplicate_treatment.is_none() && l.clauses.is_empty() => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let rendered: Vec<String> = args.iter().map(ToString::to_string).collect();
    let plain = format!("{}({})", f.name, rendered.join(", "));
    (plain == f.to_string()).then_some(args)
}

fn seq_bytes(e: &Expr) -> Option<u32> {
    for (name, bytes) in [("SEQ1", 1), ("SEQ2", 2), ("SEQ4", 4), ("SEQ8", 8)] {
        if let Some(args) = call_args(e, name) {
            // `SEQn(0)` is the default unsigned sequence; signed sequences are not modelled.
            return match args.as_slice() {
                [] => Some(bytes),
                [a] if int_literal(a) == Some(0) => Some(bytes),
                _ => None,
            };
        }
    }
    None
}

fn source(e: &Expr, salt: u64) -> Option<Source> {
    if let Some(bytes) = seq_bytes(e) {
        return Some(Source::Seq { bytes });
    }
    if let Some(args) = call_args(e, "RANDOM") {
        return match args.as_slice() {
            [] => Some(Source::Random { seed: None, salt }),
            [s] => Some(Source::Random {
                seed: Some(int_literal(s)?),
                salt,
            }),
            _ => None,
        };
    }
    int_literal(e).map(Source::Constant)
}

fn column_gen(e: &Expr, salt: u64) -> Option<Gen> {
    if let Some(args) = call_args(e, "UNIFORM") {
        let [min, max, gen] = args.as_slice() else {
            return None;
        };
        let (min, max) = (int_literal(min)?, int_literal(max)?);
        return (min <= max).then_some(Gen::Uniform {
            min,
            max,
            gen: source(gen, salt)?,
        });
    }
    if let Some(args) = call_args(e, "RANDSTR") {
        let [length, gen] = args.as_slice() else {
            return None;
        };
        let length = u64::try_from(int_literal(length)?).ok()?;
        return (length <= MAX_RANDSTR).then_some(Gen::RandStr {
            length,
            gen: source(gen, salt)?,
        });
    }
    match source(e, salt)? {
        Source::Constant(_) => None,
        s => Some(Gen::Value(s)),
    }
}

fn fixed_column(name: &str) -> Column {
    Column {
        name: name.to_owned(),
        database: String::new(),
        schema: String::new(),
        table: String::new(),
        kind: "fixed".to_owned(),
        nullable: false,
        precision: Some(38),
        scale: Some(0),
        length: None,
        byte_length: None,
        collation: None,
    }
}

fn text_column(name: &str) -> Column {
    Column {
        name: name.to_owned(),
        database: String::new(),
        schema: String::new(),
        table: String::new(),
        kind: "text".to_owned(),
        nullable: false,
        precision: None,
        scale: None,
        length: Some(MAX_RANDSTR),
        byte_length: Some(MAX_RANDSTR),
        collation: None,
    }
}

/// Recognises a plain generator query; `None` for anything else (the engine runs it). `seed`
/// makes this statement's random values; `partition_rows` is the account's partition size.
pub fn plan(sql: &str, seed: u64, partition_rows: usize) -> Option<(GeneratedRows, Vec<Column>)> {
    let mut statements = Parser::parse_sql(&SnowflakeDialect {}, sql).ok()?;
    if statements.len() != 1 {
        return None;
    }
    let Some(Statement::Query(query)) = statements.pop() else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    let TableFactor::TableFunction {
        expr: generator,
        alias: None,
    } = &from.relation
    else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let Expr::Function(f) = generator else {
        return None;
    };
    if !f.name.to_string().eq_ignore_ascii_case("GENERATOR") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let [FunctionArg::Named {
        name,
        arg: FunctionArgExpr::Expr(count),
        ..
    }] = list.args.as_slice()
    else {
        return None;
    };
    if !name.value.eq_ignore_ascii_case("ROWCOUNT") {
        return None;
    }
    let rows = u64::try_from(int_literal(count)?).ok()?;
    let mut gens = Vec::new();
    let mut columns = Vec::new();
    let mut items = Vec::new();
    for (i, item) in select.projection.iter().enumerate() {
        let (expr, name) = match item {
            SelectItem::UnnamedExpr(e) => (e, e.to_string().to_ascii_uppercase()),
            SelectItem::ExprWithAlias { expr, alias } => (
                expr,
                match alias.quote_style {
                    Some(_) => alias.value.clone(),
                    None => alias.value.to_ascii_uppercase(),
                },
            ),
            _ => return None,
        };
        let gen = column_gen(expr, mix(i as u64 + 1))?;
        columns.push(match gen {
            Gen::RandStr { .. } => text_column(&name),
            _ => fixed_column(&name),
        });
        gens.push(gen);
        items.push(item.to_string());
    }
    // Anything the checks above did not look at (DISTINCT, WHERE, ORDER BY, LIMIT, QUALIFY, a
    // WITH clause …) shows up as a difference from the plain rendering.
    let plain = format!("SELECT {} FROM {}", items.join(", "), from.relation);
    if gens.is_empty() || query.to_string() != plain {
        return None;
    }
    let generated = GeneratedRows {
        gens,
        seed,
        rows,
        partition_rows: partition_rows.max(1) as u64,
    };
    Some((generated, columns))
}

impl GeneratedRows {
    /// Total rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Number of partitions (at least one, possibly empty).
    pub fn partition_count(&self) -> usize {
        (self.rows.div_ceil(self.partition_rows)).max(1) as usize
    }

    /// Rows in partition `p`.
    pub fn rows_in(&self, p: usize) -> usize {
        let start = p as u64 * self.partition_rows;
        self.rows
            .saturating_sub(start)
            .min(self.partition_rows)
            .try_into()
            .unwrap_or(usize::MAX)
    }

    fn random(&self, seed: Option<i64>, salt: u64, row: u64) -> u64 {
        let base = match seed {
            Some(s) => mix(s as u64 ^ salt),
            None => mix(self.seed ^ salt),
        };
        mix(base ^ mix(row))
    }

    fn value(&self, s: Source, row: u64) -> i64 {
        match s {
            Source::Random { seed, salt } => self.random(seed, salt, row) as i64,
            Source::Seq { bytes: 8 } => row as i64,
            Source::Seq { bytes } => (row % (1u64 << (8 * bytes))) as i64,
            Source::Constant(c) => c,
        }
    }

    fn uniform(&self, min: i64, max: i64, gen: Source, row: u64) -> i64 {
        let span = (max as i128 - min as i128 + 1) as u128;
        let r = mix(self.value(gen, row) as u64) as u128;
        (min as i128 + (r % span) as i128) as i64
    }

    /// Appends one cell (a JSON string) of column `c` at `row`.
    fn push_cell(&self, out: &mut String, c: usize, row: u64) {
        out.push('"');
        match self.gens[c] {
            Gen::Value(s) => {
                let _ = write!(out, "{}", self.value(s, row));
            }
            Gen::Uniform { min, max, gen } => {
                let _ = write!(out, "{}", self.uniform(min, max, gen, row));
            }
            Gen::RandStr { length, gen } => {
                // The string depends only on the generator's value (same value, same string).
                let mut state = mix(self.value(gen, row) as u64 ^ 0x5EED);
                let mut left = 0u32;
                let mut word = 0u64;
                for _ in 0..length {
                    if left == 0 {
                        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                        word = mix(state);
                        left = 10;
                    }
                    // 62^10 < 2^64: ten characters per draw, each uniform up to a 2^-54 bias.
                    out.push(char::from(ALPHABET[(word % 62) as usize]));
                    word /= 62;
                    left -= 1;
                }
            }
        }
        out.push('"');
    }

    /// Partition `p`'s `data` array as JSON text (`[["0","…"],…]`); `None` past the last one.
    pub fn partition(&self, p: usize) -> Option<String> {
        if p >= self.partition_count() {
            return None;
        }
        let n = self.rows_in(p);
        let start = p as u64 * self.partition_rows;
        let width: u64 = self
            .gens
            .iter()
            .map(|g| match g {
                Gen::RandStr { length, .. } => length + 3,
                _ => 24,
            })
            .sum();
        let cap = (n as u64 * (width + 3)).min(1 << 28) as usize;
        let mut out = String::with_capacity(cap + 2);
        out.push('[');
        for i in 0..n as u64 {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for c in 0..self.gens.len() {
                if c > 0 {
                    out.push(',');
                }
                self.push_cell(&mut out, c, start + i);
            }
            out.push(']');
        }
        out.push(']');
        Some(out)
    }

    /// Byte length of [`Self::partition`]`(p)`, computed without building it.
    pub fn partition_size(&self, p: usize) -> usize {
        let n = self.rows_in(p) as u64;
        if n == 0 {
            return 2;
        }
        let start = p as u64 * self.partition_rows;
        // Brackets, commas between rows and between cells, then each cell's quotes and text.
        let mut total = 2 + (n - 1) + n * (2 + self.gens.len() as u64 - 1);
        for gen in &self.gens {
            total += 2 * n;
            total += match *gen {
                Gen::RandStr { length, .. } => length * n,
                Gen::Value(Source::Seq { bytes })
                    if bytes == 8 || start + n <= 1u64 << (8 * bytes) =>
                {
                    seq_digits(start, n)
                }
                Gen::Value(s) => (start..start + n).map(|r| digits(self.value(s, r))).sum(),
                Gen::Uniform { min, max, gen } => (start..start + n)
                    .map(|r| digits(self.uniform(min, max, gen, r)))
                    .sum(),
            };
        }
        usize::try_from(total).unwrap_or(usize::MAX)
    }
}

/// Total decimal digits of `start, start + 1, …, start + n - 1` (all non-negative).
fn seq_digits(start: u64, n: u64) -> u64 {
    let end = start + n;
    let mut total = 0;
    let mut low = 0u64;
    let mut width = 1;
    while low < end {
        // Numbers with `width` digits are [low, high).
        let high = if width == 1 {
            10
        } else {
            low.saturating_mul(10)
        };
        let (a, b) = (start.max(low), end.min(high));
        if a < b {
            total += (b - a) * width;
        }
        low = high;
        width += 1;
    }
    total
}

fn digits(v: i64) -> u64 {
    let sign = u64::from(v < 0);
    sign + u64::from(v.unsigned_abs().checked_ilog10().unwrap_or(0)) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(g: &GeneratedRows) -> Vec<Vec<String>> {
        (0..g.partition_count())
            .flat_map(|p| {
                let text = g.partition(p).unwrap();
                assert_eq!(text.len(), g.partition_size(p), "partition {p} size");
                serde_json::from_str::<Vec<Vec<String>>>(&text).unwrap()
            })
            .collect()
    }

    #[test]
    fn seq_uniform_and_randstr_follow_snowflake_semantics() {
        let sql =
            "select seq4() as id, UNIFORM(-5, 5, random()) n, randstr(12, random()) AS \"s\", \
                   SEQ1(), RANDSTR(4, 7) FROM TABLE(GENERATOR(ROWCOUNT => 1000))";
        let (g, cols) = plan(sql, 42, 300).unwrap();
        let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ID", "N", "s", "SEQ1()", "RANDSTR(4, 7)"]);
        assert_eq!(
            (cols[0].kind.as_str(), cols[0].precision, cols[0].scale),
            ("fixed", Some(38), Some(0))
        );
        assert_eq!(cols[2].kind, "text");
        assert_eq!(g.partition_count(), 4);
        assert_eq!(
            (0..4).map(|p| g.rows_in(p)).collect::<Vec<_>>(),
            [300, 300, 300, 100]
        );
        let all = rows(&g);
        assert_eq!(all.len(), 1000);
        for (i, row) in all.iter().enumerate() {
            assert_eq!(row[0], i.to_string());
            let n: i64 = row[1].parse().unwrap();
            assert!((-5..=5).contains(&n), "{n}");
            assert_eq!(row[2].len(), 12);
            assert!(row[2].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(row[3], (i % 256).to_string(), "SEQ1 wraps at one byte");
            assert_eq!(row[4], all[0][4], "a constant generator gives one string");
        }
        let spread: std::collections::BTreeSet<_> = all.iter().map(|r| r[1].clone()).collect();
        assert_eq!(spread.len(), 11, "every value of [-5, 5] appears");
        let distinct: std::collections::BTreeSet<_> = all.iter().map(|r| r[2].clone()).collect();
        assert_eq!(distinct.len(), 1000, "random strings differ per row");
        assert_eq!(rows(&g), all, "a partition fetched twice is the same");
        let (other, _) = plan(sql, 43, 300).unwrap();
        assert_ne!(
            rows(&other)[0][2],
            all[0][2],
            "another statement, other values"
        );
    }

    #[test]
    fn anything_but_the_plain_shape_is_left_to_the_engine() {
        for sql in [
            "SELECT SEQ4() FROM TABLE(GENERATOR(ROWCOUNT => 10)) WHERE SEQ4() > 2",
            "SELECT SEQ4() FROM TABLE(GENERATOR(ROWCOUNT => 10)) ORDER BY 1",
            "SELECT SEQ4() FROM TABLE(GENERATOR(ROWCOUNT => 10)) LIMIT 3",
            "SELECT DISTINCT UNIFORM(1, 2, RANDOM()) FROM TABLE(GENERATOR(ROWCOUNT => 10))",
            "SELECT SEQ4() + 1 FROM TABLE(GENERATOR(ROWCOUNT => 10))",
            "SELECT SEQ4(1) FROM TABLE(GENERATOR(ROWCOUNT => 10))",
            "SELECT SEQ4() FROM TABLE(GENERATOR(ROWCOUNT => ?))",
            "SELECT SEQ4() FROM TABLE(GENERATOR(TIMELIMIT => 10))",
            "SELECT SEQ4(), R_NAME FROM TABLE(GENERATOR(ROWCOUNT => 10)), REGION",
            "SELECT 1 FROM TABLE(GENERATOR(ROWCOUNT => 10))",
            "SELECT UNIFORM(5, 1, RANDOM()) FROM TABLE(GENERATOR(ROWCOUNT => 10))",
            "SELECT UNIFORM(1.5, 2, RANDOM()) FROM TABLE(GENERATOR(ROWCOUNT => 10))",
            "SELECT SEQ4() FROM TABLE(GENERATOR(ROWCOUNT => 10)); SELECT 1",
            "SELECT SEQ4() FROM REGION",
        ] {
            assert!(plan(sql, 1, 10).is_none(), "{sql}");
        }
    }

    #[test]
    fn empty_and_huge_results_cost_nothing_until_a_partition_is_read() {
        let (empty, _) = plan("SELECT SEQ8() FROM TABLE(GENERATOR(ROWCOUNT => 0))", 1, 10).unwrap();
        assert_eq!(
            (empty.partition_count(), empty.partition(0).as_deref()),
            (1, Some("[]"))
        );
        assert_eq!(empty.partition_size(0), 2);
        let (huge, _) = plan(
            "SELECT SEQ8(), RANDSTR(100, RANDOM()) FROM TABLE(GENERATOR(ROWCOUNT => 10000000000))",
            1,
            100_000,
        )
        .unwrap();
        assert_eq!(huge.partition_count(), 100_000);
        let last = huge.partition(99_999).unwrap();
        let parsed: Vec<Vec<String>> = serde_json::from_str(&last).unwrap();
        assert_eq!(parsed.last().unwrap()[0], "9999999999");
        assert!(huge.partition(100_000).is_none());
    }
}
