//! Lines on stderr that can never panic. `eprintln!` panics when stderr is gone (a parent that
//! died took the pipe with it), which would take down the thread that logs: a connection's, the
//! accept loop, or the signal thread that must still exit on SIGTERM.

use std::fmt;
use std::io::{self, Write};

/// Writes one line to stderr; a failure to write is ignored, there is no one left to tell.
pub fn line(text: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}
