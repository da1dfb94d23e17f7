//! A throwaway PostgreSQL cluster: initdb in a temporary directory, the
//! server on a free loopback port, the test bed's schema loaded; stopped
//! (immediately) when dropped. As root, everything runs as the `postgres`
//! user (initdb refuses root).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::{free_port, workspace_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

/// Debian's PostgreSQL programs (the newest installed major version).
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is missing: scripts/test.sh installs Debian's postgresql (or apt-get install postgresql)")
    })
}

fn root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `program args…`, as the postgres user when we are root.
fn as_owner(program: &Path) -> Command {
    if root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn ok(what: &str, c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Postgres {
    /// Starts a cluster with the test bed's schema (tests-support/testbed/schema.sql).
    pub fn start() -> Self {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        if root() {
            ok(
                "chown",
                Command::new("chown").arg("postgres").arg(dir.path()),
            );
        }
        let data = dir.path().join("data");
        ok(
            "initdb",
            as_owner(&bin.join("initdb"))
                .args(["-D", data.to_str().unwrap(), "-U", "postgres"])
                .args(["--auth=trust", "--no-sync", "-E", "UTF8"]),
        );
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            dir.path().display()
        );
        ok(
            "pg_ctl start",
            as_owner(&bin.join("pg_ctl"))
                .args(["-D", data.to_str().unwrap(), "-w", "-o", &options])
                .args(["-l", dir.path().join("log").to_str().unwrap(), "start"]),
        );
        let pg = Self { dir, bin, port };
        let schema =
            std::fs::read_to_string(workspace_root().join("tests-support/testbed/schema.sql"))
                .unwrap();
        pg.sql(&schema);
        pg
    }

    /// The app's connection string.
    pub fn dsn(&self) -> String {
        format!(
            "postgresql+psycopg://postgres@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// Runs `sql` with psql; its unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        let psql = self.bin.join("psql");
        let psql = if psql.exists() {
            psql
        } else {
            PathBuf::from("psql")
        };
        ok(
            "psql",
            Command::new(psql)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]),
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"])
            .output();
    }
}
