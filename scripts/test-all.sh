#!/usr/bin/env bash
# Every test of the workspace: unit, integration, doc, UI (trybuild) and
# stress tests with all features (the database tests against a throwaway
# Postgres, see below), then the loom models of the context tree.
# The README's test command; CI runs it too.
#
# Ends with one line, `N passed, M failed`: cargo's `test result:` lines
# summed, the loom run's included. Exits non-zero if a test failed or a
# build broke. Builds go to $CARGO_TARGET_DIR (default `target`).
set -uo pipefail
cd "$(dirname "$0")/.."

# The database tests (tests/postgres.rs) need a Postgres: without
# DATABASE_URL, the whole run goes under a throwaway cluster, installed
# from Debian's packages where it is missing.
if [[ -z "${DATABASE_URL:-}" ]]; then
  exec bash scripts/with-postgres.sh bash "$0" "$@"
fi

target=${CARGO_TARGET_DIR:-target}
if [[ -t 1 ]]; then
  # The output goes through `tee` (to be counted), so cargo and the test
  # harness would see a pipe: ask for the colors of a terminal.
  export CARGO_TERM_COLOR=always
  color=always
else
  # Plain text for logs. cargo and the test harness see the pipe by
  # themselves, but trybuild colors whenever TERM is set, unless NO_COLOR is.
  export CARGO_TERM_COLOR=never NO_COLOR=1
  color=never
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
broken=0
run() {
  "$@" 2>&1 | tee -a "$log" || broken=1
}

run cargo test --workspace --all-features --no-fail-fast -- --color "$color"

# Loom explores every interleaving of the tree's locks and atomics; the
# preemption bound keeps the suite within minutes on 2 cores. Its own target
# dir keeps the `--cfg ctx_loom` build from invalidating the normal one.
run env RUSTFLAGS="--cfg ctx_loom" CARGO_TARGET_DIR="$target/loom" \
  LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-5}" \
  cargo test -p goctx-core --release --test loom -- --color "$color"

# `test result: ok. 12 passed; 0 failed; 1 ignored; ...`, maybe colored.
read -r passed failed < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /^test result:/ {
    for (i = 2; i <= NF; i++) {
      if ($i ~ /^passed/) passed += $(i - 1)
      if ($i ~ /^failed/) failed += $(i - 1)
    }
  }
  END { print passed + 0, failed + 0 }')
if ((broken && !failed)); then
  echo "error: a build or a test binary failed without a failing test; see above"
fi
echo "$passed passed, $failed failed"
((!broken && !failed))
