#!/usr/bin/env python3
"""Plans the same problems with two `flowopt` binaries and says whether the plans are the same.

For refactors that must not change plans: build the old commit's binary and the new one, then

    python3 benches/compare_plans.py OLD_BINARY NEW_BINARY [--planners flowopt,filter]

Every problem (five scenario families at N = 8 and 16, seeds 0, 1 and the held-out 1000, plus
doorway N = 32 seed 0 and warehouse N = 32 seed 1) is planned by each planner with each binary;
two plans are the same when their JSON is equal without `timings_ms`, and every `info` figure
of the old plan is in the new one with the same value (new figures are listed, not failed).
Exits 1 when any plan differs.
"""

import argparse
import json
import subprocess
import sys


def plan(binary, problem, planner, seed):
    out = subprocess.run(
        [binary, "plan", "--planner", planner, "--seed", str(seed)],
        input=problem, capture_output=True, text=True,
    )
    if not out.stdout:
        sys.exit(f"{binary} plan --planner {planner} failed: {out.stderr}")
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--planners", default="flowopt,filter")
    args = parser.parse_args()
    cases = [
        (family, n, seed)
        for family in ["circle", "random", "obstacles", "warehouse", "doorway"]
        for n in [8, 16]
        for seed in [0, 1, 1000]
    ] + [("doorway", 32, 0), ("warehouse", 32, 1)]
    same = differ = 0
    for family, n, seed in cases:
        problem = subprocess.run(
            [args.new, "scenario", family, "--robots", str(n), "--seed", str(seed)],
            capture_output=True, text=True, check=True,
        ).stdout
        for planner in args.planners.split(","):
            old, new = (plan(b, problem, planner, seed) for b in (args.old, args.new))
            for p in (old, new):
                p.pop("timings_ms", None)
            old_info, new_info = old.pop("info", {}), new.pop("info", {})
            changed = [k for k in old_info if k != "batch" and old_info[k] != new_info.get(k)]
            added = sorted(set(new_info) - set(old_info))
            ok = old == new and not changed
            same += ok
            differ += not ok
            print(
                f"{family:9} N={n:2} seed={seed:4} {planner:8} {'same' if ok else 'DIFFERENT'}"
                f" feasible={new['feasible']}"
                + (f" changed info: {changed}" if changed else "")
                + (f" new info: {added}" if added else ""),
                flush=True,
            )
    print(f"{same} plans the same, {differ} different")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
