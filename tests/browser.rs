//! The visualizers in headless Chromium (Debian `chromium`, installed by `.ci/run`): load `/`,
//! plan a circle scenario, let the animation run, and check that the robots are drawn and the
//! metrics shown; load `/agents`, run a shipped agent's episode and check that it is replayed.
//! Screenshots are saved under the target directory.
//!
//! Without a Chromium binary the tests are skipped with a note on stderr (so `cargo test
//! --workspace` passes on a fresh machine), unless `FLOWOPT_REQUIRE_BROWSER=1` says they must
//! run: `.ci/run` sets it, so CI never skips them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `flowopt serve` on a free port, and its address.
fn serve() -> (Running, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("flowopt"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowopt serve starts");
    let stderr = child.stderr.take().unwrap();
    let server = Running(child);
    let mut lines = BufReader::new(stderr).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.split("listening on ").nth(1).map(str::to_string))
        .expect("the server prints its address");
    // Keep draining the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, addr)
}

/// The Chromium binary, or `None` when the test is to be skipped: no Chromium on `PATH` and
/// `FLOWOPT_REQUIRE_BROWSER` is not `1` (with it, a missing Chromium fails the test).
fn chromium_or_skip() -> Option<PathBuf> {
    match chromium() {
        Some(path) => Some(path),
        None if std::env::var("FLOWOPT_REQUIRE_BROWSER").is_ok_and(|v| v == "1") => panic!(
            "no chromium on PATH and FLOWOPT_REQUIRE_BROWSER=1: install Debian's `chromium` \
             (see .ci/run)"
        ),
        None => {
            // Straight to stderr, not through `eprintln!`, which the test harness captures
            // and hides for a passing test: the skip must be seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "note: browser test SKIPPED: no chromium on PATH (install Debian's `chromium` \
                 to run it; FLOWOPT_REQUIRE_BROWSER=1 makes a missing chromium an error)"
            );
            None
        }
    }
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
        })
}

fn headless(chromium: &PathBuf, extra: &[&str], url: &str) -> std::process::Output {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1280,900",
            // Virtual time waits for the page's fetches and runs the 8 s animation quickly.
            "--virtual-time-budget=30000",
        ])
        .args(extra)
        .arg(url)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("chromium runs")
}

#[test]
fn the_visualizer_plans_and_animates_a_circle_in_chromium() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let (server, addr) = serve();
    let url = format!("{addr}/?scenario=circle&robots=8&seed=1&autoplan=1");

    let dom = headless(&chromium, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains(r#"data-robots-drawn="8""#),
        "robots not drawn: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(
        dom.contains(r#"data-state="animating""#) || dom.contains(r#"data-state="done""#),
        "no animation: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("planned with flowopt"), "no plan status");
    assert!(dom.contains("min pair distance"), "metrics not shown");
    assert!(dom.contains(r#"class="feasible""#), "plan not feasible");

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("visualizer.png");
    let _ = std::fs::remove_file(&shot);
    let out = headless(
        &chromium,
        &[&format!("--screenshot={}", shot.display())],
        &url,
    );
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(server);
}

#[test]
fn the_agent_visualizer_replays_a_shipped_agents_episode_in_chromium() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let (server, addr) = serve();
    let url = format!("{addr}/agents?agent=point-maze-fql&seed=1&autorun=1");
    let dom = headless(&chromium, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let head = &dom[..dom.len().min(2000)];
    assert!(
        dom.contains(r#"data-bodies-drawn="1""#),
        "learner not drawn: {head}"
    );
    let frames: usize = dom
        .split(r#"data-frames=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no episode: {head}"));
    assert!(frames >= 2, "{frames} frames");
    assert!(
        dom.contains("fql on point-maze, seed 1"),
        "no title: {head}"
    );
    assert!(
        dom.contains("network calls per action"),
        "metrics not shown"
    );

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agents.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &chromium,
        &[&format!("--screenshot={}", shot.display())],
        &url,
    );
    assert!(
        shot.metadata().is_ok_and(|m| m.len() > 10_000),
        "no screenshot"
    );
    drop(server);
}
