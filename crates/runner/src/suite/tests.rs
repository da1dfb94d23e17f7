use super::*;
use template::Context;

#[test]
fn the_built_in_suite_has_the_sixteen_seed_scenarios() {
    let suite = load(None).unwrap();
    let names: Vec<&str> = suite.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 16);
    for n in [
        "CPU_PATCH_SINGLE_FIELD",
        "CPU_DELETE_WITH_LISTINGS_1000",
        "PORTS_PROFILE_LIST",
        "CPU_DETAIL_WITH_LISTINGS",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let delete = suite
        .scenarios
        .iter()
        .find(|s| s.name == "CPU_DELETE_WITH_LISTINGS_1000")
        .unwrap();
    assert_eq!(delete.target_p95_ms, 1000.0);
    assert_eq!(delete.fixture.as_ref().unwrap().children, 1000);
    assert_eq!(delete.steps[0].route, "/v1/catalog/cpus/{id}");
    assert_eq!(delete.steps[0].expect, vec![409]);
    assert!(delete.cascade.statement.is_some() && delete.cascade.span.is_some());
    let targets: Vec<f64> = suite
        .scenarios
        .iter()
        .filter(|s| s.operation == "PATCH" || s.operation == "PUT")
        .map(|s| s.target_p95_ms)
        .collect();
    assert!(targets.iter().all(|t| *t == 500.0));
}

#[test]
fn templates_render_numbers_and_text() {
    let suite = load(None).unwrap();
    let s = suite
        .scenarios
        .iter()
        .find(|s| s.name == "CPU_PATCH_SINGLE_FIELD")
        .unwrap();
    let id = crate::fixtures::FixtureId::Int(42);
    let cx = Context {
        fixture_id: Some(&id),
        run_id: "r1",
        iteration: 3,
        n: 9,
        ..Context::default()
    };
    assert_eq!(s.steps[0].path.render(&cx), "/v1/catalog/cpus/42");
    let body = template::render_json(s.steps[0].body.as_ref().unwrap(), &cx);
    assert_eq!(body, serde_json::json!({"notes": "tracesplit iteration 3"}));
    let listing = serde_json::json!({"cpu_id": "{fixture.id}", "title": "t {n}"});
    assert_eq!(
        template::render_json(&listing, &cx),
        serde_json::json!({"cpu_id": 42, "title": "t 9"})
    );
}

fn error_of(text: &str) -> SuiteError {
    parse(text, "suite.toml").unwrap_err()
}

const ONE: &str = r#"name = "s"
[[scenario]]
name = "A"
entity_type = "CPU"
operation = "GET"
target_p95_ms = 100
steps = [{ method = "GET", path = "/x", expect = [200] }]
"#;

#[test]
fn malformed_suites_are_rejected_with_file_line_and_reason() {
    assert!(parse(ONE, "suite.toml").is_ok());
    let e = error_of(&ONE.replace("target_p95_ms = 100", "target_p95_ms = \"fast\""));
    assert_eq!((e.file.as_str(), e.line), ("suite.toml", 6));
    let e = error_of(&ONE.replace("path = \"/x\"", "path = \"/x/{fixture.id}\""));
    assert_eq!(e.line, 7);
    assert!(e.message.contains("declares no fixture"), "{e}");
    let e = error_of(&ONE.replace("path = \"/x\"", "path = \"/x/{cpu}\""));
    assert!(e.message.contains("unknown placeholder {cpu}"), "{e}");
    let e = error_of(&ONE.replace("expect = [200]", "expect = [700]"));
    assert!(e.message.contains("between 100 and 599"), "{e}");
    let e = error_of(&ONE.replace("method = \"GET\"", "method = \"FETCH\""));
    assert!(e.message.contains("unsupported method"), "{e}");
    let e = error_of(&format!("cascade_span = '(unclosed'\n{ONE}"));
    assert_eq!(e.line, 1);
    assert!(e.message.contains("invalid regex"), "{e}");
    let e = error_of(&ONE.replace(
        "operation = \"GET\"",
        "operation = \"GET\"\ncolour = \"red\"",
    ));
    assert_eq!(e.line, 6);
    assert!(e.message.contains("colour"), "{e}");
    let e = error_of(&format!(
        "{ONE}{}",
        &ONE[ONE.find("[[scenario]]").unwrap()..]
    ));
    assert!(e.message.contains("defined twice"), "{e}");
    let e = error_of("name = \"s\"\n[[scenario]\n");
    assert_eq!(e.line, 2);
    assert!(e.to_string().starts_with("suite.toml:2:"), "{e}");
}

