//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Flow-Opt: smooth, collision-free trajectories for fleets of robots.
///
/// Problems and plans are JSON documents (see docs/api.md#json-format). Exit codes: 0 on
/// success (for `check`: the plan is feasible), 1 when `check` finds the plan infeasible,
/// 2 on invalid input or any other error.
#[derive(Debug, Parser)]
#[command(name = "flowopt", version, about, long_about)]
pub struct Cli {
    /// Log more (-v: info, -vv: debug, -vvv: trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a generated problem as JSON.
    ///
    /// Scenarios: circle (antipodal swap), random (random starts and goals), obstacles (cross a
    /// random field of obstacles), warehouse (change aisles between shelves), doorway (two groups
    /// swap sides through a gap), crossing (two perpendicular streams). The same seed always
    /// gives the same problem.
    Scenario(ScenarioArgs),
    /// Plan a problem and print the plan as JSON (with metrics and timings).
    Plan(PlanArgs),
    /// Recompute the metrics of a plan against its problem.
    ///
    /// Prints the metrics as JSON on stdout and a verdict on stderr. Exit code 0 when the plan
    /// is feasible, 1 when it is not, 2 when the problem or plan is invalid.
    Check(CheckArgs),
    /// Certify a polynomial plan over the whole interval [0, T], not only at samples.
    ///
    /// Bounds every constraint (pair separation, obstacle clearance, workspace, speed,
    /// acceleration) between samples too, and prints each violated one with its worst amount
    /// and time as JSON. Exit code 0 when nothing is violated by more than the tolerance, 1
    /// when something is, 2 when the problem or plan is invalid or has no coefficients
    /// (sample-only plans, e.g. `orca`, are not certified yet). `check`'s `feasible` is still
    /// judged at samples (issue 34).
    Certify(CheckArgs),
    /// Generate training data: random problems labelled by verified `scp` solutions.
    ///
    /// Problem k of a run depends only on (seed, k): an interrupted run resumes where it
    /// stopped when started again with the same arguments. Runs in parallel on all cores.
    Dataset(DatasetArgs),
    /// Train a model and write its weights (`.bpk`) with a JSON report beside them.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Run seeded scenario problems through several planners and tabulate the results.
    ///
    /// Every planner plans every problem in this one process, one after the other (the timings
    /// are comparable). Writes OUT/results.jsonl (one row per problem and planner, appended as
    /// they finish; a rerun with the same OUT skips rows already there), OUT/summary.json and
    /// OUT/report.md (success, median and p95 time, smoothness, min distance, and the speed-up
    /// and smoothness ratio against the reference planner on the problems both solved).
    Bench(BenchArgs),
    /// Serve the HTTP API and the browser visualizer (http://ADDR/).
    ///
    /// Loads every planner once (the shipped weights unless told otherwise) and answers
    /// `POST /v1/plan` with the same plans as `flowopt plan`. Concurrent requests to the
    /// neural planners are batched. Stops on Ctrl-C or SIGTERM after finishing the requests in
    /// flight.
    Serve(ServeArgs),
    /// List the available planners and scenarios.
    List,
    /// Reinforcement-learning agents with flow policies: datasets, training, evaluation.
    #[command(subcommand)]
    Agent(AgentCommand),
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Write an offline dataset of a scripted noisy expert in the D4RL/OGBench npz layout
    /// (observations, actions, rewards, terminals, next_observations, timeouts).
    Dataset(AgentDatasetArgs),
    /// Train an agent offline on a dataset, evaluating it in its environment as it goes.
    ///
    /// Writes OUT/report.json (settings, loss and evaluation curve), OUT/best.{bpk,json} and
    /// OUT/last.{bpk,json} (the acting policy at its best evaluation and at the end) and
    /// OUT/agent.bpk (every network).
    Train(AgentTrainArgs),
    /// Evaluate a saved policy over seeded episodes and print the result as JSON.
    Eval(AgentEvalArgs),
    /// Tabulate training runs (every `report.json` under DIR, recursively): the final
    /// evaluation's mean ± std over seeds per environment, dataset and algorithm, as Markdown.
    Summary {
        /// Directory holding the runs' output directories.
        dir: PathBuf,
    },
    /// Turn a training run's policy into a checkpoint folder (meta.json + policy.{bpk,json}),
    /// as shipped in assets/agents/ and loaded by `flowopt serve`. Given several runs (e.g.
    /// the seeds of one algorithm), exports the one whose final evaluation scored highest.
    Export {
        /// The runs' output directories (`flowopt agent train -o`).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Which policy: `last` (the one the final evaluation measured) or `best` (the best
        /// periodic evaluation's).
        #[arg(long, default_value = "last")]
        policy: String,
        /// The checkpoint folder to write.
        #[arg(short, long)]
        out: PathBuf,
    },
    /// List the algorithms and environments.
    List,
}

