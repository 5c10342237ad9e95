//! `--database-url` understood: which server, who, which database, how TLS is checked, and the
//! timeouts that keep every database wait inside CONTRACT §14's 5 s request deadline.
//!
//! The keywords are libpq's ("Parameter Key Words", PostgreSQL docs §34.1.2). tokio-postgres
//! parses connection strings too, but it refuses `verify-ca`, `verify-full` and `sslrootcert`,
//! so taskd reads the text itself ([`super::dsn`]) and builds the client's `Config` from parts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::dsn;

/// The one deadline for all the database work of a request (CONTRACT §14).
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// libpq's `sslmode`, less `allow` (plain first, TLS on refusal: nothing taskd should do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, the certificate not checked (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate not checked, as libpq's `require`.
    Require,
    /// TLS; the chain checked against the roots, the host name not.
    VerifyCa,
    /// TLS; the chain and the host name checked (RFC 6125).
    VerifyFull,
}

/// Where the trusted roots for `verify-ca` / `verify-full` come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RootCerts {
    /// The system's store (no `sslrootcert`, or libpq 16's `sslrootcert=system`).
    System,
    /// PEM certificates in this file (`sslrootcert=FILE`), read by taskd itself.
    File(PathBuf),
}

/// A parsed `--database-url`. Its `Debug` and [`ConnectOptions::redacted`] never show the password.
#[derive(Clone)]
pub(crate) struct ConnectOptions {
    pub(crate) hosts: Vec<String>,
    pub(crate) ports: Vec<u16>,
    pub(crate) user: String,
    password: Option<Vec<u8>>,
    pub(crate) dbname: String,
    pub(crate) ssl_mode: SslMode,
    pub(crate) root_certs: RootCerts,
    /// libpq's `connect_timeout`, capped by the request deadline.
    pub(crate) connect_timeout: Duration,
    application_name: String,
    /// libpq's `options` (`-c name=value …`), before taskd's own.
    server_options: String,
    redacted: String,
}

impl ConnectOptions {
    /// Parses `text` with the process's environment: `PGPASSWORD` when the text has no password,
    /// and the login name (`USER`) as libpq's default user.
    pub(crate) fn from_text(text: &str) -> Result<ConnectOptions, String> {
        let env_password = std::env::var_os("PGPASSWORD").map(|p| p.into_encoded_bytes());
        let login = std::env::var("USER").unwrap_or_else(|_| "postgres".to_owned());
        ConnectOptions::parse(text, env_password, &login)
    }

