//! The shipped generator (`assets/generator.bpk`, embedded): `flowopt plan` (whose default
//! planner is `flowopt`) solves the N = 16 problems, verified by `flowopt check`, and
//! the weights give the same plan on the CPU and on wgpu; the filter refines its samples only
//! where the problem's own are not enough, and smooths its candidates on open floors only.

use assert_cmd::Command;
use flowopt::core::{
    CheckConfig, Coefficients, Plan, PlanOptions, Planner, Scenario, ScenarioConfig, evaluate,
    max_coefficient_difference,
};
use flowopt::planner::{FlowOptSettings, POLISH_ITERATIONS, POLISH_ROUNDS};
use flowopt::{DeviceChoice, PlannerOptions, planner_by_name};

fn flowopt() -> Command {
    Command::cargo_bin("flowopt").expect("the flowopt binary is built")
}

/// The `flowopt` planner with the shipped weights, on the CPU, with `settings`.
fn flowopt_planner(settings: FlowOptSettings) -> Box<dyn Planner> {
    let options = PlannerOptions {
        flowopt: settings,
        ..Default::default()
    };
    planner_by_name("flowopt", &options).unwrap()
}

/// A plan's Bernstein coefficients, robot by robot.
fn coefficients(plan: &Plan) -> Vec<Coefficients> {
    plan.trajectories
        .iter()
        .map(|t| t.coefficients.clone().unwrap())
        .collect()
}