#[derive(Debug, Args)]
pub struct AgentDatasetArgs {
    /// Environment: pendulum, point-maze, swarm-nav or bandit2d.
    #[arg(long)]
    pub env: String,
    /// Data quality: expert, noisy or mixed.
    #[arg(long, default_value = "noisy")]
    pub quality: String,
    /// Episodes to collect.
    #[arg(long, default_value_t = 200)]
    pub episodes: usize,
    /// Seed of the episodes and the behaviour noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.npz).
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct AgentTrainArgs {
    /// Algorithm: flow-bc, fql, qam, gfp, decision-flow, streaming-flow (offline), fpmd-r,
    /// fpmd-m, swfp (online).
    #[arg(long)]
    pub algo: String,
    /// Environment the dataset comes from, or the online agent acts in (evaluation runs
    /// there).
    #[arg(long)]
    pub env: String,
    /// Offline algorithms: an .npz file (D4RL/OGBench layout), or a quality (expert, noisy,
    /// mixed) to collect `--episodes` episodes of the scripted expert with seed 0 first.
    /// Online algorithms take none.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Episodes collected when `--dataset` is a quality.
    #[arg(long, default_value_t = 200)]
    pub episodes: usize,
    /// Gradient updates (offline) or environment steps (online, one update per step after
    /// the warm-up).
    #[arg(long, default_value_t = 20_000)]
    pub steps: usize,
    /// Online: environment steps of uniform random actions before the first update.
    #[arg(long, default_value_t = 1000)]
    pub warmup: usize,
    /// SWFP: the pretrained flow policy it fine-tunes (e.g. `OUT/last` of a `flow-bc` run);
    /// its hidden widths and flow steps become the agent's.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Transitions per update.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Evaluate every this many updates.
    #[arg(long, default_value_t = 2000)]
    pub eval_every: usize,
    /// Episodes per evaluation.
    #[arg(long, default_value_t = 10)]
    pub eval_episodes: usize,
    /// Seed of weights, minibatches, noise and evaluation episodes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Episodes of the final evaluation of the last policy (fresh reset seeds).
    #[arg(long, default_value_t = 50)]
    pub final_episodes: usize,
    /// Hyperparameters as JSON, e.g. '{"alpha": 30, "hidden": [128, 128]}' (the rest default;
    /// fields in docs/agents.md#hyperparameters).
    #[arg(long)]
    pub config: Option<String>,
    /// Hidden widths of every MLP, e.g. 128,128 (overrides `--config`'s `hidden`).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Where training runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
}

#[derive(Debug, Args)]
pub struct AgentEvalArgs {
    /// A saved policy (`OUT/best` of `flowopt agent train`, extension optional).
    #[arg(long)]
    pub policy: PathBuf,
    /// Environment.
    #[arg(long)]
    pub env: String,
    /// Episodes.
    #[arg(long, default_value_t = 50)]
    pub episodes: usize,
    /// Seed of the first episode (then seed + 1, ...) and of the policy's noise.
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,
    /// Where the policy runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The `flowopt` planner's settings for requests that do not set them.
    #[command(flatten)]
    pub flowopt: FlowOptArgs,
    /// Address to listen on (port 0: any free port; the address is logged).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Where tensor work runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
    /// Directory of model weights (`generator.bpk`, `warmstart.bpk`, each with its `.json`);
    /// without it the weights embedded in the binary (assets/) are used.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body_bytes: usize,
    /// Most robots per problem.
    #[arg(long, default_value_t = 64)]
    pub max_robots: usize,
    /// Most obstacles per problem.
    #[arg(long, default_value_t = 256)]
    pub max_obstacles: usize,
    /// Most candidates a request may ask for.
    #[arg(long, default_value_t = 64)]
    pub max_candidates: usize,
    /// Default and longest per-request deadline, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub deadline_ms: u64,
    /// Plans that may wait for the planners before requests get 429.
    #[arg(long, default_value_t = 256)]
    pub queue: usize,
    /// How long the inference worker gathers concurrent requests into one batch, in ms.
    #[arg(long, default_value_t = 2)]
    pub batch_window_ms: u64,
    /// Most problems per batched planner call.
    #[arg(long, default_value_t = 32)]
    pub max_batch: usize,
    /// Plans by the CPU-only planners (scp, orca, straight) at once.
    #[arg(long, default_value_t = 2)]
    pub cpu_workers: usize,
    /// Folder of agent checkpoints, each loaded at start-up (`GET /v1/agents`) and where
    /// `POST /v1/agents/{id}/save` writes [default: assets/agents when it exists].
    #[arg(long)]
    pub agents: Option<PathBuf>,
    /// Agent training jobs running at once.
    #[arg(long, default_value_t = 2)]
    pub agent_jobs: usize,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    /// `merge`: join shard outputs.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// `standard` (the defaults: 5 families x N = 8, 16, 32 x 50 seeds), a suite file (JSON:
    /// any of `scenarios`, `robots`, `seeds`, `planners`, `limit`, which override the
    /// options), or a folder of problem files (every `*.json` in it, each planned with seeds
    /// 0..SEEDS, by default 1).
    #[arg(long)]
    pub suite: Option<String>,
    /// Run only shard I of N (0-based, e.g. `--shard 0/4`): every N-th problem of the suite,
    /// all planners; `flowopt bench merge` joins the shards' outputs.
    #[arg(long)]
    pub shard: Option<flowopt::bench::Shard>,
    /// Scenario families (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "circle,random,obstacles,warehouse,doorway"
    )]
    pub scenarios: Vec<String>,
    /// Robot counts (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "8,16,32")]
    pub robots: Vec<usize>,
    /// Seeded problems per scenario and robot count (seeds 0..SEEDS; default 50), or for a
    /// folder suite the planner seeds per problem file (default 1).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Planners (comma-separated, see `flowopt list`).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "flowopt,filter,scp,orca,straight"
    )]
    pub planners: Vec<String>,
    /// Fewer seeds for some planner at some robot counts, e.g. `scp:16=10,scp:32=3` (slow
    /// references); the ratios use the problems both planners ran.
    #[arg(long, default_value = "")]
    pub limit: String,
    /// The planner the ratios are taken against.
    #[arg(long, default_value = "scp")]
    pub reference: String,
    /// Output directory.
    #[arg(short, long, required = true)]
    pub out: Option<PathBuf>,
    /// Where tensor work runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
    /// `flowopt` planner: `shipped` (the embedded generator) or the path of weights written by
    /// `flowopt train generator`.
    #[arg(long, default_value = flowopt::DEFAULT_GENERATOR)]
    pub generator: flowopt::GeneratorChoice,
    #[command(flatten)]
    pub flowopt: FlowOptArgs,
}

