//! The `taskd` binary: parses flags into a `Config`, binds, prints the address, serves.

use std::io::Write;
use std::process::ExitCode;

use taskd::{Config, Server};

const USAGE: &str = "\
Usage: taskd [--addr HOST:PORT] [--workers N] [--max-upload-bytes N]

A small task-manager HTTP API (the \"Robust Task Endpoints\" lesson, in Rust).

Options:
  --addr HOST:PORT        where to listen (default 127.0.0.1:8000; port 0 picks a free port)
  --workers N             worker threads (default 4)
  --max-upload-bytes N    largest accepted attachment in bytes (default 33554432 = 32 MiB)
  -h, --help              print this help";

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("taskd: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("taskd: {error}");
            return ExitCode::FAILURE;
        }
    };
    // One flushed line, so a script can start us on port 0 and read the real address.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "taskd listening on http://{}", server.addr());
    let _ = stdout.flush();
    drop(stdout);
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("taskd: exiting: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(None)` means `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut config = Config::default();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let (name, inline_value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--addr" => config.addr = value()?,
            "--workers" => {
                config.workers = value()?
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--workers takes a whole number of at least 1")?;
            }
            "--max-upload-bytes" => {
                config.max_upload_bytes = value()?
                    .parse()
                    .map_err(|_| "--max-upload-bytes takes a whole number of bytes")?;
            }
            _ => return Err(format!("unknown argument: {name}")),
        }
    }
    Ok(Some(config))
}
