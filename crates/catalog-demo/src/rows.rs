//! SQL rows → API JSON, and the SQL the generic handlers share.

use crate::db::Statements;
use crate::entity::{EntitySpec, FieldSpec, FieldType, LISTING_FIELDS};
use crate::error::ApiError;
use rusqlite::Row;
use rusqlite::types::{Value as Sql, ValueRef};
use serde_json::{Map, Value};

fn cell(row: &Row<'_>, idx: usize, ty: FieldType) -> rusqlite::Result<Value> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if ty == FieldType::Bool => Value::Bool(i != 0),
        ValueRef::Integer(i) if ty == FieldType::Float => Value::from(i as f64),
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Value::from(f),
        ValueRef::Text(t) => {
            let text = String::from_utf8_lossy(t).into_owned();
            if ty == FieldType::Weights {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            } else {
                Value::String(text)
            }
        }
        ValueRef::Blob(_) => Value::Null,
    })
}

/// Reads `id, fields…, [attributes_json,] created_at, updated_at` into a JSON object.
fn object(
    row: &Row<'_>,
    fields: &[FieldSpec],
    attributes: bool,
) -> rusqlite::Result<Map<String, Value>> {
    let mut out = Map::new();
    out.insert("id".into(), Value::from(row.get::<_, i64>(0)?));
    for (i, f) in fields.iter().enumerate() {
        out.insert(f.name.into(), cell(row, i + 1, f.ty)?);
    }
    let mut idx = fields.len() + 1;
    if attributes {
        let text: String = row.get(idx)?;
        out.insert(
            "attributes_json".into(),
            serde_json::from_str(&text).unwrap_or_else(|_| Value::Object(Map::new())),
        );
        idx += 1;
    }
    out.insert("created_at".into(), Value::String(row.get(idx)?));
    out.insert("updated_at".into(), Value::String(row.get(idx + 1)?));
    Ok(out)
}

/// Columns of a listing row.
pub fn listing_columns() -> String {
    let mut cols = vec!["id"];
    cols.extend(LISTING_FIELDS.iter().map(|f| f.name));
    cols.extend(["attributes_json", "created_at", "updated_at"]);
    cols.join(", ")
}

/// A listing row as JSON.
pub fn listing_json(row: &Row<'_>) -> rusqlite::Result<Value> {
    object(row, LISTING_FIELDS, true).map(Value::Object)
}

/// Loads the ports of the given profiles (all profiles when `id` is `None`).
fn ports_of(sql: &Statements<'_>, id: Option<i64>) -> Result<Vec<(i64, Value)>, ApiError> {
    let (query, params) = match id {
        Some(id) => (
            "SELECT ports_profile_id, id, type, count, spec_notes FROM ports WHERE ports_profile_id = ? ORDER BY id",
            vec![Sql::Integer(id)],
        ),
        None => (
            "SELECT ports_profile_id, id, type, count, spec_notes FROM ports ORDER BY id",
            vec![],
        ),
    };
    sql.query(query, &params, |r| {
        let port = serde_json::json!({
            "id": r.get::<_, i64>(1)?, "type": r.get::<_, String>(2)?,
            "count": r.get::<_, i64>(3)?, "spec_notes": r.get::<_, Option<String>>(4)?,
        });
        Ok((r.get::<_, i64>(0)?, port))
    })
}

fn attach_ports(items: &mut [Map<String, Value>], ports: Vec<(i64, Value)>) {
    for item in items.iter_mut() {
        let id = item.get("id").and_then(Value::as_i64);
        let mine: Vec<Value> = ports
            .iter()
            .filter(|(p, _)| Some(*p) == id)
            .map(|(_, v)| v.clone())
            .collect();
        item.insert("ports".into(), Value::Array(mine));
    }
}

/// One entity by id, or `None`.
pub fn fetch(sql: &Statements<'_>, spec: &EntitySpec, id: i64) -> Result<Option<Value>, ApiError> {
    let query = format!(
        "SELECT {} FROM {} WHERE id = ?",
        spec.select_columns(),
        spec.table
    );
    let mut rows = sql.query(&query, &[Sql::Integer(id)], |r| {
        object(r, spec.fields, spec.attributes)
    })?;
    if spec.ports {
        attach_ports(&mut rows, ports_of(sql, Some(id))?);
    }
    Ok(rows.into_iter().next().map(Value::Object))
}

/// Many entities from a query selecting `spec.select_columns()`.
pub fn fetch_many(
    sql: &Statements<'_>,
    spec: &EntitySpec,
    query: &str,
    params: &[Sql],
) -> Result<Vec<Value>, ApiError> {
    let mut rows = sql.query(query, params, |r| object(r, spec.fields, spec.attributes))?;
    if spec.ports {
        attach_ports(&mut rows, ports_of(sql, None)?);
    }
    Ok(rows.into_iter().map(Value::Object).collect())
}

/// The 404 of an entity.
pub fn not_found(spec: &EntitySpec, id: i64) -> ApiError {
    ApiError::NotFound(format!("{} with id {id} not found", spec.display))
}

/// Whether a row with this id exists.
pub fn exists(sql: &Statements<'_>, table: &str, id: i64) -> Result<bool, ApiError> {
    Ok(sql
        .query_one(
            &format!("SELECT id FROM {table} WHERE id = ?"),
            &[Sql::Integer(id)],
            |r| r.get::<_, i64>(0),
        )?
        .is_some())
}

/// Replaces the ports of a ports profile.
pub fn write_ports(
    sql: &Statements<'_>,
    id: i64,
    ports: &[crate::validate::Port],
) -> Result<(), ApiError> {
    sql.execute(
        "DELETE FROM ports WHERE ports_profile_id = ?",
        &[Sql::Integer(id)],
    )?;
    for p in ports {
        let notes = p.spec_notes.clone().map_or(Sql::Null, Sql::Text);
        sql.insert(
            "INSERT INTO ports (ports_profile_id, type, count, spec_notes) VALUES (?, ?, ?, ?)",
            &[
                Sql::Integer(id),
                Sql::Text(p.kind.clone()),
                Sql::Integer(p.count),
                notes,
            ],
        )?;
    }
    Ok(())
}

/// `INSERT INTO table (cols…, created_at, updated_at)`; returns the id.
pub fn insert_row(
    sql: &Statements<'_>,
    table: &str,
    mut values: Vec<(&str, Sql)>,
) -> Result<i64, ApiError> {
    let ts = crate::schema::now();
    values.push(("created_at", Sql::Text(ts.clone())));
    values.push(("updated_at", Sql::Text(ts)));
    let cols: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let query = format!("INSERT INTO {table} ({}) VALUES ({marks})", cols.join(", "));
    let params: Vec<Sql> = values.into_iter().map(|(_, v)| v).collect();
    sql.insert(&query, &params)
}
