//! The `flowopt` command-line tool. See `flowopt --help`.

mod agent;
mod cli;

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Serialize;

use cli::{
    BenchArgs, CheckArgs, Cli, Command, DatasetArgs, GeneratorArgs, LimitArgs, OutputArgs,
    PlanArgs, ScenarioArgs, ServeArgs, TrainCommand, WarmstartArgs,
};
use flowopt::core::{
    CheckConfig, InputError, Plan, PlanOptions, Problem, Scenario, ScenarioConfig,
    ValidationConfig, evaluate, on_pool,
};

/// mimalloc instead of the system allocator: the filter allocates and frees tensors of a few
/// hundred kB every iteration, and glibc's malloc hands such blocks back to the kernel and
/// page-faults them in again (10% of a warehouse N = 32 profile was page faults).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            // Input errors print as `field: message`; others with their causes.
            match err.downcast_ref::<InputError>() {
                Some(input) => eprintln!("error: invalid input: {input}"),
                None => eprintln!("error: {}", with_causes(&err)),
            }
            ExitCode::from(2)
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause that the message before it
/// already ends with (errors that print their source, like `path: source`).
fn with_causes(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // From -vv on, every span's time is logged when it closes (generate, coarse, refine, ...).
    let spans = if verbose >= 2 {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(io::stderr)
        .init();
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Scenario(args) => scenario(args),
        Command::Plan(args) => plan(args),
        Command::Check(args) => check(args),
        Command::Certify(args) => certify(args),
        Command::Dataset(args) => dataset(args),
        // Training runs thousands of small tensor ops: on rayon's pool, like the planners.
        Command::Train(TrainCommand::Warmstart(args)) => on_pool(|| train_warmstart(args)),
        Command::Train(TrainCommand::Generator(args)) => on_pool(|| train_generator(args)),
        Command::Bench(args) => bench(args),
        Command::Serve(args) => serve(args),
        Command::List => list(),
        Command::Agent(command) => on_pool(|| agent::run(command)),
    }
}

fn scenario(args: ScenarioArgs) -> Result<ExitCode> {
    let scenario: Scenario = args.name.parse()?;
    let config = ScenarioConfig {
        robots: args.robots,
        obstacles: args.obstacles,
        seed: args.seed,
        radius: args.radius,
    };
    let problem = scenario.generate(&config)?;
    write_json(&problem, &args.output)?;
    Ok(ExitCode::SUCCESS)
}

