//! A large attachment through PostgreSQL (CONTRACT §14, the attachments row), against the
//! real `taskd` binary on the throwaway cluster of `tests/pg_support`: the bytes come back
//! intact, the serving process stays under 32 MiB of resident memory (its `VmHWM`) while it
//! receives them and while it sends them, a 1 MiB range reads only the chunks it overlaps and
//! a whole download reads every chunk, counted in PostgreSQL's own statistics of taskd's chunk
//! table. Neither side ever holds the file: the test writes it and checks it as it streams.
//! While the chunks are copied in, the task itself can still be changed at once.
//!
//! The contract's 256 MiB is measured against a release binary named by `TASKD_BIG_BIN`
//! (`TASKD_BIG_BIN=$PWD/target/release/taskd cargo test --test integration postgres_attachments`,
//! which `.ci/check-postgres-256mib` runs); plain
//! `cargo test` sends 64 MiB through its debug `taskd`, which receives only a few MiB per
//! second, and twice the ceiling still fails a server that buffers the file.
//!
//! Each phase runs in an instance of its own, stopped before the statistics are read: a
//! backend flushes its table statistics when it exits, so once taskd's connections are gone
//! the counts are exact (PostgreSQL 15 and later flush before the backend leaves
//! `pg_stat_activity`; 12 to 14 send them to a collector that writes them within half a second).
#![cfg(feature = "postgres")]

use crate::binary;
use crate::common;
use binary::Taskd;
use common::pg_support::{shared_cluster, Cluster};
use common::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// CONTRACT §14's attachment size, measured against a release binary (`TASKD_BIG_BIN`).
const CONTRACT_SIZE: u64 = 256 * 1024 * 1024;
/// The size against the debug binary of `cargo test`: still twice the memory ceiling, so a
/// buffered upload or download fails the same assertions.
const DEBUG_SIZE: u64 = 64 * 1024 * 1024;
/// The ceiling on the serving process's peak resident memory, in KiB (CONTRACT §14).
const RSS_CEILING_KIB: u64 = 32 * 1024;
/// The range's length.
const RANGE: u64 = 1024 * 1024;
/// How much the test writes or checks at a time.
const PIECE: usize = 256 * 1024;
/// The period of the pattern: a prime, so no chunk size divides it and every chunk of the
/// attachment holds different bytes (one stored twice, dropped or out of order never matches).
const PERIOD: usize = 1_048_573;

/// One period of pseudo-random bytes (splitmix64), which PostgreSQL cannot compress either.
fn period() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let mut state: u64 = 0x5eed;
        let mut bytes = Vec::with_capacity(PERIOD + 8);
        while bytes.len() < PERIOD {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        bytes.truncate(PERIOD);
        bytes
    })
}

/// The attachment's bytes from `offset` on, as many as `out` holds.
fn fill(offset: u64, out: &mut [u8]) {
    let period = period();
    let mut at = usize::try_from(offset % PERIOD as u64).expect("under the period");
    let mut done = 0;
    while done < out.len() {
        let take = (PERIOD - at).min(out.len() - done);
        out[done..done + take].copy_from_slice(&period[at..at + take]);
        done += take;
        at = 0;
    }
}

/// Uploads `size` bytes of the pattern to task `id` as one `file` part with a
/// `Content-Length`, written a piece at a time; the response.
fn upload_pattern(addr: SocketAddr, id: u64, size: u64) -> Response {
    let preamble = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    );
    let epilogue = format!("\r\n--{BOUNDARY}--\r\n");
    let length = preamble.len() as u64 + size + epilogue.len() as u64;
    let content_type = format!("Content-Type: {}", form_type());
    let content_length = format!("Content-Length: {length}");
    let target = format!("/tasks/{id}/attachment");
    let head = request_head(addr, "POST", &target, &[&content_type, &content_length]);
    let mut stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set read timeout");
    // A refusal can come before the body is sent: stop writing and read it.
    let _ = (|| -> std::io::Result<()> {
        stream.write_all(&head)?;
        stream.write_all(preamble.as_bytes())?;
        let mut piece = vec![0u8; PIECE];
        let mut sent = 0;
        while sent < size {
            let take = usize::try_from((size - sent).min(PIECE as u64)).expect("a piece");
            fill(sent, &mut piece[..take]);
            stream.write_all(&piece[..take])?;
            sent += take as u64;
        }
        stream.write_all(epilogue.as_bytes())
    })();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
        .unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(&raw)))
}

