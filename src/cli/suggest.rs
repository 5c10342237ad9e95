//! "Did you mean": a hint for a flag taskd does not know, from a small table of names people
//! bring from other servers (`--port`, `--token`, `--host`) and else the closest known flag by
//! edit distance, the way clap and git suggest.

use super::flags::{Takes, FLAGS};

/// Names taskd does not have, and what to use instead. A hint that is a flag of the table gets
/// the user's value appended (`--port 9000` → `--addr 9000`); the others are printed as they are.
const ALIASES: &[(&str, &str)] = &[
    ("--port", "--addr"),
    ("-p", "--addr"),
    ("--host", "--addr"),
    ("--listen", "--addr"),
    ("--bind", "--addr"),
    ("--address", "--addr"),
    ("--data", "--data-dir"),
    ("--dir", "--data-dir"),
    ("--db", "--data-dir"),
    ("--cors", "--cors-origin"),
    ("--origin", "--cors-origin"),
    ("--timeout", "--request-timeout"),
    ("--max-upload", "--max-upload-bytes"),
    ("-q", "--quiet"),
    ("-v", "--version"),
    // A token on the command line would show in `ps`: point to the file and the variable.
    (
        "--token",
        "--token-file PATH (a file whose first line is the token) or the TASKD_TOKEN variable",
    ),
];

/// Most edits (insertions, deletions, substitutions) between an unknown flag and a known one
/// for the known one to be suggested.
const MAX_DISTANCE: usize = 2;

/// What to suggest for the unknown flag `name`, given the argument after it (`value`), if
/// anything is close enough: `--addr 9000` for `--port 9000`.
pub fn suggestion(name: &str, value: Option<&str>) -> Option<String> {
    let alias = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, hint)| *hint);
    let hint = alias.or_else(|| closest(name))?;
    let takes_value = FLAGS
        .iter()
        .any(|flag| flag.name == hint && flag.takes != Takes::Nothing);
    Some(match value {
        // The value may be a database URL: its password is never repeated (CONTRACT §14).
        Some(value) if takes_value && !value.starts_with('-') => {
            format!("{hint} {}", super::conceal(value))
        }
        _ => hint.to_owned(),
    })
}

/// The known flag (or `--help` / `--version`) nearest to `name`, if within [`MAX_DISTANCE`]
/// edits; a unique flag that `name` begins (`--max-conn`) counts too.
fn closest(name: &str) -> Option<&'static str> {
    let known = FLAGS
        .iter()
        .map(|flag| flag.name)
        .chain(["--help", "--version"]);
    let prefixed: Vec<&str> = known
        .clone()
        .filter(|known| name.len() >= 4 && known.starts_with(name))
        .collect();
    if let [only] = prefixed[..] {
        return Some(only);
    }
    known
        .map(|known| (edit_distance(name, known), known))
        .filter(|(distance, _)| *distance <= MAX_DISTANCE)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance over chars, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, b_char) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(a_char != *b_char);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("--addr", "--addr"), 0);
        assert_eq!(edit_distance("--adr", "--addr"), 1);
        assert_eq!(edit_distance("--quite", "--quiet"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn the_issues_near_misses_point_to_the_right_flag() {
        assert_eq!(suggestion("--port", Some("9000")).unwrap(), "--addr 9000");
        assert_eq!(suggestion("--data", Some("x")).unwrap(), "--data-dir x");
        let token = suggestion("--token", Some("abc")).unwrap();
        assert!(token.contains("--token-file") && token.contains("TASKD_TOKEN"));
        assert!(!token.contains("abc"), "a token is never echoed: {token}");
    }

    #[test]
    fn typos_and_prefixes_find_the_flag() {
        assert_eq!(suggestion("--qiet", None).unwrap(), "--quiet");
        assert_eq!(
            suggestion("--max-conn", Some("3")).unwrap(),
            "--max-connections 3"
        );
        assert_eq!(suggestion("--verison", None).unwrap(), "--version");
        assert_eq!(suggestion("--frobnicate", None), None);
    }
}