fn plan(args: PlanArgs) -> Result<ExitCode> {
    let options = flowopt::PlannerOptions {
        device: args.device,
        warm_start: args.warm_start,
        generator: args.generator,
        flowopt: args.flowopt.settings()?,
    };
    let planner = flowopt::planner_by_name(&args.planner, &options).map_err(|e| match e {
        flowopt::RegistryError::Input(input) => anyhow::Error::from(input),
        other => anyhow::Error::from(other).context("loading the planner"),
    })?;
    let problem = read_problem(&args.problem, &args.limits)?;
    let options = PlanOptions { seed: args.seed };
    let plan = planner.plan(&problem, &options)?;
    if args.format == "vda5050" {
        let vda5050 = flowopt::core::vda5050::Vda5050Export::of(&problem, &plan)?;
        write_json(
            &flowopt::core::vda5050::PlanWithVda5050 { plan, vda5050 },
            &args.output,
        )?;
    } else {
        write_json(&plan, &args.output)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    use flowopt::{GeneratorChoice, WarmStartChoice};
    let (generator, warm_start) = match &args.models {
        Some(dir) => (
            GeneratorChoice::Path(dir.join("generator")),
            WarmStartChoice::Path(dir.join("warmstart")),
        ),
        None => (GeneratorChoice::Shipped, WarmStartChoice::Shipped),
    };
    let config = flowopt_server::ServerConfig {
        addr: args.addr,
        device: args.device,
        generator,
        warm_start,
        max_body_bytes: args.max_body_bytes,
        limits: ValidationConfig {
            max_robots: args.max_robots,
            max_obstacles: args.max_obstacles,
            ..Default::default()
        },
        max_candidates: args.max_candidates,
        flowopt: args.flowopt.base()?,
        flowopt_options: args.flowopt.options,
        deadline: std::time::Duration::from_millis(args.deadline_ms.max(1)),
        queue_capacity: args.queue.max(1),
        batch_window: std::time::Duration::from_millis(args.batch_window_ms),
        max_batch: args.max_batch.max(1),
        cpu_workers: args.cpu_workers.max(1),
        agents_dir: args.agents.clone().or_else(|| {
            let shipped = std::path::PathBuf::from("assets/agents");
            shipped.is_dir().then_some(shipped)
        }),
        agent_limits: flowopt_server::AgentLimits {
            max_jobs: args.agent_jobs.max(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let server = flowopt_server::Server::new(config).context("starting the server")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "serving");
        // The address on stderr, so scripts (and the browser test) can find a port-0 server.
        eprintln!("flowopt: listening on http://{addr}");
        server.serve(listener, shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM on Unix (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A suite file: any of these override `flowopt bench`'s options.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    scenarios: Option<Vec<String>>,
    robots: Option<Vec<usize>>,
    seeds: Option<u64>,
    planners: Option<Vec<String>>,
    limit: Option<String>,
}

/// The rows of a run's `results.jsonl` (none when the file does not exist).
fn read_rows(results: &Path) -> Result<Vec<flowopt::bench::Row>> {
    match fs::read_to_string(results) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", results.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", results.display())),
    }
}

/// summary.json, report.md and the plots of `rows` in `out`; prints the table.
fn write_bench_outputs(rows: &[flowopt::bench::Row], out: &Path, reference: &str) -> Result<()> {
    use flowopt::bench::{markdown, summarise, write_plots};
    let summary = summarise(rows, reference);
    fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )?;
    let table = markdown(&summary, reference);
    fs::write(out.join("report.md"), &table)?;
    write_plots(rows, out).context("drawing the plots")?;
    print!("{table}");
    Ok(())
}

fn bench_merge(args: cli::BenchMergeArgs) -> Result<ExitCode> {
    let runs = args
        .runs
        .iter()
        .map(|dir| {
            let path = dir.join("results.jsonl");
            if !path.is_file() {
                bail!("{}: no results.jsonl", dir.display());
            }
            read_rows(&path)
        })
        .collect::<Result<Vec<_>>>()?;
    let (rows, duplicates) = flowopt::bench::merge(runs)?;
    if duplicates > 0 {
        eprintln!("{duplicates} duplicate (planner, problem) rows dropped (the first kept)");
    }
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut text = String::new();
    for row in &rows {
        text += &serde_json::to_string(row)?;
        text.push('\n');
    }
    fs::write(args.out.join("results.jsonl"), text)?;
    write_bench_outputs(&rows, &args.out, &args.reference)?;
    Ok(ExitCode::SUCCESS)
}

fn bench_roofline(args: cli::BenchRooflineArgs) -> Result<ExitCode> {
    if args.robots == 0 || args.candidates == 0 || args.steps == 0 {
        return Err(InputError::new(
            flowopt::core::ErrorKind::OutOfRange,
            "robots",
            "robots, candidates and steps must be >= 1",
        )
        .into());
    }
    let r = flowopt::bench::roofline(
        &args.device.device(),
        args.robots,
        args.candidates,
        args.steps,
        args.repeats,
    )?;
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    fs::write(
        args.out.join("roofline.json"),
        serde_json::to_string_pretty(&r)? + "\n",
    )?;
    println!(
        "matmul peak {:.1} GFLOP/s (n = {}); generator sampling (N = {}, K = {}, S = {}): \
         {:.3} GFLOP in {:.1} ms = {:.2} GFLOP/s, {:.1}% of the peak",
        r.matmul_gflops,
        r.matmul_size,
        r.robots,
        r.candidates,
        r.steps,
        r.sample_gflop,
        r.sample_ms,
        r.sample_gflops,
        100.0 * r.fraction
    );
    println!(
        "safety filter iteration (K = {}, the problem's samples): {:.4} GFLOP in {:.3} ms = \
         {:.2} GFLOP/s, {:.1}% of the peak",
        r.candidates,
        r.filter_iteration_gflop,
        r.filter_iteration_ms,
        r.filter_gflops,
        100.0 * r.filter_fraction
    );
    Ok(ExitCode::SUCCESS)
}

fn bench_throughput(args: cli::BenchThroughputArgs) -> Result<ExitCode> {
    let scenario: Scenario = args.scenario.parse()?;
    if args.batches.contains(&0) {
        return Err(InputError::new(
            flowopt::core::ErrorKind::OutOfRange,
            "batches",
            "batch sizes must be >= 1",
        )
        .into());
    }
    let options = flowopt::PlannerOptions {
        device: args.device,
        ..Default::default()
    };
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut rows = Vec::new();
    let bar = indicatif::ProgressBar::new((args.planners.len() * args.batches.len()) as u64);
    for name in &args.planners {
        let planner = flowopt::planner_by_name(name, &options)
            .with_context(|| format!("loading planner `{name}`"))?;
        for &batch in &args.batches {
            bar.set_message(format!("{name} batch {batch}"));
            rows.push(flowopt::bench::measure(
                planner.as_ref(),
                scenario,
                args.robots,
                batch,
                args.repeats,
            )?);
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    fs::write(
        args.out.join("throughput.json"),
        serde_json::to_string_pretty(&rows)? + "\n",
    )?;
    let table = flowopt::bench::throughput_markdown(&rows);
    fs::write(args.out.join("throughput.md"), &table)?;
    print!("{table}");
    Ok(ExitCode::SUCCESS)
}

fn bench(mut args: BenchArgs) -> Result<ExitCode> {
    use flowopt::bench::{cases, run_case};
    match args.command {
        Some(cli::BenchCommand::Merge(merge)) => return bench_merge(merge),
        Some(cli::BenchCommand::Throughput(throughput)) => return bench_throughput(throughput),
        // On rayon's pool, where the planners run their tensor work.
        Some(cli::BenchCommand::Roofline(roofline)) => return on_pool(|| bench_roofline(roofline)),
        None => {}
    }
    let out = args.out.clone().context("--out is required")?;
    // A folder of the user's problem files, or the built-in families.
    let mut folder = None;
    match args.suite.as_deref() {
        None | Some("standard") => {}
        Some(dir) if Path::new(dir).is_dir() => folder = Some(PathBuf::from(dir)),
        Some(file) => {
            let text = fs::read_to_string(file).with_context(|| format!("reading suite {file}"))?;
            let suite: Suite = InputError::parse_json(&text, "suite")?;
            args.scenarios = suite.scenarios.unwrap_or(args.scenarios);
            args.robots = suite.robots.unwrap_or(args.robots);
            args.seeds = suite.seeds.or(args.seeds);
            args.planners = suite.planners.unwrap_or(args.planners);
            args.limit = suite.limit.unwrap_or(args.limit);
        }
    }
    let (robots, planners) = (args.robots, args.planners);
    // `planner:robots=seeds` limits.
    let mut limits = std::collections::HashMap::new();
    for item in args
        .limit
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let parsed = item.split_once('=').and_then(|(key, seeds)| {
            let (planner, n) = key.split_once(':')?;
            Some((
                (planner.to_string(), n.parse::<usize>().ok()?),
                seeds.parse::<u64>().ok()?,
            ))
        });
        let Some((key, seeds)) = parsed else {
            return Err(InputError::new(
                flowopt::core::ErrorKind::Malformed,
                "limit",
                format!("`{item}`: expected PLANNER:ROBOTS=SEEDS, e.g. scp:32=3"),
            )
            .into());
        };
        limits.insert(key, seeds);
    }
    let options = flowopt::PlannerOptions {
        device: args.device,
        generator: args.generator,
        flowopt: args.flowopt.settings()?,
        ..Default::default()
    };
    let mut suite = match &folder {
        Some(dir) => flowopt::bench::folder_cases(dir, args.seeds.unwrap_or(1))?,
        None => cases(
            &parse_scenarios(&args.scenarios)?,
            &robots,
            args.seeds.unwrap_or(50),
        ),
    };
    let built = planners
        .iter()
        .map(|name| {
            flowopt::planner_by_name(name, &options)
                .with_context(|| format!("loading planner `{name}`"))
        })
        .collect::<Result<Vec<_>>>()?;
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let results = out.join("results.jsonl");
    let mut rows = read_rows(&results)?;
    // Resume only rows of this configuration: every planner's rows so far and the ones this
    // run adds must share their provenance.
    let provenance: Vec<flowopt::bench::Provenance> = planners
        .iter()
        .map(|name| on_pool(|| flowopt::bench::Provenance::of(name, &options)))
        .collect();
    let mut probe = rows.clone();
    for (name, p) in planners.iter().zip(&provenance) {
        if let Some(row) = rows.iter().find(|r| &r.planner == name) {
            probe.push(flowopt::bench::Row {
                provenance: Some(p.clone()),
                ..row.clone()
            });
        }
    }
    flowopt::bench::check_provenance(&probe).with_context(|| {
        format!(
            "{} holds rows of another configuration; write to another --out",
            results.display()
        )
    })?;
    flowopt::bench::check_files(&suite, &rows)?;
    let done: std::collections::HashSet<(String, flowopt::bench::Case)> = rows
        .iter()
        .map(|r| (r.planner.clone(), r.case.clone()))
        .collect();
    let mut work = Vec::new();
    if let Some(shard) = args.shard {
        suite = shard.select(suite);
    }
    for case in suite {
        for ((name, planner), provenance) in planners.iter().zip(&built).zip(&provenance) {
            let limit = limits.get(&(name.clone(), case.robots)).copied();
            if limit.is_some_and(|l| case.seed >= l) || done.contains(&(name.clone(), case.clone()))
            {
                continue;
            }
            work.push((case.clone(), planner, provenance));
        }
    }
    let bar = indicatif::ProgressBar::new(work.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} plans (eta {eta}) {msg}",
        )?
        .progress_chars("=> "),
    );
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results)
        .with_context(|| format!("opening {}", results.display()))?;
    for (case, planner, provenance) in work {
        bar.set_message(format!(
            "{} {} N={}",
            planner.name(),
            case.scenario,
            case.robots
        ));
        let row = flowopt::bench::Row {
            provenance: Some(provenance.clone()),
            ..run_case(&case, folder.as_deref(), planner.as_ref())
        };
        writeln!(file, "{}", serde_json::to_string(&row)?)?;
        rows.push(row);
        bar.inc(1);
    }
    bar.finish();
    write_bench_outputs(&rows, &out, &args.reference)?;
    Ok(ExitCode::SUCCESS)
}

