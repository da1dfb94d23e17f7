//! Interval unions: DB time is the length of the union of DB span intervals,
//! so overlapping or nested spans (a pool checkout around a query, parallel
//! queries) are never counted twice.

/// Length of the union of `[start, end)` intervals after clipping each to
/// `[lo, hi)`. Sorts `intervals` in place.
pub fn union_clipped(intervals: &mut [(i64, i64)], lo: i64, hi: i64) -> i64 {
    intervals.sort_unstable();
    let mut total = 0i64;
    let mut current: Option<(i64, i64)> = None;
    for &(s, e) in intervals.iter() {
        let (s, e) = (s.max(lo), e.min(hi));
        if e <= s {
            continue;
        }
        current = match current {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overlapping_nested_disjoint_and_clipped() {
        assert_eq!(union_clipped(&mut [(0, 10), (5, 15), (20, 30)], 0, 100), 25);
        assert_eq!(union_clipped(&mut [(0, 100), (10, 20)], 0, 1000), 100);
        assert_eq!(union_clipped(&mut [(-50, 50), (90, 200)], 0, 100), 60);
        assert_eq!(union_clipped(&mut [(10, 10), (30, 20)], 0, 100), 0);
        assert_eq!(union_clipped(&mut [], 0, 100), 0);
    }

    proptest! {
        #[test]
        fn union_equals_counting_covered_points(v in proptest::collection::vec((0i64..200, 0i64..60), 0..20), lo in 0i64..100, len in 0i64..150) {
            let hi = lo + len;
            let mut intervals: Vec<(i64, i64)> = v.iter().map(|(s, l)| (*s, s + l)).collect();
            let covered = (lo..hi).filter(|p| intervals.iter().any(|(s, e)| s <= p && p < e)).count() as i64;
            prop_assert_eq!(union_clipped(&mut intervals, lo, hi), covered);
        }
    }
}