/// The `flowopt` planner's settings on the command line (`plan`, `bench`, `serve`): the options
/// users turn, and a tuning file for experiments on the rest.
#[derive(Debug, Args)]
pub struct FlowOptArgs {
    #[command(flatten)]
    pub options: flowopt::planner::FlowOptOptions,
    /// A tuning file: JSON with any of the flowopt planner's internal settings (the fields of
    /// `FlowOptSettings`, docs/tuning.md), for experiments; the options above apply on top.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Options of the flowopt planner"
    )]
    pub tuning: Option<PathBuf>,
}

impl FlowOptArgs {
    /// The tuning file's settings, or the defaults.
    pub fn base(&self) -> anyhow::Result<flowopt::planner::FlowOptSettings> {
        use anyhow::Context;
        match &self.tuning {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Ok(flowopt::planner::FlowOptSettings::from_json(&text)
                    .with_context(|| format!("tuning file {}", path.display()))?)
            }
            None => Ok(flowopt::planner::FlowOptSettings::default()),
        }
    }

    /// The planner settings: [`Self::base`] with the options applied.
    pub fn settings(&self) -> anyhow::Result<flowopt::planner::FlowOptSettings> {
        Ok(self.options.apply(self.base()?)?)
    }
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Join the outputs of `flowopt bench --shard` runs (or any runs) into one: results.jsonl,
    /// summary.json, report.md and the plots.
    Merge(BenchMergeArgs),
    /// Batched throughput: problems/s when B problems go through one `plan_batch` call, for
    /// each batch size B. Writes OUT/throughput.{json,md}.
    Throughput(BenchThroughputArgs),
    /// Roofline: the generator's achieved FLOP/s while sampling and the safety filter's per
    /// iteration, as fractions of the same backend's measured matrix-multiply rate. Writes
    /// OUT/roofline.json.
    Roofline(BenchRooflineArgs),
}

