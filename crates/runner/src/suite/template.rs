//! Placeholders in paths and bodies: `{fixture.id}`, `{run_id}`, `{iteration}`,
//! `{n}`, and in fixture kinds `{parent.id}`, `{id}`, `{offset}`, `{tag}` and
//! `{shared.KIND.id}`.

use crate::fixtures::FixtureId;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Placeholders a template may use (besides `{shared.KIND.id}`).
pub const PLACEHOLDERS: [&str; 8] = [
    "fixture.id",
    "run_id",
    "iteration",
    "n",
    "parent.id",
    "id",
    "offset",
    "tag",
];

/// Ids of the run's shared fixtures, by kind name.
pub type SharedIds = HashMap<String, FixtureId>;

/// Values an iteration's steps captured (`{capture.NAME}`), in capture order.
pub type Captures = Vec<(String, FixtureId)>;

/// `capture.NAME` → `NAME`.
pub fn capture_name(placeholder: &str) -> Option<&str> {
    placeholder
        .strip_prefix("capture.")
        .filter(|n| !n.is_empty())
}

/// Values for one rendering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The fixture's id, when the scenario has one.
    pub fixture_id: Option<&'a FixtureId>,
    /// Run id.
    pub run_id: &'a str,
    /// Iteration number.
    pub iteration: u64,
    /// Run-wide counter.
    pub n: u64,
    /// A child fixture's parent.
    pub parent_id: Option<&'a FixtureId>,
    /// The entity a delete or a children list is about.
    pub id: Option<&'a FixtureId>,
    /// The first item of a list page.
    pub offset: Option<u64>,
    /// The text a search looks for.
    pub tag: Option<&'a str>,
    /// The run's shared fixtures.
    pub shared: Option<&'a SharedIds>,
    /// What the iteration's earlier steps captured.
    pub captures: Option<&'a Captures>,
}

/// A placeholder's value: numbers stay numbers in JSON bodies.
enum Val<'a> {
    Int(i64),
    Text(Cow<'a, str>),
}

fn id_val(id: &FixtureId) -> Val<'_> {
    match id {
        FixtureId::Int(i) => Val::Int(*i),
        FixtureId::Text(s) => Val::Text(Cow::Borrowed(s)),
    }
}

impl Context<'_> {
    /// The id placeholder `name` (`fixture.id`, `capture.NAME`) stands for.
    pub fn id_of(&self, name: &str) -> Option<FixtureId> {
        Some(match self.value(name)? {
            Val::Int(i) => FixtureId::Int(i),
            Val::Text(t) => FixtureId::Text(t.into_owned()),
        })
    }

    fn value(&self, name: &str) -> Option<Val<'_>> {
        Some(match name {
            "fixture.id" => id_val(self.fixture_id?),
            "parent.id" => id_val(self.parent_id?),
            "id" => id_val(self.id?),
            "run_id" => Val::Text(Cow::Borrowed(self.run_id)),
            "iteration" => Val::Int(i64::try_from(self.iteration).ok()?),
            "n" => Val::Int(i64::try_from(self.n).ok()?),
            "offset" => Val::Int(i64::try_from(self.offset?).ok()?),
            "tag" => Val::Text(Cow::Borrowed(self.tag?)),
            other => match capture_name(other) {
                Some(c) => id_val(&self.captures?.iter().find(|(k, _)| k == c)?.1),
                None => id_val(self.shared?.get(shared_kind(other)?)?),
            },
        })
    }
}

/// `shared.KIND.id` → `KIND`.
pub fn shared_kind(name: &str) -> Option<&str> {
    name.strip_prefix("shared.")?
        .strip_suffix(".id")
        .filter(|k| !k.is_empty())
}

/// A string with placeholders, split once at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

/// Characters a path keeps as they are (RFC 3986 unreserved); the rest of a
/// placeholder's value is percent-encoded, so a tag with spaces or an id with
/// a slash stays one path segment or query value.
fn push_encoded(out: &mut String, value: &str) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// A placeholder that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without its `}`.
    #[error("unclosed placeholder in {0:?}")]
    Unclosed(String),
    /// A name no placeholder has.
    #[error(
        "unknown placeholder {{{name}}} in {text:?} (known: {known}, {{shared.KIND.id}}, {{capture.NAME}})"
    )]
    Unknown {
        /// The name inside the braces.
        name: String,
        /// The whole text.
        text: String,
        /// The placeholders there are.
        known: String,
    },
}

