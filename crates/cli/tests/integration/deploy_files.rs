//! The deployment kit hangs together: every collector pipeline names defined
//! components, the tracesplit exporter points at the compose service that runs
//! `tracesplit collect`, files mounted into containers exist, and Debian's
//! `docker-compose` accepts the compose file (no engine needed for `config`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::workspace_root;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::process::Command;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join(path)).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn collector_pipelines_name_defined_components() {
    let c = yaml("otel-collector.yaml");
    let pipelines = c["service"]["pipelines"].as_mapping().expect("pipelines");
    assert!(!pipelines.is_empty());
    let mut used = BTreeSet::new();
    for (name, p) in pipelines {
        for section in ["receivers", "processors", "exporters"] {
            let defined = keys(&c[section]);
            for component in strings(&p[section]) {
                assert!(
                    defined.contains(&component),
                    "pipeline {name:?} names {section} {component:?}, defined: {defined:?}"
                );
                used.insert(component);
            }
        }
        assert_eq!(
            strings(&p["processors"]).first().map(String::as_str),
            Some("memory_limiter"),
            "memory_limiter goes first"
        );
    }
    for section in ["receivers", "processors", "exporters"] {
        for defined in keys(&c[section]) {
            assert!(
                used.contains(&defined),
                "{section} {defined:?} is defined but no pipeline uses it"
            );
        }
    }
    for ext in strings(&c["service"]["extensions"]) {
        assert!(keys(&c["extensions"]).contains(&ext), "extension {ext:?}");
    }
    let exporters = keys(&c["exporters"]);
    for want in [
        "otlphttp/tracesplit",
        "otlp/jaeger",
        "otlp/tempo",
        "file/otlp-json",
    ] {
        assert!(exporters.contains(want), "{want} missing");
    }
    assert_eq!(
        c["exporters"]["file/otlp-json"]["format"], "json",
        "analyze --otlp-json reads JSON"
    );
}

#[test]
fn the_tracesplit_exporter_reaches_the_compose_collect_service() {
    let c = yaml("otel-collector.yaml");
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let endpoint = c["exporters"]["otlphttp/tracesplit"]["endpoint"]
        .as_str()
        .unwrap();
    let url = reqwest::Url::parse(endpoint).unwrap();
    let host = url.host_str().unwrap();
    let command = strings(&services[host]["command"]);
    assert_eq!(
        command.first().map(String::as_str),
        Some("collect"),
        "service {host:?} runs `tracesplit collect`: {command:?}"
    );
    let http = command
        .iter()
        .position(|a| a == "--http")
        .map(|i| command[i + 1].clone())
        .unwrap();
    assert_eq!(
        http,
        format!("0.0.0.0:{}", url.port().unwrap()),
        "exporter {endpoint} vs collect --http {http}"
    );

    // The API's spans go to the collector's OTLP/HTTP receiver.
    let api = services["catalog"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        .as_str()
        .unwrap();
    let api = reqwest::Url::parse(api).unwrap();
    assert!(
        services[api.host_str().unwrap()]["image"]
            .as_str()
            .unwrap()
            .contains("opentelemetry-collector-contrib")
    );
    let receiver = c["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
        .as_str()
        .unwrap();
    assert!(
        receiver.ends_with(&format!(":{}", api.port().unwrap())),
        "{receiver}"
    );

    // Every file mounted from the repository exists; Grafana's Tempo uid is the links' default.
    for (name, s) in services.as_mapping().unwrap() {
        for v in strings(&s["volumes"]) {
            let src = v.split(':').next().unwrap();
            if src.ends_with(".yaml") || src.ends_with(".yml") {
                assert!(
                    workspace_root().join(src).exists(),
                    "{name:?} mounts missing {src}"
                );
            }
        }
    }
    let ds = yaml("deploy/grafana/datasources.yaml");
    let uids: Vec<&str> = ds["datasources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap())
        .collect();
    assert!(
        uids.contains(&"tempo") && uids.contains(&"jaeger"),
        "{uids:?}"
    );
}

#[test]
fn docker_compose_accepts_the_compose_file() {
    let root = workspace_root();
    let out = Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "config", "-q"])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "docker-compose is missing ({e}): scripts/test.sh installs Debian's docker-compose"
            )
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And it does reject a broken file, so the check above means something.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  x:\n    image: [not, a, string]\n",
    )
    .unwrap();
    let bad = Command::new("docker-compose")
        .args(["config", "-q"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn the_kubernetes_job_runs_indexed_shards() {
    let job = yaml("deploy/k8s/shard-job.yaml");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().unwrap();
    let args = strings(&job["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert_eq!(args[0], "run");
    assert!(
        args.contains(&format!("--shards={completions}")),
        "{args:?}"
    );
    assert!(
        args.iter().any(|a| a.contains("$(JOB_COMPLETION_INDEX)")),
        "each pod its own run directory"
    );
}
