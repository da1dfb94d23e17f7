//! After the last request: wait until every request's trace has its server span.

use std::time::{Duration, Instant};
use tracesplit_collector::CollectorHandle;

/// Waits until each client span id has a SERVER child in the collector, or
/// until no new span has arrived for `quiet`. Returns how many are still missing.
pub async fn wait_for_server_spans(
    collector: &CollectorHandle,
    client_span_ids: &[String],
    quiet: Duration,
) -> usize {
    let mut last_count = collector.stats().received_spans;
    let mut last_change = Instant::now();
    loop {
        let missing = collector.missing_server_spans(client_span_ids).unwrap_or(0);
        if missing == 0 {
            return 0;
        }
        let count = collector.stats().received_spans;
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        } else if last_change.elapsed() >= quiet {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
