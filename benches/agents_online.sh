#!/usr/bin/env bash
# The online agents' table in docs/agents.md#online-training: every online algorithm in every
# environment, several seeds, then `flowopt agent summary`. Runs JOBS trainings at once (one
# thread each).
#
#   benches/agents_online.sh [OUT] [SEEDS] [STEPS]   (defaults: benches/results/agents-online 3 6000)
#
# STEPS are environment steps (one update per step after the 1000-step warm-up). `swfp`
# fine-tunes the shipped `flow-bc` policy of the environment (assets/agents/ENV-flow-bc). A run
# whose report.json has a final evaluation after STEPS steps is skipped, so a sweep resumes.
set -euo pipefail
OUT=${1:-benches/results/agents-online}
SEEDS=${2:-3}
STEPS=${3:-6000}
JOBS=${JOBS:-2}
ALGOS=${ALGOS:-fpmd-r fpmd-m swfp}
ENVS=${ENVS:-pendulum point-maze swarm-nav}
BIN=${FLOWOPT:-target/release/flowopt}
runs=()
for algo in $ALGOS; do
  for env in $ENVS; do
    for seed in $(seq 0 $((SEEDS - 1))); do
      dir="$OUT/runs/$env-online/$algo/seed$seed"
      if [ -f "$dir/report.json" ] && grep -q '"final_eval": {' "$dir/report.json" \
        && grep -q "\"steps\": $STEPS," "$dir/report.json"; then continue; fi
      runs+=("$env $algo $seed $dir")
    done
  done
done
printf '%s\n' "${runs[@]}" | xargs -P "$JOBS" -L 1 bash -c '
  env=$0; algo=$1; seed=$2; dir=$3
  init=(); [ "$algo" = swfp ] && init=(--init "assets/agents/$env-flow-bc/policy")
  RAYON_NUM_THREADS=1 "'"$BIN"'" agent train --algo "$algo" --env "$env" "${init[@]}" \
    --steps '"$STEPS"' --warmup 1000 --batch-size 128 --hidden 128,128 --eval-every 1000 \
    --seed "$seed" -o "$dir" 2>&1 | tail -1'
"$BIN" agent summary "$OUT/runs" | tee "$OUT/summary.md"
