//! Attribute attribution: the low-cardinality attribute values (instance,
//! route, status, operation, …) that the slow set has more often than the
//! baseline, with a test that keeps a difference on a handful of requests
//! from being reported as a cause.

use crate::split::{RequestSplit, SpanColumns};
use crate::tail::ln_factorials;
use crate::waterfall::SpanText;
use std::collections::{BTreeMap, BTreeSet};
use tracesplit_model::tail::AttributeDelta;

/// A key with more distinct values than this among the compared requests is
/// an identifier (ids, URLs, ports of many connections), not a category.
const MAX_VALUES: usize = 12;
/// Longer values are text (statements, messages), not categories.
const MAX_VALUE_LEN: usize = 80;
/// Keys the span shapes already cover.
const SKIPPED: [&str; 3] = ["db.statement", "db.query.text", "db_statement"];
/// The family-wise error rate over every value tested (Bonferroni).
const ALPHA: f64 = 0.01;
/// The fewest slow requests that must have a value for it to be reported.
const MIN_WITH: usize = 5;
/// Values shown, largest share difference first.
const SHOWN: usize = 5;

/// Per request: (key, value) → found on the server span or its resource.
pub type RequestAttributes = BTreeMap<(String, String), bool>;

fn scalar(v: &serde_json::Value) -> Option<String> {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (text.len() <= MAX_VALUE_LEN).then_some(text)
}

fn add_json(out: &mut RequestAttributes, json: &str, on_request: bool) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(json) else {
        return;
    };
    for (k, v) in map {
        if SKIPPED.contains(&k.as_str()) {
            continue;
        }
        if let Some(value) = scalar(&v) {
            *out.entry((k, value)).or_insert(false) |= on_request;
        }
    }
}

/// The attribute values of one request's server span tree (its spans' own
/// attributes and their resources').
pub fn of_request(
    s: &SpanColumns,
    text: &SpanText<'_>,
    split: &RequestSplit,
) -> Option<RequestAttributes> {
    let entry = split.server_span?.index() as usize;
    let children = s.children(s.group_of(entry)?);
    let mut out = RequestAttributes::new();
    let mut stack = vec![entry];
    let mut seen = 0usize;
    while let Some(i) = stack.pop() {
        let (attributes, resource) = text.attributes(i as u32);
        add_json(&mut out, attributes, i == entry);
        add_json(&mut out, resource, i == entry);
        // An exception a span recorded: a value the attribution can name.
        for t in text.exceptions(i as u32) {
            *out.entry(("exception.type".into(), t.clone()))
                .or_insert(false) |= i == entry;
        }
        seen += 1;
        // Bound: a parent cycle in malformed data must not loop.
        if seen < 100_000 {
            stack.extend(children.get(&i).into_iter().flatten().copied());
        }
    }
    Some(out)
}

/// P(X ≥ a) for X hypergeometric: `a` of the `n1` slow requests have the
/// value, `k` of all `n1 + n2` do (the one-sided Fisher exact test).
pub fn fisher_greater(a: usize, k: usize, n1: usize, n2: usize) -> f64 {
    let n = n1 + n2;
    if a == 0 {
        return 1.0;
    }
    if k > n || a > k.min(n1) {
        return 0.0;
    }
    let lf = ln_factorials(n);
    let ln_choose = |m: usize, r: usize| lf[m] - lf[r] - lf[m - r];
    let total = ln_choose(n, n1);
    (a..=k.min(n1))
        .filter(|&x| k - x <= n2)
        .map(|x| (ln_choose(k, x) + ln_choose(n - k, n1 - x) - total).exp())
        .sum::<f64>()
        .min(1.0)
}

