//! OpenAPI 3 schemas as the suite generator reads them: `$ref`s resolved,
//! `allOf` merged, and a value made for each required property.

use serde_json::{Map, Value, json};

/// Nesting followed at most (a schema that refers to itself stops here).
const DEPTH: usize = 8;

/// The document, for `$ref`s.
pub(super) struct Doc<'a>(pub &'a Value);

impl<'a> Doc<'a> {
    /// `schema` with its `$ref` followed (and `allOf` merged into one object schema).
    pub fn resolve(&self, schema: &'a Value) -> Value {
        self.resolve_at(schema, 0)
    }

    fn resolve_at(&self, schema: &'a Value, depth: usize) -> Value {
        if depth > DEPTH {
            return Value::Null;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix('#')
                .and_then(|p| self.0.pointer(p))
                .unwrap_or(&Value::Null);
            return self.resolve_at(target, depth + 1);
        }
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            let mut required: Vec<Value> = Vec::new();
            for p in parts {
                let p = self.resolve_at(p, depth + 1);
                if let Some(props) = p.get("properties").and_then(Value::as_object) {
                    for (k, v) in props {
                        merged.insert(k.clone(), v.clone());
                    }
                }
                if let Some(r) = p.get("required").and_then(Value::as_array) {
                    required.extend(r.iter().cloned());
                }
            }
            return json!({"type": "object", "properties": merged, "required": required});
        }
        // anyOf/oneOf (FastAPI's Optional fields): the first that is not null.
        for key in ["anyOf", "oneOf"] {
            if let Some(first) = schema
                .get(key)
                .and_then(Value::as_array)
                .and_then(|v| v.iter().find(|s| s.get("type") != Some(&json!("null"))))
            {
                return self.resolve_at(first, depth + 1);
            }
        }
        schema.clone()
    }

    /// The JSON schema of a request body or a response: `application/json`,
    /// else the first JSON media type (`application/vnd.api+json`,
    /// `text/json`, `application/json; charset=utf-8`).
    pub fn json_schema(&self, holder: &'a Value) -> Option<Value> {
        let holder = self.resolve(holder);
        let content = holder.get("content").and_then(Value::as_object)?;
        let media = content.get("application/json").or_else(|| {
            content
                .iter()
                .find(|(t, _)| t.contains("json"))
                .map(|(_, m)| m)
        })?;
        let schema = media.get("schema")?.clone();
        Some(self.resolve(&schema))
    }
}

/// What a value is made for.
pub(super) struct Fill<'t> {
    /// The property that carries the tag, and its text.
    pub tag: Option<(&'t str, &'t str)>,
    /// The kinds an id field may refer to (`item_id` → `items`).
    pub kinds: &'t [String],
}

impl Fill<'_> {
    /// `{shared.KIND.id}` for a field that holds another resource's id
    /// (`item_id`, `itemId` → the kind whose singular is `item`).
    pub fn reference(&self, name: &str) -> Option<String> {
        let stem = id_stem(name)?;
        let kind = self
            .kinds
            .iter()
            .find(|k| super::singular(k).eq_ignore_ascii_case(&stem))?;
        Some(format!("{{shared.{kind}.id}}"))
    }
}

/// `item` of `item_id` or `itemId` (`None` for `id` itself or any other name).
pub(super) fn id_stem(name: &str) -> Option<String> {
    let stem = name
        .strip_suffix("_id")
        .or_else(|| name.strip_suffix("Id"))
        .filter(|s| !s.is_empty())?;
    Some(stem.trim_end_matches('_').to_owned())
}