/// GETs `target` with these extra header lines and checks the body against the pattern from
/// `offset` as it streams in: the response's head (its `body` holds whatever came with it) and
/// how many body bytes arrived, every one of them checked.
fn download_checked(
    addr: SocketAddr,
    target: &str,
    lines: &[&str],
    offset: u64,
) -> (Response, u64) {
    let mut stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set read timeout");
    stream
        .write_all(&request_head(addr, "GET", target, lines))
        .expect("send the request");
    let mut buffer = vec![0u8; PIECE];
    let mut expected = vec![0u8; PIECE];
    let mut received: Vec<u8> = Vec::new();
    let head_end = loop {
        let read = stream.read(&mut buffer).expect("read the head");
        assert!(read > 0, "closed before the head ended: {received:?}");
        received.extend_from_slice(&buffer[..read]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = parse_response(&received[..head_end]).expect("a parseable head");
    let mut checked = 0u64;
    let mut check = |bytes: &[u8]| {
        for piece in bytes.chunks(PIECE) {
            fill(offset + checked, &mut expected[..piece.len()]);
            if piece != &expected[..piece.len()] {
                let at = (0..piece.len())
                    .find(|&i| piece[i] != expected[i])
                    .unwrap_or(0);
                panic!(
                    "byte {} of the download differs",
                    offset + checked + at as u64
                );
            }
            checked += piece.len() as u64;
        }
    };
    if head.status / 100 == 2 {
        check(&received[head_end..]);
        loop {
            match stream.read(&mut buffer).expect("read the body") {
                0 => break,
                read => check(&buffer[..read]),
            }
        }
    }
    (head, checked)
}

/// The taskd to measure and the attachment's size: the release binary named by
/// `TASKD_BIG_BIN` with 256 MiB, else the `taskd` built with this test with 64 MiB. The debug
/// build receives and digests a few MiB per second on this project's 2-core CI machine, so
/// 256 MiB through it would take minutes.
fn server_and_size() -> (String, u64) {
    match std::env::var("TASKD_BIG_BIN") {
        Ok(program) if !program.is_empty() => (program, CONTRACT_SIZE),
        _ => (env!("CARGO_BIN_EXE_taskd").to_owned(), DEBUG_SIZE),
    }
}

/// The process's peak resident memory (`VmHWM`) in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read its status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmHWM in kB")
}

/// Rows of taskd's chunk table fetched so far through its index, and read by sequential scans,
/// once no backend of `database` but this query's own is left (see the module's doc).
fn chunk_reads(cluster: &Cluster, database: &str) -> (u64, u64) {
    let others = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' \
         AND pid <> pg_backend_pid()"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.psql(database, &others) != "0" {
        assert!(Instant::now() < deadline, "taskd's connections did not end");
        thread::sleep(Duration::from_millis(20));
    }
    let version: u32 = cluster
        .psql(database, "SHOW server_version_num")
        .parse()
        .expect("a version number");
    if version < 150_000 {
        thread::sleep(Duration::from_secs(1));
    }
    let row = cluster.psql(
        database,
        "SELECT idx_tup_fetch, seq_tup_read FROM pg_stat_user_tables \
         WHERE schemaname = 'taskd' AND relname = 'attachment_chunks'",
    );
    let (fetched, scanned) = row.split_once('|').expect("two counts");
    (
        fetched.parse().expect("a count"),
        scanned.parse().expect("a count"),
    )
}

/// [`chunk_reads`] once reads past `before` show: a backend's counts reach the statistics as it
/// exits, which can be just after it has left `pg_stat_activity`. Gives up after 5 s (a server
/// that read nothing then fails the caller's assertion), and reads once more after the first
/// change, so counts still on their way are in.
fn chunk_reads_since(cluster: &Cluster, database: &str, before: u64) -> (u64, u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while chunk_reads(cluster, database).0 == before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(300));
    chunk_reads(cluster, database)
}

