//! The `taskd backup --data-dir DIR --to DEST` subcommand: its arguments, its one summary line
//! and its exit status. The copy itself is `storage::durable::backup`, which says how it
//! coexists with a taskd running on `DIR`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::storage::durable;

const USAGE: &str = "usage: taskd backup --data-dir DIR --to DEST";

/// Runs the subcommand on the arguments after `backup`: exit 0 with one summary line on stdout,
/// 1 with one line on stderr when the copy fails, 2 for a usage error (one line and a pointer).
pub fn run(args: impl IntoIterator<Item = String>) -> ExitCode {
    let (dir, dest) = match parse(args) {
        Ok(Some(paths)) => paths,
        Ok(None) => {
            say_out(&format!("{USAGE}\n  copies a data directory, even one a taskd is running on, to the new directory DEST"));
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            say_err(&format!("taskd backup: {message}\nsee taskd backup --help"));
            return ExitCode::from(2);
        }
    };
    match durable::backup(&dir, &dest) {
        Ok(summary) => {
            say_out(&format!(
                "taskd backup: {} -> {}: {} tasks, {} attachments ({} linked, {} copied), {} \
                 journal bytes at generation {}, {} attempt(s)",
                dir.display(),
                dest.display(),
                summary.tasks,
                summary.blobs,
                summary.linked,
                summary.blobs - summary.linked,
                summary.chain_bytes,
                summary.generation,
                summary.attempts
            ));
            ExitCode::SUCCESS
        }
        Err(error) => {
            say_err(&format!("taskd backup: {error}"));
            ExitCode::from(1)
        }
    }
}

/// `Ok(None)` for `--help`.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<(PathBuf, PathBuf)>, String> {
    let (mut dir, mut dest) = (None, None);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let slot = match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--data-dir" => &mut dir,
            "--to" => &mut dest,
            _ => return Err(format!("unexpected argument {arg:?}")),
        };
        let value = match inline.or_else(|| args.next()) {
            Some(value) if !value.is_empty() => value,
            _ => return Err(format!("{flag} needs a value")),
        };
        if slot.replace(PathBuf::from(value)).is_some() {
            return Err(format!("{flag} given twice"));
        }
    }
    match (dir, dest) {
        (Some(dir), Some(dest)) => Ok(Some((dir, dest))),
        (None, _) => Err("--data-dir DIR is required".to_owned()),
        (_, None) => Err("--to DEST is required".to_owned()),
    }
}

/// Never `println!`: stdout may be a closed pipe, and that is no reason to panic.
fn say_out(line: &str) {
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn say_err(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
