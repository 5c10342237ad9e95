//! The command line of `taskd check`: its flags, where the bearer token comes from
//! (`--token-file`, else `TASKD_TOKEN`), and the URL as typed. The `taskd` binary only hands
//! the words after `check` to [`crate::run`], so everything about them lives here.

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The URL as typed (a missing `http://` is added by `Target::parse`).
    pub url: String,
    /// `--json`: the report as JSON.
    pub json: bool,
    /// `--failures`: only FAIL and NOTE lines (and the summary).
    pub failures_only: bool,
    /// The bearer token, from `--token-file` or `TASKD_TOKEN`.
    pub token: Option<String>,
}

/// Why the command line does not give [`Options`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRun {
    /// `--help`: print the help, exit 0.
    Help,
    /// A usage error, in a sentence: exit 2.
    Usage(String),
}

/// Reads the words after `check`; `env_token` is `TASKD_TOKEN`'s value, if set. The token is
/// not taken as a flag's value on purpose: a command line shows in `ps` to every user of the
/// machine, a file or the environment does not.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env_token: Option<String>,
) -> Result<Options, NoRun> {
    let mut args = args.into_iter();
    let mut url = None;
    let mut json = false;
    let mut failures_only = false;
    let mut token_file = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(NoRun::Help),
            "--json" => json = true,
            "--failures" => failures_only = true,
            "--token-file" => match args.next() {
                Some(path) => token_file = Some(path),
                None => return Err(usage("--token-file needs a FILE that holds the token")),
            },
            "--token" => {
                return Err(usage(
                    "a token on the command line shows in `ps` to every user: put it in a file \
                     and give --token-file FILE, or set TASKD_TOKEN",
                ))
            }
            flag if flag.starts_with("--token-file=") => {
                token_file = Some(flag["--token-file=".len()..].to_owned());
            }
            flag if flag.starts_with('-') => return Err(usage(&format!("unknown flag {flag}"))),
            _ if url.is_some() => return Err(usage("give exactly one URL")),
            _ => url = Some(arg),
        }
    }
    let Some(url) = url else {
        return Err(usage(
            "give the server's URL, e.g. taskd check http://127.0.0.1:8000",
        ));
    };
    let token = match token_file {
        Some(path) => Some(read_token_file(&path)?),
        None => match env_token.filter(|token| !token.is_empty()) {
            Some(token) => Some(valid_token(token, "TASKD_TOKEN")?),
            None => None,
        },
    };
    Ok(Options {
        url,
        json,
        failures_only,
        token,
    })
}

fn usage(message: &str) -> NoRun {
    NoRun::Usage(message.to_owned())
}

/// The file's first line, as `taskd --token-file` reads it, so one file serves both.
fn read_token_file(path: &str) -> Result<String, NoRun> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| usage(&format!("--token-file {path}: {error}")))?;
    let token = text.lines().next().unwrap_or_default().to_owned();
    if token.is_empty() {
        return Err(usage(&format!("--token-file {path}: the file is empty")));
    }
    valid_token(token, &format!("--token-file {path}"))
}

/// A token goes in `Authorization: Bearer <token>`: only visible ASCII can go there (RFC 6750
/// §2.1's b64token is narrower still), and a CR or LF would end the header line.
fn valid_token(token: String, source: &str) -> Result<String, NoRun> {
    if token.bytes().all(|byte| byte.is_ascii_graphic()) {
        Ok(token)
    } else {
        Err(usage(&format!(
            "{source}: a bearer token is visible ASCII without spaces (RFC 6750 §2.1)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_and_the_url_in_any_order() {
        let options = parse(words("--failures http://h:1 --json"), None).unwrap();
        assert_eq!(
            options,
            Options {
                url: "http://h:1".to_owned(),
                json: true,
                failures_only: true,
                token: None,
            }
        );
    }

    #[test]
    fn the_token_comes_from_the_file_first_then_the_environment() {
        let dir = std::env::temp_dir().join(format!("taskd-check-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let line = format!("--token-file {} h:1", file.display());
        let from_file = parse(words(&line), Some("other".to_owned())).unwrap();
        assert_eq!(from_file.token.as_deref(), Some("s3cret"));
        let from_env = parse(words("h:1"), Some("other".to_owned())).unwrap();
        assert_eq!(from_env.token.as_deref(), Some("other"));
        assert_eq!(
            parse(words("h:1"), Some(String::new())).unwrap().token,
            None
        );
        std::fs::write(&file, "s3cret\r\nsecond line\n").unwrap();
        let first_line = parse(words(&line), None).unwrap();
        assert_eq!(first_line.token.as_deref(), Some("s3cret"));
        std::fs::write(&file, "two words\n").unwrap();
        assert!(matches!(parse(words(&line), None), Err(NoRun::Usage(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_token_on_the_command_line_is_refused_with_the_alternatives() {
        let Err(NoRun::Usage(message)) = parse(words("--token abc h:1"), None) else {
            panic!("--token must be refused");
        };
        assert!(message.contains("--token-file FILE"), "{message}");
        assert!(message.contains("TASKD_TOKEN"), "{message}");
    }

    #[test]
    fn usage_errors() {
        for line in ["", "--frob h:1", "h:1 h:2", "--token-file"] {
            assert!(
                matches!(parse(words(line), None), Err(NoRun::Usage(_))),
                "{line:?}"
            );
        }
        assert_eq!(parse(words("h:1 --help"), None), Err(NoRun::Help));
    }
}