/// The values the slow set has significantly more often than the baseline.
pub fn ranked(slow: &[RequestAttributes], base: &[RequestAttributes]) -> Vec<AttributeDelta> {
    let (n1, n2) = (slow.len(), base.len());
    if n1 == 0 || n2 == 0 {
        return Vec::new();
    }
    // (key, value) → (slow count, baseline count, on request).
    let mut counts: BTreeMap<&(String, String), (usize, usize, bool)> = BTreeMap::new();
    for (set, is_slow) in [(slow, true), (base, false)] {
        for request in set {
            for (kv, &on_request) in request {
                let c = counts.entry(kv).or_default();
                if is_slow {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
                c.2 |= on_request;
            }
        }
    }
    let mut values_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (k, v) in counts.keys() {
        values_of.entry(k).or_default().insert(v);
    }
    let share = |c: usize, n: usize| c as f64 / n as f64;
    let tested: Vec<AttributeDelta> = counts
        .into_iter()
        .filter(|((k, _), _)| values_of[k.as_str()].len() <= MAX_VALUES)
        .filter(|(_, (a, c, _))| share(*a, n1) > share(*c, n2))
        .map(|((key, value), (a, c, on_request))| AttributeDelta {
            key: key.clone(),
            value: value.clone(),
            on_request,
            slow_share: share(a, n1),
            baseline_share: share(c, n2),
            p_value: if a >= MIN_WITH {
                fisher_greater(a, a + c, n1, n2)
            } else {
                1.0
            },
        })
        .collect();
    let bound = ALPHA / tested.len().max(1) as f64;
    let mut out: Vec<AttributeDelta> = tested.into_iter().filter(|d| d.p_value < bound).collect();
    out.sort_by(|a, b| {
        (b.slow_share - b.baseline_share)
            .total_cmp(&(a.slow_share - a.baseline_share))
            .then(b.on_request.cmp(&a.on_request))
            .then(a.key.cmp(&b.key))
            .then(a.value.cmp(&b.value))
    });
    out.truncate(SHOWN);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> RequestAttributes {
        pairs
            .iter()
            .map(|(k, v)| (((*k).to_owned(), (*v).to_owned()), true))
            .collect()
    }

    #[test]
    fn the_fisher_test_matches_known_values() {
        // The hypergeometric tail summed with exact integers (Python's
        // math.comb), as scipy.stats.fisher_exact(alternative="greater") does.
        assert!((fisher_greater(9, 19, 11, 100) - 8.352_397e-7).abs() < 1e-12);
        // [[3, 2], [1, 9]]: 3 of 5 against 1 of 10 is not strong evidence.
        assert!((fisher_greater(3, 4, 5, 10) - 1.0 / 13.0).abs() < 1e-12);
        assert_eq!(fisher_greater(0, 4, 5, 10), 1.0);
    }

    #[test]
    fn an_instance_that_serves_most_slow_requests_is_ranked_and_a_small_set_is_not() {
        let slow: Vec<_> = (0..11)
            .map(|i| with(&[("service.instance.id", if i < 9 { "api-2" } else { "api-1" })]))
            .collect();
        let base: Vec<_> = (0..100)
            .map(|i| {
                with(&[(
                    "service.instance.id",
                    if i < 10 { "api-2" } else { "api-1" },
                )])
            })
            .collect();
        let r = ranked(&slow, &base);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].value, "api-2");
        assert!((r[0].slow_share - 9.0 / 11.0).abs() < 1e-12);
        assert!((r[0].baseline_share - 0.1).abs() < 1e-12);
        // Five slow requests, three on api-2, against one in ten: not a cause.
        let r = ranked(&slow[6..], &base[..10]);
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn identifiers_and_long_text_are_not_categories() {
        let ids = |n: usize, from: usize| -> Vec<_> {
            (from..from + n)
                .map(|i| with(&[("request.id", &i.to_string())]))
                .collect()
        };
        assert!(ranked(&ids(11, 0), &ids(100, 100)).is_empty());
        let mut out = RequestAttributes::new();
        add_json(
            &mut out,
            &format!("{{\"msg\":\"{}\",\"n\":3}}", "x".repeat(100)),
            false,
        );
        assert_eq!(out.len(), 1);
        assert!(out.contains_key(&("n".to_owned(), "3".to_owned())));
    }
}
