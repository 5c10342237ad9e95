//! The start line: one line on stderr, once the server listens, naming the version, the address
//! and the storage, so whoever reads a service's log sees which data was opened:
//! `taskd 0.1.0 listening on http://127.0.0.1:8000, storage: data directory /var/lib/taskd (12 tasks)`,
//! or `storage: database postgres://taskd:[redacted]@db:5432/taskd (12 tasks)`.
//! It is printed even with `--quiet` (which silences the per-request lines): it is one line.

use std::net::SocketAddr;
use std::path::Path;

use taskd::binary as support;
use taskd::Server;

/// How the start line names the storage: `memory`, or `data directory DIR (N tasks)` with DIR
/// made absolute (a relative `--data-dir` says little in a service's log).
///
/// # Errors
/// The storage cannot count its tasks (one line).
pub fn storage(
    server: &Server,
    data_dir: Option<&Path>,
    database: Option<&str>,
) -> Result<String, String> {
    let count = || {
        support::task_count(server)
            .map_err(|error| format!("storage refused to count its tasks: {error}"))
    };
    if let Some(database) = database {
        // Redacted by the command line's parser: never the password (CONTRACT §14).
        return Ok(format!("database {database} ({})", tasks(count()?)));
    }
    let Some(dir) = data_dir else {
        return Ok("memory".to_owned());
    };
    let count = count()?;
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    Ok(format!(
        "data directory {} ({})",
        dir.display(),
        tasks(count)
    ))
}

/// The whole line.
pub fn line(version: &str, addr: SocketAddr, storage: &str) -> String {
    format!("taskd {version} listening on http://{addr}, storage: {storage}")
}

fn tasks(count: u64) -> String {
    match count {
        1 => "1 task".to_owned(),
        n => format!("{n} tasks"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_version_address_and_storage() {
        let addr: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(
            line("0.1.0", addr, "memory"),
            "taskd 0.1.0 listening on http://127.0.0.1:8000, storage: memory"
        );
        assert_eq!(tasks(1), "1 task");
        assert_eq!(tasks(0), "0 tasks");
        assert_eq!(tasks(12), "12 tasks");
    }
}
