//! The baseline table of docs/benchmarks.md#reference-planners: `scp` and `orca` over seeded scenarios, judged by
//! `flowopt_core::evaluate` (the same checker as `flowopt check`).
//!
//! ```sh
//! cargo run --release -p flowopt-baselines --example baseline_table -- \
//!     --seeds 20 --robots 4,8,16,32 --scenarios circle,random,obstacles,warehouse,doorway
//! ```
//! Problems run one at a time so the latencies are single-problem latencies. Prints a markdown
//! table on stdout and one line per problem on stderr.

use flowopt_baselines::{OrcaPlanner, ScpPlanner};
use flowopt_core::{
    CheckConfig, PlanOptions, Planner, Scenario, ScenarioConfig, StraightPlanner, evaluate,
};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: &str) -> Vec<T> {
    let value = args
        .iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, String::as_str);
    value
        .split(',')
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad value `{v}` for {name}"))
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = arg::<u64>(&args, "--seeds", "20")[0];
    let robots: Vec<usize> = arg(&args, "--robots", "4,8,16,32");
    let scenarios: Vec<Scenario> = arg(
        &args,
        "--scenarios",
        "circle,random,obstacles,warehouse,doorway",
    );
    let planners: Vec<String> = arg(&args, "--planners", "scp,orca,straight");
    println!(
        "| scenario | N | planner | success | median ms | smoothness (median) | min pair distance (median) |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for scenario in &scenarios {
        for &n in &robots {
            for name in &planners {
                let planner: Box<dyn Planner> = match name.as_str() {
                    "scp" => Box::new(ScpPlanner::default()),
                    "orca" => Box::new(OrcaPlanner::default()),
                    _ => Box::new(StraightPlanner::default()),
                };
                let (mut ok, mut ms, mut smooth, mut dmin) = (0, vec![], vec![], vec![]);
                for seed in 0..seeds {
                    let problem = scenario
                        .generate(&ScenarioConfig::new(n).seed(seed))
                        .expect("scenario");
                    let plan = planner.plan(&problem, &PlanOptions { seed }).expect("plan");
                    let m = evaluate(&problem, &plan.trajectories, &CheckConfig::default())
                        .expect("check");
                    eprintln!(
                        "{scenario} N={n} {name} seed={seed}: feasible={} viol={:.2e} ms={:.1}",
                        m.feasible, m.max_violation, plan.timings_ms["total"]
                    );
                    ok += usize::from(m.feasible);
                    ms.push(plan.timings_ms["total"]);
                    smooth.push(m.smoothness);
                    dmin.push(m.min_pair_distance.unwrap_or(f64::NAN));
                }
                println!(
                    "| {scenario} | {n} | {name} | {ok}/{seeds} | {:.1} | {:.2} | {:.3} |",
                    median(&mut ms),
                    median(&mut smooth),
                    median(&mut dmin)
                );
            }
        }
    }
}
