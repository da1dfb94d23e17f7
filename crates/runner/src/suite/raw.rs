//! TOML → validated [`Suite`], keeping byte spans so every error has a line.

use super::kinds::{self, Allowed, FixtureKind, RawKind, check_tag, check_vars};
use super::template::{Template, json_uses};
use super::{Capture, CaptureFrom, Cascade, FixtureSpec, Scenario, Step, Suite, SuiteError};
use serde::Deserialize;
use std::collections::HashSet;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: String,
    #[serde(default)]
    description: String,
    cascade_statement: Option<Spanned<String>>,
    cascade_span: Option<Spanned<String>>,
    #[serde(default)]
    watch: Vec<Spanned<String>>,
    health: Option<Spanned<String>>,
    words: Option<RawWords>,
    auth: Option<Spanned<crate::auth::Auth>>,
    #[serde(default, rename = "kind")]
    kinds: Vec<Spanned<RawKind>>,
    #[serde(default, rename = "scenario")]
    scenarios: Vec<Spanned<RawScenario>>,
}

/// `[words]`: the nouns the findings use (generic when absent).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWords {
    check: Option<String>,
    children: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    entity_type: String,
    operation: String,
    target_p95_ms: Spanned<f64>,
    fixture: Option<Spanned<RawFixture>>,
    volume_entity: Option<Spanned<String>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    cascade_statement: Option<Spanned<String>>,
    cascade_span: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    #[serde(alias = "entity")]
    kind: Spanned<String>,
    #[serde(default)]
    per_iteration: bool,
    #[serde(default, alias = "listings")]
    children: u64,
    #[serde(alias = "listing_field")]
    child_field: Option<Spanned<String>>,
    body: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    method: Spanned<String>,
    path: Spanned<String>,
    route: Option<String>,
    body: Option<Spanned<toml::Value>>,
    expect: Spanned<Vec<i64>>,
    capture: Option<Spanned<std::collections::BTreeMap<String, String>>>,
}

/// Turns byte offsets into line/column errors for one file.
pub(super) struct Locator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Locator<'_> {
    /// An error at `span` of this file.
    pub(super) fn err(&self, span: Range<usize>, message: impl std::fmt::Display) -> SuiteError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SuiteError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.to_string(),
        }
    }
}

/// Parses and validates suite text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Suite, SuiteError> {
    let at = Locator { text, file };
    let raw: RawSuite = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at.err(span, e.message().trim().to_owned())
    })?;
    if raw.scenarios.is_empty() {
        return Err(at.err(0..0, "the suite has no [[scenario]]"));
    }
    let defaults = Cascade {
        statement: checked_regex(&at, raw.cascade_statement)?,
        span: checked_regex(&at, raw.cascade_span)?,
    };
    // A suite starts from nothing: kinds, classifiers, health and words are
    // what it declares (the built-in catalog suite declares its own).
    let kinds = kinds::kinds(&at, raw.kinds)?;
    let health = raw
        .health
        .map(|h| {
            if h.get_ref().starts_with('/') {
                Ok(h.into_inner())
            } else {
                Err(at.err(
                    h.span(),
                    "health must be a path starting with / (it is appended to --base-url)",
                ))
            }
        })
        .transpose()?;
    let auth = match raw.auth {
        Some(a) if !a.get_ref().path.starts_with('/') => {
            return Err(at.err(
                a.span(),
                "[auth] path must start with / (it is appended to --base-url)",
            ));
        }
        Some(a) if !a.get_ref().form.is_empty() && a.get_ref().json.is_some() => {
            return Err(at.err(
                a.span(),
                "[auth] takes form = { … } or json = { … }, not both",
            ));
        }
        Some(a) if !a.get_ref().header.contains("{token}") => {
            return Err(at.err(
                a.span(),
                "[auth] header must contain {token} (e.g. \"Authorization: Bearer {token}\")",
            ));
        }
        a => a.map(Spanned::into_inner),
    };
    let generic = tracesplit_model::manifest::Words::default();
    let words = raw
        .words
        .map_or(generic.clone(), |w| tracesplit_model::manifest::Words {
            check: w.check.unwrap_or(generic.check),
            children: w.children.unwrap_or(generic.children),
        });
    let watch = watch(&at, raw.watch, &kinds)?;
    let mut names = HashSet::new();
    let mut scenarios = Vec::new();
    for s in raw.scenarios {
        let span = s.span();
        let scenario = scenario(&at, s.into_inner(), span, &defaults, &kinds)?;
        if !names.insert(scenario.name.clone()) {
            return Err(at.err(0..0, format!("scenario {} is defined twice", scenario.name)));
        }
        scenarios.push(scenario);
    }
    Ok(Suite {
        name: raw.name,
        description: raw.description,
        scenarios,
        kinds,
        watch,
        health,
        words,
        auth,
    })
}

