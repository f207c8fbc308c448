//! Prints the reference returns of every environment and a summary of the scripted-expert
//! datasets of every quality (100 episodes each, or the number given as the first argument).
//!
//! ```text
//! cargo run --release -p flowopt-rl --example dataset_stats -- 100
//! ```

use flowopt_rl::expert::{normalized_score, reference_returns};
use flowopt_rl::{Dataset, EnvKind, Quality, RlError};

fn main() -> Result<(), RlError> {
    let episodes = match std::env::args().nth(1) {
        Some(arg) => arg.parse().map_err(|_| RlError::Invalid {
            field: "episodes",
            message: format!("`{arg}` is not a count"),
        })?,
        None => 100,
    };
    println!("{:<11} {:>10} {:>10}", "env", "random", "expert");
    for kind in EnvKind::ALL {
        let r = reference_returns(kind);
        println!("{:<11} {:>10.3} {:>10.3}", kind.name(), r.random, r.expert);
    }
    println!();
    println!(
        "{:<11} {:<7} {:>8} {:>8} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "env", "quality", "rows", "episodes", "mean", "min", "max", "score", "success"
    );
    for kind in EnvKind::ALL {
        for quality in Quality::ALL {
            let (_, s) = Dataset::collect_with_summary(kind, quality, episodes, 0)?;
            println!(
                "{:<11} {:<7} {:>8} {:>8} {:>10.3} {:>10.3} {:>10.3} {:>8.1} {:>8.2}",
                kind.name(),
                quality.name(),
                s.transitions,
                s.episodes,
                s.mean_return,
                s.min_return,
                s.max_return,
                normalized_score(kind, s.mean_return),
                s.success_rate.unwrap_or(f32::NAN),
            );
        }
    }
    Ok(())
}