#[derive(Debug, Args)]
pub struct BenchRooflineArgs {
    /// Robots of the sampled (circle) problem.
    #[arg(long, default_value_t = 16)]
    pub robots: usize,
    /// Candidates per sampling.
    #[arg(long, default_value_t = 8)]
    pub candidates: usize,
    /// Euler steps per sampling.
    #[arg(long, default_value_t = 4)]
    pub steps: usize,
    /// Timed repeats (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Where tensor work runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchThroughputArgs {
    /// Planners (comma-separated; the batched ones are `flowopt` and `filter`).
    #[arg(long, value_delimiter = ',', default_value = "flowopt,filter")]
    pub planners: Vec<String>,
    /// Scenario family of the problems.
    #[arg(long, default_value = "circle")]
    pub scenario: String,
    /// Robots per problem.
    #[arg(long, default_value_t = 16)]
    pub robots: usize,
    /// Batch sizes (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32,64")]
    pub batches: Vec<usize>,
    /// Timed calls per batch size (the median is reported), after one warm-up call.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Where tensor work runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchMergeArgs {
    /// The runs' output directories (each with a results.jsonl).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// The planner the ratios are taken against.
    #[arg(long, default_value = "scp")]
    pub reference: String,
    /// Output directory.
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Scenario name: circle, random, obstacles, warehouse, doorway or crossing.
    pub name: String,
    /// Number of robots.
    #[arg(short = 'n', long, default_value_t = 8)]
    pub robots: usize,
    /// Extra random obstacles (default: 6 for `obstacles`, 0 for the others; the shelves of
    /// `warehouse` and the wall of `doorway` come on top).
    #[arg(long)]
    pub obstacles: Option<usize>,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Robot radius in metres.
    #[arg(long, default_value_t = flowopt::core::DEFAULT_RADIUS)]
    pub radius: f64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Problem JSON file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub problem: PathBuf,
    /// Planner to use (see `flowopt list`).
    #[arg(short, long, default_value = "flowopt")]
    pub planner: String,
    /// Seed of the planner's random choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where tensor work runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
    /// The filter's warm start: `shipped` (the embedded network), `none` (start from the
    /// candidate with zero multipliers) or the path of weights written by `flowopt train
    /// warmstart`.
    #[arg(long, default_value = "shipped")]
    pub warm_start: flowopt::WarmStartChoice,
    /// `flowopt` planner: `shipped` (the embedded generator) or the path of weights written by
    /// `flowopt train generator`.
    #[arg(long, default_value = flowopt::DEFAULT_GENERATOR)]
    pub generator: flowopt::GeneratorChoice,
    #[command(flatten)]
    pub flowopt: FlowOptArgs,
    /// Output format: json (the plan) or vda5050 (the plan plus each robot's path as a VDA
    /// 5050 NURBS trajectory, with its timing).
    #[arg(long, default_value = "json", value_parser = ["json", "vda5050"])]
    pub format: String,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Problem JSON file (`-` for standard input).
    pub problem: PathBuf,
    /// Plan JSON file (`-` for standard input).
    pub plan: PathBuf,
    /// Largest constraint violation still called feasible.
    #[arg(long, default_value_t = flowopt::core::DEFAULT_TOLERANCE)]
    pub tolerance: f64,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Limits on accepted problems.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Refuse problems with more robots than this.
    #[arg(long, default_value_t = 128)]
    pub max_robots: usize,
    /// Refuse problems with more obstacles than this.
    #[arg(long, default_value_t = 256)]
    pub max_obstacles: usize,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Pretty-print the JSON output.
    #[arg(long)]
    pub pretty: bool,
    /// Write the JSON output to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DatasetArgs {
    /// Output file (created, or resumed when it exists with the same settings).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Number of problems to attempt.
    #[arg(long, default_value_t = 1000)]
    pub problems: u64,
    /// Fewest robots per problem.
    #[arg(long, default_value_t = 2)]
    pub min_robots: usize,
    /// Most robots per problem.
    #[arg(long, default_value_t = 16)]
    pub max_robots: usize,
    /// Fewest extra random obstacles per problem.
    #[arg(long, default_value_t = 0)]
    pub min_obstacles: usize,
    /// Most extra random obstacles per problem.
    #[arg(long, default_value_t = 6)]
    pub max_obstacles: usize,
    /// Scenario families to draw from (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "circle,random,obstacles,warehouse,doorway,crossing"
    )]
    pub scenarios: Vec<String>,
    /// Most distinct solutions kept per problem.
    #[arg(long, default_value_t = 2)]
    pub solutions: usize,
    /// SCP runs from different random initial guesses per problem.
    #[arg(long, default_value_t = 3)]
    pub attempts: usize,
    /// Seed of the run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the safety filter's warm-start network, self-supervised through unrolled filter
    /// iterations on freshly generated problems (no dataset needed). Writes OUT.bpk, OUT.json
    /// (settings and the measured iterations to tolerance) and checkpoints in OUT.checkpoints/.
    Warmstart(WarmstartArgs),
    /// Train the flow-matching generator on a dataset written by `flowopt dataset`. Writes
    /// OUT.bpk, OUT.json (settings and the loss curve) and resumable checkpoints in
    /// OUT.checkpoints/ (`--resume` continues from the latest one).
    Generator(GeneratorArgs),
}

