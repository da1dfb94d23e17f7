//! Deep links to Jaeger and to Grafana's Explore view of Tempo.

use tracesplit_model::analysis::TraceLink;

/// Where the trace viewers are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkConfig {
    /// Jaeger UI base URL (`http://localhost:16686`).
    pub jaeger_url: Option<String>,
    /// Grafana base URL (`http://localhost:3000`).
    pub grafana_url: Option<String>,
    /// Uid of Grafana's Tempo data source.
    pub tempo_datasource: Option<String>,
}

/// Percent-encodes a URL query component.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl LinkConfig {
    /// Links for one trace (none when no viewer is configured).
    pub fn links(&self, trace_id: &str) -> Vec<TraceLink> {
        let mut out = Vec::new();
        if let Some(j) = &self.jaeger_url {
            out.push(TraceLink {
                label: "Jaeger".into(),
                url: format!("{}/trace/{trace_id}", j.trim_end_matches('/')),
            });
        }
        if let Some(g) = &self.grafana_url {
            let uid = self.tempo_datasource.as_deref().unwrap_or("tempo");
            let panes = format!(
                r#"{{"tracesplit":{{"datasource":"{uid}","queries":[{{"refId":"A","datasource":{{"type":"tempo","uid":"{uid}"}},"queryType":"traceql","query":"{trace_id}"}}],"range":{{"from":"now-24h","to":"now"}}}}}}"#
            );
            out.push(TraceLink {
                label: "Grafana".into(),
                url: format!(
                    "{}/explore?schemaVersion=1&orgId=1&panes={}",
                    g.trim_end_matches('/'),
                    encode(&panes)
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaeger_and_grafana_links() {
        let cfg = LinkConfig {
            jaeger_url: Some("http://j:16686/".into()),
            grafana_url: Some("http://g:3000".into()),
            tempo_datasource: Some("tempo-uid".into()),
        };
        let links = cfg.links("abc");
        assert_eq!(links[0].url, "http://j:16686/trace/abc");
        assert!(
            links[1].url.starts_with(
                "http://g:3000/explore?schemaVersion=1&orgId=1&panes=%7B%22tracesplit"
            )
        );
        assert!(links[1].url.contains("tempo-uid") && links[1].url.contains("%22abc%22"));
        assert!(LinkConfig::default().links("abc").is_empty());
    }
}
