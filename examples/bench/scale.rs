//! The scale scenario: GET and create with 10 tasks and with `--scale-tasks` (1,000,000 by
//! default) in the store, memory per task, and the cost of a deep page —
//! `GET /tasks?skip=N-1000&limit=100` — through the order-statistic index and through the walk
//! that a filter still needs (the only path before the index existed).

use std::io;
use std::time::{Duration, Instant};

use taskd::test_hooks::{memory, Guard, ListQuery};
use taskd::test_hooks::{NewTask, Priority};

use crate::load::{self, Load};
use crate::report::{mib, Row, Table};
use crate::scripts::{populate, Create, Get};
use crate::versus::get_requests;
use crate::Bench;

const TASKD: &str = "taskd";

/// Runs the scenario.
///
/// # Errors
/// A server that fails to start or a connection that fails.
pub fn run(bench: &Bench<'_>, table: &mut Table) -> io::Result<()> {
    let mut rates = Vec::new();
    for count in [10, bench.options.scale_tasks] {
        let server = bench.taskd(&[], true)?;
        std::thread::sleep(Duration::from_millis(200));
        let (idle, _) = server.memory_kib()?;
        let started = Instant::now();
        let ids = populate(server.addr, "bench", "seed", count)?;
        let filled = started.elapsed();
        let (rss, _) = server.memory_kib()?;
        let per_task = (rss.saturating_sub(idle) * 1024) as f64 / count as f64;
        table.push(Row::note(
            &format!("scale: populate {count}"),
            TASKD,
            format!(
                "{:.0} creates/s pipelined; RSS {} → {}, {per_task:.0} B/task",
                count as f64 / filled.as_secs_f64(),
                mib(idle),
                mib(rss)
            ),
        ));
        let get = get_requests(&ids);
        let stats = load::run(bench.load(&server), |i| Get::new(get.clone(), i))?;
        table.push(Row::from_stats(
            &format!("scale: GET @{count}"),
            TASKD,
            &stats,
            stats.cpu_note(),
        ));
        // Pages before the creates below add tasks, so `skip` is near the end of `count`.
        if count >= 1000 {
            deep_page(bench.load(&server), count, table)?;
        }
        let create = load::run(bench.load(&server), |i| {
            Create::new("bench", &format!("sc{i}"))
        })?;
        let name = format!("scale: create @{count}");
        table.push(Row::from_stats(&name, TASKD, &create, create.cpu_note()));
        rates.push((stats.rate(), create.rate()));
    }
    if let [(get_small, create_small), (get_large, create_large)] = rates[..] {
        let note = format!(
            "GET {:.2}×, create {:.2}× of the 10-task figures",
            get_large / get_small,
            create_large / create_small
        );
        table.push(Row::note("scale: ratio", TASKD, note));
    }
    store_only(bench.options.scale_tasks, table);
    Ok(())
}

/// `GET /tasks?skip=count-1000&limit=L` from one connection, indexed and walked
/// (`done=false` matches every task, so it returns the same page through the walk). With
/// `limit=100` the page is about 8 KB, which the tiny_http server wrote in two `send`s (Nagle's
/// algorithm and the client's delayed ACK added about 40 ms to each); `limit=5` fits in one.
fn deep_page(load: Load, count: u64, table: &mut Table) -> io::Result<()> {
    let skip = count - 1000;
    let single = Load {
        connections: 1,
        threads: 1,
        duration: load.duration / 2,
        ..load
    };
    for limit in [100, 5] {
        for (label, query) in [("indexed", ""), ("walk", "done=false&")] {
            let target = format!("/tasks?{query}skip={skip}&limit={limit}");
            let requests = Get::requests("bench", [target.clone()].into_iter());
            let stats = load::run(single, |i| Get::new(requests.clone(), i))?;
            let name = format!("scale: GET {target}");
            table.push(Row::from_stats(&name, TASKD, &stats, label.to_owned()));
        }
    }
    Ok(())
}

/// The store alone, in this process: `list` of a deep page with and without the index, so the
/// figure is the store's and nothing else's. Every tenth task is deleted first, so the index
/// has holes to skip.
fn store_only(count: u64, table: &mut Table) {
    let store = memory::open();
    for n in 0..count {
        let new = NewTask {
            title: format!("task {n}"),
            priority: Priority::Medium,
            done: false,
        };
        let id = store.create(new).expect("titles are unique").id;
        if id.is_multiple_of(10) {
            store.delete(id, &Guard::none()).expect("just created");
        }
    }
    let live = count - count / 10;
    let query = ListQuery {
        done: None,
        priority: None,
        skip: live.saturating_sub(1000),
        limit: 100,
    };
    let walk = ListQuery {
        done: Some(false),
        ..query
    };
    assert_eq!(
        store.list(&query).expect("in memory").tasks,
        store.list(&walk).expect("in memory").tasks,
        "the index and the walk agree"
    );
    for (label, query, rounds) in [("indexed", query, 2000), ("walk (done=false)", walk, 20)] {
        let started = Instant::now();
        for _ in 0..rounds {
            let page = store.list(std::hint::black_box(&query)).expect("in memory");
            std::hint::black_box(page);
        }
        let each = started.elapsed() / rounds;
        let note = format!(
            "{:.1} us per list(skip={}, limit=100) over {live} tasks, in-process",
            each.as_secs_f64() * 1e6,
            query.skip
        );
        let name = format!("scale: Storage::list {label}");
        table.push(Row::note(&name, "in-process", note));
    }
}
