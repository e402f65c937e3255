#!/usr/bin/env bash
# Every test of the workspace: unit, integration, doc, UI (trybuild) and
# stress tests with all features, then the loom models of the context tree.
# The README's test command; CI runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-features

# Loom explores every interleaving of the tree's locks and atomics; the
# preemption bound keeps the suite within minutes on 2 cores. Its own target
# dir keeps the `--cfg ctx_loom` build from invalidating the normal one.
RUSTFLAGS="--cfg ctx_loom" CARGO_TARGET_DIR=target/loom LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-5} \
  cargo test -p goctx-core --release --test loom
