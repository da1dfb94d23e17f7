//! `run --cascade-sweep 0,10,100,…`: the suite's delete-with-listings scenario
//! repeated against CPUs used by each number of listings, so the reports can
//! show how the usage check grows.

use super::{Scenario, SelectionError, Suite};
use serde_json::Value;
use tracesplit_model::sweep::sweep_scenario;

impl Suite {
    /// `--cascade-sweep N,N,…` when given: parses the counts and adds the sweep.
    pub fn add_cascade_sweep_arg(&mut self, arg: Option<&str>) -> Result<(), SelectionError> {
        match arg {
            Some(text) => self.add_cascade_sweep(&parse_counts(text)?),
            None => Ok(()),
        }
    }

    /// Adds one `CASCADE_SWEEP_<n>` scenario per listing count, modelled on the
    /// suite's DELETE scenarios: the per-iteration one for 0 listings (the delete
    /// succeeds), the one with listings for every other count (it answers 409).
    pub fn add_cascade_sweep(&mut self, counts: &[u64]) -> Result<(), SelectionError> {
        let deletes = || {
            self.scenarios
                .iter()
                .filter(|s| s.operation.eq_ignore_ascii_case("DELETE"))
                .filter_map(|s| s.fixture.as_ref().map(|f| (s, f)))
        };
        let unused = deletes()
            .find(|(_, f)| f.per_iteration && f.children == 0)
            .map(|(s, _)| s.clone());
        let used = deletes()
            .find(|(_, f)| f.children > 0)
            .map(|(s, _)| s.clone());
        let mut added = Vec::new();
        for &n in counts {
            let template = if n == 0 { &unused } else { &used };
            let Some(template) = template else {
                return Err(SelectionError::SweepModel {
                    listings: n,
                    needed: if n == 0 {
                        "created per iteration"
                    } else {
                        "used by listings"
                    },
                });
            };
            if added.iter().any(|s: &Scenario| s.name == sweep_scenario(n)) {
                return Err(SelectionError::SweepTwice(n));
            }
            added.push(point(template, n, &self.kinds));
        }
        self.scenarios.extend(added);
        Ok(())
    }
}

fn point(template: &Scenario, listings: u64, kinds: &[super::FixtureKind]) -> Scenario {
    let mut s = template.clone();
    s.name = sweep_scenario(listings);
    if let Some(f) = s.fixture.as_mut() {
        f.children = listings;
        // Tags must stay unique (names are: the API answers 400 on a duplicate).
        let pointer = kinds
            .iter()
            .find(|k| k.name == f.kind)
            .map_or("/name", |k| k.tag.as_str());
        if let Some(Value::String(tag)) = f.body.pointer_mut(pointer) {
            tag.push_str(&format!(" sweep {listings}"));
        }
    }
    s
}

/// Parses `0,10,100,1000`.
pub fn parse_counts(text: &str) -> Result<Vec<u64>, SelectionError> {
    let counts = text
        .split(',')
        .map(|p| (p.trim().parse::<u64>()).map_err(|_| SelectionError::SweepCount(p.to_owned())))
        .collect::<Result<Vec<u64>, _>>()?;
    if counts.is_empty() {
        return Err(SelectionError::SweepEmpty);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_follows_the_catalog_suites_deletes() {
        let mut suite = crate::suite::load(None).expect("built-in suite");
        let before = suite.scenarios.len();
        suite.add_cascade_sweep(&[0, 10, 5000]).expect("sweep");
        let added = &suite.scenarios[before..];
        let names: Vec<&str> = added.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["CASCADE_SWEEP_0", "CASCADE_SWEEP_10", "CASCADE_SWEEP_5000"]
        );
        let f0 = added[0].fixture.as_ref().expect("fixture");
        assert!(f0.per_iteration);
        assert_eq!(added[0].steps[0].expect, [204]);
        let f = added[2].fixture.as_ref().expect("fixture");
        assert_eq!((f.children, f.per_iteration), (5000, false));
        assert_eq!(added[2].steps[0].expect, [409]);
        assert!(
            f.body["name"]
                .as_str()
                .unwrap_or("")
                .ends_with("sweep 5000")
        );
        assert!(suite.add_cascade_sweep(&[7, 7]).is_err());
    }

    #[test]
    fn listing_counts_parse_or_say_what_is_wrong() {
        assert_eq!(parse_counts("0, 10,100").ok(), Some(vec![0, 10, 100]));
        let e = parse_counts("0,ten").unwrap_err();
        assert!(e.to_string().contains("\"ten\""), "{e}");
    }
}
