//! Request validation with FastAPI/pydantic-shaped 422 answers.

use crate::entity::{FieldSpec, FieldType};
use crate::error::{ApiError, item};
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

/// Which operation a body is validated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// POST: required fields must be present; no range checks.
    Create,
    /// PUT: fields sent are applied; range checks; attributes replaced.
    Put,
    /// PATCH: fields sent are applied; range checks; attributes merged.
    Patch,
}

/// A port of a ports profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    /// Port type, e.g. `usb_c`.
    pub kind: String,
    /// How many.
    pub count: i64,
    /// Free text.
    pub spec_notes: Option<String>,
}

/// A validated body, ready for SQL.
#[derive(Debug, Default)]
pub struct Validated {
    /// Columns and values of the fields sent.
    pub fields: Vec<(&'static str, Sql)>,
    /// `attributes` (or, on create, `attributes_json`) when sent.
    pub attributes: Option<Map<String, Value>>,
    /// `ports` when sent.
    pub ports: Option<Vec<Port>>,
}

/// Parses a JSON object body.
pub fn parse_body(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::Validation(vec![item(
            "model_attributes_type",
            &["body"],
            "Input should be a valid dictionary or object to extract fields from",
            other,
        )])),
        Err(e) => Err(ApiError::Validation(vec![item(
            "json_invalid",
            &["body", &e.column().to_string()],
            "JSON decode error",
            Value::Object(Map::from_iter([(
                "error".to_string(),
                Value::String(e.to_string()),
            )])),
        )])),
    }
}

