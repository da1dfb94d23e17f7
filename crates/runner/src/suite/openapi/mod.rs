//! `tracesplit suite init --openapi`: a commented suite from an OpenAPI 3
//! document (JSON, as FastAPI's `/openapi.json` and springdoc's
//! `/v3/api-docs` serve it, or YAML, as specifications are often written).
//! Each resource with a create (a POST to a collection) and a delete (a
//! DELETE of an item) becomes a fixture kind and its scenarios; what could
//! not be made is listed as comments with why.

mod schema;
mod write;

use super::kinds::singular;
use super::raw::shape;
use schema::{Doc, Fill, object_for};
use serde_json::Value;

/// Why no suite could be made.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The document is neither JSON nor YAML.
    #[error(
        "neither JSON ({json}) nor YAML ({yaml}): an OpenAPI document is read as either (FastAPI's /openapi.json, springdoc's /v3/api-docs or /v3/api-docs.yaml, NestJS's -json)"
    )]
    Unreadable {
        /// Why it is not JSON.
        json: serde_json::Error,
        /// Why it is not YAML.
        #[source]
        yaml: serde_yaml::Error,
    },
    /// JSON, but not an OpenAPI 3 document.
    #[error("not an OpenAPI 3 document (no \"openapi\": \"3.…\" and \"paths\")")]
    NotOpenApi,
    /// Nothing to make fixtures of.
    #[error(
        "no resource has both a create (POST to a collection) and a delete (DELETE of one item){0}"
    )]
    NoResource(String),
    /// The suite made does not validate: a bug in the generator.
    #[error("the generated suite does not validate: {0} (please report it)")]
    Invalid(#[source] super::SuiteError),
}

/// A generated suite.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The suite as TOML, with comments.
    pub text: String,
    /// Resources turned into kinds and scenarios.
    pub resources: Vec<String>,
    /// Resources left out, with why.
    pub skipped: Vec<(String, String)>,
    /// The suite as parsed (the validation of `text`).
    pub suite: super::Suite,
}

/// One resource: a collection with a create and an item with a delete.
#[derive(Debug, Clone)]
pub(super) struct Resource {
    /// The collection's last segment (`items`).
    pub name: String,
    /// `/api/v1/items/`.
    pub collection: String,
    /// `/api/v1/items/{item_id}`.
    pub item: String,
    /// `item_id`.
    pub param: String,
}

/// What the generator found out about one resource.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub resource: Resource,
    /// The create path as a template: a parent resource's id in it
    /// (`/owners/{ownerId}/pets`) is that kind's shared fixture
    /// (`/owners/{shared.owners.id}/pets`).
    pub collection: String,
    /// The item path likewise, its own id left as `{PARAM}`.
    pub item: String,
    pub body: Value,
    pub tag_field: String,
    pub id: String,
    pub create_status: u16,
    pub list: Option<(String, String)>,
    pub read_status: Option<u16>,
    pub update: Option<(&'static str, u16)>,
    pub delete_status: u16,
}

