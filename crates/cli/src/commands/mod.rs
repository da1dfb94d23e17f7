//! One module per subcommand; each returns its exit code.

mod collect;
mod serve_catalog;

use crate::args::Command;

/// Runs a subcommand.
pub async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::ServeCatalog(args) => serve_catalog::run(args).await,
        Command::Collect(args) => collect::run(args).await,
    }
}