/// A value for `schema` (resolved), or `None` when none can be made (a
/// required reference to another resource, an unknown shape).
pub(super) fn value_for(
    doc: &Doc<'_>,
    name: &str,
    schema: &Value,
    fill: &Fill<'_>,
    depth: usize,
) -> Option<Value> {
    let schema = doc.resolve(schema);
    if let Some((field, text)) = fill.tag.filter(|(f, _)| *f == name && depth == 1) {
        let _ = field;
        return Some(Value::String(text.to_owned()));
    }
    for key in ["example", "default"] {
        if let Some(v) = schema.get(key).filter(|v| !v.is_null()) {
            return Some(v.clone());
        }
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(first.clone());
    }
    // Another resource's id: a shared fixture of its kind (a number when the
    // id is one: a whole-string placeholder renders as the id came).
    if depth == 1 && id_stem(name).is_some() {
        return fill.reference(name).map(Value::String);
    }
    match type_of(&schema) {
        "string" => string_for(name, &schema).map(Value::String),
        "integer" => Some(json!(
            schema
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(1)
                .max(1)
        )),
        "number" => Some(json!(
            schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.0)
        )),
        "boolean" => Some(json!(false)),
        "array" => Some(json!([])),
        _ if depth < DEPTH => object_for(doc, &schema, fill, depth + 1),
        _ => None,
    }
}

/// An object with every required property.
pub(super) fn object_for(
    doc: &Doc<'_>,
    schema: &Value,
    fill: &Fill<'_>,
    depth: usize,
) -> Option<Value> {
    let props = schema.get("properties").and_then(Value::as_object);
    let mut out = Map::new();
    for r in required(schema) {
        let p = props.and_then(|p| p.get(&r)).unwrap_or(&Value::Null);
        out.insert(r.clone(), value_for(doc, &r, p, fill, depth)?);
    }
    // The tag field is always sent, required or not.
    if let Some((field, text)) = fill.tag.filter(|_| depth == 1) {
        out.entry(field.to_owned())
            .or_insert_with(|| Value::String(text.to_owned()));
    }
    Some(Value::Object(out))
}

/// A schema's type: OpenAPI 3.1 may give a list (`["string", "null"]`),
/// whose first type that is not null counts; `object` when none is given.
pub(super) fn type_of(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("object"),
        _ => "object",
    }
}

/// The names of the required properties.
pub(super) fn required(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn string_for(name: &str, schema: &Value) -> Option<String> {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let lower = name.to_ascii_lowercase();
    // An id of another resource cannot be made up: the create needs that resource.
    if format == "uuid" || lower.ends_with("_id") || (lower.ends_with("id") && lower.len() > 2) {
        return None;
    }
    let text = match format {
        "email" => "tracesplit-{run_id}-{n}@example.com".to_owned(),
        "date-time" => "2026-01-01T00:00:00Z".to_owned(),
        "date" => "2026-01-01".to_owned(),
        "uri" | "url" => "https://example.com/tracesplit".to_owned(),
        _ => {
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let mut t = format!("tracesplit {name}");
            while t.len() < min {
                t.push('x');
            }
            t
        }
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_all_of_and_optional_fields_resolve() {
        let doc = json!({"components": {"schemas": {
            "Base": {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
            "In": {"allOf": [{"$ref": "#/components/schemas/Base"},
                {"type": "object", "properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}, "required": ["n"]}]}
        }}});
        let d = Doc(&doc);
        let s = d.resolve(&json!({"$ref": "#/components/schemas/In"}));
        let fill = Fill {
            tag: Some(("title", "tracesplit {run_id} x {n}")),
            kinds: &[],
        };
        let v = object_for(&d, &s, &fill, 1).unwrap();
        assert_eq!(v, json!({"title": "tracesplit {run_id} x {n}", "n": 1}));
        // A required reference to another resource: that kind's shared fixture,
        // or nothing when the document has no such kind.
        let owner = json!({"type": "object", "properties": {"owner_id": {"type": "integer"}}, "required": ["owner_id"]});
        assert_eq!(object_for(&d, &owner, &fill, 1), None);
        let kinds = ["owners".to_owned()];
        let fill = Fill {
            tag: None,
            kinds: &kinds,
        };
        assert_eq!(
            object_for(&d, &owner, &fill, 1),
            Some(json!({"owner_id": "{shared.owners.id}"}))
        );
    }
}