/// The suite for the document `text`, limited to `only` resources when given.
pub fn suite_from_openapi(text: &str, only: Option<&[String]>) -> Result<Generated, OpenApiError> {
    let doc = document(text)?;
    let is_v3 = doc
        .get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with('3'));
    let Some(paths) = doc
        .get("paths")
        .and_then(Value::as_object)
        .filter(|_| is_v3)
    else {
        return Err(OpenApiError::NotOpenApi);
    };
    // Paths are relative to the document's server: its path prefix
    // (`/api/v3`) goes in front of every one the suite sends.
    let prefix = server_path(&doc);
    let paths: serde_json::Map<String, Value> = paths
        .iter()
        .map(|(p, ops)| (format!("{prefix}{p}"), ops.clone()))
        .collect();
    let paths = &paths;
    let d = Doc(&doc);
    let mut plans = Vec::new();
    let mut skipped = Vec::new();
    let found = resources(paths);
    for r in &found {
        if only.is_some_and(|o| !o.iter().any(|n| n == &r.name)) {
            continue;
        }
        if let Some(first) = plans.iter().find(|p: &&Plan| p.resource.name == r.name) {
            let why = format!(
                "{} makes the {} kind already (one kind per name; write a second by hand)",
                first.resource.collection, r.name
            );
            skipped.push((format!("{} ({})", r.name, r.collection), why));
            continue;
        }
        match plan(&d, paths, r, &found) {
            Ok(p) => plans.push(p),
            Err(why) => skipped.push((r.name.clone(), why)),
        }
    }
    let plans = parents_first(plans, &mut skipped);
    if plans.is_empty() {
        let why = skipped
            .iter()
            .map(|(n, w)| format!("; {n}: {w}"))
            .collect::<String>();
        return Err(OpenApiError::NoResource(why));
    }
    let text = write::suite(&doc, paths, &plans, &skipped);
    let suite = super::parse(&text, "generated").map_err(OpenApiError::Invalid)?;
    Ok(Generated {
        suite,
        text,
        resources: plans.iter().map(|p| p.resource.name.clone()).collect(),
        skipped,
    })
}

/// The path of the document's first server (`/api/v3` of `/api/v3` or of
/// `https://{host}/api/v3` with its variables' defaults), without a
/// trailing slash; empty when it has none.
pub(super) fn server_path(doc: &Value) -> String {
    let Some(server) = doc.pointer("/servers/0") else {
        return String::new();
    };
    let mut url = server
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (name, v) in vars {
            let default = v.get("default").and_then(Value::as_str).unwrap_or("");
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    crate::client::url_path(&url)
        .trim_end_matches('/')
        .to_owned()
}

/// The document as JSON, whether it was written as JSON or as YAML.
fn document(text: &str) -> Result<Value, OpenApiError> {
    let json = match serde_json::from_str(text) {
        Ok(doc) => return Ok(doc),
        Err(e) => e,
    };
    serde_yaml::from_str::<serde_yaml::Value>(text)
        .map(from_yaml)
        .map_err(|yaml| OpenApiError::Unreadable { json, yaml })
}

/// A YAML value as JSON: mapping keys become strings (YAML's `200:` is a
/// number, a JSON object's key is text); tags are dropped.
fn from_yaml(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other)
                            .unwrap_or_default()
                            .trim_end()
                            .to_owned(),
                    };
                    (key, from_yaml(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => from_yaml(t.value),
    }
}

/// Collections with a POST whose item (`COLLECTION/{param}`) has a DELETE.
fn resources(paths: &serde_json::Map<String, Value>) -> Vec<Resource> {
    let mut out = Vec::new();
    for (collection, ops) in paths {
        if ops.get("post").is_none() || collection.ends_with('}') {
            continue;
        }
        let base = collection.trim_end_matches('/');
        let item = paths.iter().find_map(|(p, o)| {
            let rest = p.strip_prefix(base)?.strip_prefix("/{")?;
            let param = rest.strip_suffix('}').or_else(|| rest.strip_suffix("}/"))?;
            (!param.contains(['/', '{', '}']) && o.get("delete").is_some())
                .then(|| (p.clone(), param.to_owned()))
        });
        let Some((item, param)) = item else { continue };
        let name = base.rsplit('/').next().unwrap_or(base).to_owned();
        if name.is_empty() || name.contains('{') {
            continue;
        }
        out.push(Resource {
            name,
            collection: collection.clone(),
            item,
            param,
        });
    }
    out
}

/// The first 2xx status an operation documents (`default` when none).
fn ok_status(op: &Value, default: u16) -> u16 {
    op.get("responses")
        .and_then(Value::as_object)
        .and_then(|r| {
            r.keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .filter(|s| (200..300).contains(s))
                .min()
        })
        .unwrap_or(default)
}

