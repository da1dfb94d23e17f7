//! `tracesplit`: drives a catalog API through CRUD scenarios and splits each
//! scenario's P95 into network, handler, database and cascade-check time.

mod args;
mod commands;
mod exit;
mod signal;
mod tls_args;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_logging(cli.verbose);
    // One rustls crypto provider (ring) for every TLS user in the process:
    // reqwest and tonic find no other (no second crypto library is built).
    tracesplit_net::client_tls::use_ring_by_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    // A panic anywhere (a worker thread, a task, this thread) is an
    // internal error: said once, with where, and exit 4 — not Rust's
    // backtrace hint and exit 101.
    std::panic::set_hook(Box::new(|info| {
        tracesplit_model::internal::report(format!("a thread panicked: {info}"));
    }));
    let dispatched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(commands::dispatch(cli.command))
    }));
    let code = match dispatched {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            exit::code_of(&e)
        }
        Err(_) => exit::INTERNAL,
    };
    // A poisoned lock or a worker's panic was logged when it happened (once);
    // the work went on with what it had, and the exit code says it.
    if tracesplit_model::internal::first().is_some() {
        return ExitCode::from(exit::INTERNAL);
    }
    ExitCode::from(code)
}

/// Log lines of the binary itself go to stderr; `RUST_LOG` refines them.
fn init_logging(verbose: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if verbose { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(tracesplit_telemetry::stderr_colour())
        .try_init();
}

// mimalloc: the collector's ingest path allocates per attribute; glibc's
// allocator costs it a third of its throughput (see the ingest benchmark).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