/// While the upload's chunks are being copied in (seen in `pg_stat_activity`), PATCHes task 1
/// on `addr`: the PATCH's status, and whether the copy was still running once it was answered
/// (`None`: no copy was seen before `uploaded` was set).
fn patch_during_the_copy(
    cluster: &'static Cluster,
    database: String,
    addr: SocketAddr,
    uploaded: Arc<AtomicBool>,
) -> JoinHandle<Option<(u16, bool)>> {
    let copying = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' \
         AND state = 'active' AND query LIKE 'COPY taskd.attachment_chunks%'"
    );
    thread::spawn(move || {
        while cluster.psql(&database, &copying) == "0" {
            if uploaded.load(Ordering::SeqCst) {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let patched = patch_json(addr, "/tasks/1", r#"{"title":"renamed mid-upload"}"#);
        Some((patched.status, cluster.psql(&database, &copying) != "0"))
    })
}

#[test]
fn a_large_attachment_round_trips_under_32_mib_and_a_1_mib_range_reads_only_its_chunks() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let (program, size) = server_and_size();
    let limit = size.to_string();
    let args = [
        "--database-url",
        url.as_str(),
        "--max-upload-bytes",
        limit.as_str(),
    ];
    let start = || Taskd::start_program(&program, &args, &[]);
    let target = "/tasks/1/attachment";

    // The upload, in an instance of its own.
    let server = start();
    assert_eq!(create_task(server.addr(), "large"), 1);
    let done = Arc::new(AtomicBool::new(false));
    let patch = patch_during_the_copy(cluster, database.clone(), server.addr(), done.clone());
    let (uploaded, took) = timed(|| upload_pattern(server.addr(), 1, size));
    done.store(true, Ordering::SeqCst);
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    assert_eq!(uploaded.json()["attachment"]["size"], size);
    let upload_peak = peak_rss_kib(server.pid());
    eprintln!("upload: {took:?}, VmHWM {upload_peak} KiB");
    assert!(
        upload_peak < RSS_CEILING_KIB,
        "receiving {size} bytes took {upload_peak} KiB of resident memory"
    );
    // The task's row is locked only once the bytes are in: a change to it meanwhile is
    // answered at once, not after the copy.
    let patched = patch.join().expect("the PATCH thread");
    assert_eq!(
        patched,
        Some((200, true)),
        "(PATCH status, copy still running)"
    );
    server.stop();
    let (before, scanned_before) = chunk_reads(cluster, &database);

    // The whole download: every byte, every chunk read once.
    let server = start();
    let ((whole, length), took) = timed(|| download_checked(server.addr(), target, &[], 0));
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.header("Content-Length"),
        Some(size.to_string().as_str())
    );
    assert_eq!(length, size, "the download ended early");
    let download_peak = peak_rss_kib(server.pid());
    eprintln!("download: {took:?}, VmHWM {download_peak} KiB");
    assert!(
        download_peak < RSS_CEILING_KIB,
        "sending {size} bytes took {download_peak} KiB of resident memory"
    );
    server.stop();
    let chunk_size: u64 = cluster
        .psql(&database, "SELECT chunk_size FROM taskd.attachments")
        .parse()
        .expect("one version's chunk size");
    let (after_whole, _) = chunk_reads_since(cluster, &database, before);
    let chunks = size.div_ceil(chunk_size);
    assert_eq!(
        after_whole - before,
        chunks,
        "chunks read by the whole download"
    );

    // A 1 MiB range starting mid-chunk: the chunks it overlaps, one more than 1 MiB's worth
    // when the chunk size divides 1 MiB, and nothing else.
    let first = 3 * chunk_size + chunk_size / 2;
    let last = first + RANGE - 1;
    let overlapped = last / chunk_size - first / chunk_size + 1;
    assert!(overlapped <= RANGE.div_ceil(chunk_size) + 1);
    let server = start();
    let range = format!("Range: bytes={first}-{last}");
    let (part, length) = download_checked(server.addr(), target, &[&range], first);
    assert_eq!(part.status, 206);
    let content_range = format!("bytes {first}-{last}/{size}");
    assert_eq!(part.header("Content-Range"), Some(content_range.as_str()));
    assert_eq!(length, RANGE);
    server.stop();
    let (after_range, scanned_after) = chunk_reads_since(cluster, &database, after_whole);
    assert_eq!(
        after_range - after_whole,
        overlapped,
        "chunks read by the range"
    );
    assert_eq!(
        scanned_after, scanned_before,
        "a sequential scan of the chunks"
    );
    // What the counts were compared with: every chunk is there, each of the chunk size.
    let stored = cluster.psql(
        &database,
        "SELECT count(*), max(length(bytes)) FROM taskd.attachment_chunks",
    );
    assert_eq!(stored, format!("{chunks}|{chunk_size}"));
}