/// `flowopt scenario NAME -n 16 --seed SEED | flowopt plan | flowopt check` exits 0.
fn plans_and_checks(name: &str, seed: u64) {
    let problem = flowopt()
        .args([
            "scenario",
            name,
            "--robots",
            "16",
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .unwrap();
    assert!(problem.status.success());
    let plan = flowopt()
        .args(["plan", "--seed", &seed.to_string()])
        .write_stdin(problem.stdout.clone())
        .output()
        .unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        parsed["planner"], "flowopt",
        "flowopt is the default planner"
    );
    let dir = std::env::temp_dir().join(format!("flowopt-shipped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (problem_file, plan_file) = (
        dir.join(format!("{name}.json")),
        dir.join(format!("{name}-plan.json")),
    );
    std::fs::write(&problem_file, &problem.stdout).unwrap();
    std::fs::write(&plan_file, &plan.stdout).unwrap();
    let check = flowopt()
        .arg("check")
        .arg(&problem_file)
        .arg(&plan_file)
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{name} N=16 seed {seed}: {} (info {})",
        String::from_utf8_lossy(&check.stderr),
        parsed["info"]
    );
}

#[test]
fn shipped_generator_solves_circle_16() {
    plans_and_checks("circle", 0);
}

#[test]
fn shipped_generator_solves_obstacles_16() {
    plans_and_checks("obstacles", 0);
}

#[test]
fn shipped_generator_solves_warehouse_16() {
    plans_and_checks("warehouse", 0);
}

/// The embedded weights load on the CPU and on wgpu (Mesa's llvmpipe on machines without a
/// GPU) and give the same plan.
#[test]
fn shipped_generator_plans_alike_on_cpu_and_wgpu() {
    let problem = Scenario::Obstacles
        .generate(&ScenarioConfig::new(6).seed(2))
        .unwrap();
    let plan_on = |device| {
        let options = PlannerOptions {
            device,
            ..Default::default()
        };
        planner_by_name("flowopt", &options)
            .unwrap()
            .plan(&problem, &PlanOptions { seed: 2 })
            .unwrap()
    };
    let cpu = plan_on(DeviceChoice::Cpu);
    let gpu = plan_on(DeviceChoice::Wgpu);
    let diff = max_coefficient_difference(&coefficients(&cpu), &coefficients(&gpu));
    assert!(
        diff < 1e-3,
        "wgpu plan differs from the CPU plan by {diff} m"
    );
    assert_eq!(cpu.feasible, gpu.feasible);
    assert!(cpu.feasible);
}

/// The filter's adaptive samples: a problem the coarse pass (the problem's own 50 samples)
/// solves is not filtered again; a doorway where robots meet between those samples is refined
/// on denser samples and then passes, where the problem's samples alone leave it infeasible;
/// only the better half of the candidates the first pass's halving kept are refined.
/// Candidates are only taken once converged (`verify_below: 0`): checking unconverged ones
/// finds a passing candidate on the 50 samples for every N = 8 doorway of seeds 0-25, which
/// would leave nothing here to refine.
#[test]
fn the_filter_refines_only_where_the_problem_samples_fail() {
    let plan = |scenario: Scenario, seed: u64, settings: FlowOptSettings| {
        let problem = scenario
            .generate(&ScenarioConfig::new(8).seed(seed))
            .unwrap();
        flowopt_planner(settings)
            .plan(&problem, &PlanOptions { seed })
            .unwrap()
    };
    let adaptive = FlowOptSettings {
        candidates: 8,
        verify_below: 0.0,
        ..Default::default()
    };
    let easy = plan(Scenario::Obstacles, 2, adaptive);
    assert!(easy.feasible);
    assert_eq!(easy.info["refined"], 0.0, "solved on its own samples");

    // One pass on the problem's samples, with the first pass's multiplier step (a single pass
    // takes the refining pass's step, 2, which happens to find a plan here).
    let coarse_only = FlowOptSettings {
        filter_samples: 0,
        filter_sample_period: 0.0,
        dual_step: 1.0,
        ..adaptive
    };
    let coarse = plan(Scenario::Doorway, 5, coarse_only);
    assert!(!coarse.feasible, "50 samples alone: {:?}", coarse.metrics);
    assert_eq!(coarse.info["refined"], 0.0);
    let refined = plan(Scenario::Doorway, 5, adaptive);
    assert!(refined.feasible, "{:?}", refined.metrics);
    assert_eq!(refined.info["refined"], 1.0);
    // Halving goes on across the passes: of 8 candidates, the first pass (100 iterations,
    // halving at 50) keeps 4 to its end, and the better 2 of them are refined.
    assert_eq!(
        refined.info["refined_candidates"], 2.0,
        "{:?}",
        refined.info
    );
    assert_eq!(easy.info["refined_candidates"], 0.0);
    // Without halving, all 8 are.
    let all = plan(
        Scenario::Doorway,
        5,
        FlowOptSettings {
            halve_every: 0,
            ..adaptive
        },
    );
    assert_eq!(all.info["refined"], 1.0);
    assert_eq!(all.info["refined_candidates"], 8.0, "{:?}", all.info);
}

/// Warehouse N = 16 seed 45: the shipped generator sends robots through a shelf; without the
/// pull-back every candidate fails (the best 0.36 m inside a shelf). Pulled back towards their
/// guide paths, the candidates pass.
#[test]
fn candidates_sent_through_a_shelf_are_pulled_back_and_pass() {
    let problem = Scenario::Warehouse
        .generate(&ScenarioConfig::new(16).seed(45))
        .unwrap();
    let plan = |pull_back_depth| {
        flowopt_planner(FlowOptSettings {
            pull_back_depth,
            ..Default::default()
        })
        .plan(&problem, &PlanOptions { seed: 45 })
        .unwrap()
    };
    let check =
        |plan: &Plan| evaluate(&problem, &plan.trajectories, &CheckConfig::default()).unwrap();
    let left = plan(None);
    assert_eq!(left.info["pulled_back"], 0.0);
    let stuck = check(&left);
    assert!(
        !stuck.feasible && stuck.residuals.obstacles > 0.2,
        "{:?}",
        stuck.residuals
    );
    let pulled = plan(FlowOptSettings::default().pull_back_depth);
    assert!(pulled.info["pulled_back"] > 0.0, "{:?}", pulled.info);
    let metrics = check(&pulled);
    assert!(metrics.feasible, "{:?}", metrics.residuals);
}

/// The smoothness term of the first filter pass applies to open floors only (no robot's
/// straight line crosses an obstacle): a circle swap gets a smoother plan than the plain
/// projection's, an obstacle field the plain projection's plan, and a batch mixing the two
/// gives each problem the plan it gets alone. (Polishing is off: it would smooth the plain
/// projection's circle plan too, which is not what this compares.)
#[test]
fn open_floors_get_smoother_plans_and_obstacle_fields_the_plain_projection() {
    let open = Scenario::Circle
        .generate(&ScenarioConfig::new(8).seed(0))
        .unwrap();
    let cluttered = Scenario::Obstacles
        .generate(&ScenarioConfig::new(8).seed(2))
        .unwrap();
    let planner = |filter_smoothing| {
        flowopt_planner(FlowOptSettings {
            filter_smoothing,
            polish_iterations: 0,
            ..Default::default()
        })
    };
    let (smoothing, plain) = (planner(flowopt::planner::FILTER_SMOOTHING), planner(0.0));
    let options = [PlanOptions { seed: 0 }, PlanOptions { seed: 2 }];
    let problems = [open, cluttered];
    let alone: Vec<_> = problems
        .iter()
        .zip(&options)
        .map(|(p, o)| smoothing.plan(p, o).unwrap())
        .collect();
    let projected: Vec<_> = problems
        .iter()
        .zip(&options)
        .map(|(p, o)| plain.plan(p, o).unwrap())
        .collect();
    assert!(alone.iter().chain(&projected).all(|p| p.feasible));
    assert_eq!(alone[0].info["smoothed"], 1.0);
    assert_eq!(alone[1].info["smoothed"], 0.0, "an obstacle field");
    assert_eq!(projected[0].info["smoothed"], 0.0);
    // Circle N = 8, seeds 0-49: median smoothness 15.3 projected, 9.35 smoothed.
    assert!(
        alone[0].metrics.smoothness < 0.8 * projected[0].metrics.smoothness,
        "smoothed {} vs projected {}",
        alone[0].metrics.smoothness,
        projected[0].metrics.smoothness
    );
    assert_eq!(coefficients(&alone[1]), coefficients(&projected[1]));
    let batch = smoothing.plan_batch(&problems, &options);
    for (batched, alone) in batch.into_iter().zip(&alone) {
        let batched = batched.unwrap();
        let diff = max_coefficient_difference(&coefficients(&batched), &coefficients(alone));
        assert!(diff < 1e-4, "batched plan differs by {diff} m");
        assert_eq!(batched.info["smoothed"], alone.info["smoothed"]);
        assert_eq!(batched.info["iterations"], alone.info["iterations"]);
    }
}

/// Above `smoothing_robots` robots the first pass's smoothness weight grows with the robot
/// count: an open floor of 24 robots gets the plan of a constant weight of 1.5 W (not W's),
/// and a batch mixing it with 8 robots (weight W) gives each problem the plan it gets alone.
#[test]
fn larger_fleets_get_a_proportionally_larger_smoothness_weight() {
    let large = Scenario::Random
        .generate(&ScenarioConfig::new(24).seed(0))
        .unwrap();
    let small = Scenario::Circle
        .generate(&ScenarioConfig::new(8).seed(0))
        .unwrap();
    let w = flowopt::planner::FILTER_SMOOTHING;
    let planner = |filter_smoothing, smoothing_robots| {
        flowopt_planner(FlowOptSettings {
            filter_smoothing,
            smoothing_robots,
            ..Default::default()
        })
    };
    let growing = planner(w, 16);
    let options = [PlanOptions { seed: 0 }, PlanOptions { seed: 0 }];
    let problems = [large, small];
    let alone: Vec<_> = problems
        .iter()
        .zip(&options)
        .map(|(p, o)| growing.plan(p, o).unwrap())
        .collect();
    assert!(
        alone
            .iter()
            .all(|p| p.feasible && p.info["smoothed"] == 1.0)
    );
    let constant = |weight| planner(weight, 0).plan(&problems[0], &options[0]).unwrap();
    let (at_w, at_grown) = (constant(w), constant(1.5 * w));
    let diff = max_coefficient_difference(&coefficients(&alone[0]), &coefficients(&at_grown));
    assert!(diff < 1e-4, "24 robots: {diff} m from the plan at 1.5 W");
    let diff = max_coefficient_difference(&coefficients(&alone[0]), &coefficients(&at_w));
    assert!(
        diff > 1e-3,
        "24 robots: the plan at W is the same ({diff} m)"
    );
    let batch = growing.plan_batch(&problems, &options);
    for (batched, alone) in batch.into_iter().zip(&alone) {
        let batched = batched.unwrap();
        let diff = max_coefficient_difference(&coefficients(&batched), &coefficients(alone));
        assert!(diff < 1e-4, "batched plan differs by {diff} m");
        assert_eq!(batched.info["iterations"], alone.info["iterations"]);
    }
}

/// The polishing pass smooths the plans of problems around obstacles and keeps them feasible;
/// plans on open floors (already smoothed by the first pass) and with it off are untouched.
#[test]
fn polishing_smooths_plans_around_obstacles() {
    let warehouse = Scenario::Warehouse
        .generate(&ScenarioConfig::new(16).seed(0))
        .unwrap();
    let open = Scenario::Circle
        .generate(&ScenarioConfig::new(8).seed(0))
        .unwrap();
    let planner = |polish_iterations, polish_rounds| {
        flowopt_planner(FlowOptSettings {
            polish_iterations,
            polish_rounds,
            ..Default::default()
        })
    };
    let plain = planner(0, 0);
    let one_pass = planner(POLISH_ITERATIONS, 0);
    let polishing = planner(POLISH_ITERATIONS, POLISH_ROUNDS);
    let options = PlanOptions { seed: 0 };
    let before = plain.plan(&warehouse, &options).unwrap();
    let once = one_pass.plan(&warehouse, &options).unwrap();
    let after = polishing.plan(&warehouse, &options).unwrap();
    assert!(before.feasible && once.feasible && after.feasible);
    assert_eq!(before.info["polished"], 0.0);
    assert_eq!(after.info["polished"], 1.0);
    // Seed 0: 5.99 -> 5.64 in one pass (weight 30), -> 5.0 in rounds.
    assert!(
        once.metrics.smoothness < 0.98 * before.metrics.smoothness,
        "polished once {} vs {}",
        once.metrics.smoothness,
        before.metrics.smoothness
    );
    // Proximal rounds go on from where one pass stops.
    assert!(after.info["polish_rounds"] > once.info["polish_rounds"]);
    assert!(
        after.metrics.smoothness < 0.95 * once.metrics.smoothness,
        "polished in rounds {} vs once {}",
        after.metrics.smoothness,
        once.metrics.smoothness
    );
    for plan in [&once, &after] {
        let report = evaluate(&warehouse, &plan.trajectories, &CheckConfig::default()).unwrap();
        assert!(report.feasible, "{report:?}");
    }
    let open_plan = polishing.plan(&open, &options).unwrap();
    assert_eq!(
        open_plan.info["polished"], 0.0,
        "open floors are smoothed already"
    );
    assert_eq!(
        coefficients(&open_plan),
        coefficients(&plain.plan(&open, &options).unwrap())
    );
}