/// `watch = ["ram-specs", …]`: declared kinds that can be listed.
fn watch(
    at: &Locator<'_>,
    raw: Vec<Spanned<String>>,
    kinds: &[FixtureKind],
) -> Result<Vec<String>, SuiteError> {
    raw.into_iter()
        .map(|w| match kinds.iter().find(|k| k.name == *w.get_ref()) {
            Some(k) if k.list.is_some() => Ok(w.into_inner()),
            Some(k) => Err(at.err(
                w.span(),
                format!("watch: kind {} has no list path to watch", k.name),
            )),
            None => Err(at.err(
                w.span(),
                format!("watch: {:?} is not a declared kind", w.get_ref()),
            )),
        })
        .collect()
}

fn checked_regex(
    at: &Locator<'_>,
    r: Option<Spanned<String>>,
) -> Result<Option<String>, SuiteError> {
    let Some(r) = r else { return Ok(None) };
    regex::Regex::new(r.get_ref()).map_err(|e| at.err(r.span(), format!("invalid regex: {e}")))?;
    Ok(Some(r.into_inner()))
}

fn scenario(
    at: &Locator<'_>,
    s: RawScenario,
    span: Range<usize>,
    defaults: &Cascade,
    kinds: &[FixtureKind],
) -> Result<Scenario, SuiteError> {
    let name = s.name.get_ref().trim().to_owned();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(at.err(
            s.name.span(),
            "a scenario name must be one word (e.g. CPU_DELETE_NO_LISTINGS)",
        ));
    }
    let target = *s.target_p95_ms.get_ref();
    if target.is_nan() || target <= 0.0 {
        return Err(at.err(
            s.target_p95_ms.span(),
            "target_p95_ms must be greater than 0",
        ));
    }
    if s.steps.is_empty() {
        return Err(at.err(span, format!("scenario {name} has no steps")));
    }
    let fixture = s.fixture.map(|f| fixture(at, f, kinds)).transpose()?;
    if let Some(v) = s.volume_entity.as_ref()
        && !kinds.iter().any(|k| k.name == *v.get_ref())
    {
        return Err(at.err(
            v.span(),
            format!("volume_entity {:?} is not a declared kind", v.get_ref()),
        ));
    }
    let mut captured = HashSet::new();
    let mut steps = Vec::new();
    for st in s.steps {
        let step = step(at, st, fixture.is_some(), kinds, &captured)?;
        captured.extend(step.captures.iter().map(|c| c.name.clone()));
        steps.push(step);
    }
    let cascade = Cascade {
        statement: checked_regex(at, s.cascade_statement)?.or_else(|| defaults.statement.clone()),
        span: checked_regex(at, s.cascade_span)?.or_else(|| defaults.span.clone()),
    };
    Ok(Scenario {
        name,
        entity_type: s.entity_type,
        operation: s.operation,
        target_p95_ms: s.target_p95_ms.into_inner(),
        fixture,
        volume_entity: s.volume_entity.map(Spanned::into_inner),
        steps,
        cascade,
    })
}

/// Placeholders of a scenario's fixture body.
const IN_FIXTURE: Allowed = Allowed {
    names: &["run_id", "n"],
    shared: true,
    captures: false,
};