    /// Parses `text`; `env_password` stands for `PGPASSWORD`, `login` for the default user.
    /// The error is one line: `malformed --database-url <redacted text>: <why>`.
    pub(crate) fn parse(
        text: &str,
        env_password: Option<Vec<u8>>,
        login: &str,
    ) -> Result<ConnectOptions, String> {
        let redacted = dsn::redact(text);
        // One line: a value decoded from the text (`?sslmode=a%0Ab`) may hold a newline.
        let malformed = |why: String| {
            super::error::one_line(&format!("malformed --database-url {redacted}: {why}"))
                .into_owned()
        };
        let pairs = dsn::parse(text).map_err(malformed)?;
        let mut options = ConnectOptions {
            hosts: vec!["localhost".to_owned()],
            ports: vec![5432],
            user: login.to_owned(),
            password: None,
            dbname: String::new(),
            ssl_mode: SslMode::Prefer,
            root_certs: RootCerts::System,
            connect_timeout: REQUEST_DEADLINE,
            application_name: "taskd".to_owned(),
            server_options: String::new(),
            redacted: redacted.clone(),
        };
        let mut explicit_root = false;
        let mut dbname = None;
        for (key, value) in pairs {
            if key == "password" {
                options.password = Some(value).filter(|p| !p.is_empty());
                continue;
            }
            let value = String::from_utf8(value)
                .map_err(|_| malformed(format!("the value of `{key}` is not UTF-8")))?;
            match key.as_str() {
                "host" => options.hosts = value.split(',').map(str::to_owned).collect(),
                "port" => options.ports = parse_ports(&value).map_err(&malformed)?,
                "user" => options.user = value,
                "dbname" => dbname = Some(value),
                "sslmode" => options.ssl_mode = parse_ssl_mode(&value).map_err(&malformed)?,
                "sslrootcert" => {
                    explicit_root = true;
                    options.root_certs = match value.as_str() {
                        "system" => RootCerts::System,
                        file => RootCerts::File(PathBuf::from(file)),
                    };
                }
                "connect_timeout" => {
                    let seconds: u64 = value.parse().map_err(|_| {
                        malformed(format!(
                            "connect_timeout `{value}` is not a number of seconds"
                        ))
                    })?;
                    // libpq: 0 means wait forever; here nothing waits past the request deadline.
                    if seconds > 0 {
                        options.connect_timeout =
                            Duration::from_secs(seconds).min(REQUEST_DEADLINE);
                    }
                }
                "application_name" => options.application_name = value,
                "options" => options.server_options = value,
                other => return Err(malformed(format!("unsupported option `{other}`"))),
            }
        }
        if options.hosts.iter().any(String::is_empty) {
            return Err(malformed("an empty host".to_owned()));
        }
        if options.ports.len() != 1 && options.ports.len() != options.hosts.len() {
            return Err(malformed(format!(
                "{} ports for {} hosts",
                options.ports.len(),
                options.hosts.len()
            )));
        }
        // libpq: with a root file given, `require` checks the chain as `verify-ca` does.
        if explicit_root
            && options.root_certs != RootCerts::System
            && options.ssl_mode == SslMode::Require
        {
            options.ssl_mode = SslMode::VerifyCa;
        }
        options.dbname = dbname
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| options.user.clone());
        options.password = options.password.or(env_password.filter(|p| !p.is_empty()));
        Ok(options)
    }

    /// The text as given, its password replaced by `[redacted]`: the only form to print.
    pub(crate) fn redacted(&self) -> &str {
        &self.redacted
    }

    /// `host:port` of the first server, for one-line errors.
    pub(crate) fn target(&self) -> String {
        let host = &self.hosts[0];
        let port = self.ports[0];
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    /// The client's configuration: everything but TLS, which [`super::tls`] builds.
    ///
    /// Timeouts, so that a silent network cannot hold a connection past the deadline:
    /// - `connect_timeout` bounds each TCP connect;
    /// - TCP keepalives (idle 5 s, then every 1 s, 3 probes) find a dead peer under an idle
    ///   pooled connection;
    /// - the TCP user timeout (Linux, RFC 5482) aborts a connection whose sent data stays
    ///   unacknowledged for 5 s;
    /// - `statement_timeout` makes the server itself give up on a statement after 5 s, so the
    ///   work of a request that taskd abandoned does not go on holding locks.
    ///
    /// A peer that acknowledges and never answers (a frozen proxy) defeats all of these: the
    /// connection's own timer, [`super::conn`], is what bounds a statement.
    pub(crate) fn client_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        for host in &self.hosts {
            config.host(host);
        }
        for port in &self.ports {
            config.port(*port);
        }
        config
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name);
        if let Some(password) = &self.password {
            config.password(password);
        }
        let statement_ms = REQUEST_DEADLINE.as_millis();
        let options = format!(
            "{} -c statement_timeout={statement_ms}",
            self.server_options
        );
        config.options(options.trim_start());
        config.ssl_mode(match self.ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        config.connect_timeout(self.connect_timeout);
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(3);
        config.tcp_user_timeout(REQUEST_DEADLINE);
        config
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectOptions({})", self.redacted)
    }
}

fn parse_ports(value: &str) -> Result<Vec<u16>, String> {
    value
        .split(',')
        .map(|port| match port {
            "" => Ok(5432),
            port => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("port `{port}` is not a number from 1 to 65535")),
        })
        .collect()
}

