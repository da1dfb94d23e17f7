//! `tracesplit completions SHELL`, `tracesplit man`, and the command reference
//! of docs/cli.md — all generated from the clap definitions, so none can drift.

use crate::args::{Cli, Shell};
use clap::{Arg, Command, CommandFactory};
use std::fmt::Write;

/// Prints a completion script for `shell`.
pub fn completions(shell: Shell) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "tracesplit", &mut std::io::stdout());
    Ok(crate::exit::OK)
}

/// Prints the man page (roff).
pub fn man() -> anyhow::Result<u8> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(crate::exit::OK)
}

/// Prints docs/cli.md.
pub fn reference() -> anyhow::Result<u8> {
    print!("{}", markdown());
    Ok(crate::exit::OK)
}

fn plain(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// One flag or argument as a table row.
fn arg_row(a: &Arg) -> String {
    let name = match (a.get_long(), a.get_short()) {
        (Some(l), Some(s)) => format!("`-{s}`, `--{l}`"),
        (Some(l), None) => format!("`--{l}`"),
        (None, _) => format!("`{}`", a.get_id().as_str().to_ascii_uppercase()),
    };
    let value = a
        .get_value_names()
        .map(|v| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|_| a.get_action().takes_values() && a.get_long().is_some())
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let default: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    let mut notes = Vec::new();
    if !default.is_empty() {
        notes.push(format!("default `{}`", default.join(",")));
    }
    if let Some(env) = a.get_env() {
        notes.push(format!("env `{}`", env.to_string_lossy()));
    }
    if a.is_required_set() {
        notes.push("required".into());
    }
    let help = a
        .get_long_help()
        .or(a.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    format!(
        "| {name}{} | {} | {} |",
        plain(&value),
        plain(&help),
        notes.join("; ")
    )
}

fn command_section(out: &mut String, path: &str, cmd: &Command) {
    let _ = writeln!(out, "\n## `{path}`\n");
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{about}\n");
    }
    let args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help" && a.get_id() != "version")
        .collect();
    if !args.is_empty() {
        let _ = writeln!(out, "| argument | what | notes |\n|---|---|---|");
        for a in args {
            let _ = writeln!(out, "{}", arg_row(a));
        }
    }
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        command_section(out, &format!("{path} {}", sub.get_name()), sub);
    }
}

/// The whole command reference, as docs/cli.md holds it.
pub fn markdown() -> String {
    let cmd = Cli::command();
    let mut out = String::from(
        "# Command reference\n\nGenerated from the command-line definitions by `tracesplit cli-reference`\n\
         (a test fails when this file differs; regenerate it with\n\
         `UPDATE_DOCS=1 cargo test -p tracesplit --test integration docs_files`).\n\
         Exit codes and what each command does in depth: [design.md](design.md),\n\
         [suites.md](suites.md), [collector.md](collector.md), [deploy.md](deploy.md).\n",
    );
    command_section(&mut out, "tracesplit", &cmd);
    out
}
