#!/usr/bin/env bash
# The cost per request over loopback, as a user feels it: wrk (Debian's)
# against the hello-world servers of benches/routers.rs (the bench target
# `http_server`), one fresh server process per measurement, on 127.0.0.1
# only. Each ratio compares two rows measured back to back, in one order
# in odd rounds and the other in even ones, so the machine's changes of
# speed (a quarter between rounds here) fall on both sides; it is the
# median over the rounds. Prints a markdown table of the ratios, then one
# of each row's rates.
#
# Rows: the servers `bare`, `timeout` (tower-http's TimeoutLayer),
# `context` (ContextLayer, added with `Router::layer`), `context_around`
# (the same layer around the router), `yield_plain` and `yield_ctx_fn` (a
# handler with one `yield_now().await`, plain and as a `#[ctx_fn]`, both
# behind ContextLayer); `bare+headers` and `context+headers` send the
# incoming headers `http_server --headers` prints (a deadline, a request
# id, a trace context). Pairs: `bare+headers` against `bare` (the same
# server, parsing three more headers); `timeout`, `context`,
# `context_around` and `yield_plain` against `bare`; `context` against
# `timeout`; `context+headers` against `bare+headers`; `yield_ctx_fn`
# against `yield_plain`.
#
# Environment (defaults): ROUNDS (3), WRK_THREADS (1), WRK_CONNECTIONS
# (64), WRK_DURATION (4s), WRK_WARMUP (1s, a run not counted, on the same
# server first), SERVER_THREADS (1: a current-thread runtime; more: a
# multi-thread runtime with that many workers), SERVER_CPUS and WRK_CPUS
# (on a machine of two CPUs or more, `0` and `1`; the CPU lists `taskset`
# pins each to, so the two never share a CPU; set both empty to leave
# placing them to the scheduler). Each wrk run is bounded by `timeout`,
# and every server started is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
wrk_threads=${WRK_THREADS:-1}
connections=${WRK_CONNECTIONS:-64}
duration=${WRK_DURATION:-4s}
warmup=${WRK_WARMUP:-1s}
server_threads=${SERVER_THREADS:-1}
if (($(nproc) >= 2)); then
  server_cpus=${SERVER_CPUS-0}
  wrk_cpus=${WRK_CPUS-1}
else
  server_cpus=${SERVER_CPUS-}
  wrk_cpus=${WRK_CPUS-}
fi
# The command prefixes that pin the server and wrk (none for an empty list).
server_pin=()
wrk_pin=()
if [[ -n $server_cpus ]]; then server_pin=(taskset -c "$server_cpus"); fi
if [[ -n $wrk_cpus ]]; then wrk_pin=(taskset -c "$wrk_cpus"); fi
# Each pair: a row, and the row it is measured against.
pairs=(
  "bare+headers bare"
  "timeout bare"
  "context bare"
  "context timeout"
  "context_around bare"
  "context+headers bare+headers"
  "yield_plain bare"
  "yield_ctx_fn yield_plain"
)

if ! command -v wrk >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# The server binary, built with the release profile; its path from cargo.
server_bin=$(cargo bench -p ctx-benches --bench http_server --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "http_server" and message.get("executable"):
        print(message["executable"])
')
if [[ -z $server_bin ]]; then
  echo "bench-http.sh: building the http_server bench target failed:" >&2
  cargo bench -p ctx-benches --bench http_server --no-run >&2
  exit 1
fi

headers=()
while IFS= read -r header; do
  headers+=(-H "$header")
done < <("$server_bin" --headers)

work=$(mktemp -d)
server_pid=
stop_server() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT

# Seconds in a wrk duration (`4s`, `1m`, `500ms` rounds up to 1).
seconds() {
  python3 -c '
import re, sys
value, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", sys.argv[1]).groups()
print(max(1, -(-int(value) * {"ms": 1, "s": 1000, "m": 60000, "h": 3600000}[unit or "s"] // 1000)))
' "$1"
}
bound=$(($(seconds "$duration") + $(seconds "$warmup") + 20))

# Starts the server of a row and waits for its address (the first line of
# its stdout), set in `address`. Runs in the script's own shell (never in a
# `$(...)`), so that `server_pid` is the one the exit trap kills.
start_server() {
  local server=$1
  # A fresh file: the previous server's address must not be read as this
  # one's before the shell truncates it.
  rm -f "$work/address"
  "${server_pin[@]}" "$server_bin" "$server" "$server_threads" >"$work/address" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    if [[ -s $work/address ]]; then
      address=$(head -n1 "$work/address")
      return
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "bench-http.sh: the $server server did not start:" >&2
  cat "$work/server.err" >&2
  exit 1
}

# One measurement of a row, its req/s set in `rate`.
measure() {
  local row=$1 extra=()
  if [[ $row == *+headers ]]; then
    extra=("${headers[@]}")
  fi
  start_server "${row%+headers}"
  local wrk=("${wrk_pin[@]}" wrk -t"$wrk_threads" -c"$connections" "${extra[@]}" "http://$address/")
  timeout "$bound" "${wrk[@]}" -d"$warmup" >/dev/null
  timeout "$bound" "${wrk[@]}" -d"$duration" >"$work/wrk.out"
  stop_server
  if grep -q -e 'Non-2xx' -e 'Socket errors' "$work/wrk.out"; then
    echo "bench-http.sh: $row: wrk saw errors:" >&2
    cat "$work/wrk.out" >&2
  fi
  rate=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
}

measurements=$work/measurements
for round in $(seq "$rounds"); do
  for pair in "${pairs[@]}"; do
    read -r row against <<<"$pair"
    order=("$row" "$against")
    if ((round % 2 == 0)); then
      order=("$against" "$row")
    fi
    for measured in "${order[@]}"; do
      measure "$measured"
      echo "round $round: $measured $rate req/s" >&2
      echo "$round $pair $measured $rate" >>"$measurements"
    done
  done
done

others=$(ps -eo pcpu=,comm= | awk '$1 > 20 && $2 !~ /^(wrk|http_server|ps|awk|bash)/' | wc -l)
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); other processes above 20% CPU: $others"
echo "- command: \`ROUNDS=$rounds WRK_THREADS=$wrk_threads WRK_CONNECTIONS=$connections WRK_DURATION=$duration WRK_WARMUP=$warmup SERVER_THREADS=$server_threads SERVER_CPUS=$server_cpus WRK_CPUS=$wrk_cpus scripts/bench-http.sh\` ($(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2))"
echo
python3 - "$measurements" <<'PY'
import statistics, sys
# (round, row, against) -> {measured row: rate}
pairs, rates = {}, {}
for line in open(sys.argv[1]):
    round_, row, against, measured, rate = line.split()
    pairs.setdefault((row, against), {}).setdefault(round_, {})[measured] = float(rate)
    rates.setdefault(measured, []).append(float(rate))
print("| ratio | per round | median |")
print("|---|---|---|")
for (row, against), by_round in pairs.items():
    ratios = [both[row] / both[against] for both in by_round.values()]
    per_round = ", ".join(f"{ratio:.3f}" for ratio in ratios)
    print(f"| {row} / {against} | {per_round} | {statistics.median(ratios):.3f} |")
print()
print("| row | req/s, every measurement | median |")
print("|---|---|---|")
for row, measured in rates.items():
    every = ", ".join(f"{rate:.0f}" for rate in measured)
    print(f"| {row} | {every} | {statistics.median(measured):.0f} |")
PY
