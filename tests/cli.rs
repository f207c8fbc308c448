//! The CLI end to end: scenario -> plan -> check, and input errors.

use assert_cmd::Command;
use serde_json::Value;

fn flowopt() -> Command {
    Command::cargo_bin("flowopt").expect("the flowopt binary is built")
}

fn run_ok(args: &[&str], stdin: &str) -> String {
    let out = flowopt().args(args).write_stdin(stdin).output().unwrap();
    assert!(
        out.status.success(),
        "flowopt {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn scenario(name: &str, robots: usize, seed: u64) -> String {
    run_ok(
        &[
            "scenario",
            name,
            "--robots",
            &robots.to_string(),
            "--seed",
            &seed.to_string(),
        ],
        "",
    )
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn circle_swap_with_straight_lines_is_infeasible_and_check_agrees() {
    let problem = scenario("circle", 8, 1);
    let plan_text = run_ok(&["plan", "-", "--planner", "straight"], &problem);
    let plan: Value = serde_json::from_str(&plan_text).unwrap();
    assert_eq!(plan["planner"], "straight");
    assert_eq!(plan["feasible"], false);
    assert_eq!(plan["trajectories"].as_array().unwrap().len(), 8);
    assert_eq!(
        plan["trajectories"][0]["coefficients"]["x"]
            .as_array()
            .unwrap()
            .len(),
        11
    );
    assert!(plan["timings_ms"]["total"].as_f64().unwrap() >= 0.0);
    // All robots meet in the centre.
    assert!(plan["metrics"]["min_pair_distance"].as_f64().unwrap() < 0.4);

    let problem_path = write_temp("circle.json", &problem);
    let plan_path = write_temp("circle-plan.json", &plan_text);
    let out = flowopt()
        .args(["check"])
        .arg(&problem_path)
        .arg(&plan_path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(metrics, plan["metrics"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("INFEASIBLE"));
}

#[test]
fn a_feasible_plan_checks_with_exit_zero() {
    // One robot cannot collide with anyone.
    let problem = scenario("random", 1, 4);
    let plan = run_ok(&["plan", "--planner", "straight"], &problem);
    assert_eq!(
        serde_json::from_str::<Value>(&plan).unwrap()["feasible"],
        true
    );
    let problem_path = write_temp("one.json", &problem);
    flowopt()
        .arg("check")
        .arg(&problem_path)
        .arg("-")
        .write_stdin(plan)
        .assert()
        .code(0);
}

#[test]
fn every_scenario_plans_and_checks() {
    for name in [
        "circle",
        "random",
        "obstacles",
        "warehouse",
        "doorway",
        "crossing",
    ] {
        let problem = scenario(name, 6, 2);
        let plan = run_ok(&["plan"], &problem);
        let path = write_temp(&format!("{name}.json"), &problem);
        let out = flowopt()
            .arg("check")
            .arg(&path)
            .arg("-")
            .write_stdin(plan.clone())
            .output()
            .unwrap();
        let feasible = serde_json::from_str::<Value>(&plan).unwrap()["feasible"]
            .as_bool()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(if feasible { 0 } else { 1 }),
            "{name}"
        );
    }
}

#[test]
fn scenarios_are_deterministic_per_seed() {
    assert_eq!(scenario("warehouse", 8, 3), scenario("warehouse", 8, 3));
    assert_ne!(scenario("warehouse", 8, 3), scenario("warehouse", 8, 4));
}

/// Runs `flowopt plan` on `problem` (plus `extra` arguments) and returns its stderr, asserting
/// exit code 2.
fn plan_error(problem: &str, extra: &[&str]) -> String {
    let out = flowopt()
        .arg("plan")
        .args(extra)
        .write_stdin(problem.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2 for {problem}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn invalid_problems_exit_2_naming_the_field() {
    let ws = r#""workspace":{"min":[0,0],"max":[4,4]}"#;
    let cases: &[(&str, &str)] = &[
        (r#"{"robots":[]}"#, "workspace"),
        (&format!(r#"{{{ws},"robots":[]}}"#), "robots"),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3],"radius":0}}]}}"#),
            "robots[0].radius",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3],"radius":-1}}]}}"#),
            "robots[0].radius",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[5,3]}}]}}"#),
            "robots[0].goal",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[-1,1],"goal":[3,3]}}]}}"#),
            "robots[0].start",
        ),
        (
            &format!(
                r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}},{{"start":[1.2,1],"goal":[1,3]}}]}}"#
            ),
            "robots[1].start",
        ),
        (
            &format!(
                r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}},{{"start":[3,1],"goal":[3.1,3]}}]}}"#
            ),
            "robots[1].goal",
        ),
        (
            &format!(
                r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}}],"obstacles":[{{"center":[1.3,1],"radius":0.5}}]}}"#
            ),
            "robots[0].start",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}}],"horizon":-2}}"#),
            "horizon",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}}],"horizon":0}}"#),
            "horizon",
        ),
        (
            &format!(
                r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}}],"limits":{{"max_speed":0}}}}"#
            ),
            "limits.max_speed",
        ),
        (
            &format!(
                r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}}],"obstacles":[{{"center":[2,2],"radius":0}}]}}"#
            ),
            "obstacles[0].radius",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1e999],"goal":[3,3]}}]}}"#),
            "robots[0].start",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1]}}]}}"#),
            "robots[0].goal",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,"a"],"goal":[3,3]}}]}}"#),
            "robots[0].start",
        ),
        (
            &format!(r#"{{{ws},"robots":[{{"start":[1,1],"goal":[3,3]}}],"horizon":5,"extra":1}}"#),
            "extra",
        ),
        (
            r#"{"workspace":{"min":[0,0],"max":[4,4]},"robots":["#,
            "robots",
        ),
        ("not json", "problem"),
    ];
    for (problem, field) in cases {
        let stderr = plan_error(problem, &[]);
        assert!(
            stderr.contains(&format!("invalid input: {field}")),
            "expected field `{field}` for {problem}, got: {stderr}"
        );
    }
}

