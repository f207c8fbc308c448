#!/usr/bin/env bash
# The `filter` planner with and without the shipped warm start on a fixed set of problems:
# feasibility (by the shared checker), iterations of the chosen candidate, smoothness, filter time.
# Usage: benches/filter_warmstart.sh [path/to/flowopt]   (default: cargo's release binary)
set -euo pipefail
F="${1:-${CARGO_TARGET_DIR:-target}/release/flowopt}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for spec in "circle 8" "circle 16" "circle 32" "obstacles 8" "obstacles 16" "doorway 6" \
            "warehouse 8" "random 16" "crossing 16"; do
    set -- $spec
    for seed in 0 1 2; do
        "$F" scenario "$1" --robots "$2" --seed "$seed" > "$tmp/problem.json"
        for ws in none shipped; do
            "$F" plan "$tmp/problem.json" --planner filter --seed "$seed" --warm-start "$ws" \
                > "$tmp/plan.json"
            python3 - "$tmp/plan.json" "$1" "$2" "$seed" "$ws" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
m = p["metrics"]
print(f"{sys.argv[2]:>9} N={sys.argv[3]:<3} seed {sys.argv[4]} {sys.argv[5]:<7} "
      f"feasible {int(p['feasible'])} violation {m['max_violation']:.1e} "
      f"smoothness {m['smoothness']:6.1f} iterations {int(p['info']['iterations']):3d} "
      f"feasible candidates {int(p['info']['feasible_candidates'])}/8 "
      f"filter {p['timings_ms']['filter']:6.1f} ms")
PY
        done
    done
done