#[test]
fn selection_by_glob_and_entity_type() {
    let mut s = load(None).unwrap();
    s.select(Some("cpu_delete*"), None).unwrap();
    assert_eq!(s.scenarios.len(), 3);
    let mut s = load(None).unwrap();
    s.select(None, Some("ram-spec")).unwrap();
    assert_eq!(
        s.scenarios
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        vec!["RAM_SPEC_LIST_WITH_FILTER"]
    );
    assert!(load(None).unwrap().select(Some("NOPE*"), None).is_err());
}

const KINDS: &str = r#"name = "k"
[[kind]]
name = "things"
create = { path = "/things", body = { title = "tracesplit {run_id} thing {n}" } }
tag = "/title"
delete = "/things/{id}"
list = "/things?from={offset}"
children = [{ kind = "bits", field = "thing", list = "/things/{id}/bits" }]

[[kind]]
name = "bits"
create = { path = "/bits", body = { title = "tracesplit {run_id} bit {n}" } }
tag = "/title"
delete = "/bits/{id}"

[[scenario]]
name = "A"
entity_type = "THING"
operation = "PATCH"
target_p95_ms = 100
fixture = { kind = "things", children = 3 }
steps = [{ method = "PATCH", path = "/things/{fixture.id}", expect = [200] }]
"#;

#[test]
fn fixture_kinds_are_data_and_checked_where_they_are_written() {
    let s = parse(KINDS, "k.toml").unwrap();
    assert_eq!(s.kinds.len(), 2);
    let f = s.scenarios[0].fixture.as_ref().unwrap();
    assert_eq!((f.kind.as_str(), f.children), ("things", 3));
    assert_eq!(f.child.as_ref().unwrap().field, "thing");
    let cases: [(&str, &str, &str, usize); 9] = [
        (
            "tag = \"/title\"\ndelete = \"/things",
            "tag = \"/name\"\ndelete = \"/things",
            "no string at the tag field /name",
            5,
        ),
        ("thing {n}\" }", "thing\" }", "", 0),
        ("bit {n}", "bit", "must contain {n}", 0),
        (
            "delete = \"/bits/{id}\"",
            "delete = \"/bits\"",
            "must use {id}",
            14,
        ),
        (
            "kind = \"things\", children",
            "kind = \"gadgets\", children",
            "fixture kind \"gadgets\" is not declared",
            21,
        ),
        (
            "children = 3 }",
            "children = 3, per_iteration = true, body = { title = \"tracesplit {run_id}\" } }",
            "must contain {n}",
            21,
        ),
        (
            "path = \"/things/{fixture.id}\"",
            "path = \"/things/{parent.id}\"",
            "{parent.id} cannot be used in a step path",
            22,
        ),
        (
            "name = \"k\"",
            "name = \"k\"\nwatch = [\"bits\"]",
            "kind bits has no list path to watch",
            2,
        ),
        (
            "title = \"tracesplit {run_id} bit {n}\"",
            "title = \"tracesplit {run_id} bit {n}\", x = \"{shared.things.id}\"",
            "",
            0,
        ),
    ];
    for (from, to, message, line) in cases {
        let text = KINDS.replace(from, to);
        assert_ne!(text, KINDS, "{from}");
        match parse(&text, "k.toml") {
            Ok(_) => assert!(message.is_empty(), "{to:?} was accepted"),
            Err(e) => {
                assert!(
                    !message.is_empty() && e.message.contains(message),
                    "{to:?}: {e}"
                );
                if line > 0 {
                    assert_eq!(e.line, line, "{e}");
                }
            }
        }
    }
    // A cycle of shared fixtures cannot be created.
    let cycle = KINDS
        .replace("thing {n}\" }", "thing {n}\", b = \"{shared.bits.id}\" }")
        .replace("bit {n}\" }", "bit {n}\", t = \"{shared.things.id}\" }");
    let e = parse(&cycle, "k.toml").unwrap_err();
    assert!(e.message.contains("cycle"), "{e}");
    // A kind nested under another's id: its paths take the shared fixture,
    // which its scenarios then need; an undeclared one or its own is refused.
    let nested = KINDS
        .replace("path = \"/bits\"", "path = \"/things/{shared.things.id}/bits\"")
        .replace("delete = \"/bits/{id}\"", "delete = \"/things/{shared.things.id}/bits/{id}\"\nlist = \"/things/{shared.things.id}/bits\"")
        .replace("fixture = { kind = \"things\", children = 3 }", "fixture = { kind = \"bits\" }");
    let s = parse(&nested, "k.toml").unwrap();
    assert_eq!(s.kinds[1].shared_uses(), ["things"]);
    assert_eq!(s.shared_needs(&s.scenarios[0]), ["things"]);
    for (to, message) in [
        (
            "{shared.gadgets.id}",
            "{shared.gadgets.id} names no declared kind",
        ),
        ("{shared.bits.id}", "cycle"),
    ] {
        let text = nested.replace(
            "delete = \"/things/{shared.things.id}",
            &format!("delete = \"/things/{to}"),
        );
        let e = parse(&text, "k.toml").unwrap_err();
        assert!(e.message.contains(message), "{to}: {e}");
    }
}