/// The problem and the plan `check` and `certify` judge, after checking their arguments.
fn problem_and_plan(args: &CheckArgs) -> Result<(Problem, Plan)> {
    if args.problem == Path::new("-") && args.plan == Path::new("-") {
        bail!("only one of PROBLEM and PLAN can be read from standard input");
    }
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        return Err(InputError::new(
            flowopt::core::ErrorKind::OutOfRange,
            "tolerance",
            "tolerance must be a finite number >= 0",
        )
        .into());
    }
    let problem = read_problem(&args.problem, &args.limits)?;
    let text = read_input(&args.plan)?;
    let plan: Plan = InputError::parse_json(&text, "plan")?;
    Ok((problem, plan))
}

/// What `flowopt certify` prints.
#[derive(Serialize)]
struct CertifyReport {
    certified: bool,
    max_violation: f64,
    tolerance: f64,
    violations: Vec<flowopt::core::Violation>,
    ms: f64,
}

fn certify(args: CheckArgs) -> Result<ExitCode> {
    let (problem, plan) = problem_and_plan(&args)?;
    let coefficients = plan
        .trajectories
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.coefficients.clone().ok_or_else(|| {
                InputError::new(
                    flowopt::core::ErrorKind::Malformed,
                    format!("trajectories[{i}].coefficients"),
                    "certify needs polynomial plans; sample-only plans are not certified yet",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = std::time::Instant::now();
    let certificate = flowopt::core::certify(&problem, &coefficients, args.tolerance)?;
    let report = CertifyReport {
        certified: certificate.holds(args.tolerance),
        max_violation: certificate.max_violation(),
        tolerance: args.tolerance,
        violations: certificate.violations,
        ms: started.elapsed().as_secs_f64() * 1e3,
    };
    write_json(&report, &args.output)?;
    match report.violations.first() {
        Some(worst) if !report.certified => eprintln!(
            "NOT CERTIFIED: {:?} violated by {:.3e} at t = {:.3} s (tolerance {:.0e})",
            worst.constraint, worst.amount, worst.time, args.tolerance
        ),
        _ => eprintln!(
            "certified over [0, {}] s (max violation {:.3e}, tolerance {:.0e})",
            problem.horizon, report.max_violation, args.tolerance
        ),
    }
    Ok(if report.certified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let (problem, plan) = problem_and_plan(&args)?;
    let config = CheckConfig {
        tolerance: args.tolerance,
        ..CheckConfig::default()
    };
    let metrics = evaluate(&problem, &plan.trajectories, &config)?;
    write_json(&metrics, &args.output)?;
    let r = &metrics.residuals;
    eprintln!(
        "{}: max violation {:.3e} (tolerance {:.0e}); separation {:.3e}, obstacles {:.3e}, \
         workspace {:.3e}, speed {:.3e}, accel {:.3e}, boundary {:.3e}, consistency {:.3e}",
        if metrics.feasible {
            "feasible"
        } else {
            "INFEASIBLE"
        },
        metrics.max_violation,
        metrics.tolerance,
        r.separation,
        r.obstacles,
        r.workspace,
        r.speed,
        r.accel,
        r.boundary,
        r.consistency,
    );
    if plan.feasible != metrics.feasible {
        eprintln!(
            "note: the plan claims feasible = {}, the check says {}",
            plan.feasible, metrics.feasible
        );
    }
    Ok(if metrics.feasible {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn dataset(args: DatasetArgs) -> Result<ExitCode> {
    let scenarios = parse_scenarios(&args.scenarios)?;
    let settings = flowopt::baselines::DatasetSettings {
        problems: args.problems,
        robots: (args.min_robots, args.max_robots),
        obstacles: (args.min_obstacles, args.max_obstacles),
        scenarios,
        solutions: args.solutions,
        attempts: args.attempts,
        seed: args.seed,
        ..Default::default()
    };
    settings.validate()?;
    if let Some(threads) = args.threads {
        rayon_threads(threads)?;
    }
    let bar = indicatif::ProgressBar::new(args.problems);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} problems ({per_sec}, eta {eta})",
        )?
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let summary = flowopt::baselines::generate_dataset(&args.output, &settings, |done, _| {
        bar.set_position(done)
    })?;
    bar.finish();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{}: {} records ({} solutions) written, {} skipped (no feasible label), {} resumed; \
         {:.2} problems/s",
        args.output.display(),
        summary.written,
        summary.solutions,
        summary.skipped,
        summary.resumed,
        summary.attempted as f64 / seconds.max(1e-9),
    );
    Ok(ExitCode::SUCCESS)
}

fn train_warmstart(args: WarmstartArgs) -> Result<ExitCode> {
    use flowopt::filter::warmstart::{WarmStartTrainSettings, train};
    let scenarios = parse_scenarios(&args.scenarios)?;
    let settings = WarmStartTrainSettings {
        steps: args.steps,
        problems_per_step: args.problems,
        candidates: args.candidates,
        min_robots: args.min_robots,
        max_robots: args.max_robots,
        scenarios,
        unroll: args.unroll,
        learning_rate: args.learning_rate,
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        eval_problems: args.eval_problems,
        ..Default::default()
    };
    let config = flowopt::filter::WarmStartConfig {
        width: args.width,
        blocks: args.blocks,
        heads: args.heads,
        ..Default::default()
    };
    let bar = steps_bar(args.steps)?;
    let report = train(
        config,
        &settings,
        &flowopt::filter::FilterSettings::default(),
        &args.device.device(),
        &args.out,
        &mut |p| {
            bar.set_position(p.step as u64);
            bar.set_message(format!("loss {:.3e}", p.recent_loss));
        },
    )?;
    bar.finish();
    let e = &report.evaluation;
    eprintln!(
        "{}: {} parameters, final loss {:.3e}, {:.0} s. Median iterations to {:.0e} on {} \
         held-out candidates: plain {} ({} converged), learned c0 {} ({}), learned (c0, lambda0) \
         {} ({}): {:.2}x fewer",
        args.out.with_extension("bpk").display(),
        report.parameters,
        report.final_loss,
        report.seconds,
        e.tolerance,
        e.instances,
        e.plain.median,
        e.plain.converged,
        e.learned_c0.median,
        e.learned_c0.converged,
        e.learned.median,
        e.learned.converged,
        e.median_speedup,
    );
    Ok(ExitCode::SUCCESS)
}

fn train_generator(args: GeneratorArgs) -> Result<ExitCode> {
    use flowopt::generator::train::{examples, train};
    use flowopt::generator::{GeneratorConfig, GeneratorTrainSettings};
    let settings = GeneratorTrainSettings {
        steps: args.steps,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        validation_fraction: args.validation_fraction,
        validate_every: args.validate_every,
        checkpoint_every: args.checkpoint_every,
        seed: args.seed,
        augment: !args.no_augment,
    };
    settings.validate()?;
    let config = GeneratorConfig {
        width: args.width,
        blocks: args.blocks,
        heads: args.heads,
        ..Default::default()
    };
    config.validate()?;
    let (_, records) = flowopt::core::dataset::read_dataset(&args.dataset)
        .with_context(|| format!("reading {}", args.dataset.display()))?;
    let (train_set, val_set) = examples(&records, &config, &settings)?;
    eprintln!(
        "{}: {} problems, {} training and {} validation examples",
        args.dataset.display(),
        records.len(),
        train_set.len(),
        val_set.len()
    );
    let bar = steps_bar(args.steps)?;
    let report = train(
        config,
        &settings,
        &args.dataset.display().to_string(),
        &train_set,
        &val_set,
        &args.device.device(),
        &args.out,
        args.resume,
        &mut |p| {
            bar.set_position(p.step as u64);
            let val = p
                .validation_loss
                .map(|v| format!(", validation {v:.3e}"))
                .unwrap_or_default();
            bar.set_message(format!("loss {:.3e}{val}", p.recent_loss));
        },
    )?;
    bar.finish();
    let last = report.curve.last();
    eprintln!(
        "{}: {} parameters, {} steps in {:.0} s; loss {:.3e}, validation {}",
        args.out.with_extension("bpk").display(),
        report.parameters,
        report.step,
        report.seconds,
        last.map_or(f64::NAN, |p| p.train),
        last.and_then(|p| p.validation)
            .map_or("-".to_string(), |v| format!("{v:.3e}")),
    );
    Ok(ExitCode::SUCCESS)
}

/// The progress bar of a training run.
fn steps_bar(steps: usize) -> Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(steps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} steps, {msg} (eta {eta})",
        )?
        .progress_chars("=> "),
    );
    Ok(bar)
}

/// Scenario names from the command line, the error naming the first unknown one.
fn parse_scenarios(names: &[String]) -> Result<Vec<Scenario>, InputError> {
    names.iter().map(|s| s.parse::<Scenario>()).collect()
}

fn rayon_threads(threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("configuring worker threads")
}

fn list() -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    writeln!(out, "planners:")?;
    for (name, about) in flowopt::PLANNERS {
        writeln!(out, "  {name:<12} {about}")?;
    }
    writeln!(out, "scenarios:")?;
    for s in Scenario::ALL {
        writeln!(out, "  {:<12} {}", s.name(), s.description())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn read_problem(path: &Path, limits: &LimitArgs) -> Result<Problem> {
    let text = read_input(path)?;
    let config = ValidationConfig {
        max_robots: limits.max_robots,
        max_obstacles: limits.max_obstacles,
        ..ValidationConfig::default()
    };
    Ok(Problem::from_json(&text, &config)?)
}

fn read_input(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        Ok(text)
    } else {
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn write_json<T: Serialize>(value: &T, output: &OutputArgs) -> Result<()> {
    let mut text = if output.pretty {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    text.push('\n');
    match &output.output {
        Some(path) => fs::write(path, text).with_context(|| format!("writing {}", path.display())),
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            Ok(out.flush()?)
        }
    }
}
