#!/usr/bin/env bash
# The publish-after-response demo on a real broker: starts a redis-server of
# its own on a free port of 127.0.0.1 (nothing saved to disk), runs the
# demo's Redis variant once and the Redis tests (ignored otherwise), then
# stops it. Needs `redis-server` (Debian: `apt-get install redis-server`);
# CI installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

features=axum,ctx-examples-support/redis
# Built first, so the server runs only as long as the demo and the tests.
cargo build --example publish_after_response --test publish_after_response --features "$features"

redis_pid=
stop_redis() {
  if [[ -n $redis_pid ]]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
  fi
}
trap stop_redis EXIT
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no >/dev/null &
  redis_pid=$!
  # Up once it answers; gone at once if the port was taken: try another.
  for _ in $(seq 50); do
    kill -0 "$redis_pid" 2>/dev/null || break
    if [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; then break 2; fi
    sleep 0.1
  done
  stop_redis
done
if [[ -z $redis_pid ]]; then
  echo "error: could not start redis-server on 127.0.0.1" >&2
  exit 1
fi

url=redis://127.0.0.1:$port
echo "redis-server on $url"
# Both finish by themselves; the bound only stops a broken run.
timeout 300 cargo run -q --example publish_after_response --features "$features" -- --redis "$url"
REDIS_URL=$url timeout 300 cargo test -q --features "$features" --test publish_after_response -- --ignored
