#!/usr/bin/env bash
# Actions served per second by `POST /v1/agents/{id}/act`, and its latency, for batches of
# observations posted by concurrent clients (docs/agents.md#serving).
#
# usage: benches/agents_http.sh [FLOWOPT_BIN] [AGENTS_DIR] [AGENT] [REQUESTS] [BATCH ...]
# e.g.   benches/agents_http.sh target/release/flowopt assets/agents point-maze-fql 200 1 16 256
# Needs curl. CLIENTS (default 4) requests run at once; each request holds BATCH copies of a
# random observation of the agent's dimension, seeded per request.
set -euo pipefail
bin=${1:-target/release/flowopt}
agents=${2:-assets/agents}
agent=${3:-point-maze-fql}
requests=${4:-200}
shift $(( $# < 4 ? $# : 4 ))
batches=("$@")
[ "${#batches[@]}" -eq 0 ] && batches=(1 16 256)
clients=${CLIENTS:-4}

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --addr 127.0.0.1:0 --agents "$agents" 2> "$work/server.log" &
server=$!
for _ in $(seq 200); do
    addr=$(sed -n 's/.*listening on //p' "$work/server.log")
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
dim=$(curl -sf "$addr/v1/agents/$agent" | sed -n 's/.*"observation_dim":\([0-9]*\).*/\1/p')
[ -n "$dim" ] || { echo "no agent $agent in $agents" >&2; exit 1; }

echo "| agent | batch | clients | requests | actions/s | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|---|---|"
for b in "${batches[@]}"; do
    for i in $(seq 0 $((requests - 1))); do
        awk -v b="$b" -v d="$dim" -v s="$i" 'BEGIN {
            srand(s + 1); printf "{\"seed\":%d,\"observations\":[", s
            for (r = 0; r < b; r++) {
                printf "%s[", (r ? "," : "")
                for (j = 0; j < d; j++) printf "%s%.3f", (j ? "," : ""), 2 * rand() - 1
                printf "]"
            }
            printf "]}" }' > "$work/q$i.json"
    done
    curl -sf -o /dev/null -H 'Content-Type: application/json' --data @"$work/q0.json" \
        "$addr/v1/agents/$agent/act"
    start=$(date +%s.%N)
    seq 0 $((requests - 1)) | xargs -P "$clients" -I{} sh -c \
        "curl -sf -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' --data @'$work/q{}.json' '$addr/v1/agents/$agent/act'" \
        > "$work/times"
    end=$(date +%s.%N)
    sort -n "$work/times" | awk -v a="$agent" -v b="$b" -v c="$clients" -v r="$requests" \
        -v s="$start" -v e="$end" '
        { t[NR] = $1 * 1000 }
        END {
            p50 = t[int((NR + 1) * 0.50)]; p99 = t[int(NR * 0.99 + 0.5)]
            printf "| %s | %d | %d | %d | %.0f | %.1f | %.1f | %.1f |\n",
                a, b, c, r, r * b / (e - s), r / (e - s), p50, p99
        }'
done
