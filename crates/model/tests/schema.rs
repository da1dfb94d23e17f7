//! The checked-in JSON Schema of summary.json is the one the types describe.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test -p tracesplit-model --test schema`.
#![allow(clippy::expect_used, missing_docs)]

use std::path::PathBuf;

#[test]
fn the_checked_in_summary_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/summary.schema.json");
    let generated = serde_json::to_string_pretty(&tracesplit_model::summary::json_schema())
        .expect("schema serializes")
        + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write the schema");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: run UPDATE_SCHEMA=1 cargo test -p tracesplit-model --test schema",
        path.display()
    );
}
