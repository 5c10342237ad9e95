//! The `postgres` scenario: issue 17's figures, side by side in one run on one throwaway
//! PostgreSQL cluster (the test support's, `tests/pg_support/cluster.rs`: initdb as `postgres`
//! when root, 127.0.0.1 at a free port, removed at the end).
//!
//! - The comparator of `shared/bench/postgres` (`--comparator DIR`): the database alone running
//!   `get.sql` and `create.sql` with `pgbench -M prepared -c 16 -j 2`, next to taskd on the same
//!   cluster (`--database-url`, default pool 16) driven by `wrk -t2 -c32` (`drivers.rs`): a GET
//!   of a random one of 10,000 tasks, and creates with unique titles. Goal: ≥ 0.5× each.
//! - Without a goal: two instances vs one (GET and create), a list page
//!   (`GET /tasks?limit=10`) at 100,000 tasks vs at 10, plus the deepest page at 100,000, and
//!   a 256 MiB download from PostgreSQL vs from `--data-dir`.
//!
//! Both seed their tasks the same way, with one `INSERT … SELECT generate_series` (schema.sql
//! for the comparator, [`seed`] for taskd's schema), and nothing is pinned (see `pg_race.rs`).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::client::Conn;
use crate::drivers::{Http, Work};
use crate::oneshot::{download, upload};
use crate::pg_cluster::Cluster;
use crate::pg_race::{push, Drive, Lane, Racer};
use crate::pgbench::Pgbench;
use crate::process::ServerProcess;
use crate::report::{median, mib, spread, Row, Table};
use crate::Bench;

/// Tasks behind the random GET, as in `get.sql`.
const GET_TASKS: u64 = 10_000;
/// Tasks of the large list.
const LIST_TASKS: u64 = 100_000;
const NAME: &str = "postgres";

/// Runs the scenario.
///
/// # Errors
/// No PostgreSQL, no pgbench, a server that does not start, a load that fails.
pub fn run(bench: &Bench<'_>, table: &mut Table) -> io::Result<()> {
    let comparator = comparator_dir(bench)?;
    let pgbench = Pgbench::find()
        .ok_or_else(|| io::Error::other("pgbench not found (install PostgreSQL's client)"))?;
    let cluster = start_cluster()?;
    let scratch = std::env::temp_dir().join(format!("taskd-bench-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    // The test support's psql panics with psql's message on a failed statement.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        figures(bench, table, &cluster, &pgbench, &comparator, &scratch)
    }));
    let _ = std::fs::remove_dir_all(&scratch);
    result.unwrap_or_else(|_| Err(io::Error::other("a statement failed (see above)")))
}

