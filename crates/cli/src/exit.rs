//! Exit codes (docs/design.md): 0 targets met, 1 target missed or
//! regression, 2 usage/configuration/input error, 3 target API or span source
//! unreachable, 4 an internal error of tracesplit (a bug: please report it).

/// All targets met.
pub const OK: u8 = 0;
/// A target was missed or a regression found.
pub const FAILED: u8 = 1;
/// Usage, configuration or input error.
pub const USAGE: u8 = 2;
/// The target API or a span source could not be reached.
pub const UNREACHABLE: u8 = 3;

/// An internal error: an invariant of tracesplit itself broke.
pub const INTERNAL: u8 = 4;

/// Interrupted by Ctrl-C (the shell convention, 128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// An internal error (a bug in tracesplit), with its message.
#[derive(Debug)]
pub struct Internal(pub String);

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Internal {}

/// Exit code of an error: 3 when something could not be reached, 4 for an
/// internal error, else 2.
pub fn code_of(e: &anyhow::Error) -> u8 {
    if e.chain().any(|c| c.downcast_ref::<Internal>().is_some()) {
        INTERNAL
    } else if e.chain().any(|c| c.downcast_ref::<Unreachable>().is_some()) {
        UNREACHABLE
    } else {
        USAGE
    }
}
