//! Where the bench runs and what it costs: the server on one core and the load on another
//! (`--cpus`), and the CPU time each side spent during a measurement, read from
//! `/proc/.../stat`. On loopback one core of load generator may be what limits the fastest
//! server, so every rate is printed next to both shares.

use std::io;
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

/// `utime` and `stime` in `/proc/.../stat` count in USER_HZ, which is 100 on the Linux
/// architectures the bench runs on (`getconf CLK_TCK`).
const TICKS_PER_SECOND: f64 = 100.0;

/// The cores of `--cpus SERVER,LOAD`, when pinning is possible.
#[derive(Clone, Copy, Debug)]
pub struct Pinning {
    pub server: usize,
    pub load: usize,
}

impl Pinning {
    /// Checks that both cores are ours and that `taskset` (which pins a server from its first
    /// instruction, threads included) runs; otherwise says why and runs unpinned.
    pub fn check(wanted: Option<(usize, usize)>) -> Option<Pinning> {
        let (server, load) = wanted?;
        let allowed = match sched_getaffinity(None) {
            Ok(set) => set,
            Err(error) => {
                println!("cpus: cannot read this process's CPU set ({error}); running unpinned");
                return None;
            }
        };
        if server == load || !allowed.is_set(server) || !allowed.is_set(load) {
            println!(
                "cpus: cores {server},{load} are not two distinct cores of this process's {} \
                 (see `--cpus`); running unpinned",
                allowed.count()
            );
            return None;
        }
        let taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !taskset.is_ok_and(|status| status.success()) {
            println!("cpus: `taskset` (util-linux) is missing; running unpinned");
            return None;
        }
        Some(Pinning { server, load })
    }

    /// The `taskset` prefix that starts a program on the server's core.
    pub fn server_prefix(&self) -> Vec<String> {
        vec!["taskset".into(), "-c".into(), self.server.to_string()]
    }
}

/// Pins the calling thread to `cpu`; threads it spawns afterwards inherit it.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(None, &set).map_err(io::Error::from)
}

/// CPU time (user + system) of the calling thread so far, in ticks.
pub fn thread_ticks() -> io::Result<u64> {
    stat_ticks(&std::fs::read_to_string("/proc/thread-self/stat")?)
}

/// CPU time of a whole process, every thread it ever had included, in ticks.
pub fn process_ticks(pid: u32) -> io::Result<u64> {
    stat_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?)
}

/// `ticks` over `elapsed` as a percentage of one core.
pub fn share(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 / TICKS_PER_SECOND / elapsed.as_secs_f64().max(1e-9) * 100.0
}

/// Fields 14 and 15 of a stat line (proc(5)). The command name in field 2 may hold spaces and
/// parentheses, so the count starts after its last `)`.
fn stat_ticks(stat: &str) -> io::Result<u64> {
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| io::Error::other("malformed /proc stat line"))?;
    // `after_name` starts at field 3 (the state), so fields 14 and 15 are its 12th and 13th.
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next = || -> io::Result<u64> {
        fields
            .next()
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc stat line"))
    };
    Ok(next()? + next()?)
}
