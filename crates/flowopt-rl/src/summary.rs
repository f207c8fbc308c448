//! Tables over training runs: mean and standard deviation over seeds of each (environment,
//! dataset, algorithm)'s final evaluation, as `flowopt agent summary` prints them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::train::TrainReport;

/// One row: the runs of one algorithm on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Environment name.
    pub env: String,
    /// Dataset name.
    pub dataset: String,
    /// Algorithm name.
    pub algorithm: String,
    /// Runs (seeds) with a final evaluation.
    pub runs: usize,
    /// Normalized score: mean and standard deviation over runs.
    pub score: (f32, f32),
    /// Success rate in %: mean and standard deviation over runs.
    pub success: (f32, f32),
    /// Return: mean and standard deviation over runs.
    pub ret: (f32, f32),
    /// Mean wall-clock seconds of a run.
    pub seconds: f64,
}

fn mean_std(values: &[f32]) -> (f32, f32) {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    (mean, var.sqrt())
}

/// Groups `reports` by (environment, dataset, algorithm); reports without a final evaluation
/// are left out.
pub fn summarize(reports: &[TrainReport]) -> Vec<SummaryRow> {
    let mut groups: BTreeMap<(String, String, usize), Vec<&TrainReport>> = BTreeMap::new();
    for r in reports.iter().filter(|r| r.final_eval.is_some()) {
        let env = r.env.map_or("-", |e| e.name()).to_string();
        let order = crate::Algorithm::ALL
            .iter()
            .position(|a| *a == r.algorithm)
            .unwrap_or(0);
        groups
            .entry((env, r.dataset.clone(), order))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((env, dataset, _), runs)| {
            let evals: Vec<_> = runs.iter().filter_map(|r| r.final_eval.as_ref()).collect();
            let pick = |f: fn(&crate::Evaluation) -> f32| -> Vec<f32> {
                evals.iter().map(|e| f(e)).collect()
            };
            SummaryRow {
                env,
                dataset,
                algorithm: runs[0].algorithm.name().to_string(),
                runs: runs.len(),
                score: mean_std(&pick(|e| e.normalized_score)),
                success: mean_std(&pick(|e| 100.0 * e.success_rate)),
                ret: mean_std(&pick(|e| e.return_mean)),
                seconds: runs.iter().map(|r| r.seconds).sum::<f64>() / runs.len() as f64,
            }
        })
        .collect()
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[SummaryRow]) -> String {
    let mut out = String::from(
        "| env | dataset | algorithm | seeds | normalized score | success % | return | s/run |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} ± {:.1} | {:.0} ± {:.0} | {:.1} ± {:.1} | {:.0} |",
            r.env,
            r.dataset,
            r.algorithm,
            r.runs,
            r.score.0,
            r.score.1,
            r.success.0,
            r.success.1,
            r.ret.0,
            r.ret.1,
            r.seconds
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AgentConfig, Algorithm, EnvKind, Evaluation, TrainSettings};

    fn report(algorithm: Algorithm, seed: u64, score: f32) -> TrainReport {
        TrainReport {
            algorithm,
            env: Some(EnvKind::Pendulum),
            dataset: "mixed".into(),
            transitions: 10,
            config: AgentConfig::default(),
            settings: TrainSettings {
                seed,
                ..Default::default()
            },
            curve: Vec::new(),
            last: None,
            best: None,
            final_eval: Some(Evaluation {
                episodes: 5,
                return_mean: score,
                return_std: 0.0,
                success_rate: 0.5,
                normalized_score: score,
            }),
            seconds: 2.0,
        }
    }

    #[test]
    fn seeds_are_averaged_per_algorithm() {
        let rows = summarize(&[
            report(Algorithm::Fql, 0, 10.0),
            report(Algorithm::FlowBc, 0, 1.0),
            report(Algorithm::Fql, 1, 30.0),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].algorithm, "flow-bc");
        assert_eq!((rows[1].runs, rows[1].score), (2, (20.0, 10.0)));
        let table = markdown(&rows);
        assert!(
            table.contains("| pendulum | mixed | fql | 2 | 20.0 ± 10.0 | 50 ± 0 |"),
            "{table}"
        );
    }
}