/// The best string property to carry the run's tag.
fn tag_field(props: &serde_json::Map<String, Value>, d: &Doc<'_>) -> Option<String> {
    let is_text = |name: &str| {
        let s = d.resolve(&props[name]);
        schema::type_of(&s) == "string"
            && !matches!(
                s.get("format").and_then(Value::as_str),
                Some("uuid" | "date" | "date-time" | "uri" | "binary")
            )
            && s.get("enum").is_none()
    };
    [
        "title",
        "name",
        "label",
        "username",
        "email",
        "description",
        "summary",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .find(|n| props.contains_key(n) && is_text(n))
    .or_else(|| props.keys().find(|n| is_text(n)).cloned())
}

/// The kinds in an order where each comes after the kinds it needs (a
/// shared fixture in its body or its paths): fixtures are created in that
/// order and removed in the reverse. A kind that needs one not generated is
/// left out, with why.
fn parents_first(mut plans: Vec<Plan>, skipped: &mut Vec<(String, String)>) -> Vec<Plan> {
    let needs = |p: &Plan| -> Vec<String> {
        let text = format!("{} {}", p.body, p.collection);
        text.split("{shared.")
            .skip(1)
            .filter_map(|rest| rest.split_once(".id}").map(|(k, _)| k.to_owned()))
            .collect()
    };
    let mut out: Vec<Plan> = Vec::new();
    while !plans.is_empty() {
        let ready = plans.iter().position(|p| {
            needs(p)
                .iter()
                .all(|k| out.iter().any(|o| &o.resource.name == k))
        });
        match ready {
            Some(i) => out.push(plans.remove(i)),
            None => {
                for p in plans.drain(..) {
                    let missing: Vec<String> = needs(&p)
                        .into_iter()
                        .filter(|k| !out.iter().any(|o| &o.resource.name == k))
                        .collect();
                    let why = format!(
                        "it needs a {} fixture, which is not generated (add it to --resources, or see why it is left out)",
                        missing.join(", ")
                    );
                    skipped.push((p.resource.name, why));
                }
            }
        }
    }
    out
}

/// `collection` and `item` with each parent resource's id (a path parameter
/// before the resource's own) as that kind's shared fixture: the parent is
/// the resource whose item path the collection starts with
/// (`/owners/{ownerId}` of `/owners/{ownerId}/pets`), else the one its
/// name names (`ownerId` → `owners`).
fn nested_templates(r: &Resource, found: &[Resource]) -> Result<(String, String), String> {
    let (mut collection, mut item) = (r.collection.clone(), r.item.clone());
    let mut rest = r.collection.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        let param = &rest[open + 1..close];
        let prefix = &r.collection[..r.collection.len() - rest.len() + close + 1];
        let by_path = found
            .iter()
            .find(|p| shape(&p.item) == shape(prefix) && p.name != r.name);
        let by_name = || {
            let stem = schema::id_stem(param)?;
            found
                .iter()
                .find(|p| singular(&p.name) == stem || p.name == stem)
        };
        let Some(parent) = by_path.or_else(by_name) else {
            return Err(format!(
                "its collection {} sits under {{{param}}}, which names no resource the document can create and delete",
                r.collection
            ));
        };
        let shared = format!("{{shared.{}.id}}", parent.name);
        collection = collection.replacen(&format!("{{{param}}}"), &shared, 1);
        item = item.replacen(&format!("{{{param}}}"), &shared, 1);
        rest = &rest[close + 1..];
    }
    Ok((collection, item))
}