/// Parses an integer path parameter (`{cpu_id}`), answering 422 like FastAPI.
pub fn parse_id(param: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::Validation(vec![item(
            "int_parsing",
            &["path", param],
            "Input should be a valid integer, unable to parse string as an integer",
            Value::String(raw.to_owned()),
        )])
    })
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Validates one field value; `Err` carries pydantic items.
fn field_value(spec: &FieldSpec, v: &Value, mode: Mode) -> Result<Sql, Vec<Value>> {
    let loc = ["body", spec.name];
    let fail = |kind: &str, msg: &str| Err(vec![item(kind, &loc, msg, v.clone())]);
    if v.is_null() {
        return if spec.required {
            fail("missing", "Field required")
        } else {
            Ok(Sql::Null)
        };
    }
    match spec.ty {
        FieldType::Str => match v {
            Value::String(s) => Ok(Sql::Text(s.clone())),
            _ => fail("string_type", "Input should be a valid string"),
        },
        FieldType::Int => {
            let Some(i) = as_int(v) else {
                return fail("int_parsing", "Input should be a valid integer");
            };
            match spec.range {
                Some((lo, _)) if mode != Mode::Create && i < lo => fail(
                    "greater_than_equal",
                    &format!("Input should be greater than or equal to {lo}"),
                ),
                Some((_, hi)) if mode != Mode::Create && i > hi => fail(
                    "less_than_equal",
                    &format!("Input should be less than or equal to {hi}"),
                ),
                _ => Ok(Sql::Integer(i)),
            }
        }
        FieldType::Float => match as_float(v) {
            Some(x) => Ok(Sql::Real(x)),
            None => fail("float_parsing", "Input should be a valid number"),
        },
        FieldType::Bool => match v {
            Value::Bool(b) => Ok(Sql::Integer(i64::from(*b))),
            _ => fail("bool_type", "Input should be a valid boolean"),
        },
        FieldType::Enum(values) => match v.as_str().map(str::to_ascii_lowercase) {
            Some(s) if values.contains(&s.as_str()) => Ok(Sql::Text(s)),
            _ => {
                let expected = values
                    .iter()
                    .map(|v| format!("'{v}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                fail("enum", &format!("Input should be {expected}"))
            }
        },
        FieldType::Weights => weights(spec.name, v),
    }
}

fn weights(name: &str, v: &Value) -> Result<Sql, Vec<Value>> {
    let Value::Object(map) = v else {
        return Err(vec![item(
            "dict_type",
            &["body", name],
            "Input should be a valid dictionary",
            v.clone(),
        )]);
    };
    let bad: Vec<Value> = map
        .iter()
        .filter(|(_, x)| as_float(x).is_none())
        .map(|(k, x)| {
            item(
                "float_parsing",
                &["body", name, k],
                "Input should be a valid number",
                x.clone(),
            )
        })
        .collect();
    if !bad.is_empty() {
        return Err(bad);
    }
    let normalized: Map<String, Value> = map
        .iter()
        .map(|(k, x)| (k.clone(), Value::from(as_float(x).unwrap_or_default())))
        .collect();
    Ok(Sql::Text(Value::Object(normalized).to_string()))
}

fn ports(v: &Value) -> Result<Vec<Port>, Vec<Value>> {
    let Value::Array(list) = v else {
        return Err(vec![item(
            "list_type",
            &["body", "ports"],
            "Input should be a valid list",
            v.clone(),
        )]);
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let idx = i.to_string();
        let kind = p.get("type").and_then(Value::as_str);
        let count = p.get("count").and_then(as_int);
        if kind.is_none() {
            errors.push(item(
                "missing",
                &["body", "ports", &idx, "type"],
                "Field required",
                p.clone(),
            ));
        }
        if count.is_none() {
            errors.push(item(
                "int_parsing",
                &["body", "ports", &idx, "count"],
                "Input should be a valid integer",
                p.clone(),
            ));
        }
        if let (Some(kind), Some(count)) = (kind, count) {
            let spec_notes = p
                .get("spec_notes")
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.push(Port {
                kind: kind.to_owned(),
                count,
                spec_notes,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn attributes(
    body: &Map<String, Value>,
    mode: Mode,
) -> Result<Option<Map<String, Value>>, Vec<Value>> {
    // Create accepts either name; updates use `attributes` only (CATALOG_API.md).
    let keys: &[&str] = if mode == Mode::Create {
        &["attributes", "attributes_json"]
    } else {
        &["attributes"]
    };
    match keys.iter().find_map(|k| body.get(*k).map(|v| (*k, v))) {
        None | Some((_, Value::Null)) => Ok(None),
        Some((_, Value::Object(m))) => Ok(Some(m.clone())),
        Some((k, other)) => Err(vec![item(
            "dict_type",
            &["body", k],
            "Input should be a valid dictionary",
            other.clone(),
        )]),
    }
}

/// Validates a body against `fields`; unknown keys are ignored.
pub fn validate(
    fields: &[FieldSpec],
    body: &Map<String, Value>,
    mode: Mode,
    with_attributes: bool,
    with_ports: bool,
) -> Result<Validated, ApiError> {
    let mut out = Validated::default();
    let mut errors = Vec::new();
    for spec in fields {
        match body.get(spec.name) {
            None if mode == Mode::Create && spec.required => {
                errors.push(item(
                    "missing",
                    &["body", spec.name],
                    "Field required",
                    Value::Object(body.clone()),
                ));
            }
            None => {}
            Some(v) => match field_value(spec, v, mode) {
                Ok(sql) => out.fields.push((spec.name, sql)),
                Err(mut e) => errors.append(&mut e),
            },
        }
    }
    if with_attributes {
        match attributes(body, mode) {
            Ok(a) => out.attributes = a,
            Err(mut e) => errors.append(&mut e),
        }
    }
    if with_ports && let Some(v) = body.get("ports").filter(|v| !v.is_null()) {
        match ports(v) {
            Ok(p) => out.ports = Some(p),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::CPU;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn create_requires_fields_and_ignores_unknown_ones() {
        let err = validate(
            CPU.fields,
            &obj(json!({"name": "x", "bogus": 1})),
            Mode::Create,
            true,
            false,
        )
        .unwrap_err();
        let ApiError::Validation(items) = err else {
            panic!()
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["loc"], json!(["body", "manufacturer"]));
        assert_eq!(items[0]["type"], "missing");
    }

    #[test]
    fn ranges_apply_to_updates_only() {
        let body = obj(json!({"cores": 0}));
        assert!(validate(CPU.fields, &body, Mode::Patch, true, false).is_err());
        let mut ok = body.clone();
        ok.insert("name".into(), json!("n"));
        ok.insert("manufacturer".into(), json!("m"));
        assert!(validate(CPU.fields, &ok, Mode::Create, true, false).is_ok());
    }

    #[test]
    fn path_ids_must_be_integers() {
        let ApiError::Validation(items) = parse_id("cpu_id", "abc").unwrap_err() else {
            panic!()
        };
        assert_eq!(items[0]["loc"], json!(["path", "cpu_id"]));
        assert_eq!(parse_id("cpu_id", "12").unwrap(), 12);
    }
}
