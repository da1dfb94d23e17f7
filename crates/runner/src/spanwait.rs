//! After the last request: wait until every request's trace has its server
//! span. The runner does not know the collector; whoever receives the API's
//! spans (the CLI's embedded collector) answers through [`ServerSpanIndex`].

use std::path::Path;
use std::time::{Duration, Instant};
pub use tracesplit_model::span::ServerSpanIndex;

/// Waits until every request of `requests.parquet` that got an answer has a
/// server span, or until no span has arrived for `quiet`. Returns how many are
/// still missing. The ids are read from the file (not kept during the run),
/// and each round asks only about those still missing.
pub async fn wait_for_server_spans(
    spans: &dyn ServerSpanIndex,
    requests: &Path,
    quiet: Duration,
) -> Result<u64, tracesplit_store::StoreError> {
    let mut missing = tracesplit_store::read_answered_span_ids(requests)?;
    let mut last_count = spans.received_spans();
    let mut last_change = Instant::now();
    loop {
        missing = spans.without_server_span(missing);
        if missing.is_empty() {
            return Ok(0);
        }
        let count = spans.received_spans();
        if count != last_count {
            last_count = count;
            last_change = Instant::now();
        } else if last_change.elapsed() >= quiet {
            return Ok(missing.len() as u64);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
