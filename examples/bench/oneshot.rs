//! The scenarios that measure one thing once rather than a rate: startup time with the idle
//! RSS, and the big upload and download on a fresh server with their peak RSS.

use std::io;
use std::time::{Duration, Instant};

use crate::client::{self, Conn};
use crate::report::{mib, Row, Table};
use crate::scripts::{multipart_frame, Create};
use crate::Bench;

impl Bench<'_> {
    /// Spawn → ready line, five fresh processes; the idle RSS of each right after.
    pub(crate) fn startup(&self, table: &mut Table) -> io::Result<()> {
        let mut times = Vec::new();
        let mut idle = Vec::new();
        for _ in 0..5 {
            let server = self.taskd(&[])?;
            times.push(server.startup);
            // Let the workers reach recv() before reading the idle figure.
            std::thread::sleep(Duration::from_millis(200));
            idle.push(server.memory_kib()?.0);
        }
        times.sort();
        idle.sort();
        let note = format!(
            "spawn→ready min {:.2} ms, median {:.2} ms; idle RSS {} (median of 5)",
            times[0].as_secs_f64() * 1e3,
            times[2].as_secs_f64() * 1e3,
            mib(idle[2])
        );
        table.push(Row::note("startup (memory mode)", self.workers, note));
        Ok(())
    }

    /// The big upload and download on a fresh server, with the limit raised above the size.
    pub(crate) fn big(&self, table: &mut Table) -> io::Result<()> {
        let size = self.options.big_bytes;
        let limit = vec![
            "--max-upload-bytes".to_owned(),
            (size + (1 << 20)).to_string(),
        ];
        let server = self.taskd(&limit)?;
        std::thread::sleep(Duration::from_millis(200));
        let (idle, _) = server.memory_kib()?;
        let mut conn = Conn::connect(server.addr)?;
        conn.send(Create::new("bench", "big").next_bytes())?;
        conn.recv()?;
        let id = client::json_id(conn.body()).ok_or_else(|| io::Error::other("big: create"))?;
        let (head, tail) = multipart_frame("bench", id, size);
        let chunk = vec![b'x'; 1 << 20];
        let started = Instant::now();
        conn.send(head.as_bytes())?;
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            conn.send(&chunk[..n])?;
            left -= n as u64;
        }
        conn.send(tail.as_bytes())?;
        let (status, _) = conn.recv()?;
        let up = started.elapsed();
        let (_, peak_up) = server.memory_kib()?;
        let started = Instant::now();
        conn.send(
            format!("GET /tasks/{id}/attachment HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes(),
        )?;
        let (down_status, length) = conn.recv()?;
        let down = started.elapsed();
        let (_, peak_down) = server.memory_kib()?;
        let gbps = |time: Duration| size as f64 / time.as_secs_f64() / 1e9;
        let mib_size = size >> 20;
        table.push(Row::note(
            &format!("{mib_size} MiB upload"),
            self.workers,
            format!(
                "{:.2} GB/s ({:.0} ms, status {status}); idle RSS {}, peak {} (+{})",
                gbps(up),
                up.as_secs_f64() * 1e3,
                mib(idle),
                mib(peak_up),
                mib(peak_up.saturating_sub(idle))
            ),
        ));
        let ok = down_status == 200 && length == size;
        table.push(Row::note(
            &format!("{mib_size} MiB download"),
            self.workers,
            format!(
                "{:.2} GB/s ({:.0} ms, status {down_status}, {}); peak {} (+{})",
                gbps(down),
                down.as_secs_f64() * 1e3,
                if ok { "length ok" } else { "WRONG LENGTH" },
                mib(peak_down),
                mib(peak_down.saturating_sub(idle))
            ),
        ));
        Ok(())
    }
}