impl Template {
    /// Parses `text`; an unknown or unclosed placeholder is an error naming it.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| TemplateError::Unclosed(text.to_owned()))?
                + open;
            let name = rest[open + 1..close].trim();
            if !PLACEHOLDERS.contains(&name)
                && shared_kind(name).is_none()
                && capture_name(name).is_none()
            {
                return Err(TemplateError::Unknown {
                    name: name.to_owned(),
                    text: text.to_owned(),
                    known: PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", "),
                });
            }
            parts.push(Part::Var(name.to_owned()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// Whether the template uses `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.vars().any(|v| v == name)
    }

    /// The placeholders used, in order.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var(v) => Some(v.as_str()),
            Part::Text(_) => None,
        })
    }

    fn render_with(&self, cx: &Context<'_>, encode: bool) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => match cx.value(v) {
                    Some(Val::Int(i)) => out.push_str(itoa::Buffer::new().format(i)),
                    Some(Val::Text(t)) if encode => push_encoded(&mut out, &t),
                    Some(Val::Text(t)) => out.push_str(&t),
                    None => {}
                },
            }
        }
        out
    }

    /// The text with values substituted (missing values render empty).
    pub fn render(&self, cx: &Context<'_>) -> String {
        self.render_with(cx, false)
    }

    /// As [`Template::render`] for a request path: values are percent-encoded.
    pub fn render_path(&self, cx: &Context<'_>) -> String {
        self.render_with(cx, true)
    }

    /// Route form: placeholders shown as `{id}`-style names (`{fixture.id}` → `{id}`), query dropped.
    pub fn route(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) if v == "fixture.id" => out.push_str("{id}"),
                Part::Var(v) => out.push_str(&format!("{{{v}}}")),
            }
        }
        out.split('?').next().unwrap_or_default().to_owned()
    }
}

impl fmt::Display for Template {
    /// The template's source text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Text(t) => f.write_str(t)?,
                Part::Var(v) => write!(f, "{{{v}}}")?,
            }
        }
        Ok(())
    }
}

impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Template::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Checks every string of a JSON template; returns the first problem.
pub fn check_json(v: &Value) -> Result<(), TemplateError> {
    match v {
        Value::String(s) => Template::parse(s).map(|_| ()),
        Value::Array(a) => a.iter().try_for_each(check_json),
        Value::Object(o) => o.values().try_for_each(check_json),
        _ => Ok(()),
    }
}

/// Every placeholder a JSON template uses.
pub fn json_vars(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_vars(v, &mut out);
    out
}

fn collect_vars(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Ok(t) = Template::parse(s) {
                out.extend(t.vars().map(str::to_owned));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_vars(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_vars(x, out)),
        _ => {}
    }
}

/// Whether any string of a JSON template uses `name`.
pub fn json_uses(v: &Value, name: &str) -> bool {
    json_vars(v).iter().any(|x| x == name)
}

/// Renders every string of a JSON template. A string that is exactly one
/// placeholder with a numeric value (`"{fixture.id}"` of an integer id)
/// becomes a JSON number; a string id stays a string.
pub fn render_json(v: &Value, cx: &Context<'_>) -> Value {
    match v {
        Value::String(s) => {
            let Ok(t) = Template::parse(s) else {
                return v.clone();
            };
            if let [Part::Var(name)] = t.parts.as_slice()
                && let Some(Val::Int(i)) = cx.value(name)
            {
                return Value::from(i);
            }
            Value::String(t.render(cx))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| render_json(x, cx)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), render_json(x, cx)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_render_as_they_came_and_paths_are_encoded() {
        let text = FixtureId::Text("a b/c".into());
        let int = FixtureId::Int(7);
        let shared: SharedIds = [("ram-specs".to_owned(), FixtureId::Int(3))].into();
        let cx = Context {
            fixture_id: Some(&text),
            parent_id: Some(&int),
            run_id: "ts-1",
            tag: Some("tracesplit ts-1 x"),
            offset: Some(100),
            shared: Some(&shared),
            ..Context::default()
        };
        let path = Template::parse("/w/{fixture.id}?q={tag}&offset={offset}").unwrap();
        assert_eq!(
            path.render_path(&cx),
            "/w/a%20b%2Fc?q=tracesplit%20ts-1%20x&offset=100"
        );
        let body = json!({"w": "{fixture.id}", "p": "{parent.id}", "r": "{shared.ram-specs.id}", "t": "{run_id} {n}"});
        assert_eq!(
            render_json(&body, &cx),
            json!({"w": "a b/c", "p": 7, "r": 3, "t": "ts-1 0"})
        );
        assert_eq!(path.to_string(), "/w/{fixture.id}?q={tag}&offset={offset}");
        assert!(Template::parse("{shared..id}").is_err());
        let mut vars = json_vars(&body);
        vars.sort();
        assert_eq!(
            vars,
            vec![
                "fixture.id",
                "n",
                "parent.id",
                "run_id",
                "shared.ram-specs.id"
            ]
        );
    }
}
