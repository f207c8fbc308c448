//! Measures the dataset generation rate with the default settings of `flowopt dataset`
//! (2-16 robots, 0-6 extra obstacles, all scenarios, 3 SCP attempts, up to 2 labels):
//! `cargo run --release -p flowopt-baselines --example dataset_rate -- PROBLEMS`.
//! (`flowopt dataset` runs the same library function; this example avoids building the whole
//! CLI in release mode.)

use std::time::Instant;

use flowopt_baselines::{DatasetSettings, generate_dataset};

fn main() {
    let problems: u64 = std::env::args()
        .nth(1)
        .map_or(40, |s| s.parse().expect("PROBLEMS must be a number"));
    let path = std::env::temp_dir().join(format!("flowopt-rate-{}.fods", std::process::id()));
    let settings = DatasetSettings {
        problems,
        ..Default::default()
    };
    let started = Instant::now();
    let summary = generate_dataset(&path, &settings, |_, _| {}).expect("dataset");
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    println!(
        "{} problems in {seconds:.1} s on {} threads: {:.2} problems/s; {} records, {} labels, {} skipped",
        summary.attempted,
        rayon::current_num_threads(),
        summary.attempted as f64 / seconds,
        summary.written,
        summary.solutions,
        summary.skipped
    );
}
