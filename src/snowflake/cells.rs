//! Lenient decoding of the `data` array: `[[cell, …], …]` where a cell is a JSON string or
//! `null` (PROTOCOL.md A.6). Any other scalar (which Snowflake never sends, but a double might)
//! becomes its JSON text instead of failing the whole result. Cells are read straight into
//! `Option<String>`, without an intermediate `serde_json::Value` per cell.

use serde::{Deserialize, Deserializer};

use super::types::Row;

/// Accepts `[[cell, …], …]` where a cell is a string, `null`, or (leniently) another scalar.
pub(crate) fn deserialize_rows<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Row>, D::Error> {
    let raw: Option<Vec<Vec<Cell>>> = Option::deserialize(deserializer)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|row| row.into_iter().map(|cell| cell.0).collect())
        .collect())
}

/// One cell as read off the wire, without building a `serde_json::Value` per cell.
struct Cell(Option<String>);

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CellVisitor)
    }
}

struct CellVisitor;

impl serde::de::Visitor<'_> for CellVisitor {
    type Value = Cell;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a string, null or scalar cell")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Cell, E> {
        Ok(Cell(Some(value.to_owned())))
    }

    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Cell, E> {
        Ok(Cell(Some(value)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Cell, E> {
        Ok(Cell(None))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Cell, E> {
        Ok(Cell(None))
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Cell, E> {
        Ok(Cell(Some(value.to_string())))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Cell, E> {
        Ok(Cell(Some(value.to_string())))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Cell, E> {
        Ok(Cell(Some(value.to_string())))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Cell, E> {
        Ok(Cell(Some(value.to_string())))
    }
}
