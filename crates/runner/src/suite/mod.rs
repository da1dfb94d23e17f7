//! Suites: TOML files of scenarios. Parsed and validated completely before any
//! request is sent; every error names the file, line and what is wrong.

pub mod kinds;
pub mod openapi;
mod raw;
pub mod sweep;
pub mod template;

use crate::suite::template::Template;
use serde_json::Value;
use std::path::Path;

/// Why the scenarios asked for on the command line cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// `--scenario` is not a glob.
    #[error("invalid --scenario pattern {pattern:?}: {source}")]
    Pattern {
        /// The pattern given.
        pattern: String,
        /// What globset said.
        source: globset::Error,
    },
    /// Nothing left after the selection.
    #[error(
        "no scenario matches (--scenario {glob}, --entity-type {entity}); `tracesplit suite show` lists them"
    )]
    NoMatch {
        /// `--scenario` (`*` when not given).
        glob: String,
        /// `--entity-type` (`any` when not given).
        entity: String,
    },
    /// A `--cascade-sweep` count that is not a number.
    #[error("--cascade-sweep: {0:?} is not a listing count (e.g. 0,10,100,1000)")]
    SweepCount(String),
    /// `--cascade-sweep` without counts.
    #[error("--cascade-sweep needs at least one listing count")]
    SweepEmpty,
    /// No scenario of the suite to model a sweep point on.
    #[error(
        "--cascade-sweep {listings}: the suite has no DELETE scenario with a fixture {needed} to model it on"
    )]
    SweepModel {
        /// The count asked for.
        listings: u64,
        /// The fixture such a scenario needs.
        needed: &'static str,
    },
    /// A count listed twice.
    #[error("--cascade-sweep lists {0} twice")]
    SweepTwice(u64),
}

pub use kinds::{ChildSpec, FixtureKind};
pub use raw::parse;

/// The built-in catalog suite's text.
pub const CATALOG_SUITE: &str = include_str!("catalog.toml");

/// A validated suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Suite name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Scenarios in file order.
    pub scenarios: Vec<Scenario>,
    /// How the API creates, finds and deletes each fixture kind, in declaration
    /// order (fixtures are removed in the reverse order).
    pub kinds: Vec<FixtureKind>,
    /// Kinds whose collections are listed before and after the run, to report
    /// rows that appeared without the runner creating them.
    pub watch: Vec<String>,
    /// The API's health path (`health = "/…"`), probed before the run; `None`:
    /// the first request is the reachability check.
    pub health: Option<String>,
    /// The nouns the findings use.
    pub words: tracesplit_model::manifest::Words,
    /// How to log in (`[auth]`), when the API needs it.
    pub auth: Option<crate::auth::Auth>,
}

impl Suite {
    /// How the API is reached, as the ledger records it (no credential
    /// values): `header_names` are the run's `-H` headers, by name.
    pub fn access(&self, header_names: &[String]) -> crate::fixtures::ledger::Access {
        crate::fixtures::ledger::Access {
            health: self.health.clone(),
            auth: self.auth.as_ref().map(crate::auth::Auth::recorded),
            headers: header_names.to_vec(),
        }
    }
}

/// Cascade classifier overrides (regexes), already checked to compile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cascade {
    /// Statement regex (default: a `SELECT count(` read).
    pub statement: Option<String>,
    /// Span/ancestor name regex (default: `usage|cascade|in_use|dependen`).
    pub span: Option<String>,
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name, e.g. `CPU_DELETE_WITH_LISTINGS_1000`.
    pub name: String,
    /// Seed entity type (`CPU`, …).
    pub entity_type: String,
    /// Seed operation (`DELETE`, …).
    pub operation: String,
    /// P95 target in milliseconds.
    pub target_p95_ms: f64,
    /// What the scenario needs created first.
    pub fixture: Option<FixtureSpec>,
    /// Entity plural that `--list-volume N` creates N of before this scenario.
    pub volume_entity: Option<String>,
    /// Requests of one iteration.
    pub steps: Vec<Step>,
    /// Cascade classifier (suite defaults merged with the scenario's own).
    pub cascade: Cascade,
}

/// A scenario's fixture: an entity created through the API, optionally with
/// children (listings) that reference it.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureSpec {
    /// The fixture kind (`cpus`).
    pub kind: String,
    /// One fresh entity per iteration (consumed by the iteration) instead of one per scenario.
    pub per_iteration: bool,
    /// Children that reference the entity (listings of a CPU).
    pub children: u64,
    /// Which children, when there are any.
    pub child: Option<ChildSpec>,
    /// Create body template (the kind's, with the scenario's fields over it).
    pub body: Value,
}

