//! Generic handlers of `/v1/catalog/{plural}`, driven by an [`EntitySpec`].

use crate::db::{Db, Statements};
use crate::entity::{EntitySpec, ListKind};
use crate::error::{ApiError, item};
use crate::rows::{
    exists, fetch, fetch_many, insert_row, listing_columns, listing_json, not_found, write_ports,
};
use crate::validate::{Mode, Validated, parse_body, validate};
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Query parameters as sent.
pub type Query = HashMap<String, String>;

/// Parses an optional integer query parameter within `lo..=hi`.
pub fn query_int(q: &Query, name: &str, default: i64, lo: i64, hi: i64) -> Result<i64, ApiError> {
    let Some(raw) = q.get(name) else {
        return Ok(default);
    };
    let fail = |kind: &str, msg: String| {
        Err(ApiError::Validation(vec![item(
            kind,
            &["query", name],
            &msg,
            Value::String(raw.clone()),
        )]))
    };
    match raw.trim().parse::<i64>() {
        Err(_) => fail(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
        ),
        Ok(v) if v < lo => fail(
            "greater_than_equal",
            format!("Input should be greater than or equal to {lo}"),
        ),
        Ok(v) if v > hi => fail(
            "less_than_equal",
            format!("Input should be less than or equal to {hi}"),
        ),
        Ok(v) => Ok(v),
    }
}

fn query_float(q: &Query, name: &str) -> Result<Option<f64>, ApiError> {
    q.get(name)
        .map(|raw| {
            raw.trim().parse::<f64>().map_err(|_| {
                ApiError::Validation(vec![item(
                    "float_parsing",
                    &["query", name],
                    "Input should be a valid number",
                    Value::String(raw.clone()),
                )])
            })
        })
        .transpose()
}

/// `GET /{plural}`.
pub async fn list(spec: &'static EntitySpec, db: Db, q: Query) -> Result<Value, ApiError> {
    let cols = spec.select_columns();
    let (query, params) = match spec.list {
        ListKind::AllByName => (
            format!("SELECT {cols} FROM {} ORDER BY name", spec.table),
            Vec::new(),
        ),
        ListKind::Filtered {
            enum_param,
            enum_column,
            values,
            capacity,
        } => {
            let limit = query_int(&q, "limit", 50, 1, 200)?;
            let mut clauses = Vec::new();
            let mut params = Vec::new();
            if let Some(s) = q.get("search").filter(|s| !s.is_empty()) {
                clauses.push("label LIKE ?".to_string());
                params.push(Sql::Text(format!("%{s}%")));
            }
            if let Some(v) = q.get(enum_param) {
                let v = v.to_ascii_lowercase();
                if !values.contains(&v.as_str()) {
                    let expected = values
                        .iter()
                        .map(|v| format!("'{v}'"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ApiError::Validation(vec![item(
                        "enum",
                        &["query", enum_param],
                        &format!("Input should be {expected}"),
                        Value::String(v),
                    )]));
                }
                clauses.push(format!("{enum_column} = ?"));
                params.push(Sql::Text(v));
            }
            for (name, op) in [("min_capacity_gb", ">="), ("max_capacity_gb", "<=")] {
                if let Some(x) = query_float(&q, name)? {
                    clauses.push(format!("{capacity} {op} ?"));
                    params.push(Sql::Real(x));
                }
            }
            let filter = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            params.push(Sql::Integer(limit));
            (
                format!(
                    "SELECT {cols} FROM {} {filter} ORDER BY {capacity} DESC, id LIMIT ?",
                    spec.table
                ),
                params,
            )
        }
    };
    let rows = db
        .call(move |sql| fetch_many(sql, spec, &query, &params))
        .await?;
    Ok(Value::Array(rows))
}

/// `GET /{plural}/{id}`.
pub async fn get_one(spec: &'static EntitySpec, db: Db, id: i64) -> Result<Value, ApiError> {
    db.call(move |sql| fetch(sql, spec, id)?.ok_or_else(|| not_found(spec, id)))
        .await
}

fn attributes_value(attrs: Option<Map<String, Value>>) -> Sql {
    Sql::Text(Value::Object(attrs.unwrap_or_default()).to_string())
}

/// Label a get-or-create entity gets when none is sent, e.g. `16GB DDR4`.
fn default_label(v: &Validated) -> String {
    let get = |name: &str| {
        v.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
    };
    let text = |s: Option<Sql>| match s {
        Some(Sql::Integer(i)) => i.to_string(),
        Some(Sql::Real(f)) => format!("{f}"),
        Some(Sql::Text(t)) => t.to_uppercase(),
        _ => String::new(),
    };
    let capacity = text(get("total_capacity_gb").or_else(|| get("capacity_gb")));
    let kind = text(get("ddr_generation").or_else(|| get("medium")));
    format!(
        "{}GB {}",
        if capacity.is_empty() {
            "?".into()
        } else {
            capacity
        },
        kind
    )
    .trim()
    .to_owned()
}

fn find_matching(
    sql: &Statements<'_>,
    spec: &EntitySpec,
    v: &Validated,
) -> Result<Option<i64>, ApiError> {
    let clauses: Vec<String> = v.fields.iter().map(|(c, _)| format!("{c} IS ?")).collect();
    let params: Vec<Sql> = v.fields.iter().map(|(_, s)| s.clone()).collect();
    let query = format!(
        "SELECT id FROM {} WHERE {} ORDER BY id LIMIT 1",
        spec.table,
        clauses.join(" AND ")
    );
    sql.query_one(&query, &params, |r| r.get(0))
}

/// `POST /{plural}` → 201.
pub async fn create(spec: &'static EntitySpec, db: Db, body: Vec<u8>) -> Result<Value, ApiError> {
    let map = parse_body(&body)?;
    let mut v = validate(spec.fields, &map, Mode::Create, spec.attributes, spec.ports)?;
    if spec.get_or_create && v.fields.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "At least one {} field must be provided",
            spec.display
        )));
    }
    db.transaction(move |sql| {
        if spec.get_or_create {
            if let Some(id) = find_matching(sql, spec, &v)? {
                return fetch(sql, spec, id)?.ok_or_else(|| not_found(spec, id));
            }
            if !v.fields.iter().any(|(n, _)| *n == "label") {
                let label = default_label(&v);
                v.fields.push(("label", Sql::Text(label)));
            }
        }
        if spec.unique_name
            && let Some((_, name)) = v.fields.iter().find(|(n, _)| *n == "name")
        {
            let taken = sql.query_one(
                &format!("SELECT id FROM {} WHERE name = ?", spec.table),
                std::slice::from_ref(name),
                |r| r.get::<_, i64>(0),
            )?;
            if taken.is_some() {
                return Err(ApiError::BadRequest(format!(
                    "{} already exists",
                    spec.display
                )));
            }
        }
        let mut values = std::mem::take(&mut v.fields);
        if spec.attributes {
            values.push(("attributes_json", attributes_value(v.attributes.take())));
        }
        let id = insert_row(sql, spec.table, values)?;
        if let Some(ports) = &v.ports {
            write_ports(sql, id, ports)?;
        }
        fetch(sql, spec, id)?.ok_or_else(|| not_found(spec, id))
    })
    .await
}

