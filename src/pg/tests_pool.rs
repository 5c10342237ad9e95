//! The pool, the deadline and `/healthz` against a real PostgreSQL: a server restart, a frozen
//! network (the fault proxy), a busy pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::conn::{Connector, Deadline};
use super::options::ConnectOptions;
use super::pool::{Health, Pool};
use super::test_support::{shared_cluster, Cluster, FaultProxy, ProxyMode};

fn connector(url: &str) -> Arc<Connector> {
    let options = ConnectOptions::parse(url, None, "nobody").expect("a test URL parses");
    Arc::new(Connector::new(&options).expect("connector"))
}

fn select_one(pool: &Pool, deadline: Deadline) -> Result<i32, super::error::PgError> {
    let mut conn = pool.get(deadline)?;
    let rows = conn.query("SELECT 1", &[], deadline)?;
    Ok(rows[0].get(0))
}

fn proxied_url(cluster: &Cluster, proxy: &FaultProxy) -> String {
    format!(
        "postgres://postgres:{}@127.0.0.1:{}/postgres?sslmode=disable",
        cluster.password,
        proxy.port()
    )
}

fn cluster_addr(cluster: &Cluster) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], cluster.port))
}

#[test]
fn the_pool_recovers_after_an_immediate_restart() {
    let Some(cluster) = Cluster::private() else {
        return;
    };
    let pool = Pool::new(connector(&cluster.url("postgres")), 4);
    let second = || Deadline::after(Duration::from_secs(2));
    assert_eq!(select_one(&pool, second()).expect("before"), 1);
    // Restarted while the pooled connection sat idle: it is found dead and replaced, so even
    // the first request afterwards works.
    cluster.stop_immediately();
    cluster.start_again();
    assert_eq!(select_one(&pool, second()).expect("after the restart"), 1);
    assert_eq!(pool.open_connections(), 1);
    // Requests while it is down get an error within the deadline, and the pool recovers.
    cluster.stop_immediately();
    let started = Instant::now();
    let error = select_one(&pool, second()).unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered within the deadline"
    );
    cluster.start_again();
    assert_eq!(
        select_one(&pool, second()).expect("after the second restart"),
        1
    );
    assert_eq!(pool.open_connections(), 1);
}

#[test]
fn a_frozen_network_gives_an_error_within_the_deadline() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let proxy = FaultProxy::start(cluster_addr(cluster));
    let pool = Pool::new(connector(&proxied_url(cluster, &proxy)), 2);
    assert_eq!(
        select_one(&pool, Deadline::after(Duration::from_secs(5))).expect("through the proxy"),
        1
    );
    proxy.set_mode(ProxyMode::Freeze);
    for _ in 0..2 {
        // First on the pooled connection mid-conversation, then on a new connect.
        let started = Instant::now();
        let error = select_one(&pool, Deadline::after(Duration::from_millis(800))).unwrap_err();
        let took = started.elapsed();
        assert!(error.is_unavailable(), "{error:?}");
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_millis(2500),
            "{took:?}"
        );
    }
    assert_eq!(
        pool.open_connections(),
        0,
        "the timed-out connection was dropped"
    );
    proxy.set_mode(ProxyMode::Forward);
    assert_eq!(
        select_one(&pool, Deadline::after(Duration::from_secs(5))).expect("thawed"),
        1
    );
}

#[test]
fn a_refused_network_fails_fast_and_recovers() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let proxy = FaultProxy::start(cluster_addr(cluster));
    let pool = Pool::new(connector(&proxied_url(cluster, &proxy)), 2);
    assert_eq!(
        select_one(&pool, Deadline::after(Duration::from_secs(5))).expect("through the proxy"),
        1
    );
    proxy.set_mode(ProxyMode::Refuse);
    let started = Instant::now();
    let error = select_one(&pool, Deadline::after(Duration::from_secs(5))).unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a refusal is not a timeout: {:?}",
        started.elapsed()
    );
    proxy.set_mode(ProxyMode::Forward);
    let deadline = Instant::now() + Duration::from_secs(5);
    while select_one(&pool, Deadline::after(Duration::from_secs(2))).is_err() {
        assert!(Instant::now() < deadline, "the pool did not recover");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn waiting_for_a_busy_pool_ends_at_the_deadline() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let pool = Pool::new(connector(&cluster.url("postgres")), 1);
    let held = pool
        .get(Deadline::after(Duration::from_secs(5)))
        .expect("the only connection");
    let started = Instant::now();
    let error = pool
        .get(Deadline::after(Duration::from_millis(300)))
        .err()
        .expect("busy");
    assert!(
        error.is_unavailable() && error.to_string().contains("busy"),
        "{error}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300)
            && started.elapsed() < Duration::from_secs(2)
    );
    drop(held);
    assert_eq!(
        select_one(&pool, Deadline::after(Duration::from_secs(5))).expect("given back"),
        1
    );
}

#[test]
fn health_is_ok_while_the_pool_is_busy_and_503_while_the_database_is_away() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let proxy = FaultProxy::start(cluster_addr(cluster));
    let connector = connector(&proxied_url(cluster, &proxy));
    let pool = Pool::new(connector.clone(), 1);
    let health = Health::new(connector);
    // Busy: the only pooled connection is lent out, and no answer came for over a second.
    let _held = pool
        .get(Deadline::after(Duration::from_secs(5)))
        .expect("the only connection");
    thread::sleep(Duration::from_millis(1100));
    assert!(
        health.is_healthy(),
        "a busy pool does not make the instance unhealthy"
    );
    // Away: the network goes silent; the probe gives up after its second.
    thread::sleep(Duration::from_millis(1100));
    proxy.set_mode(ProxyMode::Freeze);
    let started = Instant::now();
    assert!(!health.is_healthy());
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    proxy.set_mode(ProxyMode::Forward);
    assert!(
        health.is_healthy(),
        "healthy again once the database answers"
    );
}

#[test]
fn concurrent_health_checks_share_a_failing_probe() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let proxy = FaultProxy::start(cluster_addr(cluster));
    let health = Arc::new(Health::new(connector(&proxied_url(cluster, &proxy))));
    proxy.set_mode(ProxyMode::Freeze);
    let started = Instant::now();
    let checks: Vec<_> = (0..6)
        .map(|_| {
            let health = health.clone();
            thread::spawn(move || health.is_healthy())
        })
        .collect();
    for check in checks {
        assert!(
            !check.join().expect("no panic"),
            "503 while the network is silent"
        );
    }
    // One probe of a second decides for all six, rather than six seconds in a queue.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}