/// One HTTP request of an iteration.
#[derive(Debug, Clone)]
pub struct Step {
    /// HTTP method.
    pub method: http::Method,
    /// Path (and query) template.
    pub path: Template,
    /// Route template recorded with the request (`/v1/catalog/cpus/{id}`).
    pub route: String,
    /// Client span name, `METHOD route` (built once, not per request).
    pub span_name: String,
    /// JSON body template.
    pub body: Option<Value>,
    /// Expected statuses.
    pub expect: Vec<u16>,
    /// Values taken from the answer for the iteration's later steps.
    pub captures: Vec<Capture>,
    /// The kind this step creates (it POSTs to the kind's create path): the
    /// entity it makes is ledgered and removed like a fixture.
    pub creates: Option<String>,
    /// The kind this step deletes (a DELETE of the kind's delete path) and
    /// the placeholder holding the id (`fixture.id`, `capture.id`).
    pub deletes: Option<(String, String)>,
}

/// `capture = { NAME = "/json/pointer" }` or `"header:etag"` on a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// `{capture.NAME}` in later steps.
    pub name: String,
    /// Where the value is in the answer.
    pub from: CaptureFrom,
}

/// Where a captured value is in an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureFrom {
    /// A JSON pointer into the body (`""`: the whole body).
    Json(String),
    /// A header (one of the headers an answer may be captured from: `etag`, `location`).
    Header(&'static str),
}

/// A suite file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SuiteError {
    /// File name (or `<built-in catalog suite>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Loads a suite file, or the built-in suite when `path` is `None`.
pub fn load(path: Option<&Path>) -> Result<Suite, SuiteError> {
    match path {
        None => parse(CATALOG_SUITE, "<built-in catalog suite>"),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| SuiteError {
                file: p.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read the suite file: {e}"),
            })?;
            parse(&text, &p.display().to_string())
        }
    }
}

impl Suite {
    /// The kind called `name`.
    pub fn kind(&self, name: &str) -> Option<&FixtureKind> {
        self.kinds.iter().find(|k| k.name == name)
    }

    /// The kinds a scenario needs as shared fixtures (through its steps, its
    /// fixture, its children and what those need in turn), dependencies first.
    pub fn shared_needs(&self, scenario: &Scenario) -> Vec<String> {
        let mut bodies: Vec<&Value> = scenario
            .steps
            .iter()
            .filter_map(|s| s.body.as_ref())
            .collect();
        let paths: Vec<Value> = scenario
            .steps
            .iter()
            .map(|s| Value::String(s.path.to_string()))
            .collect();
        bodies.extend(&paths);
        if let Some(f) = &scenario.fixture {
            bodies.push(&f.body);
            if let Some(k) = f.child.as_ref().and_then(|c| self.kind(&c.kind)) {
                bodies.push(&k.body);
            }
        }
        if let Some(k) = scenario.volume_entity.as_deref().and_then(|v| self.kind(v)) {
            bodies.push(&k.body);
        }
        // The kinds made for it, whose paths may sit under a shared one's id.
        let made = [
            scenario.fixture.as_ref().map(|f| f.kind.as_str()),
            (scenario.fixture.as_ref())
                .and_then(|f| f.child.as_ref())
                .map(|c| c.kind.as_str()),
            scenario.volume_entity.as_deref(),
        ];
        let from_paths = made
            .into_iter()
            .flatten()
            .filter_map(|k| self.kind(k))
            .flat_map(FixtureKind::shared_uses);
        let mut out = Vec::new();
        for k in bodies
            .into_iter()
            .flat_map(kinds::shared_uses)
            .chain(from_paths)
        {
            self.push_shared(&k, &mut out);
        }
        out
    }

    fn push_shared(&self, kind: &str, out: &mut Vec<String>) {
        if out.iter().any(|k| k == kind) {
            return;
        }
        // Validation refused cycles, so this terminates.
        if let Some(k) = self.kind(kind) {
            for dep in k.shared_uses() {
                self.push_shared(&dep, out);
            }
        }
        out.push(kind.to_owned());
    }

    /// Keeps the scenarios whose name matches `glob` (case-insensitive) and whose
    /// entity type matches `entity` (`cpu`, `ram-spec`, … or the seed's `RAM_SPEC`).
    pub fn select(
        &mut self,
        glob: Option<&str>,
        entity: Option<&str>,
    ) -> Result<(), SelectionError> {
        if let Some(g) = glob {
            let matcher = globset::GlobBuilder::new(g)
                .case_insensitive(true)
                .build()
                .map_err(|source| SelectionError::Pattern {
                    pattern: g.to_owned(),
                    source,
                })?
                .compile_matcher();
            self.scenarios.retain(|s| matcher.is_match(&s.name));
        }
        if let Some(e) = entity {
            let want = e.to_ascii_uppercase().replace('-', "_");
            self.scenarios
                .retain(|s| s.entity_type.eq_ignore_ascii_case(&want));
        }
        if self.scenarios.is_empty() {
            return Err(SelectionError::NoMatch {
                glob: glob.unwrap_or("*").to_owned(),
                entity: entity.unwrap_or("any").to_owned(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
