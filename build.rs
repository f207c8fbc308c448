//! Records the commit the `flowopt` binary is built from (`FLOWOPT_COMMIT`), which every
//! benchmark row carries (`flowopt bench`, docs/benchmarks.md): `git describe --always
//! --dirty`, or `unknown` outside a git checkout (e.g. a Docker build without `.git`).

use std::path::PathBuf;
use std::process::Command;

/// `git ARGS` in the package's folder, trimmed, if it succeeds.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&[
        "describe",
        "--always",
        "--dirty",
        "--abbrev=12",
        "--exclude",
        "*",
    ])
    .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FLOWOPT_COMMIT={commit}");
    // Rerun on a new commit, a checkout or a change to the index, and on any change to the
    // sources (the `-dirty` mark). Only paths that exist: cargo treats a missing one as
    // changed, which would rebuild the binary every time. Source changes rebuild this crate
    // anyway, so watching them costs nothing more.
    println!("cargo:rerun-if-changed=build.rs");
    for dir in ["src", "crates", "web", "assets", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={dir}");
    }
    let mut watched: Vec<PathBuf> = Vec::new();
    for flag in ["--git-dir", "--git-common-dir"] {
        if let Some(dir) = git(&["rev-parse", flag]) {
            let dir = PathBuf::from(dir);
            for entry in ["HEAD", "index", "refs", "packed-refs"] {
                watched.push(dir.join(entry));
            }
        }
    }
    watched.sort();
    watched.dedup();
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