#[test]
fn too_many_robots_is_refused_with_a_configurable_limit() {
    let problem = scenario("circle", 6, 0);
    let stderr = plan_error(&problem, &["--max-robots", "5"]);
    assert!(stderr.contains("invalid input: robots"), "{stderr}");
    run_ok(&["plan", "--max-robots", "6"], &problem);
    let out = flowopt()
        .args(["scenario", "circle", "--robots", "500"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("robots"));
}

#[test]
fn bad_names_and_plans_exit_2() {
    let out = flowopt().args(["scenario", "spiral"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("circle"));

    let problem = scenario("circle", 4, 0);
    let stderr = plan_error(&problem, &["--planner", "teleport"]);
    assert!(stderr.contains("planner"), "{stderr}");

    // A plan for another problem (wrong robot count) is invalid input for `check`.
    let other_plan = run_ok(&["plan"], &scenario("circle", 3, 0));
    let path = write_temp("four.json", &problem);
    let out = flowopt()
        .arg("check")
        .arg(&path)
        .arg("-")
        .write_stdin(other_plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trajectories"));

    let out = flowopt()
        .arg("check")
        .arg(&path)
        .arg("-")
        .write_stdin("{}")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plan"));
}

#[test]
fn help_covers_every_subcommand() {
    let help = run_ok(&["--help"], "");
    for sub in [
        "scenario", "plan", "check", "dataset", "train", "bench", "list",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
        let sub_help = run_ok(&[sub, "--help"], "");
        assert!(sub_help.contains("Usage"), "{sub} --help");
    }
    let list = run_ok(&["list"], "");
    assert!(list.contains("straight") && list.contains("warehouse"));
}

#[test]
fn scp_and_orca_plans_pass_check() {
    for (planner, name, robots) in [
        ("scp", "circle", 4),
        ("orca", "circle", 4),
        ("scp", "doorway", 4),
    ] {
        let problem = scenario(name, robots, 1);
        let plan = run_ok(&["plan", "--planner", planner, "--seed", "1"], &problem);
        let parsed: Value = serde_json::from_str(&plan).unwrap();
        assert_eq!(parsed["planner"], planner);
        let path = write_temp(&format!("{planner}-{name}.json"), &problem);
        flowopt()
            .arg("check")
            .arg(&path)
            .arg("-")
            .write_stdin(plan)
            .assert()
            .code(0);
    }
}

#[test]
fn dataset_writes_verified_labels_and_resumes() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-ds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.fods");
    let _ = std::fs::remove_file(&path);
    let args = |problems: &str| {
        vec![
            "dataset".to_string(),
            "-o".into(),
            path.display().to_string(),
            "--problems".into(),
            problems.into(),
            "--max-robots".into(),
            "3".into(),
            "--scenarios".into(),
            "circle,obstacles".into(),
        ]
    };
    let out = flowopt().args(args("2")).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, first) = flowopt::core::dataset::read_dataset(&path).unwrap();
    assert!(!first.is_empty());
    // Same settings: nothing new to do, the records stay.
    let out = flowopt().args(args("2")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("resumed"));
    let (_, again) = flowopt::core::dataset::read_dataset(&path).unwrap();
    assert_eq!(first, again);
    // More problems extend the file; other settings on it are refused.
    let out = flowopt().args(args("3")).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, extended) = flowopt::core::dataset::read_dataset(&path).unwrap();
    assert_eq!(&extended[..first.len()], &first[..]);
    let mut other = args("3");
    other.extend(["--seed".to_string(), "7".to_string()]);
    let out = flowopt().args(other).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Bad ranges name the field.
    let out = flowopt()
        .args([
            "dataset",
            "-o",
            "/tmp/never.fods",
            "--min-robots",
            "5",
            "--max-robots",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("robots"));
}

#[test]
fn filter_planner_from_the_cli() {
    let problem = scenario("circle", 6, 3);
    let plan = run_ok(&["plan", "--planner", "filter", "--seed", "2"], &problem);
    let parsed: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(parsed["planner"], "filter");
    assert!(parsed["timings_ms"]["filter"].as_f64().unwrap() > 0.0);
    let path = write_temp("filter-circle.json", &problem);
    flowopt()
        .arg("check")
        .arg(&path)
        .arg("-")
        .write_stdin(plan)
        .assert()
        .code(0);
    let out = flowopt()
        .args(["plan", "--planner", "filter", "--device", "tpu"])
        .write_stdin(problem.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Without the warm start the plan differs but is still feasible; a missing weights file is
    // a clear error.
    let plain = run_ok(
        &[
            "plan",
            "--planner",
            "filter",
            "--seed",
            "2",
            "--warm-start",
            "none",
        ],
        &problem,
    );
    let plain: Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(plain["feasible"], true);
    let out = flowopt()
        .args([
            "plan",
            "--planner",
            "filter",
            "--warm-start",
            "/nonexistent/ws",
        ])
        .write_stdin(problem)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/ws.json"), "{stderr}");
}

#[test]
fn train_warmstart_writes_weights_and_report() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-train-{}", std::process::id()));
    let out = dir.join("ws");
    flowopt()
        .args([
            "train",
            "warmstart",
            "--steps",
            "2",
            "--problems",
            "1",
            "--candidates",
            "2",
        ])
        .args([
            "--max-robots",
            "3",
            "--unroll",
            "2",
            "--eval-problems",
            "1",
            "--width",
            "16",
        ])
        .args([
            "--heads",
            "2",
            "--blocks",
            "1",
            "--checkpoint-every",
            "0",
            "--out",
        ])
        .arg(&out)
        .assert()
        .code(0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(report["training"]["steps"], 2);
    assert!(report["evaluation"]["plain"]["median"].as_f64().is_some());
    // The weights plan through `--warm-start PATH`.
    let problem = scenario("circle", 3, 1);
    let plan = run_ok(
        &[
            "plan",
            "--planner",
            "filter",
            "--warm-start",
            out.to_str().unwrap(),
        ],
        &problem,
    );
    assert!(plan.contains("\"planner\":\"filter\""));
    std::fs::remove_dir_all(&dir).ok();
    // Bad settings exit 2 naming the field.
    let bad = flowopt()
        .args(["train", "warmstart", "--steps", "0", "--out"])
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("steps"));
}

/// `plan --return-candidates` gives the alternatives the HTTP API gives: every candidate runs
/// to convergence (none stops at the first verified one), each feasible one is returned, the
/// plan first.
#[test]
fn return_candidates_returns_every_feasible_candidate() {
    let plan = run_ok(
        &[
            "plan",
            "--planner",
            "flowopt",
            "--candidates",
            "4",
            "--return-candidates",
        ],
        &scenario("circle", 4, 1),
    );
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let candidates = plan["candidates"].as_array().unwrap();
    assert_eq!(plan["info"]["candidates"], 4.0);
    assert_eq!(
        candidates.len() as f64,
        plan["info"]["feasible_candidates"].as_f64().unwrap()
    );
    assert!(candidates.len() > 1, "{}", candidates.len());
    assert_eq!(candidates[0]["trajectories"], plan["trajectories"]);
}

#[test]
fn train_generator_then_plan_with_flowopt() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("tiny.fods");
    flowopt()
        .args(["dataset", "--problems", "3", "--max-robots", "3"])
        .args(["--scenarios", "circle,random", "-o"])
        .arg(&data)
        .assert()
        .code(0);
    let out = dir.join("gen");
    flowopt()
        .args(["train", "generator", "--steps", "6", "--batch-size", "2"])
        .args(["--width", "16", "--heads", "2", "--blocks", "1"])
        .args([
            "--validate-every",
            "3",
            "--checkpoint-every",
            "3",
            "--dataset",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(report["step"], 6);
    assert_eq!(report["config"]["width"], 16);
    assert!(report["curve"].as_array().unwrap().len() >= 2);
    // The weights plan through `--planner flowopt --generator PATH`; the plan checks.
    let problem = scenario("circle", 3, 1);
    // The integrator is a tuning setting: a tuning file sets it.
    let midpoint = write_temp("gen-tuning.json", r#"{"integrator": "midpoint"}"#);
    let plan = run_ok(
        &[
            "plan",
            "--planner",
            "flowopt",
            "--generator",
            out.to_str().unwrap(),
            "--candidates",
            "3",
            "--tuning",
            midpoint.to_str().unwrap(),
            "--return-candidates",
        ],
        &problem,
    );
    let parsed: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(parsed["planner"], "flowopt");
    for stage in ["generate", "filter", "select", "total"] {
        assert!(parsed["timings_ms"][stage].as_f64().is_some(), "{stage}");
    }
    assert_eq!(parsed["info"]["candidates"], 3.0);
    let problem_file = write_temp("gen-problem.json", &problem);
    let plan_file = write_temp("gen-plan.json", &plan);
    let code = flowopt()
        .arg("check")
        .arg(&problem_file)
        .arg(&plan_file)
        .output()
        .unwrap()
        .status
        .code();
    let feasible = parsed["feasible"].as_bool().unwrap();
    assert_eq!(code, Some(if feasible { 0 } else { 1 }));
    if feasible {
        // Every returned alternative is feasible; the smoothest, first, is the plan itself.
        let alternatives = parsed["candidates"].as_array().unwrap();
        assert!(
            alternatives
                .iter()
                .all(|c| c["metrics"]["feasible"] == true)
        );
        assert_eq!(alternatives[0]["trajectories"], parsed["trajectories"]);
    }
    // A bad integrator in a tuning file names the setting.
    let rk4 = write_temp("gen-tuning-bad.json", r#"{"integrator": "rk4"}"#);
    let out = flowopt()
        .args(["plan", "--planner", "flowopt", "--tuning"])
        .arg(&rk4)
        .write_stdin(problem.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("integrator"));
    // Missing weights: exit 2 naming the file and the command that makes them.
    let out = flowopt()
        .args(["plan", "--planner", "flowopt", "--generator"])
        .arg(dir.join("missing"))
        .write_stdin(problem)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.json") && err.contains("flowopt train generator"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_writes_rows_summary_and_report_and_resumes() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-bench-{}", std::process::id()));
    let bench = |extra: &[&str]| {
        flowopt()
            .args([
                "bench",
                "--scenarios",
                "circle,obstacles",
                "--robots",
                "3,4",
            ])
            .args([
                "--seeds",
                "2",
                "--planners",
                "straight,orca",
                "--reference",
                "orca",
            ])
            .args(extra)
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap()
    };
    let out = bench(&["--limit", "orca:4=1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = |dir: &std::path::Path| -> Vec<Value> {
        std::fs::read_to_string(dir.join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    // 2 scenarios x 2 sizes x 2 seeds for straight; orca limited to one seed at N=4.
    let first = rows(&dir);
    assert_eq!(first.len(), 8 + 6);
    for row in &first {
        assert!(row["ms"].as_f64().unwrap() >= 0.0);
        assert!(row["error"].is_null(), "{row}");
        // Every row says where and how it was measured.
        let provenance = &row["provenance"];
        assert!(!provenance["commit"].as_str().unwrap().is_empty(), "{row}");
        assert_eq!(provenance["device"], "cpu");
        assert!(provenance["threads"].as_u64().unwrap() >= 1);
    }
    let summary: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.len(), 8);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("| circle | 3 | straight | 2 | 0% |"),
        "{report}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), report);
    // A rerun without the limit plans only the two missing orca rows.
    let out = bench(&[]);
    assert!(out.status.success());
    assert_eq!(rows(&dir).len(), 16);
    // Rows of another binary (here: another commit) are not resumed into.
    let results = dir.join("results.jsonl");
    let text = std::fs::read_to_string(&results).unwrap();
    let mut other: Vec<Value> = rows(&dir);
    other.truncate(15);
    for row in &mut other {
        row["provenance"]["commit"] = "0123456789ab".into();
    }
    let other: String = other.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&results, &other).unwrap();
    let out = bench(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another configuration"), "{err}");
    assert_eq!(rows(&dir).len(), 15, "nothing planned");
    std::fs::write(&results, text).unwrap();
    // A bad limit names the option.
    let out = bench(&["--limit", "orca=3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("limit"));
    // So does a bad `flowopt` option, before anything is planned.
    let out = bench(&["--planners", "flowopt", "--candidates", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("candidates"));
    assert_eq!(rows(&dir).len(), 16);
    std::fs::remove_dir_all(&dir).ok();
}

/// `--suite DIR` plans the user's own problem files; a bad file stops the run before anything
/// is planned, naming it.
#[test]
fn bench_runs_a_folder_of_problem_files_as_a_suite() {
    let root = std::env::temp_dir().join(format!("flowopt-cli-folder-{}", std::process::id()));
    let suite = root.join("site-a");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(suite.join("swap.json"), scenario("circle", 3, 0)).unwrap();
    std::fs::write(suite.join("aisle.json"), scenario("warehouse", 4, 1)).unwrap();
    std::fs::write(suite.join("notes.txt"), "not a problem").unwrap();
    let bench = |out: &std::path::Path| {
        flowopt()
            .args([
                "bench",
                "--planners",
                "straight,orca",
                "--reference",
                "orca",
            ])
            .arg("--suite")
            .arg(&suite)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let out = root.join("out");
    let run = bench(&out);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let rows: Vec<Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Two files x two planners, seed 0 each.
    assert_eq!(rows.len(), 4);
    let mut files: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["file"].as_str().unwrap(), r["robots"].as_u64().unwrap()))
        .collect();
    files.sort();
    files.dedup();
    assert_eq!(files, [("aisle.json", 4), ("swap.json", 3)]);
    assert!(
        rows.iter()
            .all(|r| r["scenario"] == "site-a" && r["seed"] == 0)
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| site-a | 3 | straight | 1 |"), "{report}");
    // A malformed file names itself.
    std::fs::write(suite.join("broken.json"), "{").unwrap();
    let run = bench(&root.join("out2"));
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("broken.json"));
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bench_shards_merge_to_the_unsharded_run_with_report_and_plots() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let suite = dir.join("suite.json");
    std::fs::write(
        &suite,
        r#"{"scenarios": ["circle", "obstacles"], "robots": [3, 4], "seeds": 3,
            "planners": ["straight", "orca"]}"#,
    )
    .unwrap();
    let run = |extra: &[&str], out: &str| {
        let output = flowopt()
            .arg("bench")
            .arg("--suite")
            .arg(&suite)
            .args(["--reference", "orca"])
            .args(extra)
            .arg("--out")
            .arg(dir.join(out))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[], "all");
    for shard in ["0/3", "1/3", "2/3"] {
        run(&["--shard", shard], &format!("shard{}", &shard[..1]));
    }
    let merged = flowopt()
        .args(["bench", "merge", "--reference", "orca", "-o"])
        .arg(dir.join("merged"))
        .args((0..3).map(|i| dir.join(format!("shard{i}"))))
        .output()
        .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    // Everything but the timings, in one order.
    let rows = |run: &str| -> Vec<Value> {
        let mut rows: Vec<Value> = std::fs::read_to_string(dir.join(run).join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                let row = v.as_object_mut().unwrap();
                row.remove("ms");
                row.remove("stages_ms");
                v
            })
            .collect();
        rows.sort_by_key(|v| v.to_string());
        rows
    };
    let all = rows("all");
    // 2 scenarios x 2 sizes x 3 seeds x 2 planners, every planner on every problem.
    assert_eq!(all.len(), 24);
    for planner in ["straight", "orca"] {
        assert_eq!(all.iter().filter(|r| r["planner"] == planner).count(), 12);
    }
    let shards: Vec<usize> = (0..3).map(|i| rows(&format!("shard{i}")).len()).collect();
    assert_eq!(
        shards,
        vec![8, 8, 8],
        "disjoint shards of 4 problems x 2 planners"
    );
    assert_eq!(rows("merged"), all);
    let summary = |run: &str| -> Vec<Value> {
        let mut s: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(dir.join(run).join("summary.json")).unwrap(),
        )
        .unwrap();
        for v in &mut s {
            for timing in ["p50_ms", "p95_ms", "speedup"] {
                v.as_object_mut().unwrap().remove(timing);
            }
        }
        s
    };
    assert_eq!(summary("merged"), summary("all"));
    for run in ["all", "merged"] {
        let report = std::fs::read_to_string(dir.join(run).join("report.md")).unwrap();
        assert!(report.contains("| obstacles | 4 | orca | 3 |"), "{report}");
        for plot in ["latency.svg", "success.svg", "smoothness.svg"] {
            let svg = std::fs::read_to_string(dir.join(run).join(plot)).unwrap();
            assert!(
                svg.starts_with("<svg") && svg.contains("orca") && svg.contains("straight"),
                "{plot}"
            );
        }
    }
    // A bad shard names the option.
    let out = flowopt()
        .args(["bench", "--shard", "3/3", "--out"])
        .arg(dir.join("bad"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn agent_dataset_train_eval_and_summary_work_end_to_end() {
    let dir = std::env::temp_dir().join(format!("flowopt-agent-{}", std::process::id()));
    let data = dir.join("data/point-maze-noisy.npz");
    let data = data.to_str().unwrap();
    let out = dir.join("runs/gfp");
    let out_s = out.to_str().unwrap();
    run_ok(
        &[
            "agent",
            "dataset",
            "--env",
            "point-maze",
            "--quality",
            "noisy",
            "--episodes",
            "20",
            "-o",
            data,
        ],
        "",
    );
    run_ok(
        &[
            "agent",
            "train",
            "--algo",
            "gfp",
            "--env",
            "point-maze",
            "--dataset",
            data,
            "--steps",
            "30",
            "--batch-size",
            "32",
            "--eval-every",
            "15",
            "--eval-episodes",
            "2",
            "--final-episodes",
            "3",
            "--hidden",
            "32,32",
            "-o",
            out_s,
        ],
        "",
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["curve"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["final_eval"]["episodes"], 3);
    let policy = out.join("last");
    let eval: Value = serde_json::from_str(&run_ok(
        &[
            "agent",
            "eval",
            "--policy",
            policy.to_str().unwrap(),
            "--env",
            "point-maze",
            "--episodes",
            "2",
        ],
        "",
    ))
    .unwrap();
    let success = eval["success_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&success), "{eval}");
    let table = run_ok(
        &["agent", "summary", dir.join("runs").to_str().unwrap()],
        "",
    );
    assert!(
        table.contains("| point-maze | point-maze-noisy | gfp | 1 |"),
        "{table}"
    );

    // The best policy as a checkpoint folder, as shipped in assets/agents/.
    let ckpt = dir.join("ckpt");
    run_ok(
        &["agent", "export", out_s, "-o", ckpt.to_str().unwrap()],
        "",
    );
    let loaded = flowopt::rl::checkpoint::load(&ckpt, &flowopt::DeviceChoice::Cpu.device())
        .expect("the exported checkpoint loads");
    assert_eq!(loaded.meta.algorithm, flowopt::rl::Algorithm::Gfp);
    assert_eq!(loaded.meta.env, Some(flowopt::rl::EnvKind::PointMaze));
    assert!(
        loaded.agent.is_none(),
        "an exported checkpoint holds only the policy"
    );
    assert_eq!(loaded.policy.calls_per_action(), 1);

    // Errors name what is wrong and exit 2.
    let bad = flowopt()
        .args([
            "agent",
            "train",
            "--algo",
            "ppo",
            "--env",
            "point-maze",
            "--dataset",
            data,
            "-o",
            out_s,
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown algorithm `ppo`"));
    let wrong_env = flowopt()
        .args([
            "agent",
            "train",
            "--algo",
            "fql",
            "--env",
            "pendulum",
            "--dataset",
            data,
            "-o",
            out_s,
        ])
        .output()
        .unwrap();
    assert_eq!(wrong_env.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong_env.stderr).contains("dataset"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_throughput_times_every_planner_at_every_batch_size() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-throughput-{}", std::process::id()));
    let out = flowopt()
        .args([
            "bench",
            "throughput",
            "--planners",
            "filter,straight",
            "--robots",
            "4",
        ])
        .args(["--batches", "1,3", "--repeats", "1", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("throughput.json")).unwrap())
            .unwrap();
    let got: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["planner"].as_str().unwrap().to_string(),
                r["batch"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("filter", 1),
            ("filter", 3),
            ("straight", 1),
            ("straight", 3)
        ]
        .map(|(p, b)| (p.to_string(), b))
    );
    for r in &rows {
        let rate = r["problems_per_s"].as_f64().unwrap();
        let ms = r["batch_ms"].as_f64().unwrap();
        assert!(rate > 0.0 && ms > 0.0, "{r}");
        assert!(
            (rate * ms / 1e3 - r["batch"].as_f64().unwrap()).abs() < 1e-6,
            "{r}"
        );
    }
    // The filter solves these small circles; straight lines cross.
    assert_eq!(rows[1]["feasible"], 1.0);
    assert_eq!(rows[3]["feasible"], 0.0);
    let table = std::fs::read_to_string(dir.join("throughput.md")).unwrap();
    assert!(table.contains("| filter | 3 |"), "{table}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_roofline_reports_a_fraction_of_the_measured_matmul_rate() {
    let dir = std::env::temp_dir().join(format!("flowopt-cli-roofline-{}", std::process::id()));
    let out = flowopt()
        .args([
            "bench",
            "roofline",
            "--robots",
            "8",
            "--candidates",
            "2",
            "--steps",
            "1",
        ])
        // Three repeats and 8 robots: the filter's per-iteration time is a difference of two
        // runs, which must stand above the timing noise.
        .args(["--repeats", "3", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("roofline.json")).unwrap()).unwrap();
    let num = |k: &str| r[k].as_f64().unwrap();
    assert!(num("matmul_gflops") > 0.0 && num("sample_ms") > 0.0, "{r}");
    // Counted FLOPs over measured time can not beat the backend's own matmul rate.
    assert!(num("fraction") > 0.0 && num("fraction") <= 1.0, "{r}");
    assert!((num("sample_gflops") / num("matmul_gflops") - num("fraction")).abs() < 1e-9);
    let filter = num("filter_fraction");
    assert!(filter > 0.0 && filter <= 1.0, "{r}");
    assert!(num("filter_iteration_gflop") > 0.0 && num("filter_iteration_ms") > 0.0);
    std::fs::remove_dir_all(&dir).ok();
}

/// `flowopt certify` judges a polynomial plan over the whole interval: a straight swap is
/// refused with the pair, the amount and the time; one robot alone is certified; a
/// sample-only plan is an input error.
#[test]
fn certify_reports_the_worst_violation_between_samples_and_its_time() {
    let certify = |problem: &str, plan: &str| {
        let problem_file = write_temp("certify-problem.json", problem);
        flowopt()
            .arg("certify")
            .arg(&problem_file)
            .arg("-")
            .write_stdin(plan.to_string())
            .output()
            .unwrap()
    };
    let swap = scenario("circle", 2, 0);
    let straight = run_ok(&["plan", "--planner", "straight"], &swap);
    let out = certify(&swap, &straight);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["certified"], false);
    let worst = &report["violations"][0];
    assert_eq!(worst["constraint"]["pair"], serde_json::json!([0, 1]));
    // The two robots meet head-on in the middle of the horizon.
    let horizon: Value = serde_json::from_str(&swap).unwrap();
    let half = horizon["horizon"].as_f64().unwrap_or(8.0) / 2.0;
    assert!(
        (worst["time"].as_f64().unwrap() - half).abs() < 0.05,
        "{worst}"
    );
    assert!(worst["amount"].as_f64().unwrap() > 0.3);

    let alone = scenario("circle", 1, 0);
    let plan = run_ok(&["plan", "--planner", "straight"], &alone);
    let out = certify(&alone, &plan);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let orca = run_ok(&["plan", "--planner", "orca"], &swap);
    let out = certify(&swap, &orca);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("coefficients"));
}