#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// Dataset file written by `flowopt dataset`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Output path without extension.
    #[arg(short, long, default_value = "assets/generator")]
    pub out: PathBuf,
    /// Optimizer steps.
    #[arg(long, default_value_t = 6000)]
    pub steps: usize,
    /// Examples (problem, solution) per step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Peak Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Fraction of the dataset's problems held out for the validation loss.
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// Validation loss every this many steps.
    #[arg(long, default_value_t = 250)]
    pub validate_every: usize,
    /// Checkpoint every this many steps (0: never).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Seed of the split, minibatches, noise and initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train on the problems as they are, without their mirror images (see docs/training.md#augmentation).
    #[arg(long)]
    pub no_augment: bool,
    /// Continue from the latest checkpoint in OUT.checkpoints/ (same settings and dataset).
    #[arg(long)]
    pub resume: bool,
    /// Token width of the network.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// DiT blocks.
    #[arg(long, default_value_t = 4)]
    pub blocks: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Where training runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
}

#[derive(Debug, Args)]
pub struct WarmstartArgs {
    /// Output path without extension.
    #[arg(short, long, default_value = "assets/warmstart")]
    pub out: PathBuf,
    /// Optimizer steps.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Problems per step (one scenario and robot count per step).
    #[arg(long, default_value_t = 4)]
    pub problems: usize,
    /// Perturbed candidates per problem.
    #[arg(long, default_value_t = 4)]
    pub candidates: usize,
    /// Fewest robots per problem.
    #[arg(long, default_value_t = 2)]
    pub min_robots: usize,
    /// Most robots per problem.
    #[arg(long, default_value_t = 16)]
    pub max_robots: usize,
    /// Scenario families to draw from (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "circle,random,obstacles,warehouse,doorway,crossing"
    )]
    pub scenarios: Vec<String>,
    /// Filter iterations unrolled in the loss.
    #[arg(long, default_value_t = 20)]
    pub unroll: usize,
    /// Peak Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Seed of problems, candidates and initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Save a checkpoint every this many steps (0: never).
    #[arg(long, default_value_t = 250)]
    pub checkpoint_every: usize,
    /// Held-out problems for the final evaluation.
    #[arg(long, default_value_t = 32)]
    pub eval_problems: usize,
    /// Token width of the network.
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Transformer blocks.
    #[arg(long, default_value_t = 2)]
    pub blocks: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Where training runs: cpu (default) or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: flowopt::DeviceChoice,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Options {
        #[command(flatten)]
        flowopt: FlowOptArgs,
    }

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("flowopt").chain(args.iter().copied()))
    }

    /// Without options the planner's defaults; a tuning file's settings with the options on
    /// top; a bad tuning file is an error naming the setting.
    #[test]
    fn flowopt_settings_are_the_defaults_the_tuning_file_and_the_options() {
        use flowopt::planner::FlowOptSettings;
        let defaults = parse(&[]).unwrap().flowopt.settings().unwrap();
        assert_eq!(defaults, FlowOptSettings::default());
        let dir = std::env::temp_dir().join(format!("flowopt-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tuning = dir.join("tuning.json");
        std::fs::write(&tuning, r#"{"smoothing_robots": 0, "candidates": 8}"#).unwrap();
        let path = tuning.to_str().unwrap();
        let tuned = parse(&["--tuning", path, "--candidates", "6"]).unwrap();
        assert_eq!(
            tuned.flowopt.settings().unwrap(),
            FlowOptSettings {
                smoothing_robots: 0,
                candidates: 6,
                ..FlowOptSettings::default()
            }
        );
        std::fs::write(&tuning, r#"{"smoothing_robot": 0}"#).unwrap();
        let err = parse(&["--tuning", path])
            .unwrap()
            .flowopt
            .settings()
            .unwrap_err();
        assert!(format!("{err:#}").contains("smoothing_robot"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
