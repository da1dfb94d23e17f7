//! TOML → validated [`Suite`], keeping byte spans so every error has a line.

use super::template::{Template, check_json, json_uses};
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
    volume_entity: Option<String>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    cascade_statement: Option<Spanned<String>>,
    cascade_span: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    entity: Spanned<String>,
    #[serde(default)]
    per_iteration: bool,
    #[serde(default)]
    listings: u64,
    listing_field: Option<String>,
    body: Spanned<toml::Value>,
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
struct Locator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Locator<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> SuiteError {
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
    let mut names = HashSet::new();
    let mut scenarios = Vec::new();
    for s in raw.scenarios {
        let span = s.span();
        let scenario = scenario(&at, s.into_inner(), span, &defaults)?;
        if !names.insert(scenario.name.clone()) {
            return Err(at.err(0..0, format!("scenario {} is defined twice", scenario.name)));
        }
        scenarios.push(scenario);
    }
    Ok(Suite {
        name: raw.name,
        description: raw.description,
        scenarios,
    })
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
    let fixture = s.fixture.map(|f| fixture(at, f)).transpose()?;
    let steps = s
        .steps
        .into_iter()
        .map(|st| step(at, st, fixture.is_some()))
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
        volume_entity: s.volume_entity,
        steps,
        cascade,
    })
}

fn json_body(
    at: &Locator<'_>,
    body: Spanned<toml::Value>,
) -> Result<serde_json::Value, SuiteError> {
    let span = body.span();
    let json = serde_json::to_value(body.into_inner())
        .map_err(|e| at.err(span.clone(), format!("body: {e}")))?;
    check_json(&json).map_err(|e| at.err(span, e))?;
    Ok(json)
}

fn fixture(at: &Locator<'_>, f: Spanned<RawFixture>) -> Result<FixtureSpec, SuiteError> {
    let span = f.span();
    let f = f.into_inner();
    let entity = f.entity.get_ref().trim_matches('/').to_owned();
    if entity.is_empty() || entity.contains('/') {
        return Err(at.err(
            f.entity.span(),
            "fixture entity must be a plural under /v1/catalog, e.g. \"cpus\"",
        ));
    }
    if f.listings > 0 && f.listing_field.is_none() {
        return Err(at.err(
            span,
            "a fixture with listings needs listing_field (e.g. \"cpu_id\")",
        ));
    }
    let body_span = f.body.span();
    let body = json_body(at, f.body)?;
    if !body.is_object() {
        return Err(at.err(body_span, "fixture body must be a table"));
    }
    if json_uses(&body, "fixture.id") {
        return Err(at.err(body_span, "a fixture body cannot use {fixture.id}"));
    }
    Ok(FixtureSpec {
        entity,
        per_iteration: f.per_iteration,
        listings: f.listings,
        listing_field: f.listing_field.unwrap_or_default(),
        body,
    })
}

fn step(at: &Locator<'_>, st: Spanned<RawStep>, has_fixture: bool) -> Result<Step, SuiteError> {
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
    let body = st.body.map(|b| json_body(at, b)).transpose()?;
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
