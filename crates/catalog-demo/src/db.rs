//! SQLite access with one CLIENT span per statement.
//!
//! The connection lives behind a mutex and is used from blocking threads.
//! `Db::call` carries the caller's tracing dispatch and current span into the
//! blocking thread, so statement spans are children of the request's spans
//! even though they run elsewhere.

use crate::error::ApiError;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, Row, params_from_iter};
use std::sync::{Arc, Mutex};
use tracing::Span;

/// Name of the database in span names (`SELECT catalog`) and `db.namespace`.
pub const DB_NAME: &str = "catalog";

/// The shared connection.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

/// Statement runner handed to `Db::call` closures; every statement is a span.
pub struct Statements<'c> {
    conn: &'c Connection,
}

fn verb(sql: &str) -> &str {
    let word = sql
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == ';')
        .next()
        .unwrap_or("");
    if word.is_empty() { "SQL" } else { word }
}

fn statement_span(sql: &str) -> Span {
    let op = verb(sql).to_ascii_uppercase();
    tracing::info_span!(
        "db.statement",
        "otel.name" = format!("{op} {DB_NAME}"),
        "otel.kind" = "client",
        "db.system.name" = "sqlite",
        "db.namespace" = DB_NAME,
        "db.operation.name" = op.as_str(),
        "db.query.text" = sql,
    )
}

impl Statements<'_> {
    /// Runs a statement that changes rows; returns the number changed.
    pub fn execute(&self, sql: &str, params: &[Sql]) -> Result<usize, ApiError> {
        let _s = statement_span(sql).entered();
        Ok(self.conn.execute(sql, params_from_iter(params.iter()))?)
    }

    /// Runs an INSERT; returns the new row id.
    pub fn insert(&self, sql: &str, params: &[Sql]) -> Result<i64, ApiError> {
        let _s = statement_span(sql).entered();
        self.conn.execute(sql, params_from_iter(params.iter()))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Runs a query and maps every row.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[Sql],
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, ApiError> {
        let _s = statement_span(sql).entered();
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params_from_iter(params.iter()), map)?;
        Ok(rows.collect::<Result<Vec<T>, _>>()?)
    }

    /// Runs a query expected to return at most one row.
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[Sql],
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, ApiError> {
        Ok(self.query(sql, params, map)?.into_iter().next())
    }

    /// Runs a `SELECT count(...)` query.
    pub fn count(&self, sql: &str, params: &[Sql]) -> Result<i64, ApiError> {
        Ok(self
            .query_one(sql, params, |r| r.get::<_, i64>(0))?
            .unwrap_or(0))
    }
}

impl Db {
    /// Wraps an open connection.
    pub fn new(conn: Connection) -> Self {
        Self {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// Runs `f` on a blocking thread under the caller's span.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Statements<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let conn = self.conn.clone();
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let parent = Span::current();
        tokio::task::spawn_blocking(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let _entered = parent.enter();
                let guard = conn
                    .lock()
                    .map_err(|_| ApiError::Database("connection lock poisoned".into()))?;
                f(&Statements { conn: &guard })
            })
        })
        .await
        .map_err(|e| ApiError::Database(format!("database task failed: {e}")))?
    }

    /// Runs `f` inside BEGIN … COMMIT (ROLLBACK when `f` fails), each a span like production's.
    pub async fn transaction<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Statements<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.call(move |sql| {
            sql.execute("BEGIN", &[])?;
            match f(sql) {
                Ok(v) => {
                    sql.execute("COMMIT", &[])?;
                    Ok(v)
                }
                Err(e) => {
                    sql.execute("ROLLBACK", &[])?;
                    Err(e)
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::verb;

    #[test]
    fn verbs() {
        assert_eq!(verb("  select count(x) from t"), "select");
        assert_eq!(verb("BEGIN;"), "BEGIN");
        assert_eq!(verb(""), "SQL");
    }
}
