//! The programs under test, located and built before anything is measured: taskd from this
//! tree, the peers from `--peers` (blocking-hello, the ceiling of a thread-per-connection server,
//! and the same API on axum), and taskd as it was at `--baseline REV` (by default 8c73c49, the
//! last commit on tiny_http). The peers' folder is read-only, so everything is built into
//! folders of our own target directory. A program that cannot be built is skipped with the
//! reason, and the scenarios go on without it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::options::Options;

/// Which program a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Taskd,
    Baseline,
    BlockingHello,
    Axum,
}

/// The peers: their folder under `--peers` and the binary their package builds.
const PEERS: [(Kind, &str, &str); 2] = [
    (Kind::BlockingHello, "blocking-hello", "blocking-hello"),
    (Kind::Axum, "axum", "peer-axum"),
];

/// The built programs; `None` for one that was skipped.
pub struct Programs {
    pub taskd: PathBuf,
    /// taskd's `--help`, to see which flags it has (`--io-timeout` arrives with issue 11).
    pub taskd_help: String,
    pub blocking_hello: Option<PathBuf>,
    pub axum: Option<PathBuf>,
    /// The baseline's binary and its short commit id.
    pub baseline: Option<(PathBuf, String)>,
}

impl Programs {
    /// Builds what the chosen scenarios need (unless `--no-build`) and finds the binaries.
    ///
    /// # Errors
    /// When taskd itself cannot be built or run; a peer or the baseline is only skipped.
    pub fn prepare(options: &Options) -> io::Result<Programs> {
        let target = target_dir()?;
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        if options.build {
            cargo(&["build", "--release", "--bin", "taskd"], repo)?;
        }
        let taskd = target.join("release").join("taskd");
        let help = Command::new(&taskd).arg("--help").output()?;
        let mut programs = Programs {
            taskd,
            taskd_help: String::from_utf8_lossy(&help.stdout).into_owned(),
            blocking_hello: None,
            axum: None,
            baseline: None,
        };
        let wants_any = |names: &[&str]| names.iter().any(|name| options.wants(name));
        for (kind, folder, binary) in PEERS {
            let needed = match kind {
                Kind::BlockingHello => wants_any(&["get", "burst"]),
                _ => wants_any(&["get", "create", "burst"]),
            };
            if needed {
                let built = peer(options, &target.join("peers"), folder, binary);
                *programs.slot(kind) = report_skip(folder, built);
            }
        }
        if let (Some(rev), true) = (
            &options.baseline,
            wants_any(&["startup", "big", "conditional", "pages"]),
        ) {
            programs.baseline = report_skip("baseline", baseline(options, &target, rev));
        }
        Ok(programs)
    }

    /// The binary of `kind`, when it was built.
    pub fn path(&self, kind: Kind) -> Option<&Path> {
        match kind {
            Kind::Taskd => Some(&self.taskd),
            Kind::Baseline => self.baseline.as_ref().map(|(path, _)| path.as_path()),
            Kind::BlockingHello => self.blocking_hello.as_deref(),
            Kind::Axum => self.axum.as_deref(),
        }
    }

    /// How `kind` is named in the table.
    pub fn label(&self, kind: Kind) -> String {
        match (kind, &self.baseline) {
            (Kind::Taskd, _) => "taskd".into(),
            (Kind::Baseline, Some((_, rev))) => format!("taskd@{rev}"),
            (Kind::Baseline, None) => "baseline".into(),
            (Kind::BlockingHello, _) => "blocking-hello".into(),
            (Kind::Axum, _) => "axum".into(),
        }
    }

    /// Whether taskd's `--help` lists `flag`.
    pub fn taskd_has(&self, flag: &str) -> bool {
        self.taskd_help.contains(flag)
    }

    fn slot(&mut self, kind: Kind) -> &mut Option<PathBuf> {
        match kind {
            Kind::BlockingHello => &mut self.blocking_hello,
            _ => &mut self.axum,
        }
    }
}