fn plan(
    d: &Doc<'_>,
    paths: &serde_json::Map<String, Value>,
    r: &Resource,
    found: &[Resource],
) -> Result<Plan, String> {
    let kinds: Vec<String> = found.iter().map(|r| r.name.clone()).collect();
    let kinds = kinds.as_slice();
    let (collection, item_path) = nested_templates(r, found)?;
    let (coll, item) = (&paths[&r.collection], &paths[&r.item]);
    let post = &coll["post"];
    let request = post
        .get("requestBody")
        .and_then(|b| d.json_schema(b))
        .ok_or("its create takes no JSON body")?;
    let props = request
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let tag_field =
        tag_field(&props, d).ok_or("its create body has no text field to carry the run's tag")?;
    let email = d.resolve(&props[&tag_field]).get("format") == Some(&Value::from("email"));
    let tag = if email {
        "tracesplit-{run_id}-{n}@example.com".to_owned()
    } else {
        format!("tracesplit {{run_id}} {} {{n}}", singular(&r.name))
    };
    let fill = Fill {
        tag: Some((&tag_field, &tag)),
        kinds,
    };
    let body = object_for(d, &request, &fill, 1).ok_or_else(|| {
        let refs: Vec<String> = schema::required(&request)
            .into_iter()
            .filter(|n| schema::id_stem(n).is_some())
            .collect();
        format!(
            "its create needs ids of resources the document has no create and delete for ({})",
            refs.join(", ")
        )
    })?;
    let created = post
        .pointer("/responses")
        .and_then(Value::as_object)
        .and_then(|r| r.iter().find(|(k, _)| k.starts_with('2')).map(|(_, v)| v))
        .and_then(|resp| d.json_schema(resp));
    Ok(Plan {
        id: id_pointer(created.as_ref(), d),
        create_status: ok_status(post, 201),
        list: coll.get("get").map(|get| list_paths(d, &collection, get)),
        read_status: item.get("get").map(|g| ok_status(g, 200)),
        update: ["put", "patch"]
            .into_iter()
            .find(|m| item.get(*m).is_some())
            .map(|m| {
                (
                    if m == "put" { "PUT" } else { "PATCH" },
                    ok_status(&item[m], 200),
                )
            }),
        delete_status: ok_status(&item["delete"], 204),
        resource: r.clone(),
        collection,
        item: item_path,
        body,
        tag_field,
    })
}

/// The id's pointer in a create answer.
fn id_pointer(created: Option<&Value>, d: &Doc<'_>) -> String {
    let props = created
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    let Some(props) = props else {
        return "/id".into();
    };
    if props.contains_key("id") {
        return "/id".into();
    }
    props
        .iter()
        .find(|(n, s)| {
            let s = d.resolve(s);
            n.to_ascii_lowercase().ends_with("id") || s.get("format") == Some(&Value::from("uuid"))
        })
        .map_or_else(|| "/id".into(), |(n, _)| format!("/{n}"))
}

/// The list path (paged by `{offset}` when the API takes an offset) and the
/// pointer to the items in its answer.
fn list_paths(d: &Doc<'_>, collection: &str, get: &Value) -> (String, String) {
    let params: Vec<String> = get
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| d.resolve(p))
                .filter(|p| p.get("in") == Some(&Value::from("query")))
                .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let has = |n: &str| params.iter().any(|p| p == n);
    let offset = ["skip", "offset"].into_iter().find(|n| has(n));
    let limit = ["limit", "size", "per_page", "pageSize"]
        .into_iter()
        .find(|n| has(n));
    let path = match (offset, limit) {
        (Some(o), Some(l)) => format!("{collection}?{o}={{offset}}&{l}=100"),
        (Some(o), None) => format!("{collection}?{o}={{offset}}"),
        (None, Some(l)) => format!("{collection}?{l}=100"),
        (None, None) => collection.to_owned(),
    };
    let answer = get.pointer("/responses/200").and_then(|r| d.json_schema(r));
    let items = match answer {
        Some(s) if schema::type_of(&s) == "array" => String::new(),
        Some(s) => ["data", "items", "results", "content", "records"]
            .into_iter()
            .find(|k| s.pointer(&format!("/properties/{k}")).is_some())
            .map_or_else(String::new, |k| format!("/{k}")),
        None => String::new(),
    };
    (path, items)
}

#[cfg(test)]
mod tests;
