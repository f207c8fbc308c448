#!/usr/bin/env bash
# The offline agents' table in README.md ("Agents"): every algorithm on every task, several
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
  [ -f "$data" ] || "$BIN" agent dataset --env "$env" --quality "$quality" --episodes 200 --seed 0 -o "$data"
done
runs=()
for task in $TASKS; do
  env=${task%%:*}; quality=${task##*:}
  for algo in $ALGOS; do
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
    --seed "$seed" -o "$dir" '"$EXTRA"' 2>&1 | tail -1'
"$BIN" agent summary "$OUT/runs" | tee "$OUT/summary.md"
