//! `--database-url` and `--database-pool` refused before any connection (CONTRACT §14, issue 17's
//! "Bad input"), through the real binary: exit 2, one line naming the flag or variable (and
//! `see taskd --help`), and the password never printed — not in the malformed text, not when
//! the URL is given twice, mistyped after a wrong flag, given without its flag, or not UTF-8.
//! No database is needed: every case is refused while parsing.
#![cfg(feature = "postgres")]

use crate::start_support;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use start_support::*;

/// A well-formed URL with the password (nothing listens on port 1: it is never reached).
fn good_url() -> String {
    format!("postgres://postgres:{SECRET_ENCODED}@127.0.0.1:1/taskd")
}

fn usage_error(args: &[&str], env: &[(&str, &str)], names: &[&str]) {
    assert_refused_at_once(&run(args, env), 2, names, SECRETS);
}

#[test]
fn a_malformed_url_names_the_flag_in_each_form() {
    let url = format!("postgres://postgres:{SECRET_ENCODED}@127.0.0.1:54x2/taskd");
    usage_error(
        &["--database-url", &url],
        NO_ENV,
        &[
            "malformed --database-url postgres://postgres:[redacted]@127.0.0.1:54x2/taskd",
            "port `54x2`",
        ],
    );
    let inline = format!("--database-url=postgres://u:{SECRET_ENCODED}@h/db?sslmode=allow");
    usage_error(&[&inline], NO_ENV, &["--database-url", "sslmode `allow`"]);
    let bad_escape = "postgres://u:Pgbad%s3cret@h/db";
    usage_error(
        &["--database-url", bad_escape],
        NO_ENV,
        &["--database-url", "the password has a `%`"],
    );
    let key_values = format!("host=127.0.0.1 password='{SECRET}' port=x");
    usage_error(
        &["--database-url", &key_values],
        NO_ENV,
        &["--database-url host=127.0.0.1 password=[redacted] port=x"],
    );
    let unclosed = format!("host=127.0.0.1 password='{SECRET}");
    usage_error(
        &["--database-url", &unclosed],
        NO_ENV,
        &["--database-url", "no closing quote"],
    );
}

#[test]
fn a_url_over_several_lines_is_named_on_one_line() {
    let text = format!("host=127.0.0.1\nport=x\tpassword='{SECRET}'");
    let shown = r"malformed --database-url host=127.0.0.1\nport=x\tpassword=[redacted]: port `x`";
    usage_error(&["--database-url", &text], NO_ENV, &[shown]);
}

#[test]
fn a_mistyped_password_keyword_hides_its_value_too() {
    let key_values = format!("host=127.0.0.1 pasword='{SECRET}'");
    let names = ["--database-url host=127.0.0.1 pasword=[redacted]: unsupported option `pasword`"];
    usage_error(&["--database-url", &key_values], NO_ENV, &names);
    let url = format!("postgres://postgres@127.0.0.1/taskd?pasword={SECRET_ENCODED}");
    let names = ["--database-url postgres://postgres@127.0.0.1/taskd?pasword=[redacted]"];
    usage_error(&["--database-url", &url], NO_ENV, &names);
}

#[test]
fn a_malformed_url_in_the_variable_names_the_variable() {
    let url = format!("postgres://postgres:{SECRET_ENCODED}@127.0.0.1:0/taskd");
    usage_error(
        &[],
        &[("TASKD_DATABASE_URL", &url)],
        &[
            "malformed TASKD_DATABASE_URL postgres://postgres:[redacted]@",
            "port `0`",
        ],
    );
}

#[test]
fn a_malformed_pool_names_the_flag_or_the_variable() {
    let url = good_url();
    for pool in ["abc", "0", "-1", ""] {
        usage_error(
            &["--database-url", &url, "--database-pool", pool],
            NO_ENV,
            &["--database-pool", "at least 1"],
        );
    }
    usage_error(
        &["--database-url", &url],
        &[("TASKD_DATABASE_POOL", "many")],
        &["TASKD_DATABASE_POOL \"many\"", "at least 1"],
    );
}

#[test]
fn url_and_data_dir_together_name_both() {
    let url = good_url();
    let dir = std::env::temp_dir().join("taskd-pgbad-never-created");
    let dir = dir.to_str().expect("a UTF-8 temp dir");
    usage_error(
        &["--database-url", &url, "--data-dir", dir],
        NO_ENV,
        &["--database-url and --data-dir cannot be used together"],
    );
    usage_error(
        &["--data-dir", dir],
        &[("TASKD_DATABASE_URL", &url)],
        &["TASKD_DATABASE_URL and --data-dir cannot be used together"],
    );
    usage_error(
        &["--database-url", &url],
        &[("TASKD_DATA_DIR", dir)],
        &["--database-url and TASKD_DATA_DIR cannot be used together"],
    );
    assert!(!std::path::Path::new(dir).exists(), "nothing was created");
}

#[test]
fn the_url_given_twice_or_after_a_wrong_flag_is_not_echoed() {
    let url = good_url();
    usage_error(
        &["--database-url", &url, "--database-url", &url],
        NO_ENV,
        &["--database-url given twice"],
    );
    // A "did you mean" repeats the value that followed the unknown flag.
    usage_error(
        &["--database-urls", &url],
        NO_ENV,
        &["unknown flag --database-urls; did you mean --database-url postgres://postgres:[redacted]@"],
    );
    usage_error(&["--db", &url], NO_ENV, &["unknown flag --db"]);
    usage_error(&[&url], NO_ENV, &["unexpected argument"]);
    let kv = format!("password='{SECRET}' host=h");
    usage_error(
        &[&kv],
        NO_ENV,
        &["unexpected argument \"password=[redacted] host=h\""],
    );
}

#[test]
fn a_url_that_is_not_utf8_is_not_echoed() {
    let bytes = |text: &str| {
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0xff);
        OsString::from_vec(bytes)
    };
    let url = bytes(&good_url());
    let flag = OsString::from("--database-url");
    let mut inline = OsString::from("--database-url=");
    inline.push(&url);
    let no_env: &[(&str, OsString)] = &[];
    for args in [vec![flag, url.clone()], vec![inline]] {
        let exited = run(&args, no_env);
        assert_refused_at_once(&exited, 2, &["valid UTF-8"], SECRETS);
    }
    let exited = run(&[] as &[&str], &[("TASKD_DATABASE_URL", url)]);
    assert_refused_at_once(&exited, 2, &["TASKD_DATABASE_URL", "UTF-8"], SECRETS);
}

#[test]
fn taskd_import_refuses_a_malformed_url_with_2_and_never_echoes_it() {
    let url = good_url();
    let exited = run(&["import", &url], NO_ENV);
    assert_refused_at_once(&exited, 2, &["taskd import: unknown argument"], SECRETS);
    let malformed = format!("postgres://u:{SECRET_ENCODED}@h:port/db");
    let dir = "/nonexistent-taskd-data-dir";
    let exited = run(
        &["import", "--data-dir", dir, "--database-url", &malformed],
        NO_ENV,
    );
    let names = ["taskd import: malformed --database-url postgres://u:[redacted]@h:port/db"];
    assert_refused_at_once(&exited, 2, &names, SECRETS);
}