fn figures(
    bench: &Bench<'_>,
    table: &mut Table,
    cluster: &Cluster,
    pgbench: &Pgbench,
    comparator: &Path,
    scratch: &Path,
) -> io::Result<()> {
    let load = bench.options.load;
    let http = Http::new(scratch, load.threads, load.connections)?;
    let racer = Racer {
        http: &http,
        pgbench,
        port: cluster.port,
        password: &cluster.password,
        seconds: (load.duration.as_secs_f64().ceil() as u64).max(1),
        warmup: load.warmup.as_secs_f64().ceil() as u64,
        rounds: bench.options.rounds,
    };
    let version = cluster.psql("postgres", "SHOW server_version");
    let settings = cluster.psql(
        "postgres",
        "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings \
         WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')",
    );
    table.push(Row::note(
        NAME,
        "",
        format!(
            "PostgreSQL {version} (the test cluster: {settings}), unpinned; HTTP load: {}; \
             {}; {} s per round",
            http.name(),
            pgbench.command_line(Path::new("SCRIPT"), racer.seconds),
            racer.seconds
        ),
    ));

    // The comparator: shared/bench/postgres, as its README runs it.
    cluster.psql("postgres", "CREATE DATABASE bench");
    cluster.psql(
        "bench",
        &std::fs::read_to_string(comparator.join("schema.sql"))?,
    );
    cluster.psql("bench", "ANALYZE");
    let pg_lane = |label: &str, script: &str| Lane {
        label: label.to_owned(),
        drive: Drive::Pgbench {
            script: comparator.join(script),
            database: "bench".to_owned(),
        },
    };

    // taskd on a database of its own with 10,000 tasks.
    let tasks_db = cluster.create_database();
    let url = cluster.url(&tasks_db);
    let first = taskd_on(bench, &url, &[])?;
    seed(cluster, &tasks_db, GET_TASKS)?;
    check_task(first.addr, GET_TASKS)?;
    let http_lane = |label: &str, servers: &[&ServerProcess], work: Work| Lane {
        label: label.to_owned(),
        drive: Drive::Http {
            addrs: servers.iter().map(|server| server.addr).collect(),
            pids: servers.iter().filter_map(|server| server.pid()).collect(),
            work,
        },
    };
    let run = std::process::id();
    let get = http_lane("taskd", &[&first], Work::RandomGet(GET_TASKS));
    let create = http_lane("taskd", &[&first], Work::Create(format!("c{run}")));
    let ceiling = crate::pg_ceiling::start(&url)?;
    let lanes = [
        get,
        pg_lane("PostgreSQL alone (get.sql)", "get.sql"),
        http_lane(
            "ceiling (examples/pg_ceiling.rs)",
            &[&ceiling],
            Work::RandomGet(GET_TASKS),
        ),
    ];
    let outcomes = racer.race(&lanes)?;
    push("pg: GET /tasks/{random id}", &outcomes, Some(0.5), table);
    if let [taskd, alone, ceiling] = &outcomes[..] {
        table.push(Row::note(
            "pg: GET, the design's ceiling",
            "",
            format!(
                "ceiling / PostgreSQL alone = {:.2}×; taskd / ceiling = {:.2}×",
                ceiling.rate() / alone.rate(),
                taskd.rate() / ceiling.rate()
            ),
        ));
    }
    drop(ceiling);
    let lanes = [
        create,
        pg_lane("PostgreSQL alone (create.sql)", "create.sql"),
    ];
    push("pg: POST /tasks", &racer.race(&lanes)?, Some(0.5), table);

    // Two instances on the same database, the load split between them.
    let second = taskd_on(bench, &url, &[])?;
    let lanes = [
        http_lane(
            "2 instances",
            &[&first, &second],
            Work::RandomGet(GET_TASKS),
        ),
        http_lane("1 instance", &[&first], Work::RandomGet(GET_TASKS)),
    ];
    push(
        "pg: GET, 2 instances vs 1",
        &racer.race(&lanes)?,
        None,
        table,
    );
    let lanes = [
        http_lane(
            "2 instances",
            &[&first, &second],
            Work::Create(format!("d{run}")),
        ),
        http_lane("1 instance", &[&first], Work::Create(format!("e{run}"))),
    ];
    push(
        "pg: create, 2 instances vs 1",
        &racer.race(&lanes)?,
        None,
        table,
    );
    drop((first, second));

    // A list page with 100,000 tasks vs with 10.
    let large_db = cluster.create_database();
    let large = taskd_on(bench, &cluster.url(&large_db), &[])?;
    seed(cluster, &large_db, LIST_TASKS)?;
    let small_db = cluster.create_database();
    let small = taskd_on(bench, &cluster.url(&small_db), &[])?;
    seed(cluster, &small_db, 10)?;
    let page = Work::Fixed("/tasks?limit=10".to_owned());
    let deepest = format!("/tasks?skip={}&limit=10", LIST_TASKS - 10);
    let lanes = [
        http_lane("at 100,000 tasks", &[&large], page.clone()),
        http_lane("at 10 tasks", &[&small], page),
    ];
    push("pg: GET /tasks?limit=10", &racer.race(&lanes)?, None, table);
    let lanes = [
        http_lane("skip=99990, 100,000 tasks", &[&large], Work::Fixed(deepest)),
        http_lane(
            "first page, 10 tasks",
            &[&small],
            Work::Fixed("/tasks?limit=10".into()),
        ),
    ];
    push(
        "pg: deepest page vs first",
        &racer.race(&lanes)?,
        None,
        table,
    );
    drop((large, small));

    big_download(bench, cluster, scratch, table)
}

