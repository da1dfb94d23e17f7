//! Every row of a catalog database file as text: how tests (and people)
//! check that a run left the API's data exactly as it found it.

use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

/// Table name → its rows in rowid order, each as `cell | cell | …`.
pub type Rows = BTreeMap<String, Vec<String>>;

/// Reads every table of the SQLite file at `db` (read-only).
pub fn rows(db: &Path) -> Result<Rows, rusqlite::Error> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Rows::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))?;
        let n = stmt.column_count();
        let mut q = stmt.query([])?;
        let mut rows = Vec::new();
        while let Some(row) = q.next()? {
            let cells = (0..n)
                .map(|c| row.get_ref(c).map(|v| format!("{v:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            rows.push(cells.join(" | "));
        }
        out.insert(table, rows);
    }
    Ok(out)
}

/// The first difference between two dumps, in words; `None` when they are equal.
pub fn difference(before: &Rows, after: &Rows) -> Option<String> {
    if before.keys().ne(after.keys()) {
        return Some(format!(
            "tables differ: {:?} vs {:?}",
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>()
        ));
    }
    before.iter().find_map(|(table, rows)| {
        let now = &after[table];
        (rows != now).then(|| {
            let added: Vec<&String> = now.iter().filter(|r| !rows.contains(r)).take(5).collect();
            let gone: Vec<&String> = rows.iter().filter(|r| !now.contains(r)).take(5).collect();
            format!(
                "table {table}: {} rows before, {} after; added {added:?}; removed or changed {gone:?}",
                rows.len(),
                now.len()
            )
        })
    })
}
