//! Slow uploaders on PostgreSQL (CONTRACT §14 attachments row, §13's `--io-timeout` row),
//! against the real `taskd` binary on the throwaway cluster of `tests/pg_support`: sixteen
//! clients sending their uploads at about twice §13's minimum rate (1 KiB per `--io-timeout`
//! window) hold no database connection and no transaction while they send, so with a pool of
//! four a seventeenth client creates, reads, uploads and downloads at once, and the sixteen
//! uploads then complete intact. Half of them send a `Content-Length` (spooled in memory), half
//! the chunked coding (no bound known: spooled to a file). And a spool file is unlinked from
//! the start, so an instance killed mid-upload leaves none behind.
#![cfg(feature = "postgres")]

use crate::binary;
use crate::common;
use binary::Taskd;
use common::pg_support::shared_cluster;
use common::*;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The slow clients.
const SLOW: usize = 16;
/// Each slow client's file, and the pace it is sent at: 256 bytes every 250 ms is 2 KiB per
/// 2 s window, twice the minimum, so none is cut off; the whole body takes about 3.5 s.
const SLOW_FILE: usize = 3000;
const PIECE: usize = 256;
const PAUSE: Duration = Duration::from_millis(250);
/// The slowest answer the seventeenth client accepts, for each of its requests.
const PROMPT: Duration = Duration::from_millis(1000);

/// Slow client `n`'s file.
fn slow_file(n: usize) -> Vec<u8> {
    (0..SLOW_FILE)
        .map(|i| ((i * 7 + n * 13) % 251) as u8)
        .collect()
}

/// An upload being sent slowly on a thread of its own: its response, and when its last byte
/// was sent.
struct SlowUpload(JoinHandle<(Response, Instant)>);

impl SlowUpload {
    /// Sends the head at once, then the body a [`PIECE`] every [`PAUSE`]; `chunked` frames each
    /// piece as a chunk instead of declaring a `Content-Length`.
    fn start(addr: SocketAddr, id: u64, n: usize, chunked: bool) -> SlowUpload {
        let file = slow_file(n);
        let body = multipart_body(&[Part::file("slow.bin", Some("image/png"), &file)]);
        let content_type = format!("Content-Type: {}", form_type());
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {}", body.len())
        };
        let target = format!("/tasks/{id}/attachment");
        let head = request_head(addr, "POST", &target, &[&content_type, &framing]);
        SlowUpload(thread::spawn(move || {
            let mut stream = connect(addr);
            stream
                .set_read_timeout(Some(Duration::from_secs(15)))
                .expect("set read timeout");
            stream.write_all(&head).expect("send the head");
            for piece in body.chunks(PIECE) {
                thread::sleep(PAUSE);
                if chunked {
                    let size = format!("{:x}\r\n", piece.len());
                    let framed = [size.as_bytes(), piece, b"\r\n"].concat();
                    stream.write_all(&framed).expect("send a chunk");
                } else {
                    stream.write_all(piece).expect("send a piece");
                }
            }
            if chunked {
                stream.write_all(b"0\r\n\r\n").expect("send the last chunk");
            }
            let sent = Instant::now();
            let mut raw = Vec::new();
            let _ = stream.read_to_end(&mut raw);
            let response = parse_response(&raw)
                .unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(&raw)));
            (response, sent)
        }))
    }

    fn finish(self) -> (Response, Instant) {
        self.0.join().expect("the slow client")
    }
}

/// Runs one of the seventeenth client's requests and asserts it was answered promptly.
fn prompt<T>(what: &str, request: impl FnOnce() -> T) -> T {
    let (result, took) = timed(request);
    assert!(
        took < PROMPT,
        "{what} took {took:?} while the slow uploads ran"
    );
    result
}