#[test]
fn suites_start_from_nothing() {
    let s = parse(ONE, "suite.toml").unwrap();
    assert!(s.kinds.is_empty(), "no implicit catalog kinds");
    assert_eq!(s.health, None);
    assert_eq!(s.words, tracesplit_model::manifest::Words::default());
    assert_eq!(
        s.scenarios[0].cascade,
        Cascade::default(),
        "no implicit check"
    );
    assert!(s.auth.is_none());
    let uses_cpus = ONE.replace(
        "steps = ",
        "fixture = { entity = \"cpus\", listings = 2, listing_field = \"cpu_id\", body = { name = \"x {run_id}\" } }\nsteps = ",
    );
    let e = error_of(&uses_cpus);
    assert!(
        e.message.contains("fixture kind \"cpus\" is not declared"),
        "{e}"
    );
    // With the catalog's kinds declared, as the built-in suite does.
    let catalog = super::CATALOG_SUITE;
    let kinds = &catalog[catalog.find("[[kind]]").unwrap()..catalog.find("[[scenario]]").unwrap()];
    let s = parse(&format!("{uses_cpus}\n{kinds}"), "suite.toml").unwrap();
    let f = s.scenarios[0].fixture.as_ref().unwrap();
    assert_eq!((f.kind.as_str(), f.children), ("cpus", 2));
    assert_eq!(
        f.body["manufacturer"], "Intel",
        "the kind's body under the scenario's fields"
    );
    let mut needs = s.shared_needs(&s.scenarios[0]);
    needs.sort();
    assert_eq!(needs, ["ram-specs", "storage-profiles"]);
    let builtin = super::load(None).unwrap();
    assert_eq!(builtin.health.as_deref(), Some("/health"));
    assert_eq!(builtin.words.check, "usage check");
}

#[test]
fn steps_capture_for_later_steps_and_name_what_they_create() {
    let text = r#"name = "s"
[auth]
path = "/login"
form = { username = "${U}", password = "${P}" }
[[kind]]
name = "items"
create = { path = "/api/items/", body = { title = "t {run_id} {n}" } }
tag = "/title"
delete = "/api/items/{id}"
[[scenario]]
name = "A"
entity_type = "item"
operation = "CREATE"
target_p95_ms = 100
steps = [
  { method = "POST", path = "/api/items/", body = { title = "t {run_id} {n}" }, expect = [200], capture = { id = "/id", tag = "header:ETag" } },
  { method = "PUT", path = "/api/items/{capture.id}", body = { etag = "{capture.tag}" }, expect = [200] },
  { method = "DELETE", path = "/api/items/{capture.id}", expect = [200] },
]
"#;
    let s = parse(text, "s.toml").unwrap();
    let steps = &s.scenarios[0].steps;
    assert_eq!(steps[0].creates.as_deref(), Some("items"));
    assert_eq!(steps[0].captures.len(), 2);
    assert_eq!(steps[1].creates, None);
    assert_eq!(
        steps[2].deletes,
        Some(("items".into(), "capture.id".into()))
    );
    assert_eq!(
        s.auth.as_ref().map(|a| a.header.as_str()),
        Some("Authorization: Bearer {token}")
    );
    let e = error_of(&text.replace("{capture.id}\", body", "{capture.nope}\", body"));
    assert!(
        e.message
            .contains("no earlier step of the scenario captures nope"),
        "{e}"
    );
    let e = error_of(&text.replace("header:ETag", "header:X-Secret"));
    assert!(e.message.contains("cannot be captured"), "{e}");
    let e = error_of(&text.replace("path = \"/login\"", "path = \"login\""));
    assert!(e.message.contains("[auth] path must start with /"), "{e}");
}

#[test]
fn a_kind_is_named_in_the_singular_with_its_article() {
    let s = parse(&format!("{ONE}\n[[kind]]\nname = \"items\"\ncreate = {{ path = \"/i\", body = {{ t = \"{{run_id}}\" }} }}\ntag = \"/t\"\ndelete = \"/i/{{id}}\"\n"), "s.toml").unwrap();
    assert_eq!(s.kinds[0].one(), "an item");
    let mut k = s.kinds[0].clone();
    k.name = "categories".into();
    assert_eq!(k.one(), "a category");
    k.name = "cpus".into();
    assert_eq!(k.one(), "a cpu");
}