/// A `--big-mib` attachment downloaded from PostgreSQL and from `--data-dir`, alternating.
fn big_download(
    bench: &Bench<'_>,
    cluster: &Cluster,
    scratch: &Path,
    table: &mut Table,
) -> io::Result<()> {
    let size = bench.options.big_bytes;
    let limit = [
        "--max-upload-bytes".to_owned(),
        (size + (1 << 20)).to_string(),
    ];
    let dir = scratch.join("data");
    let data_dir = [
        limit.to_vec(),
        vec!["--data-dir".into(), dir.display().to_string()],
    ]
    .concat();
    let upload_name = format!("pg: {} MiB upload", size >> 20);
    let mut on_disk = bench.taskd(&data_dir, false)?;
    let (disk_id, _) = upload_once(&on_disk, size, "--data-dir", &upload_name, table)?;
    let database = cluster.create_database();
    let mut on_pg = taskd_on(bench, &cluster.url(&database), &limit)?;
    let (mut pg_id, status) = upload_once(&on_pg, size, "PostgreSQL", &upload_name, table)?;
    if status != 200 {
        // The upload's one transaction must fit the request's 5 s database deadline
        // (CONTRACT §14); the download is still measured, from the same file copied in by
        // `taskd import`, which has no such deadline.
        // `taskd import` refuses a data dir that a running taskd holds: stopped meanwhile.
        drop(on_disk);
        let imported = cluster.create_database();
        import(bench, &dir, &cluster.url(&imported))?;
        on_disk = bench.taskd(&data_dir, false)?;
        on_pg = taskd_on(bench, &cluster.url(&imported), &limit)?;
        pg_id = disk_id;
        let note = "the download below reads it as `taskd import` copied it from --data-dir";
        table.push(Row::note(&upload_name, "PostgreSQL", note.to_owned()));
    }
    let servers = [("PostgreSQL", on_pg), ("--data-dir", on_disk)];
    let ids = [pg_id, disk_id];
    let mut rates = vec![Vec::new(); servers.len()];
    for round in 0..bench.options.rounds {
        for (index, (label, server)) in servers.iter().enumerate() {
            let mut conn = Conn::connect(server.addr)?;
            let (took, ok) = download(&mut conn, ids[index], size)?;
            if !ok {
                return Err(io::Error::other(format!("{label}: wrong download")));
            }
            let gbps = size as f64 / took.as_secs_f64() / 1e9;
            println!("  round {}: {label} {gbps:.2} GB/s", round + 1);
            rates[index].push(gbps);
        }
    }
    let name = format!("pg: {} MiB download", size >> 20);
    for ((label, server), rates) in servers.iter().zip(&rates) {
        let (_, peak) = server.memory_kib()?;
        let mbps: Vec<f64> = rates.iter().map(|gbps| gbps * 1e3).collect();
        let note = format!(
            "{:.2} GB/s, median of {}, {} MB/s; peak RSS (VmHWM) {}",
            median(rates),
            rates.len(),
            spread(&mbps),
            mib(peak)
        );
        table.push(Row::note(&name, label, note));
    }
    let note = format!(
        "PostgreSQL / --data-dir = {:.2}×",
        median(&rates[0]) / median(&rates[1])
    );
    table.push(Row::note(&format!("{name}: ratio"), "", note));
    Ok(())
}