#[test]
fn sixteen_slow_uploads_hold_no_connection_and_a_seventeenth_client_is_served_at_once() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let args = [
        "--database-url",
        url.as_str(),
        "--database-pool",
        "4",
        "--io-timeout",
        "2",
    ];
    let server = Taskd::start(&args, &[]);
    let addr = server.addr();
    let ids: Vec<u64> = (0..SLOW)
        .map(|n| create_task(addr, &format!("slow {n}")))
        .collect();
    let uploads: Vec<SlowUpload> = ids
        .iter()
        .enumerate()
        .map(|(n, &id)| SlowUpload::start(addr, id, n, n % 2 == 1))
        .collect();
    // Every slow client has sent its head and part of its body: its upload is being received.
    thread::sleep(Duration::from_millis(1000));

    let id = prompt("a create", || create_task(addr, "the seventeenth"));
    let read = prompt("a read", || get(addr, &format!("/tasks/{id}")));
    assert_eq!(read.status, 200);
    // Over the spool's memory bound: this one goes through a temporary file.
    let content: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let uploaded = prompt("an upload", || {
        upload(addr, id, "quick.bin", None, &content)
    });
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    let downloaded = prompt("a download", || {
        get(addr, &format!("/tasks/{id}/attachment"))
    });
    assert_eq!(downloaded.status, 200);
    assert!(downloaded.body == content, "the quick download differs");
    let quick_done = Instant::now();
    // Nor does any slow upload keep a transaction open, or a statement running, meanwhile.
    let busy = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' \
         AND pid <> pg_backend_pid() AND state <> 'idle'"
    );
    assert_eq!(cluster.psql(&database, &busy), "0", "busy connections");

    for (n, upload) in uploads.into_iter().enumerate() {
        let (response, last_byte) = upload.finish();
        assert_eq!(response.status, 200, "slow upload {n}: {}", response.text());
        assert!(
            last_byte > quick_done,
            "slow upload {n} was over before the seventeenth client was done"
        );
        let stored = get(addr, &format!("/tasks/{}/attachment", ids[n]));
        assert_eq!(stored.status, 200);
        assert!(
            stored.body == slow_file(n),
            "slow upload {n} stored other bytes"
        );
    }
}

/// The temporary file an upload is spooled to, as taskd `pid` holds it open (its
/// `/proc/PID/fd` link), once it has one.
fn spool_file(pid: u32) -> Option<String> {
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    descriptors
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .find(|target| target.contains("taskd-upload-"))
}

#[test]
fn an_instance_killed_mid_upload_leaves_no_spool_file_behind() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = cluster.url(&cluster.create_database());
    let temp = DataDir::fresh("spool");
    std::fs::create_dir_all(temp.path()).expect("create the temporary directory");
    let temp_dir = temp.path().to_str().expect("a UTF-8 path");
    let server = Taskd::start(&["--database-url", &url], &[("TMPDIR", temp_dir)]);
    let addr = server.addr();
    let id = create_task(addr, "killed mid-upload");
    // Chunked, so no bound is known: the part is spooled to a file.
    let content_type = format!("Content-Type: {}", form_type());
    let target = format!("/tasks/{id}/attachment");
    let lines = [content_type.as_str(), "Transfer-Encoding: chunked"];
    let body = multipart_body(&[Part::file("big.png", Some("image/png"), &[7; 64 * 1024])]);
    let first = &body[..body.len() - 1024];
    let mut stream = connect(addr);
    stream
        .write_all(&request_head(addr, "POST", &target, &lines))
        .expect("send the head");
    let chunk = [format!("{:x}\r\n", first.len()).as_bytes(), first, b"\r\n"].concat();
    stream.write_all(&chunk).expect("send most of the body");
    let deadline = Instant::now() + Duration::from_secs(5);
    let spool = loop {
        if let Some(spool) = spool_file(server.pid()) {
            break spool;
        }
        assert!(Instant::now() < deadline, "no spool file was opened");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(spool.ends_with(" (deleted)"), "{spool}");
    let left = || std::fs::read_dir(temp.path()).expect("list it").count();
    assert_eq!(left(), 0, "files in the temporary directory mid-upload");
    drop(server); // SIGKILL
    assert_eq!(left(), 0, "files left after kill -9");
}
