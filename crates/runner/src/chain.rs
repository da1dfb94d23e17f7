//! Steps that chain: what a step's answer gives the iteration's later steps
//! (`capture = { id = "/id" }` → `{capture.id}`), and the entities measured
//! steps create and delete — ledgered as the run's own, so cleanup removes
//! them like fixtures and the tag sweep has nothing unexplained to report.

use crate::client::Outcome;
use crate::fixtures::{FixtureError, FixtureId, Fixtures};
use crate::suite::template::{Captures, Context};
use crate::suite::{CaptureFrom, Step};

/// Whether the runner must look at `step`'s answer.
pub fn reads_answer(step: &Step) -> bool {
    !step.captures.is_empty() || step.creates.is_some() || step.deletes.is_some()
}

/// The answer's body as JSON, parsed once, when it is JSON.
/// The answer as JSON; a `201 Created` without a body as `{"id": …}` from
/// its `Location` ([`Outcome::location_answer`]).
fn json(outcome: &Outcome) -> Option<serde_json::Value> {
    serde_json::from_slice(&outcome.body)
        .ok()
        .or_else(|| outcome.location_answer())
}

/// Adds what `step` captures from `outcome` to `captures` (a value the
/// answer lacks is left out: a later `{capture.NAME}` renders empty, and
/// that request's failure shows it).
pub fn capture(
    step: &Step,
    outcome: &Outcome,
    body: Option<&serde_json::Value>,
    captures: &mut Captures,
) {
    for c in &step.captures {
        let value = match &c.from {
            CaptureFrom::Json(pointer) => body
                .and_then(|b| b.pointer(pointer))
                .and_then(FixtureId::from_json),
            CaptureFrom::Header(name) => outcome
                .captured
                .iter()
                .find(|(h, _)| h == name)
                .map(|(_, v)| FixtureId::Text(v.clone())),
        };
        if let Some(v) = value {
            captures.retain(|(k, _)| *k != c.name);
            captures.push((c.name.clone(), v));
        }
    }
}

/// What the iteration learns from one step's answer: its captures, and
/// the entity it created or deleted, recorded in the ledger.
pub fn after_step(
    step: &Step,
    outcome: &Outcome,
    cx: &Context<'_>,
    fixtures: &Fixtures,
    scenario: &str,
    captures: &mut Captures,
) -> Result<(), FixtureError> {
    let ok = (200..300).contains(&outcome.status);
    let body = (!step.captures.is_empty() || (ok && step.creates.is_some()))
        .then(|| json(outcome))
        .flatten();
    capture(step, outcome, body.as_ref(), captures);
    if ok
        && let Some(kind) = step.creates.as_deref().and_then(|k| fixtures.kind_named(k))
        && let Some(id) = body
            .as_ref()
            .and_then(|b| b.pointer(&kind.answer)?.pointer(&kind.id).cloned())
            // A bodiless 201: the Location's id, whatever the kind's pointer.
            .or_else(|| outcome.location_id())
            .as_ref()
            .and_then(FixtureId::from_json)
    {
        fixtures.record_created(&kind.name, &id, scenario)?;
    }
    if matches!(outcome.status, 200..=299 | 404 | 410)
        && let Some((kind, var)) = &step.deletes
        && let Some(id) = cx.id_of(var)
    {
        fixtures.mark_deleted(kind, &id)?;
    }
    Ok(())
}