/// Placeholders of a measured step.
const IN_STEP: Allowed = Allowed {
    names: &["fixture.id", "run_id", "iteration", "n"],
    shared: true,
    captures: true,
};

/// `{shared.KIND.id}` in `value` must name declared kinds.
fn check_shared(
    at: &Locator<'_>,
    span: Range<usize>,
    value: &serde_json::Value,
    kinds: &[FixtureKind],
) -> Result<(), SuiteError> {
    for k in kinds::shared_uses(value) {
        if !kinds.iter().any(|d| d.name == k) {
            return Err(at.err(span, format!("{{shared.{k}.id}} names no declared kind")));
        }
    }
    Ok(())
}

fn fixture(
    at: &Locator<'_>,
    f: Spanned<RawFixture>,
    kinds: &[FixtureKind],
) -> Result<FixtureSpec, SuiteError> {
    let span = f.span();
    let f = f.into_inner();
    let name = f.kind.get_ref().trim_matches('/');
    let Some(kind) = kinds.iter().find(|k| k.name == name) else {
        let known: Vec<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
        return Err(at.err(
            f.kind.span(),
            format!(
                "fixture kind {name:?} is not declared (kinds: {})",
                known.join(", ")
            ),
        ));
    };
    let mut body = kind.body.clone();
    if let Some(b) = &f.body {
        let over = kinds::body(at, b, &IN_FIXTURE, "a fixture body")?;
        let serde_json::Value::Object(over) = over else {
            return Err(at.err(b.span(), "fixture body must be a table"));
        };
        if let serde_json::Value::Object(base) = &mut body {
            base.extend(over);
        }
        check_shared(at, b.span(), &body, kinds)?;
    }
    let body_span = f.body.as_ref().map_or(span.clone(), Spanned::span);
    check_tag(kind, &body, f.per_iteration).map_err(|e| at.err(body_span, e))?;
    let field = f.child_field.as_ref().map(|c| c.get_ref().as_str());
    let child = match (f.children, kind.child(None, field)) {
        (0, _) => None,
        (_, Some(c)) => Some(c.clone()),
        (_, None) => {
            let what = field.map_or_else(
                || format!("kind {} declares no children", kind.name),
                |fl| format!("kind {} has no children through {fl:?}", kind.name),
            );
            return Err(at.err(
                span,
                format!("a fixture with children needs them declared: {what}"),
            ));
        }
    };
    Ok(FixtureSpec {
        kind: kind.name.clone(),
        per_iteration: f.per_iteration,
        children: f.children,
        child,
        body,
    })
}

fn step(
    at: &Locator<'_>,
    st: Spanned<RawStep>,
    has_fixture: bool,
    kinds: &[FixtureKind],
    captured: &HashSet<String>,
) -> Result<Step, SuiteError> {
    let st = st.into_inner();
    let captures = captures(at, st.capture.as_ref())?;
    let method_text = st.method.get_ref().to_ascii_uppercase();
    let method = match method_text.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => {
            http::Method::from_bytes(method_text.as_bytes()).ok()
        }
        _ => None,
    }
    .ok_or_else(|| {
        at.err(
            st.method.span(),
            format!(
                "unsupported method {:?} (GET, POST, PUT, PATCH, DELETE, HEAD)",
                st.method.get_ref()
            ),
        )
    })?;
    if !st.path.get_ref().starts_with('/') {
        return Err(at.err(
            st.path.span(),
            "path must start with / (it is appended to --base-url)",
        ));
    }
    let path = Template::parse(st.path.get_ref()).map_err(|e| at.err(st.path.span(), e))?;
    check_vars(path.vars(), &IN_STEP, "a step path").map_err(|e| at.err(st.path.span(), e))?;
    check_shared(
        at,
        st.path.span(),
        &serde_json::Value::String(path.to_string()),
        kinds,
    )?;
    let body = st
        .body
        .map(|b| {
            let json = kinds::body(at, &b, &IN_STEP, "a step body")?;
            check_shared(at, b.span(), &json, kinds)?;
            Ok::<_, SuiteError>(json)
        })
        .transpose()?;
    let uses_fixture =
        path.uses("fixture.id") || body.as_ref().is_some_and(|b| json_uses(b, "fixture.id"));
    if uses_fixture && !has_fixture {
        return Err(at.err(
            st.path.span(),
            "{fixture.id} is used but the scenario declares no fixture",
        ));
    }
    let expect: Vec<u16> = st
        .expect
        .get_ref()
        .iter()
        .filter_map(|c| u16::try_from(*c).ok())
        .filter(|c| (100..600).contains(c))
        .collect();
    if expect.is_empty() || expect.len() != st.expect.get_ref().len() {
        return Err(at.err(
            st.expect.span(),
            "expect must list HTTP statuses between 100 and 599, e.g. [200]",
        ));
    }
    let uses = path
        .vars()
        .map(str::to_owned)
        .chain(body.iter().flat_map(super::template::json_vars));
    for v in uses {
        if let Some(c) = super::template::capture_name(&v)
            && !captured.contains(c)
        {
            return Err(at.err(
                st.path.span(),
                format!("{{capture.{c}}} is used, but no earlier step of the scenario captures {c} (capture = {{ {c} = \"/id\" }})"),
            ));
        }
    }
    let route = st.route.unwrap_or_else(|| path.route());
    let span_name = format!("{method} {route}");
    let (creates, deletes) = entity_of(&method, &path, kinds);
    Ok(Step {
        span_name,
        method,
        path,
        route,
        body,
        expect,
        captures,
        creates,
        deletes,
    })
}

