//! The documentation cannot drift: docs/cli.md is the clap definitions'
//! text, every relative link resolves (anchors included), the README stays
//! short with the two commands in its first screen, and completions and the
//! man page come from the same definitions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn output(args: &[&str]) -> String {
    let o = Command::new(bin()).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn docs_cli_md_is_the_clap_definitions_text() {
    let generated = output(&["cli-reference"]);
    let path = workspace_root().join("docs/cli.md");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/cli.md is stale: run UPDATE_DOCS=1 cargo test -p tracesplit --test integration docs_files"
    );
    // Every flag of every command is in it.
    for flag in [
        "--base-url",
        "--setup-retries",
        "--rate",
        "--force",
        "--cascade-sweep",
    ] {
        assert!(generated.contains(&format!("`{flag}`")), "{flag}");
    }
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// `(target, line)` of every Markdown link outside code blocks.
fn links(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((after[..end].to_owned(), n + 1));
            rest = &after[end..];
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut files = vec![root.join("README.md"), root.join("CHANGELOG.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    files
}

#[test]
fn every_relative_link_points_at_a_file_and_heading_that_exist() {
    let mut broken = Vec::new();
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (target, line) in links(&text) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let resolved: PathBuf = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let here = format!("{}:{line}: {target}", file.display());
            if !resolved.exists() {
                broken.push(format!("{here} (no such file)"));
            } else if !anchor.is_empty() {
                let t = std::fs::read_to_string(&resolved).unwrap_or_default();
                if !anchors(&t).iter().any(|a| a == anchor) {
                    broken.push(format!("{here} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The project's design is docs/design.md; no file may send a reader to a
/// DESIGN.md that does not exist.
#[test]
fn nothing_refers_to_a_design_md_that_does_not_exist() {
    let root = workspace_root();
    let mut offenders = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("docs")];
    stack.push(root.join("README.md"));
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else if p.extension().is_some_and(|x| x == "rs" || x == "md") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            // This test's own text names it once, in this comment and the check.
            if text.contains(&["DESIGN", ".md"].concat())
                && !p.ends_with(Path::new("docs_files.rs"))
            {
                offenders.push(p.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

#[test]
fn the_readme_is_short_and_opens_with_the_two_commands() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    assert!(
        readme.len() <= 12 * 1024,
        "README is {} bytes",
        readme.len()
    );
    let first_screen: String = readme.lines().take(40).collect::<Vec<_>>().join("\n");
    assert!(first_screen.contains("cargo run --release -- demo"));
    assert!(first_screen.contains("scripts/test.sh"));
}

#[test]
fn completions_and_the_man_page_come_from_the_definitions() {
    let bash = output(&["completions", "bash"]);
    assert!(
        bash.contains("_tracesplit") && bash.contains("--base-url"),
        "{bash}"
    );
    assert!(output(&["completions", "zsh"]).contains("#compdef tracesplit"));
    assert!(output(&["completions", "fish"]).contains("complete -c tracesplit"));
    let man = output(&["man"]);
    assert!(
        man.contains(".TH tracesplit") && man.contains("analyze"),
        "{man}"
    );
}
