//! The PostgreSQL test support itself (tests/pg_support): a cluster is removed when its test
//! process ends however it ends, databases come from the template, and the fault proxy
//! forwards, refuses and freezes.

use crate::common::pg_support;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use pg_support::{shared_cluster, Cluster, FaultProxy, ProxyMode};

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    done()
}

fn refuses(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err_and(|e| e.kind() == ErrorKind::ConnectionRefused)
}

#[test]
fn a_dropped_cluster_is_stopped_and_removed() {
    let Some(cluster) = Cluster::private() else {
        return;
    };
    let (dir, port) = (cluster.dir().to_path_buf(), cluster.port);
    assert_eq!(cluster.psql("postgres", "SELECT 1"), "1");
    drop(cluster);
    assert!(!dir.exists(), "{} removed", dir.display());
    assert!(refuses(port), "nothing listens on {port} any more");
}

/// Run only as the child of the next test: starts a cluster, says where, and waits to be killed.
#[test]
#[ignore = "run by the_watchdog_removes_the_cluster_of_a_killed_test_process"]
fn child_holding_a_cluster() {
    let cluster = Cluster::private().expect("not skipped in the child");
    println!("CLUSTER {} {}", cluster.port, cluster.dir().display());
    thread::sleep(Duration::from_secs(120));
}

#[test]
fn the_watchdog_removes_the_cluster_of_a_killed_test_process() {
    let Some(_) = shared_cluster() else { return };
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--ignored",
            "--exact",
            "pg_support_self::child_holding_a_cluster",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    // The harness may print "test pg_support_self::child_holding_a_cluster ... " on the same line.
    let line = lines
        .find_map(|line| Some(line.ok()?.split_once("CLUSTER ")?.1.to_owned()))
        .expect("the child's cluster");
    let mut words = line.split(' ');
    let port: u16 = words.next().and_then(|p| p.parse().ok()).expect("a port");
    let dir = PathBuf::from(words.next().expect("a directory"));
    assert!(dir.exists() && !refuses(port), "the child's cluster runs");
    child.kill().expect("SIGKILL the child"); // no Drop, no atexit: only the watchdog is left
    let _ = child.wait();
    assert!(
        wait_until(Duration::from_secs(20), || !dir.exists() && refuses(port)),
        "the watchdog stopped and removed {}",
        dir.display()
    );
}

#[test]
fn each_database_is_a_fresh_copy_of_the_template() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let first = cluster.create_database();
    cluster.psql(&first, "CREATE TABLE only_here (x int)");
    let second = cluster.create_database();
    assert_ne!(first, second);
    assert_eq!(
        cluster.psql(
            &second,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'"
        ),
        "0"
    );
    assert_eq!(cluster.psql(&second, "SHOW server_encoding"), "UTF8");
}

/// An echo server: what the proxy forwards comes back.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    if stream.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

fn round_trip(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(message)?;
    let mut answer = vec![0u8; message.len()];
    stream.read_exact(&mut answer)?;
    Ok(answer)
}

#[test]
fn the_proxy_forwards_freezes_and_refuses() {
    let proxy = FaultProxy::start(echo_server());
    let mut stream = TcpStream::connect(proxy.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    assert_eq!(round_trip(&mut stream, b"one").expect("forwarded"), b"one");

    // Frozen: the connection stays open, the bytes go nowhere, nothing is closed.
    proxy.set_mode(ProxyMode::Freeze);
    let error = round_trip(&mut stream, b"two").unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{error:?}"
    );
    // Thawed: the held bytes arrive, in order.
    proxy.set_mode(ProxyMode::Forward);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut late = [0u8; 3];
    stream
        .read_exact(&mut late)
        .expect("the frozen bytes after the thaw");
    assert_eq!(&late, b"two");

    // Refusing: open connections are cut and new ones refused.
    proxy.set_mode(ProxyMode::Refuse);
    assert!(wait_until(Duration::from_secs(2), || refuses(proxy.port())));
    assert!(
        round_trip(&mut stream, b"three").is_err(),
        "the open connection was cut"
    );
    proxy.set_mode(ProxyMode::Forward);
    assert!(wait_until(Duration::from_secs(2), || TcpStream::connect(
        proxy.addr()
    )
    .is_ok()));
    let mut again = TcpStream::connect(proxy.addr()).expect("connect again");
    assert_eq!(
        round_trip(&mut again, b"four").expect("forwarded again"),
        b"four"
    );
}
