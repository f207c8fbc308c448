#!/usr/bin/env bash
# Throughput and latency of `POST /v1/plan` under concurrent clients, and the batch sizes the
# server's dynamic batching formed (from /metrics).
#
# usage: benches/http_load.sh [FLOWOPT_BIN] [SCENARIO] [ROBOTS] [REQUESTS] [CONCURRENCY ...]
# e.g.   benches/http_load.sh target/release/flowopt circle 16 64 1 4 16
# Needs curl. Each request is a different seeded problem of the scenario (same shape, so
# concurrent requests can share batches); planner flowopt, seed 0.
set -euo pipefail
bin=${1:-target/release/flowopt}
scenario=${2:-circle}
robots=${3:-16}
requests=${4:-64}
shift $(( $# < 4 ? $# : 4 ))
levels=("$@")
[ "${#levels[@]}" -eq 0 ] && levels=(1 4 16)

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --addr 127.0.0.1:0 2> "$work/server.log" &
server=$!
for _ in $(seq 100); do
    addr=$(sed -n 's/.*listening on //p' "$work/server.log")
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

for i in $(seq 0 $((requests - 1))); do
    curl -sf "$addr/v1/scenarios/$scenario?robots=$robots&seed=$i" > "$work/p$i.json"
done
# Warm-up (first-call allocations).
curl -sf -o /dev/null -H 'Content-Type: application/json' --data @"$work/p0.json" "$addr/v1/plan"

metric() { curl -sf "$addr/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
echo "| clients | requests | plans/s | p50 ms | p95 ms | max ms | mean batch | feasible |"
echo "|---|---|---|---|---|---|---|---|"
for c in "${levels[@]}"; do
    sum0=$(metric flowopt_batch_size_sum); n0=$(metric flowopt_batch_size_count)
    start=$(date +%s.%N)
    seq 0 $((requests - 1)) | xargs -P "$c" -I{} sh -c \
        "curl -sf -o '$work/r{}.json' -w '%{time_total}\n' -H 'Content-Type: application/json' --data @'$work/p{}.json' '$addr/v1/plan'" \
        > "$work/times"
    end=$(date +%s.%N)
    sum1=$(metric flowopt_batch_size_sum); n1=$(metric flowopt_batch_size_count)
    feasible=$(cat "$work"/r*.json | grep -o '"feasible":true,"info"' | wc -l)
    sort -n "$work/times" | awk -v c="$c" -v r="$requests" -v s="$start" -v e="$end" \
        -v bs="$(echo "$sum1 - $sum0" | bc)" -v bn="$(echo "$n1 - $n0" | bc)" -v f="$feasible" '
        { t[NR] = $1 * 1000 }
        END {
            p50 = t[int((NR + 1) * 0.50)]; p95 = t[int(NR * 0.95 + 0.5)]
            printf "| %d | %d | %.1f | %.0f | %.0f | %.0f | %.2f | %d/%d |\n",
                c, r, r / (e - s), p50, p95, t[NR], bs / bn, f, r
        }'
    rm -f "$work"/r*.json
done
