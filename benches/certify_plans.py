#!/usr/bin/env python3
"""How many plans that `flowopt check` calls feasible (at samples) violate between samples.

    python3 benches/certify_plans.py FLOWOPT_BINARY [--planner flowopt] [--robots 16,32]
        [--seeds 0-9,1000-1009] [--families circle,random,obstacles,warehouse,doorway]

For each problem: plan it, judge it with `flowopt check` (the sampled checker) and with
`flowopt certify` (the whole interval), and print one line; then the counts, the worst
violation between samples and the certificate's time (median and largest, ms).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile


def seeds(spec):
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--planner", default="flowopt")
    parser.add_argument("--robots", default="16,32")
    parser.add_argument("--seeds", default="0-9,1000-1009")
    parser.add_argument("--families", default="circle,random,obstacles,warehouse,doorway")
    args = parser.parse_args()
    run = lambda *a, **k: subprocess.run([args.binary, *a], capture_output=True, text=True, **k)
    feasible = violating = 0
    worst, times = 0.0, []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families.split(","):
            for n in map(int, args.robots.split(",")):
                for seed in seeds(args.seeds):
                    problem = run("scenario", family, "--robots", str(n), "--seed", str(seed)).stdout
                    path = f"{tmp}/problem.json"
                    with open(path, "w") as f:
                        f.write(problem)
                    plan = run("plan", "--planner", args.planner, "--seed", str(seed), path).stdout
                    with open(f"{tmp}/plan.json", "w") as f:
                        f.write(plan)
                    check = run("check", path, f"{tmp}/plan.json")
                    cert = run("certify", path, f"{tmp}/plan.json")
                    if cert.returncode == 2:
                        sys.exit(f"certify failed: {cert.stderr}")
                    report = json.loads(cert.stdout)
                    times.append(report["ms"])
                    sampled_ok = check.returncode == 0
                    feasible += sampled_ok
                    between = sampled_ok and not report["certified"]
                    violating += between
                    if sampled_ok:
                        worst = max(worst, report["max_violation"])
                    first = report["violations"][0] if report["violations"] else None
                    print(
                        f"{family:9} N={n:2} seed={seed:4} sampled={'ok ' if sampled_ok else 'BAD'}"
                        f" certified={report['certified']!s:5} max_violation={report['max_violation']:.2e}"
                        + (f" worst={first['constraint']} t={first['time']:.2f}s" if first else ""),
                        flush=True,
                    )
    print(
        f"{feasible} plans feasible at samples; {violating} of them violate between samples "
        f"(worst {worst * 1e3:.1f} mm); certificate median {statistics.median(times):.2f} ms, "
        f"largest {max(times):.2f} ms"
    )


if __name__ == "__main__":
    main()
