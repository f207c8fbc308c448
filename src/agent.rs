//! `flowopt agent ...`: offline datasets, training and evaluation of the RL agents.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use flowopt::rl::checkpoint::{CheckpointMeta, save_policy};
use flowopt::rl::{
    Agent, AgentConfig, Algorithm, Dataset, EnvKind, Policy, Quality, TrainReport, TrainSettings,
    evaluate, train_offline, train_online,
};

use crate::cli::{AgentCommand, AgentDatasetArgs, AgentEvalArgs, AgentTrainArgs};

pub fn run(command: AgentCommand) -> Result<ExitCode> {
    match command {
        AgentCommand::Dataset(args) => dataset(args),
        AgentCommand::Train(args) => train(args),
        AgentCommand::Eval(args) => eval(args),
        AgentCommand::Summary { dir } => summary(&dir),
        AgentCommand::Export { runs, policy, out } => export(&runs, &policy, &out),
        AgentCommand::List => list(),
    }
}

fn summary(dir: &Path) -> Result<ExitCode> {
    let mut reports = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "report.json") {
                let text = std::fs::read_to_string(&path)?;
                let report: flowopt::rl::TrainReport = serde_json::from_str(&text)
                    .with_context(|| format!("reading {}", path.display()))?;
                reports.push(report);
            }
        }
    }
    if reports.is_empty() {
        anyhow::bail!("no report.json under {}", dir.display());
    }
    let rows = flowopt::rl::summary::summarize(&reports);
    print!("{}", flowopt::rl::summary::markdown(&rows));
    Ok(ExitCode::SUCCESS)
}

fn dataset(args: AgentDatasetArgs) -> Result<ExitCode> {
    let kind: EnvKind = args.env.parse()?;
    let quality: Quality = args.quality.parse()?;
    let (data, stats) = Dataset::collect_with_summary(kind, quality, args.episodes, args.seed)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    data.save_npz(&args.out)?;
    eprintln!(
        "{}: {} transitions of {} episodes ({} {}, seed {}); mean return {:.1} \
         (normalized score {:.1}), success {:.0}%",
        args.out.display(),
        data.len(),
        args.episodes,
        kind.name(),
        quality.name(),
        args.seed,
        stats.mean_return,
        flowopt::rl::expert::normalized_score(kind, stats.mean_return),
        100.0 * stats.success_rate.unwrap_or(0.0)
    );
    Ok(ExitCode::SUCCESS)
}

/// The dataset named on the command line: a file, or a quality to collect.
fn load_dataset(spec: &str, kind: EnvKind, episodes: usize) -> Result<(Dataset, String)> {
    let path = Path::new(spec);
    if path.extension().is_some_and(|e| e == "npz") || path.is_file() {
        let data = Dataset::load_npz(path)?;
        let name = path
            .file_stem()
            .map_or_else(|| spec.to_string(), |s| s.to_string_lossy().into_owned());
        return Ok((data, name));
    }
    let quality: Quality = spec
        .parse()
        .with_context(|| format!("`--dataset {spec}` is neither an .npz file nor a quality"))?;
    let data = Dataset::collect(kind, quality, episodes, 0)?;
    Ok((data, format!("{}-{}", kind.name(), quality.name())))
}

fn train(args: AgentTrainArgs) -> Result<ExitCode> {
    let algorithm: Algorithm = args.algo.parse()?;
    let kind: EnvKind = args.env.parse()?;
    let mut config: AgentConfig = match &args.config {
        Some(json) => serde_json::from_str(json).context("--config")?,
        None => AgentConfig::default(),
    };
    if let Some(hidden) = args.hidden {
        config.hidden = hidden;
    }
    let data = match (&args.dataset, algorithm.is_online()) {
        (Some(spec), false) => Some(load_dataset(spec, kind, args.episodes)?),
        (None, true) => None,
        (None, false) => anyhow::bail!(
            "`--dataset` is required: `{}` learns offline from a dataset",
            algorithm.name()
        ),
        (Some(_), true) => anyhow::bail!(
            "`--dataset`: `{}` learns online from its own interaction and takes no dataset",
            algorithm.name()
        ),
    };
    let settings = TrainSettings {
        steps: args.steps,
        batch_size: args.batch_size,
        eval_every: args.eval_every,
        eval_episodes: args.eval_episodes,
        seed: args.seed,
        final_episodes: args.final_episodes,
        warmup: args.warmup,
    };
    settings.validate()?;
    let device = args.device.device();
    let pretrained = match (&args.init, algorithm == Algorithm::Swfp) {
        (Some(path), true) => {
            let (policy, spec) = Policy::load(path, &device)?;
            config.hidden = spec.hidden;
            config.flow_steps = spec.flow_steps;
            Some(policy)
        }
        (None, true) => anyhow::bail!(
            "`--init` is required: swfp fine-tunes a pretrained flow policy (e.g. OUT/last of a \
             flow-bc run)"
        ),
        (Some(_), false) => anyhow::bail!("`--init`: only swfp starts from a pretrained flow"),
        (None, false) => None,
    };
    let probe = kind.make();
    let mut agent = Agent::new(
        algorithm,
        config,
        probe.observation_space().dim(),
        probe.action_space().dim(),
        args.seed,
        &device,
    )?;
    if let Some(policy) = &pretrained {
        agent.set_pretrained_flow(policy)?;
    }
    let bar = crate::steps_bar(args.steps)?;
    let mut progress = |p: &flowopt::rl::train::Progress| {
        bar.set_position(p.step as u64);
        if let Some(e) = &p.eval {
            bar.set_message(format!(
                "return {:.1}, success {:.0}%",
                e.return_mean,
                100.0 * e.success_rate
            ));
        }
        std::ops::ControlFlow::Continue(())
    };
    let (report, name) = match &data {
        Some((data, name)) => (
            train_offline(
                &mut agent,
                data,
                name,
                Some(kind),
                &settings,
                &args.out,
                &mut progress,
            )?,
            name.clone(),
        ),
        None => (
            train_online(&mut agent, kind, &settings, &args.out, &mut progress)?,
            format!("{}-online", kind.name()),
        ),
    };
    bar.finish();
    let last = report
        .final_eval
        .as_ref()
        .map(|e| {
            format!(
                "final policy on {} fresh episodes: return {:.1} ± {:.1}, success {:.0}%, \
                 normalized score {:.1}",
                e.episodes,
                e.return_mean,
                e.return_std,
                100.0 * e.success_rate,
                e.normalized_score
            )
        })
        .unwrap_or_default();
    eprintln!(
        "{}: {} on {} ({} transitions), {} {} in {:.0} s; {last}",
        args.out.display(),
        algorithm.name(),
        name,
        report.transitions,
        args.steps,
        if algorithm.is_online() {
            "environment steps"
        } else {
            "updates"
        },
        report.seconds
    );
    Ok(ExitCode::SUCCESS)
}

