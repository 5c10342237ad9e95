//! Unit tests of `dsn.rs`.

use super::*;

fn get<'a>(pairs: &'a [Pair], key: &str) -> Option<&'a [u8]> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

#[test]
fn uri_with_every_part() {
    let pairs = parse("postgres://alice:secret@db.example:6543/tasks?sslmode=require").unwrap();
    assert_eq!(get(&pairs, "user"), Some(&b"alice"[..]));
    assert_eq!(get(&pairs, "password"), Some(&b"secret"[..]));
    assert_eq!(get(&pairs, "host"), Some(&b"db.example"[..]));
    assert_eq!(get(&pairs, "port"), Some(&b"6543"[..]));
    assert_eq!(get(&pairs, "dbname"), Some(&b"tasks"[..]));
    assert_eq!(get(&pairs, "sslmode"), Some(&b"require"[..]));
}

#[test]
fn percent_encoded_credentials_keep_at_colon_slash_percent_and_spaces() {
    let pairs = parse("postgresql://us%40er:p%40ss%3Aw%2Frd%25%20x+y@host/db%20name").unwrap();
    assert_eq!(get(&pairs, "user"), Some(&b"us@er"[..]));
    assert_eq!(get(&pairs, "password"), Some(&b"p@ss:w/rd% x+y"[..]));
    assert_eq!(get(&pairs, "dbname"), Some(&b"db name"[..]));
}

#[test]
fn an_unencoded_at_in_the_password_still_parses() {
    let pairs = parse("postgres://u:a@b@host/db").unwrap();
    assert_eq!(get(&pairs, "password"), Some(&b"a@b"[..]));
    assert_eq!(get(&pairs, "host"), Some(&b"host"[..]));
}

#[test]
fn ipv6_hosts_and_host_lists() {
    let pairs = parse("postgres://[::1]:5433,other/db").unwrap();
    assert_eq!(get(&pairs, "host"), Some(&b"::1,other"[..]));
    assert_eq!(get(&pairs, "port"), Some(&b"5433,"[..]));
    assert!(parse("postgres://[::1/db").is_err());
}

#[test]
fn bad_percent_encoding_is_one_line_without_the_password() {
    let error = parse("postgres://u:sec%zzret@host/db").unwrap_err();
    assert_eq!(
        error,
        "the password has a `%` not followed by two hex digits"
    );
    assert!(!error.contains("sec"));
}

#[test]
fn key_values_with_quotes_and_escapes() {
    let pairs =
        parse(r"host=localhost port = 5432 password='it\'s a \\ secret' dbname=''").unwrap();
    assert_eq!(get(&pairs, "host"), Some(&b"localhost"[..]));
    assert_eq!(get(&pairs, "port"), Some(&b"5432"[..]));
    assert_eq!(get(&pairs, "password"), Some(&br"it's a \ secret"[..]));
    assert_eq!(get(&pairs, "dbname"), Some(&b""[..]));
}

#[test]
fn key_values_errors() {
    assert!(parse("host").unwrap_err().contains("missing `=`"));
    assert!(parse("password='open")
        .unwrap_err()
        .contains("no closing quote"));
    assert!(!parse("password='open").unwrap_err().contains("open"));
}

#[test]
fn redaction_of_both_forms() {
    assert_eq!(
        redact("postgres://alice:s%40cret@db:5432/tasks"),
        "postgres://alice:[redacted]@db:5432/tasks"
    );
    assert_eq!(
        redact("postgres://alice@db/tasks"),
        "postgres://alice@db/tasks"
    );
    assert_eq!(
        redact("postgres://alice:a@b/c@db/tasks"),
        "postgres://alice:[redacted]@db/tasks"
    );
    assert_eq!(
        redact("postgres://db/t?user=a&password=x%20y"),
        "postgres://db/t?user=a&password=[redacted]"
    );
    assert_eq!(
        redact(r"host=db password='it\'s secret' user=alice"),
        "host=db password=[redacted] user=alice"
    );
    assert_eq!(
        redact("password = plain user=a"),
        "password = [redacted] user=a"
    );
    assert_eq!(redact("user=passwordless"), "user=passwordless");
    // Any keyword but the known ones is hidden too: a typo, or `password` percent-encoded.
    assert_eq!(
        redact("host=h pasword=x\tuser=u"),
        "host=h pasword=[redacted]\\tuser=u"
    );
    assert_eq!(
        redact("postgres://h/d?pass%77ord=x"),
        "postgres://h/d?pass%77ord=[redacted]"
    );
    assert_eq!(redact("host=h broken 'x"), "host=h broken 'x");
    assert_eq!(redact("PASSWORD=x"), "PASSWORD=[redacted]");
}