fn parse_ssl_mode(value: &str) -> Result<SslMode, String> {
    match value {
        "disable" => Ok(SslMode::Disable),
        "prefer" => Ok(SslMode::Prefer),
        "require" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" => Ok(SslMode::VerifyFull),
        "allow" => Err("sslmode `allow` is not supported (use disable, prefer, require, verify-ca or verify-full)".to_owned()),
        other => Err(format!("sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ConnectOptions {
        ConnectOptions::parse(text, None, "login").unwrap()
    }

    #[test]
    fn both_forms_give_the_same_options() {
        let url = parse(
            "postgres://ann:pw@db.local:6000/tasks?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        );
        let kv = parse("host=db.local port=6000 user=ann password=pw dbname=tasks sslmode=verify-full sslrootcert=/etc/ca.pem");
        for options in [&url, &kv] {
            assert_eq!(options.hosts, ["db.local"]);
            assert_eq!(options.ports, [6000]);
            assert_eq!(options.user, "ann");
            assert_eq!(options.password.as_deref(), Some(&b"pw"[..]));
            assert_eq!(options.dbname, "tasks");
            assert_eq!(options.ssl_mode, SslMode::VerifyFull);
            assert_eq!(options.root_certs, RootCerts::File("/etc/ca.pem".into()));
            assert_eq!(options.target(), "db.local:6000");
        }
    }

    #[test]
    fn defaults_follow_libpq() {
        let options = parse("postgres://");
        assert_eq!(
            (options.hosts[0].as_str(), options.ports[0]),
            ("localhost", 5432)
        );
        assert_eq!(
            (options.user.as_str(), options.dbname.as_str()),
            ("login", "login")
        );
        assert_eq!(options.ssl_mode, SslMode::Prefer);
        assert_eq!(options.root_certs, RootCerts::System);
    }

    #[test]
    fn percent_encoded_password_reaches_the_client_decoded() {
        let options = parse("postgres://u%20x:%40%3A%2F%25%20end@h/d");
        assert_eq!(options.user, "u x");
        let config = options.client_config();
        assert_eq!(config.get_password(), Some(&b"@:/% end"[..]));
        assert_eq!(config.get_user(), Some("u x"));
    }

    #[test]
    fn pgpassword_only_when_the_text_has_none() {
        let env = Some(b"from-env".to_vec());
        let without = ConnectOptions::parse("postgres://u@h/d", env.clone(), "l").unwrap();
        assert_eq!(without.password.as_deref(), Some(&b"from-env"[..]));
        let with = ConnectOptions::parse("host=h user=u password=given", env, "l").unwrap();
        assert_eq!(with.password.as_deref(), Some(&b"given"[..]));
    }

    #[test]
    fn every_sslmode() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ] {
            assert_eq!(parse(&format!("sslmode={text}")).ssl_mode, mode);
        }
        assert!(ConnectOptions::parse("sslmode=allow", None, "l")
            .unwrap_err()
            .contains("not supported"));
        assert!(ConnectOptions::parse("sslmode=VERIFY", None, "l")
            .unwrap_err()
            .contains("not one of"));
        // libpq: `require` with a root file checks the chain.
        assert_eq!(
            parse("sslmode=require sslrootcert=/ca.pem").ssl_mode,
            SslMode::VerifyCa
        );
        assert_eq!(
            parse("sslmode=require sslrootcert=system").ssl_mode,
            SslMode::Require
        );
    }

    #[test]
    fn timeouts_fit_the_request_deadline() {
        let config = parse("postgres://h/d?connect_timeout=60").client_config();
        assert_eq!(config.get_connect_timeout(), Some(&REQUEST_DEADLINE));
        assert_eq!(config.get_tcp_user_timeout(), Some(&REQUEST_DEADLINE));
        assert!(config.get_keepalives());
        assert_eq!(config.get_options(), Some("-c statement_timeout=5000"));
        let short = parse("connect_timeout=2 options='-c search_path=x'").client_config();
        assert_eq!(short.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(
            short.get_options(),
            Some("-c search_path=x -c statement_timeout=5000")
        );
    }

    #[test]
    fn malformed_text_is_one_line_with_the_password_redacted() {
        let error = ConnectOptions::parse("postgres://u:hunter2@h:port/d", None, "l").unwrap_err();
        assert_eq!(error, "malformed --database-url postgres://u:[redacted]@h:port/d: port `port` is not a number from 1 to 65535");
        let error =
            ConnectOptions::parse("host=h password=hunter2 bogus=1", None, "l").unwrap_err();
        assert_eq!(error, "malformed --database-url host=h password=[redacted] bogus=[redacted]: unsupported option `bogus`");
        let error = ConnectOptions::parse("postgres://h/d?sslmode=a%0Ab", None, "l").unwrap_err();
        assert!(
            error.ends_with(
                r"sslmode `a\nb` is not one of disable, prefer, require, verify-ca, verify-full"
            ),
            "{error}"
        );
        assert!(!error.contains('\n'));
    }

    #[test]
    fn debug_and_redacted_never_show_the_password() {
        let options = parse("postgres://u:hunter2@h/d");
        assert_eq!(options.redacted(), "postgres://u:[redacted]@h/d");
        assert!(!format!("{options:?}").contains("hunter2"));
        let options = parse("password='hunter 2' host=h");
        assert_eq!(options.redacted(), "password=[redacted] host=h");
    }
}
