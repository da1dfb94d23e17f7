//! `tracesplit suite show`.

use crate::args::{SuiteAction, SuiteArgs};
use crate::exit;
use tracesplit_runner::suite;

pub fn run(args: SuiteArgs) -> anyhow::Result<u8> {
    match args.action {
        SuiteAction::Show { suite: None } => print!("{}", suite::CATALOG_SUITE),
        SuiteAction::Show { suite: Some(path) } => {
            let parsed = suite::load(Some(&path))?;
            eprintln!(
                "{}: valid suite {:?} with {} scenarios",
                path.display(),
                parsed.name,
                parsed.scenarios.len()
            );
            print!("{}", std::fs::read_to_string(&path)?);
        }
    }
    Ok(exit::OK)
}
