#!/usr/bin/env bash
# The offline agents' table in docs/agents.md#measured: every algorithm on every task, several
# seeds, then `flowopt agent summary`. Runs JOBS trainings at once (one thread each).
#
#   benches/agents.sh [OUT] [SEEDS] [STEPS]      (defaults: benches/results/agents 3 5000)
#
# Datasets are written once to OUT/data/ (seed 0, 200 episodes); a run whose report.json has a
# final evaluation after STEPS updates is skipped, so an interrupted sweep resumes.
set -euo pipefail
OUT=${1:-benches/results/agents}
SEEDS=${2:-3}
STEPS=${3:-5000}
JOBS=${JOBS:-2}
ALGOS=${ALGOS:-flow-bc fql qam gfp decision-flow}
TASKS=${TASKS:-point-maze:noisy point-maze:mixed pendulum:mixed swarm-nav:noisy}
BIN=${FLOWOPT:-target/release/flowopt}
# Extra `flowopt agent train` arguments, e.g. EXTRA='--batch-size 128 --hidden 128,128'.
EXTRA=${EXTRA:-}
mkdir -p "$OUT/data"
for task in $TASKS; do
  env=${task%%:*}; quality=${task##*:}
  data="$OUT/data/$env-$quality.npz"
  [ -f "$data" ] || "$BIN" agent dataset --env "$env" --quality "$quality" --episodes 200 --seed 0 -o "$data" \
    2>&1 | tee -a "$OUT/data/datasets.txt"
done
# Per-task settings (`--config`), as the papers tune per task. QAM's inverse temperature is in
# units of 1 / Q: pendulum's Q spans ~1e3 (rewards down to -16.3 per step), point-maze's and
# bandit2d's lie in [0, 1], swarm-nav's in a few metres of progress.
config_for() {
  case "$1:$2" in
    qam:pendulum) echo '{"inv_temp":0.03}' ;;
    qam:point-maze) echo '{"inv_temp":10.0}' ;;
    qam:swarm-nav) echo '{"inv_temp":1.0}' ;;
    qam:bandit2d) echo '{"inv_temp":3.0}' ;;
    # Decision Flow's update costs ~2 K network passes (K = flow steps): 5 steps keep it
    # within twice QAM's cost on 2 cores.
    decision-flow:*) echo '{"flow_steps":5}' ;;
    *) echo '{}' ;;
  esac
}
export -f config_for
runs=()
# Cheapest algorithms first, so an interrupted sweep leaves whole rows.
for algo in $ALGOS; do
  for task in $TASKS; do
    env=${task%%:*}; quality=${task##*:}
    for seed in $(seq 0 $((SEEDS - 1))); do
      dir="$OUT/runs/$env-$quality/$algo/seed$seed"
      if [ -f "$dir/report.json" ] && grep -q '"final_eval": {' "$dir/report.json" \
        && grep -q "\"steps\": $STEPS," "$dir/report.json"; then continue; fi
      runs+=("$env $quality $algo $seed $dir")
    done
  done
done
printf '%s\n' "${runs[@]}" | xargs -P "$JOBS" -L 1 bash -c '
  env=$0; quality=$1; algo=$2; seed=$3; dir=$4
  RAYON_NUM_THREADS=1 "'"$BIN"'" agent train --algo "$algo" --env "$env" \
    --dataset "'"$OUT"'/data/$env-$quality.npz" --steps '"$STEPS"' --eval-every 1000 \
    --seed "$seed" --config "$(config_for "$algo" "$env")" -o "$dir" '"$EXTRA"' 2>&1 | tail -1'
"$BIN" agent summary "$OUT/runs" | tee "$OUT/summary.md"
# SHIP=DIR: export each algorithm's best run (highest final evaluation over seeds and datasets)
# on point-maze and pendulum as a checkpoint folder DIR/ENV-ALGO (assets/agents/ ships them).
if [ -n "${SHIP:-}" ]; then
  for env in point-maze pendulum; do
    for algo in $ALGOS; do
      runs=("$OUT"/runs/"$env"-*/"$algo"/seed*)
      [ -e "${runs[0]}" ] || continue
      "$BIN" agent export "${runs[@]}" -o "$SHIP/$env-$algo"
    done
  done
fi
