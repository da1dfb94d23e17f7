//! One module per subcommand; each returns its exit code.

mod after_run;
mod analyze;
mod cleanup;
mod collect;
mod compare;
mod demo;
mod docs;
mod run;
mod serve_catalog;
mod suite;

use crate::args::Command;

/// Runs a subcommand.
pub async fn dispatch(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::ServeCatalog(args) => serve_catalog::run(args).await,
        Command::Collect(args) => collect::run(args).await,
        Command::Run(args) => run::run(*args).await,
        Command::Suite(args) => suite::run(args).await,
        Command::Cleanup(args) => cleanup::run(args).await,
        // The analysis blocks (file reads; span sources fetched with a blocking
        // HTTP client, which must not be created or dropped on a runtime thread).
        Command::Analyze(args) => tokio::task::block_in_place(|| analyze::run(*args)),
        Command::Demo(args) => demo::run(args).await,
        Command::Compare(args) => tokio::task::block_in_place(|| compare::run(args)),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man => docs::man(),
        Command::CliReference => docs::reference(),
    }
}
