//! The parser, compared as whole `Config`s: the library keeps its fields private, so the binary
//! is tested as any embedder would build the same config.

use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Environment {
    Environment::from_vars(
        pairs
            .iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value))),
    )
}

fn parse_with(args: &[&str], pairs: &[(&str, &str)]) -> Result<Command, UsageError> {
    parse(args.iter().map(OsString::from), &env(pairs))
}

fn options_with(args: &[&str], pairs: &[(&str, &str)]) -> Options {
    match parse_with(args, pairs) {
        Ok(Command::Serve(options)) => *options,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn config(args: &[&str]) -> Config {
    options_with(args, &[]).config
}

fn error(args: &[&str], pairs: &[(&str, &str)]) -> String {
    match parse_with(args, pairs) {
        Err(error) => error.to_string(),
        other => panic!("{args:?} {pairs:?} parsed: {other:?}"),
    }
}

#[test]
fn help_and_version_end_parsing() {
    assert!(matches!(parse_with(&["--help"], &[]), Ok(Command::Help)));
    assert!(matches!(
        parse_with(&["--quiet", "-h"], &[]),
        Ok(Command::Help)
    ));
    assert!(matches!(
        parse_with(&["--version"], &[]),
        Ok(Command::Version)
    ));
    assert!(matches!(parse_with(&["-V"], &[]), Ok(Command::Version)));
}

#[test]
fn the_help_names_every_flag_and_variable_of_the_table() {
    for flag in flags::FLAGS {
        assert!(USAGE.contains(&flag.synopsis()), "{}", flag.synopsis());
        if let Some(var) = flag.env {
            assert!(USAGE.contains(var), "{var}");
        }
    }
    assert!(USAGE.contains(TOKEN_VAR));
}

#[test]
fn token_comes_from_the_variable_or_a_file_which_wins() {
    let options = options_with(&[], &[("TASKD_TOKEN", "from-env")]);
    assert_eq!(options.token, Token::Value("from-env".to_owned()));
    let path = std::env::temp_dir().join(format!("taskd-token-{}", std::process::id()));
    std::fs::write(&path, "from-file\r\nignored\n").unwrap();
    let flag = format!("--token-file={}", path.display());
    let options = options_with(&[&flag], &[("TASKD_TOKEN", "from-env")]);
    let token = options.token.resolve();
    let from_var = options_with(&[], &[("TASKD_TOKEN_FILE", path.to_str().unwrap())]);
    let token_from_var = from_var.token.resolve();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(token, Ok(Some("from-file".to_owned())));
    assert_eq!(token_from_var, Ok(Some("from-file".to_owned())));
    assert_eq!(options_with(&[], &[]).token, Token::None);
}

#[test]
fn an_empty_token_variable_is_a_usage_error() {
    assert!(error(&[], &[("TASKD_TOKEN", "  ")]).starts_with("TASKD_TOKEN is set but empty"));
}

#[test]
fn an_unreadable_token_file_is_a_runtime_failure_not_a_usage_error() {
    let options = options_with(&["--token-file", "/nonexistent/taskd-token"], &[]);
    let failure = options.token.resolve().unwrap_err();
    assert!(
        failure.starts_with("cannot read --token-file /nonexistent/taskd-token: "),
        "{failure}"
    );
}

#[test]
fn a_token_file_whose_first_line_is_empty_is_a_runtime_failure() {
    let path = std::env::temp_dir().join(format!("taskd-empty-token-{}", std::process::id()));
    std::fs::write(&path, "\nsecond line\n").unwrap();
    let options = options_with(&["--token-file", path.to_str().unwrap()], &[]);
    let failure = options.token.resolve().unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        failure.ends_with(": the first line (the token) is empty"),
        "{failure}"
    );
}

#[test]
fn data_dir_is_optional() {
    assert_eq!(config(&[]), Config::default());
    assert_eq!(
        config(&["--data-dir", "/var/lib/taskd"]),
        Config::default().with_data_dir("/var/lib/taskd")
    );
    assert_eq!(error(&["--data-dir"], &[]), "--data-dir DIR needs a value");
}

#[test]
fn timeouts_and_the_cap_have_the_contract_defaults_and_flags() {
    let contract = Config::default()
        .with_request_timeout(Duration::from_secs(10))
        .with_io_timeout(Duration::from_secs(30))
        .with_keep_alive_timeout(Duration::from_secs(30))
        .with_max_connections(1024);
    assert_eq!(config(&[]), contract);
    let args = [
        "--request-timeout=2",
        "--io-timeout",
        "0.5",
        "--keep-alive-timeout=7",
        "--max-connections=3",
    ];
    let expected = Config::default()
        .with_request_timeout(Duration::from_secs(2))
        .with_io_timeout(Duration::from_millis(500))
        .with_keep_alive_timeout(Duration::from_secs(7))
        .with_max_connections(3);
    assert_eq!(config(&args), expected);
    for bad in [
        "--io-timeout=0",
        "--io-timeout=-1",
        "--io-timeout=x",
        "--max-connections=0",
    ] {
        let (name, value) = bad.split_once('=').unwrap();
        let message = error(&[bad], &[]);
        assert!(
            message.starts_with(&format!("{name} {value:?}: expected ")),
            "{message}"
        );
    }
}

#[test]
fn quiet_and_trace_are_independent_switches() {
    assert_eq!(
        config(&["--quiet"]),
        Config::default().with_access_log(false)
    );
    assert_ne!(config(&["--trace"]), config(&[]));
    assert_eq!(
        config(&["--quiet", "--trace"]),
        Config::default().with_access_log(false).with_trace(true)
    );
    assert_eq!(
        error(&["--quiet=yes"], &[]),
        "--quiet \"yes\": --quiet takes no value"
    );
}

#[test]
fn addr_takes_a_port_alone() {
    for port in ["9000", ":9000"] {
        assert_eq!(
            config(&["--addr", port]),
            Config::default().with_addr("127.0.0.1:9000")
        );
    }
    let message = error(&["--addr", "9000x"], &[]);
    assert!(
        message.starts_with("--addr \"9000x\": expected PORT, :PORT or HOST:PORT"),
        "{message}"
    );
}

#[test]
fn a_single_valued_flag_given_twice_is_refused() {
    assert_eq!(
        error(&["--addr", ":1", "--addr=:2"], &[]),
        "--addr given twice (\":1\", then \":2\"): give it once"
    );
}

#[test]
fn a_flag_as_the_value_is_a_missing_value() {
    assert_eq!(
        error(&["--addr", "--quiet"], &[]),
        "--addr HOST:PORT needs a value"
    );
}

#[test]
fn unknown_flags_and_arguments_get_a_hint() {
    assert_eq!(
        error(&["--port", "9000"], &[]),
        "unknown flag --port; did you mean --addr 9000?"
    );
    assert_eq!(error(&["--frobnicate"], &[]), "unknown flag --frobnicate");
    assert!(error(&["serve"], &[]).starts_with("unexpected argument \"serve\""));
    assert!(error(&["--quiet", "check"], &[]).contains("`check` must come first"));
}

#[test]
fn every_single_valued_flag_comes_from_its_variable_and_the_flag_wins() {
    let pairs = [
        ("TASKD_ADDR", ":9000"),
        ("TASKD_MAX_UPLOAD_BYTES", "1024"),
        ("TASKD_DATA_DIR", "/srv/taskd"),
        ("TASKD_REQUEST_TIMEOUT", "2"),
        ("TASKD_IO_TIMEOUT", "3"),
        ("TASKD_KEEP_ALIVE_TIMEOUT", "4"),
        ("TASKD_MAX_CONNECTIONS", "5"),
        ("TASKD_QUIET", "1"),
        ("TASKD_TRACE", "true"),
    ];
    let expected = Config::default()
        .with_addr("127.0.0.1:9000")
        .with_max_upload_bytes(1024)
        .with_data_dir("/srv/taskd")
        .with_request_timeout(Duration::from_secs(2))
        .with_io_timeout(Duration::from_secs(3))
        .with_keep_alive_timeout(Duration::from_secs(4))
        .with_max_connections(5)
        .with_access_log(false)
        .with_trace(true);
    assert_eq!(options_with(&[], &pairs).config, expected);
    let flags = ["--addr", "127.0.0.1:7000", "--max-connections", "9"];
    let expected = expected.with_addr("127.0.0.1:7000").with_max_connections(9);
    assert_eq!(options_with(&flags, &pairs).config, expected);
}

#[test]
fn a_malformed_variable_is_a_usage_error_naming_it_unless_the_flag_wins() {
    let bad = [("TASKD_MAX_CONNECTIONS", "many")];
    assert_eq!(
        error(&[], &bad),
        "TASKD_MAX_CONNECTIONS \"many\": expected a whole number of at least 1"
    );
    assert!(parse_with(&["--max-connections", "2"], &bad).is_ok());
    assert!(error(&[], &[("TASKD_QUIET", "maybe")]).starts_with("TASKD_QUIET \"maybe\": "));
    // Empty counts as unset, as a unit's `Environment=TASKD_ADDR=` means.
    assert_eq!(
        options_with(&[], &[("TASKD_ADDR", "")]).config,
        Config::default()
    );
}

#[test]
fn cors_origins_are_the_union_of_flags_and_the_variable() {
    let pairs = [(
        "TASKD_CORS_ORIGINS",
        "http://localhost:3000, https://app.example",
    )];
    let args = [
        "--cors-origin",
        "http://localhost:5173",
        "--cors-origin=http://[::1]:8080",
    ];
    let expected = Config::default()
        .with_cors_origins([
            "http://localhost:5173",
            "http://[::1]:8080",
            "http://localhost:3000",
            "https://app.example",
        ])
        .unwrap();
    assert_eq!(options_with(&args, &pairs).config, expected);
}

#[test]
fn a_bad_origin_is_refused_naming_the_value_and_its_source() {
    let message = error(&["--cors-origin", "http://localhost:5173/"], &[]);
    assert!(
        message.starts_with("--cors-origin \"http://localhost:5173/\""),
        "{message}"
    );
    let message = error(&[], &[("TASKD_CORS_ORIGINS", "localhost:3000")]);
    assert!(
        message.starts_with("TASKD_CORS_ORIGINS \"localhost:3000\""),
        "{message}"
    );
}

#[test]
fn workers_is_accepted_with_a_warning() {
    let options = options_with(&["--workers", "4"], &[]);
    assert_eq!(options.config, Config::default());
    assert_eq!(options.warnings.len(), 1);
    assert!(parse_with(&["--workers", "0"], &[]).is_err());
}

#[test]
fn only_taskd_variables_are_kept() {
    let environment = env(&[("PATH", "/bin"), ("TASKD_ADDR", ":1")]);
    assert_eq!(environment.0.len(), 1);
}
