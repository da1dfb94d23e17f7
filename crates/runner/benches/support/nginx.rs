//! A loopback nginx serving a static file (Debian's: `apt-get install
//! nginx`), for the benches' real-server rows; `None` when nginx is missing.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command};

/// A running nginx; stopped on drop.
pub struct Nginx {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker too (SIGKILL would orphan it).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// nginx with one worker on a free loopback port, serving `GET /noop` (a
/// two-byte static file) over HTTP/1.1, with its defaults otherwise
/// (`keepalive_requests 1000`), from `dir`.
pub fn start(dir: &Path) -> Option<Nginx> {
    let bin = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let d = dir.display();
    std::fs::create_dir_all(dir.join("www")).ok()?;
    std::fs::write(dir.join("www/noop"), "ok").ok()?;
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    root {d}/www;\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).ok()?;
    let child = Command::new(bin)
        .args(["-c", &format!("{d}/nginx.conf"), "-p", &d.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Nginx {
                child,
                base: format!("http://127.0.0.1:{port}"),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    None
}