/// A path with every placeholder as `{}`, without its query and trailing
/// slash: a step's path and a kind's create or delete path (or an OpenAPI
/// document's paths) name the same resource when these are equal.
pub(super) fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.split('?').next().unwrap_or("").chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches('/').to_owned()
}

/// The kind a step creates (a POST to its create path) or deletes (a DELETE
/// of its delete path, with the placeholder that holds the id).
fn entity_of(
    method: &http::Method,
    path: &Template,
    kinds: &[FixtureKind],
) -> (Option<String>, Option<(String, String)>) {
    let text = path.to_string();
    let creates = kinds
        .iter()
        .find(|k| {
            k.method.eq_ignore_ascii_case(method.as_str())
                && shape(&k.create.to_string()) == shape(&text)
        })
        .map(|k| k.name.clone());
    let deletes = (method == http::Method::DELETE)
        .then(|| {
            kinds
                .iter()
                .find(|k| shape(&k.delete.to_string()) == shape(&text))
        })
        .flatten()
        .and_then(|k| {
            let var = path
                .vars()
                .find(|v| *v == "fixture.id" || super::template::capture_name(v).is_some())?;
            Some((k.name.clone(), var.to_owned()))
        });
    (creates.filter(|_| method != http::Method::GET), deletes)
}

/// A step's `capture` table: names to JSON pointers or `header:NAME`.
fn captures(
    at: &Locator<'_>,
    raw: Option<&Spanned<std::collections::BTreeMap<String, String>>>,
) -> Result<Vec<Capture>, SuiteError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.get_ref()
        .iter()
        .map(|(name, from)| {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(at.err(raw.span(), format!("capture name {name:?}: letters, digits and _ only")));
            }
            let from = if let Some(h) = from.strip_prefix("header:") {
                let known = crate::http1::CAPTURED_HEADERS;
                match known.iter().find(|k| k.eq_ignore_ascii_case(h.trim())) {
                    Some(k) => CaptureFrom::Header(k),
                    None => {
                        return Err(at.err(
                            raw.span(),
                            format!("capture {name}: header {h:?} cannot be captured (these can: {})", known.join(", ")),
                        ));
                    }
                }
            } else if from.is_empty() || from.starts_with('/') {
                CaptureFrom::Json(from.clone())
            } else {
                return Err(at.err(
                    raw.span(),
                    format!("capture {name}: {from:?} is neither a JSON pointer (\"/id\", \"/data/0/id\") nor \"header:NAME\""),
                ));
            };
            Ok(Capture { name: name.clone(), from })
        })
        .collect()
}
