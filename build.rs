//! Records the commit the `flowopt` binary is built from (`FLOWOPT_COMMIT`), which every
//! benchmark row carries (`flowopt bench`, docs/benchmarks.md): `git describe --always
//! --dirty`, or `unknown` outside a git checkout (e.g. a Docker build without `.git`).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args([
            "describe",
            "--always",
            "--dirty",
            "--abbrev=12",
            "--exclude",
            "*",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=FLOWOPT_COMMIT={commit}");
    // A new commit, a checkout or a staged change rebuilds; edits to the work tree alone keep
    // the `-dirty` (or clean) state of the last build.
    for path in [".git/HEAD", ".git/index", ".git/refs", ".git/packed-refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