fn eval(args: AgentEvalArgs) -> Result<ExitCode> {
    let kind: EnvKind = args.env.parse()?;
    let device = args.device.device();
    let (policy, _) = Policy::load(&args.policy, &device)?;
    let result = evaluate(&policy, kind, args.episodes, args.seed, &device)?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(ExitCode::SUCCESS)
}

fn export(runs: &[std::path::PathBuf], which: &str, out: &Path) -> Result<ExitCode> {
    if !matches!(which, "last" | "best") {
        anyhow::bail!("`--policy {which}`: expected `last` or `best`");
    }
    let mut chosen: Option<(&Path, TrainReport, f32)> = None;
    for run in runs {
        let path = run.join("report.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let report: TrainReport =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let score = match which {
            "last" => report.final_eval.as_ref().map(|e| e.normalized_score),
            _ => report.best.as_ref().map(|(_, e)| e.normalized_score),
        }
        .with_context(|| {
            format!(
                "{}: no {} evaluation (trained without an environment, or stopped early)",
                run.display(),
                if which == "last" { "final" } else { "periodic" }
            )
        })?;
        if chosen.as_ref().is_none_or(|(_, _, best)| score > *best) {
            chosen = Some((run, report, score));
        }
    }
    let (run, report, _) = chosen.context("no run given")?;
    let device = flowopt::DeviceChoice::Cpu.device();
    let (policy, spec) = Policy::load(&run.join(which), &device)?;
    let (updates, eval, episodes_kind) = match which {
        "last" => (
            report.settings.steps,
            report.final_eval.clone(),
            "fresh final-evaluation",
        ),
        _ => {
            let (step, e) = report.best.clone().context("no periodic evaluation")?;
            (
                step,
                Some(e),
                "periodic-evaluation (optimistic: the policy was picked on them)",
            )
        }
    };
    let eval = eval.context("no evaluation")?;
    let meta = CheckpointMeta {
        algorithm: report.algorithm,
        env: report.env,
        obs_dim: spec.obs_dim,
        act_dim: spec.act_dim,
        config: report.config.clone(),
        updates,
        fpmd: None,
        note: format!(
            "{which} policy of {} on {} (seed {}, update {updates} of {}, batch {}): return \
             {:.1} ± {:.1}, success {:.0}%, normalized score {:.1} on {} {episodes_kind} episodes",
            report.algorithm.name(),
            report.dataset,
            report.settings.seed,
            report.settings.steps,
            report.settings.batch_size,
            eval.return_mean,
            eval.return_std,
            100.0 * eval.success_rate,
            eval.normalized_score,
            eval.episodes,
        ),
    };
    save_policy(out, &policy, &spec, &meta)?;
    eprintln!("{} <- {}: {}", out.display(), run.display(), meta.note);
    Ok(ExitCode::SUCCESS)
}

fn list() -> Result<ExitCode> {
    println!("algorithms:");
    for a in Algorithm::ALL {
        println!("  {}", a.name());
    }
    println!("environments:");
    for e in EnvKind::ALL {
        let env = e.make();
        println!(
            "  {:<12} observations {:>2}, actions {}, episode limit {}",
            e.name(),
            env.observation_space().dim(),
            env.action_space().dim(),
            env.episode_limit()
        );
    }
    Ok(ExitCode::SUCCESS)
}
