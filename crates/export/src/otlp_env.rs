//! What the OpenTelemetry exporters' environment variables and endpoints mean.

/// The OTLP/HTTP traces URL for a base URL (`http://host:4318`), or the URL
/// itself when it already ends in `/v1/traces`.
pub fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Parses an `OTEL_EXPORTER_OTLP_HEADERS`-style `k=v,k2=v2` list.
pub fn parse_header_list(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}
