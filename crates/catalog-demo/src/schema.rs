//! Tables, indexes and the seeded catalog.

use rusqlite::{Connection, params};

const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS cpus (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, manufacturer TEXT NOT NULL, socket TEXT,
    cores INTEGER, threads INTEGER, tdp_w INTEGER, igpu_model TEXT, cpu_mark_multi INTEGER,
    cpu_mark_single INTEGER, igpu_mark INTEGER, release_year INTEGER, notes TEXT,
    passmark_slug TEXT, passmark_category TEXT, passmark_id TEXT,
    attributes_json TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS gpus (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, manufacturer TEXT NOT NULL, gpu_mark INTEGER,
    metal_score INTEGER, notes TEXT, attributes_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT, weights_json TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ports_profiles (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT,
    attributes_json TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ports (
    id INTEGER PRIMARY KEY, ports_profile_id INTEGER NOT NULL REFERENCES ports_profiles(id) ON DELETE CASCADE,
    type TEXT NOT NULL, count INTEGER NOT NULL, spec_notes TEXT);
CREATE TABLE IF NOT EXISTS ram_specs (
    id INTEGER PRIMARY KEY, label TEXT, ddr_generation TEXT, speed_mhz INTEGER, module_count INTEGER,
    capacity_per_module_gb REAL, total_capacity_gb REAL, notes TEXT,
    attributes_json TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS storage_profiles (
    id INTEGER PRIMARY KEY, label TEXT, medium TEXT, interface TEXT, form_factor TEXT,
    capacity_gb INTEGER, performance_tier TEXT, notes TEXT,
    attributes_json TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS listings (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, price_usd REAL NOT NULL,
    cpu_id INTEGER REFERENCES cpus(id), gpu_id INTEGER REFERENCES gpus(id),
    ram_spec_id INTEGER REFERENCES ram_specs(id),
    primary_storage_profile_id INTEGER REFERENCES storage_profiles(id),
    secondary_storage_profile_id INTEGER REFERENCES storage_profiles(id),
    ports_profile_id INTEGER REFERENCES ports_profiles(id),
    url TEXT, seller TEXT, marketplace TEXT, condition TEXT, status TEXT, device_model TEXT,
    manufacturer TEXT, form_factor TEXT, os_license TEXT, notes TEXT, adjusted_price_usd REAL,
    score_cpu_multi REAL, score_cpu_single REAL, score_gpu REAL, score_composite REAL,
    dollar_per_cpu_mark REAL, attributes_json TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS listing_archive (
    id INTEGER PRIMARY KEY, listing_id INTEGER NOT NULL, archived_at TEXT NOT NULL);
"#;

/// Indexes on every listing foreign key. `--no-listing-index` drops them, so the
/// usage check (and SQLite's own foreign-key check on delete) scans the table.
const LISTING_INDEXES: &[(&str, &str)] = &[
    ("ix_listings_cpu_id", "cpu_id"),
    ("ix_listings_gpu_id", "gpu_id"),
    ("ix_listings_ram_spec_id", "ram_spec_id"),
    ("ix_listings_primary_storage", "primary_storage_profile_id"),
    (
        "ix_listings_secondary_storage",
        "secondary_storage_profile_id",
    ),
    ("ix_listings_ports_profile_id", "ports_profile_id"),
];

/// The archive of sold listings, which the usage check consults per listing.
const ARCHIVE_INDEX: (&str, &str) = (
    "ix_listing_archive_listing_id",
    "listing_archive(listing_id)",
);

/// Creates the tables and sets the listing indexes on or off.
pub fn create(conn: &Connection, listing_index: bool) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    // Without the indexes SQLite would build temporary ones for the usage
    // check's subquery; the knob is meant to reproduce real table scans.
    conn.pragma_update(None, "automatic_index", listing_index)?;
    conn.execute_batch(TABLES)?;
    let archive = (ARCHIVE_INDEX.0, ARCHIVE_INDEX.1.to_owned());
    let listings = LISTING_INDEXES
        .iter()
        .map(|(name, column)| (*name, format!("listings({column})")));
    for (name, target) in listings.chain([archive]) {
        let sql = if listing_index {
            format!("CREATE INDEX IF NOT EXISTS {name} ON {target}")
        } else {
            format!("DROP INDEX IF EXISTS {name}")
        };
        conn.execute(&sql, [])?;
    }
    Ok(())
}

/// Now, in the API's timestamp format (`2025-11-14T10:30:00.123456`, UTC, naive).
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    );
    t.format(&fmt).unwrap_or_default()
}

const CPUS: &[(&str, &str, i64, i64, i64)] = &[
    ("Intel Core i5-12400", "Intel", 6, 12, 19500),
    ("Intel Core i7-12700H", "Intel", 14, 20, 26900),
    ("Intel N100", "Intel", 4, 4, 5500),
    ("AMD Ryzen 5 5600U", "AMD", 6, 12, 13700),
    ("AMD Ryzen 7 5825U", "AMD", 8, 16, 18500),
    ("AMD Ryzen 7 7840HS", "AMD", 8, 16, 29500),
    ("Intel Core i3-10110U", "Intel", 2, 4, 3900),
    ("Apple M2", "Apple", 8, 8, 15300),
];

/// Seeds a fresh database: a small catalog, then `extra_cpus` generated CPUs and
/// `listings` listings spread over all seeded CPUs. Does nothing when CPUs exist.
pub fn seed(conn: &mut Connection, extra_cpus: u64, listings: u64) -> rusqlite::Result<bool> {
    let existing: i64 = conn.query_row("SELECT count(*) FROM cpus", [], |r| r.get(0))?;
    if existing > 0 {
        return Ok(false);
    }
    let ts = now();
    let tx = conn.transaction()?;
    {
        let mut cpu = tx.prepare(
            "INSERT INTO cpus (name, manufacturer, cores, threads, cpu_mark_multi, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?;
        for (name, maker, cores, threads, mark) in CPUS {
            cpu.execute(params![name, maker, cores, threads, mark, ts])?;
        }
        for i in 0..extra_cpus {
            cpu.execute(params![
                format!("Seed CPU {i:06}"),
                "Generic",
                4,
                8,
                10_000 + (i % 20_000) as i64,
                ts
            ])?;
        }
    }
    tx.execute_batch(&format!(
        "INSERT INTO gpus (name, manufacturer, gpu_mark, created_at, updated_at) VALUES
            ('Intel UHD Graphics 770', 'Intel', 1500, '{ts}', '{ts}'), ('AMD Radeon 780M', 'AMD', 6300, '{ts}', '{ts}'),
            ('NVIDIA GeForce RTX 3050', 'NVIDIA', 12800, '{ts}', '{ts}'), ('Apple M2 GPU', 'Apple', 7000, '{ts}', '{ts}');
         INSERT INTO profiles (name, description, weights_json, is_default, created_at, updated_at) VALUES
            ('Balanced', 'Default scoring', '{{\"cpu_mark_multi\": 0.6, \"cpu_mark_single\": 0.4}}', 1, '{ts}', '{ts}'),
            ('Gaming', 'GPU heavy', '{{\"gpu_mark\": 0.7, \"cpu_mark_single\": 0.3}}', 0, '{ts}', '{ts}');
         INSERT INTO ports_profiles (name, description, created_at, updated_at) VALUES
            ('Mini PC basic', 'USB-A x4, HDMI', '{ts}', '{ts}'), ('Thunderbolt', 'USB4 x2', '{ts}', '{ts}');
         INSERT INTO ports (ports_profile_id, type, count) VALUES (1, 'usb_a', 4), (1, 'hdmi', 1), (2, 'usb4', 2);
         INSERT INTO ram_specs (label, ddr_generation, speed_mhz, total_capacity_gb, created_at, updated_at) VALUES
            ('16GB DDR4-3200', 'ddr4', 3200, 16, '{ts}', '{ts}'), ('32GB DDR5-5600', 'ddr5', 5600, 32, '{ts}', '{ts}'),
            ('8GB LPDDR5', 'lpddr5', 6400, 8, '{ts}', '{ts}');
         INSERT INTO storage_profiles (label, medium, capacity_gb, created_at, updated_at) VALUES
            ('512GB NVMe', 'nvme', 512, '{ts}', '{ts}'), ('1TB NVMe', 'nvme', 1024, '{ts}', '{ts}'),
            ('256GB SATA SSD', 'sata_ssd', 256, '{ts}', '{ts}');"
    ))?;
    seed_listings(&tx, listings.max(12), &ts)?;
    // One seeded listing in 300 is archived (sold): the usage check skips those.
    tx.execute("INSERT INTO listing_archive (listing_id, archived_at) SELECT id, ?1 FROM listings WHERE id % 300 = 0", [&ts])?;
    tx.commit()?;
    Ok(true)
}

fn seed_listings(tx: &rusqlite::Transaction<'_>, count: u64, ts: &str) -> rusqlite::Result<()> {
    let cpus: i64 = tx.query_row("SELECT count(*) FROM cpus", [], |r| r.get(0))?;
    let mut stmt = tx.prepare(
        "INSERT INTO listings (title, price_usd, cpu_id, gpu_id, ram_spec_id, primary_storage_profile_id, ports_profile_id, condition, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'used', 'active', ?8, ?8)",
    )?;
    for i in 0..count as i64 {
        let cpu = 1 + i % cpus;
        stmt.execute(params![
            format!("Seeded mini PC #{i}"),
            150.0 + (i % 400) as f64,
            cpu,
            1 + i % 4,
            1 + i % 3,
            1 + i % 3,
            1 + i % 2,
            ts
        ])?;
    }
    Ok(())
}
