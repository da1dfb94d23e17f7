//! `DELETE /{plural}/{id}`: the usage (cascade) check, then the delete.
//!
//! Spans follow the production API's shape: an INTERNAL `catalog.delete_cpu`
//! around the handler (status ERROR on 404/409), and inside it an INTERNAL
//! `catalog.cpu_usage_check` around the `SELECT count(...)` on listings.

use crate::db::{Db, Statements};
use crate::entity::{EntitySpec, PROFILE};
use crate::error::ApiError;
use crate::rows::{exists, not_found};
use rusqlite::types::Value as Sql;
use tracing::Instrument;

fn usage_count(sql: &Statements<'_>, spec: &EntitySpec, id: i64) -> Result<i64, ApiError> {
    let _check = tracing::info_span!(
        "catalog.usage_check",
        "otel.name" = format!("catalog.{}_usage_check", spec.key),
        "otel.kind" = "internal",
    )
    .entered();
    let filter: Vec<String> = spec
        .usage_columns
        .iter()
        .map(|c| format!("listings.{c} = ?"))
        .collect();
    // Archived (sold) listings do not count. Without the listing indexes both the
    // filter and the per-listing archive lookup scan, so the check grows with the
    // number of listings that use the entity, as an unindexed check does in production.
    let query = format!(
        "SELECT count(listings.id) AS count_1 FROM listings WHERE ({}) \
         AND NOT EXISTS (SELECT 1 FROM listing_archive WHERE listing_archive.listing_id = listings.id)",
        filter.join(" OR ")
    );
    let params: Vec<Sql> = spec
        .usage_columns
        .iter()
        .map(|_| Sql::Integer(id))
        .collect();
    sql.count(&query, &params)
}

fn only_default_profile(sql: &Statements<'_>, id: i64) -> Result<bool, ApiError> {
    let is_default = sql.query_one(
        "SELECT is_default FROM profiles WHERE id = ?",
        &[Sql::Integer(id)],
        |r| r.get::<_, i64>(0),
    )?;
    if is_default != Some(1) {
        return Ok(false);
    }
    Ok(sql.count(
        "SELECT count(profiles.id) FROM profiles WHERE is_default = 1",
        &[],
    )? <= 1)
}

/// Deletes an entity unless listings still use it; 204 on success.
pub async fn delete(spec: &'static EntitySpec, db: Db, id: i64) -> Result<(), ApiError> {
    let span = tracing::info_span!(
        "catalog.delete",
        "otel.name" = format!("catalog.delete_{}", spec.key),
        "otel.kind" = "internal",
        "otel.status_code" = tracing::field::Empty,
        "otel.status_message" = tracing::field::Empty,
    );
    let result = db
        .transaction(move |sql| {
            if !exists(sql, spec.table, id)? {
                return Err(not_found(spec, id));
            }
            if !spec.usage_columns.is_empty() {
                let n = usage_count(sql, spec, id)?;
                if n > 0 {
                    return Err(ApiError::Conflict(format!(
                        "Cannot delete {}: used in {n} listing(s)",
                        spec.display
                    )));
                }
            }
            if std::ptr::eq(spec, &PROFILE) && only_default_profile(sql, id)? {
                return Err(ApiError::Conflict(
                    "Cannot delete the only default profile".into(),
                ));
            }
            if spec.ports {
                sql.execute(
                    "DELETE FROM ports WHERE ports_profile_id = ?",
                    &[Sql::Integer(id)],
                )?;
            }
            sql.execute(
                &format!("DELETE FROM {} WHERE id = ?", spec.table),
                &[Sql::Integer(id)],
            )?;
            Ok(())
        })
        .instrument(span.clone())
        .await;
    if let Err(e) = &result {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_message", format!("{e:?}").as_str());
    }
    result
}
