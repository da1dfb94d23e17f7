//! Placeholders in paths and bodies: `{fixture.id}`, `{run_id}`, `{iteration}`, `{n}`.

use serde_json::Value;

/// Placeholders a template may use.
pub const PLACEHOLDERS: [&str; 4] = ["fixture.id", "run_id", "iteration", "n"];

/// Values for one rendering.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The fixture's id, when the scenario has one.
    pub fixture_id: Option<i64>,
    /// Run id.
    pub run_id: &'a str,
    /// Iteration number.
    pub iteration: u64,
    /// Run-wide counter.
    pub n: u64,
}

impl Context<'_> {
    fn value(&self, name: &str) -> Option<String> {
        match name {
            "fixture.id" => self.fixture_id.map(|i| i.to_string()),
            "run_id" => Some(self.run_id.to_owned()),
            "iteration" => Some(self.iteration.to_string()),
            "n" => Some(self.n.to_string()),
            _ => None,
        }
    }
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

impl Template {
    /// Parses `text`; an unknown or unclosed placeholder is an error naming it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed placeholder in {text:?}"))?
                + open;
            let name = rest[open + 1..close].trim();
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{name}}} in {text:?} (known: {})",
                    PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                ));
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
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(v) if v == name))
    }

    /// The text with values substituted (missing values render empty).
    pub fn render(&self, cx: &Context<'_>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&cx.value(v).unwrap_or_default()),
            }
        }
        out
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

/// Checks every string of a JSON template; returns the first problem.
pub fn check_json(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) => Template::parse(s).map(|_| ()),
        Value::Array(a) => a.iter().try_for_each(check_json),
        Value::Object(o) => o.values().try_for_each(check_json),
        _ => Ok(()),
    }
}

/// Whether any string of a JSON template uses `name`.
pub fn json_uses(v: &Value, name: &str) -> bool {
    match v {
        Value::String(s) => Template::parse(s).is_ok_and(|t| t.uses(name)),
        Value::Array(a) => a.iter().any(|x| json_uses(x, name)),
        Value::Object(o) => o.values().any(|x| json_uses(x, name)),
        _ => false,
    }
}

/// Renders every string of a JSON template. A string that is exactly one
/// numeric placeholder (`"{fixture.id}"`) becomes a JSON number.
pub fn render_json(v: &Value, cx: &Context<'_>) -> Value {
    match v {
        Value::String(s) => {
            let Ok(t) = Template::parse(s) else {
                return v.clone();
            };
            let text = t.render(cx);
            let single_var = matches!(t.parts.as_slice(), [Part::Var(_)]);
            match text.parse::<i64>() {
                Ok(n) if single_var => Value::from(n),
                _ => Value::String(text),
            }
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
