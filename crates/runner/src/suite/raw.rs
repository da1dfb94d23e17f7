//! TOML → validated [`Suite`], keeping byte spans so every error has a line.

use super::kinds::{self, Allowed, FixtureKind, RawKind, check_tag, check_vars};
use super::template::{Template, json_uses};
use super::{Cascade, FixtureSpec, Scenario, Step, Suite, SuiteError};
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
    #[serde(default, rename = "kind")]
    kinds: Vec<Spanned<RawKind>>,
    #[serde(default, rename = "scenario")]
    scenarios: Vec<Spanned<RawScenario>>,
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
}

/// Turns byte offsets into line/column errors for one file.
pub(super) struct Locator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Locator<'_> {
    /// An error at `span` of this file.
    pub(super) fn err(&self, span: Range<usize>, message: impl Into<String>) -> SuiteError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SuiteError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
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
    let kinds = if raw.kinds.is_empty() {
        // Suites written before kinds existed target the catalog API.
        catalog_kinds()?
    } else {
        kinds::kinds(&at, raw.kinds)?
    };
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
    })
}

/// The catalog API's fixture kinds, as the built-in suite declares them.
fn catalog_kinds() -> Result<Vec<FixtureKind>, SuiteError> {
    #[derive(Deserialize)]
    struct KindsOnly {
        #[serde(rename = "kind")]
        kinds: Vec<Spanned<RawKind>>,
    }
    let text = super::CATALOG_SUITE;
    let at = Locator {
        text,
        file: "<built-in catalog suite>",
    };
    let raw: KindsOnly = toml::from_str(text).map_err(|e| at.err(0..0, e.message().to_owned()))?;
    kinds::kinds(&at, raw.kinds)
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
    let steps = s
        .steps
        .into_iter()
        .map(|st| step(at, st, fixture.is_some(), kinds))
        .collect::<Result<Vec<_>, _>>()?;
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
};

/// Placeholders of a measured step.
const IN_STEP: Allowed = Allowed {
    names: &["fixture.id", "run_id", "iteration", "n"],
    shared: true,
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
) -> Result<Step, SuiteError> {
    let st = st.into_inner();
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
    let route = st.route.unwrap_or_else(|| path.route());
    let span_name = format!("{method} {route}");
    Ok(Step {
        span_name,
        method,
        path,
        route,
        body,
        expect,
    })
}