/// `PUT`/`PATCH /{plural}/{id}` → 200.
pub async fn update(
    spec: &'static EntitySpec,
    db: Db,
    id: i64,
    body: Vec<u8>,
    mode: Mode,
) -> Result<Value, ApiError> {
    let map = parse_body(&body)?;
    let v = validate(spec.fields, &map, mode, spec.attributes, spec.ports)?;
    db.transaction(move |sql| {
        let current = fetch(sql, spec, id)?.ok_or_else(|| not_found(spec, id))?;
        if spec.unique_name
            && let Some((_, name)) = v.fields.iter().find(|(n, _)| *n == "name")
        {
            let q = format!("SELECT id FROM {} WHERE name = ? AND id != ?", spec.table);
            if sql
                .query_one(&q, &[name.clone(), Sql::Integer(id)], |r| {
                    r.get::<_, i64>(0)
                })?
                .is_some()
            {
                let shown = match name {
                    Sql::Text(t) => t.clone(),
                    _ => String::new(),
                };
                return Err(ApiError::Unprocessable(format!(
                    "{} with name '{shown}' already exists",
                    spec.display
                )));
            }
        }
        let mut sets: Vec<(&str, Sql)> = v.fields.clone();
        if let Some(mut attrs) = v.attributes.clone() {
            if mode == Mode::Patch {
                let mut merged = current
                    .get("attributes_json")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                merged.append(&mut attrs);
                attrs = merged;
            }
            sets.push(("attributes_json", attributes_value(Some(attrs))));
        }
        sets.push(("updated_at", Sql::Text(crate::schema::now())));
        let assignments: Vec<String> = sets.iter().map(|(c, _)| format!("{c} = ?")).collect();
        let mut params: Vec<Sql> = sets.into_iter().map(|(_, s)| s).collect();
        params.push(Sql::Integer(id));
        sql.execute(
            &format!(
                "UPDATE {} SET {} WHERE id = ?",
                spec.table,
                assignments.join(", ")
            ),
            &params,
        )?;
        if let Some(ports) = &v.ports {
            write_ports(sql, id, ports)?;
        }
        fetch(sql, spec, id)?.ok_or_else(|| not_found(spec, id))
    })
    .await
}

/// `GET /{plural}/{id}/listings`.
pub async fn listings_of(
    spec: &'static EntitySpec,
    db: Db,
    id: i64,
    q: Query,
) -> Result<Value, ApiError> {
    let limit = query_int(&q, "limit", 50, 1, 100)?;
    let offset = query_int(&q, "offset", 0, 0, i64::MAX)?;
    db.call(move |sql| {
        if !exists(sql, spec.table, id)? {
            return Err(not_found(spec, id));
        }
        if spec.usage_columns.is_empty() {
            return Ok(Value::Array(vec![]));
        }
        let filter: Vec<String> = spec
            .usage_columns
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect();
        let query = format!(
            "SELECT {} FROM listings WHERE {} ORDER BY id LIMIT ? OFFSET ?",
            listing_columns(),
            filter.join(" OR ")
        );
        let mut params: Vec<Sql> = spec
            .usage_columns
            .iter()
            .map(|_| Sql::Integer(id))
            .collect();
        params.extend([Sql::Integer(limit), Sql::Integer(offset)]);
        Ok(Value::Array(sql.query(&query, &params, listing_json)?))
    })
    .await
}