/// One upload to a new task of `server`, with its row; the task's id and the status.
fn upload_once(
    server: &ServerProcess,
    size: u64,
    label: &str,
    name: &str,
    table: &mut Table,
) -> io::Result<(u64, u16)> {
    let (idle, _) = server.memory_kib()?;
    let (took, status, id, _) = upload(server.addr, size)?;
    let note = format!(
        "status {status}, {:.2} GB/s, 1 upload; RSS {} idle",
        size as f64 / took.as_secs_f64() / 1e9,
        mib(idle)
    );
    table.push(Row::note(name, label, note));
    Ok((id, status))
}

/// `taskd import --data-dir DIR --database-url URL`.
fn import(bench: &Bench<'_>, dir: &Path, url: &str) -> io::Result<()> {
    let taskd = bench.programs.path(crate::servers::Kind::Taskd);
    let taskd = taskd.ok_or_else(|| io::Error::other("taskd was not built"))?;
    let output = std::process::Command::new(taskd)
        .arg("import")
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", url])
        .stdin(std::process::Stdio::null())
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(io::Error::other(format!("taskd import: {}", stderr.trim())));
    }
    Ok(())
}

/// taskd on `url` with the default pool, unpinned.
fn taskd_on(bench: &Bench<'_>, url: &str, extra: &[String]) -> io::Result<ServerProcess> {
    let args = [
        vec!["--database-url".to_owned(), url.to_owned()],
        extra.to_vec(),
    ]
    .concat();
    bench.taskd(&args, false)
}

/// `count` tasks `seed-1` … in taskd's schema (created by taskd's start), with the counter and
/// the counts kept as taskd keeps them, in one transaction, then `ANALYZE`.
fn seed(cluster: &Cluster, database: &str, count: u64) -> io::Result<()> {
    cluster.psql(
        database,
        &format!(
            "INSERT INTO taskd.tasks (id, title, priority, done) \
             SELECT g, convert_to('seed-' || g, 'UTF8'), 'medium', false \
             FROM generate_series(1, {count}) g; \
             UPDATE taskd.id_counter SET next_id = {count} + 1; \
             UPDATE taskd.task_counts SET tasks = {count} WHERE NOT done AND priority = 'medium'"
        ),
    );
    cluster.psql(database, "ANALYZE");
    Ok(())
}

/// `GET /tasks/{id}` answers the seeded task, so the load measures real answers.
fn check_task(addr: SocketAddr, id: u64) -> io::Result<()> {
    let mut conn = Conn::connect(addr)?;
    conn.send(format!("GET /tasks/{id} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())?;
    let (status, _) = conn.recv()?;
    let body = String::from_utf8_lossy(conn.body()).into_owned();
    if status != 200 || !body.contains(&format!("\"seed-{id}\"")) {
        return Err(io::Error::other(format!(
            "GET /tasks/{id}: {status} {body}"
        )));
    }
    Ok(())
}

/// A cluster of its own; the test support panics with its reason when it cannot start one.
fn start_cluster() -> io::Result<Cluster> {
    let started = Instant::now();
    let cluster = std::panic::catch_unwind(Cluster::private)
        .map_err(|_| io::Error::other("the PostgreSQL cluster did not start (see above)"))?
        .ok_or_else(|| io::Error::other("TASKD_SKIP_POSTGRES=1 is set"))?;
    println!(
        "  PostgreSQL cluster on 127.0.0.1:{} in {:.1} s",
        cluster.port,
        started.elapsed().as_secs_f64()
    );
    Ok(cluster)
}

/// `--comparator DIR`, or the first `shared/bench/postgres` above the repository.
fn comparator_dir(bench: &Bench<'_>) -> io::Result<PathBuf> {
    let found = match &bench.options.comparator {
        Some(dir) => Some(dir.clone()),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| dir.join("shared").join("bench").join("postgres"))
            .find(|dir| dir.join("get.sql").is_file()),
    };
    found
        .filter(|dir| dir.join("schema.sql").is_file())
        .ok_or_else(|| {
            io::Error::other(
                "shared/bench/postgres not found above the repository (--comparator DIR)",
            )
        })
}