/// The target directory this example was built in (`target/release/examples/bench`), so the
/// programs land next to it, also under a custom `CARGO_TARGET_DIR`.
fn target_dir() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| io::Error::other("an example lives in target/PROFILE/examples"))?;
    if profile.file_name().is_none_or(|name| name != "release") {
        eprintln!("bench: warning: not a release build; use `cargo run --release`");
    }
    profile
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| io::Error::other("no target directory above the profile"))
}

fn report_skip<T>(name: &str, built: Result<T, String>) -> Option<T> {
    built
        .map_err(|reason| println!("skipping {name}: {reason}"))
        .ok()
}

/// Builds the peer in `--peers/FOLDER` into `target` and returns its binary.
fn peer(options: &Options, target: &Path, folder: &str, binary: &str) -> Result<PathBuf, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = options.peers.join(folder).join("Cargo.toml");
    if !manifest.is_file() {
        return Err(format!("{} not found (see --peers)", manifest.display()));
    }
    let path = target.join("release").join(binary);
    if options.build {
        println!("building {folder} from {}", manifest.display());
        let manifest = manifest.to_string_lossy();
        let target = target.to_string_lossy();
        let args = ["build", "--release", "--manifest-path", &manifest];
        cargo(&[&args[..], &["--target-dir", &target]].concat(), repo)
            .map_err(|error| format!("cannot be built: {error}"))?;
    }
    path.is_file()
        .then_some(path)
        .ok_or_else(|| format!("no binary at {binary} (built without --no-build?)"))
}

/// Extracts `rev` from this repository (`git archive`) into a temp folder and builds its taskd
/// into `target/baseline`; returns the binary and the short commit id.
fn baseline(options: &Options, target: &Path, rev: &str) -> Result<(PathBuf, String), String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let short = git(
        repo,
        &["rev-parse", "--short", &format!("{rev}^{{commit}}")],
    )
    .map_err(|error| format!("unknown revision {rev}: {error}"))?;
    let binary = target.join("baseline").join("release").join("taskd");
    if !options.build {
        return binary
            .is_file()
            .then_some((binary, short))
            .ok_or_else(|| "not built yet (run without --no-build once)".to_owned());
    }
    let source = std::env::temp_dir().join(format!("taskd-baseline-{short}"));
    if !source.join("Cargo.toml").is_file() {
        extract(repo, &short, &source).map_err(|error| format!("git archive {short}: {error}"))?;
    }
    println!(
        "building the baseline taskd@{short} from {}",
        source.display()
    );
    let manifest = source.join("Cargo.toml");
    let target = target.join("baseline");
    let (manifest, target) = (manifest.to_string_lossy(), target.to_string_lossy());
    let args = ["build", "--release", "--locked", "--bin", "taskd"];
    let paths = ["--manifest-path", &manifest, "--target-dir", &target];
    cargo(&[&args[..], &paths[..]].concat(), repo)
        .map_err(|error| format!("cannot be built: {error}"))?;
    Ok((binary, short))
}

/// `git archive COMMIT | tar -x`, into a fresh folder that is renamed into place only when
/// complete, so an interrupted run never leaves half a tree to build.
fn extract(repo: &Path, commit: &str, into: &Path) -> io::Result<()> {
    let partial = into.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    let mut archive = Command::new("git")
        .current_dir(repo)
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .spawn()?;
    let tar = Command::new("tar")
        .arg("-x")
        .current_dir(&partial)
        .stdin(archive.stdout.take().expect("piped"))
        .status()?;
    if !archive.wait()?.success() || !tar.success() {
        return Err(io::Error::other("git archive | tar -x failed"));
    }
    std::fs::rename(&partial, into)
}

fn git(repo: &Path, args: &[&str]) -> io::Result<String> {
    let output = Command::new("git").current_dir(repo).args(args).output()?;
    if !output.status.success() {
        return Err(io::Error::other(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs cargo (the one running this example, if any) quietly: a fresh build prints nothing, a
/// failing one prints its errors.
pub fn cargo(args: &[&str], dir: &Path) -> io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(dir)
        .args(args)
        .arg("--quiet")
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!("cargo {} failed", args.join(" "))));
    }
    Ok(())
}
