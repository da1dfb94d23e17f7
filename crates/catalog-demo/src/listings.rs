//! `/v1/listings/`: create (with get-or-create defaults) and delete.

use crate::db::{Db, Statements};
use crate::entity::LISTING_FIELDS;
use crate::error::ApiError;
use crate::rows::{insert_row, listing_columns, listing_json};
use crate::validate::{Mode, parse_body, validate};
use rusqlite::types::Value as Sql;
use serde_json::Value;

/// The "unknown / 0 GB" row a listing gets when it names no RAM spec or storage
/// profile; like production, it then counts as used.
fn unknown_row(
    sql: &Statements<'_>,
    table: &str,
    kind_col: &str,
    cap_col: &str,
) -> Result<i64, ApiError> {
    let find = format!(
        "SELECT id FROM {table} WHERE {kind_col} = 'unknown' AND {cap_col} = 0 ORDER BY id LIMIT 1"
    );
    if let Some(id) = sql.query_one(&find, &[], |r| r.get::<_, i64>(0))? {
        return Ok(id);
    }
    insert_row(
        sql,
        table,
        vec![
            ("label", Sql::Text("Unknown / 0 GB".into())),
            (kind_col, Sql::Text("unknown".into())),
            (cap_col, Sql::Integer(0)),
        ],
    )
}

fn listing(sql: &Statements<'_>, id: i64) -> Result<Option<Value>, ApiError> {
    sql.query_one(
        &format!("SELECT {} FROM listings WHERE id = ?", listing_columns()),
        &[Sql::Integer(id)],
        listing_json,
    )
}

fn listing_not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("Listing with id {id} not found"))
}

/// `POST /v1/listings/` → 201.
pub async fn create(db: Db, body: Vec<u8>) -> Result<Value, ApiError> {
    let map = parse_body(&body)?;
    let mut v = validate(LISTING_FIELDS, &map, Mode::Create, true, false)?;
    db.transaction(move |sql| {
        let has = |v: &crate::validate::Validated, c: &str| {
            v.fields.iter().any(|(n, s)| *n == c && *s != Sql::Null)
        };
        if !has(&v, "ram_spec_id") {
            v.fields.retain(|(n, _)| *n != "ram_spec_id");
            v.fields.push((
                "ram_spec_id",
                Sql::Integer(unknown_row(
                    sql,
                    "ram_specs",
                    "ddr_generation",
                    "total_capacity_gb",
                )?),
            ));
        }
        if !has(&v, "primary_storage_profile_id") {
            v.fields.retain(|(n, _)| *n != "primary_storage_profile_id");
            let id = unknown_row(sql, "storage_profiles", "medium", "capacity_gb")?;
            v.fields
                .push(("primary_storage_profile_id", Sql::Integer(id)));
        }
        let mut values = std::mem::take(&mut v.fields);
        values.push((
            "attributes_json",
            Sql::Text(Value::Object(v.attributes.take().unwrap_or_default()).to_string()),
        ));
        // An unknown cpu_id fails the foreign key: a 500, as in production.
        let id = insert_row(sql, "listings", values)?;
        listing(sql, id)?.ok_or_else(|| listing_not_found(id))
    })
    .await
}

/// `GET /v1/listings/{listing_id}`.
pub async fn get_one(db: Db, id: i64) -> Result<Value, ApiError> {
    db.call(move |sql| listing(sql, id)?.ok_or_else(|| listing_not_found(id)))
        .await
}

/// `DELETE /v1/listings/{listing_id}` → 204.
pub async fn delete(db: Db, id: i64) -> Result<(), ApiError> {
    db.transaction(move |sql| {
        if sql.execute("DELETE FROM listings WHERE id = ?", &[Sql::Integer(id)])? == 0 {
            return Err(listing_not_found(id));
        }
        Ok(())
    })
    .await
}
