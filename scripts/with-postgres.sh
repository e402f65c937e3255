#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster:
#
#   bash scripts/with-postgres.sh cargo test --features postgres,sqlx
#
# initdb in a temporary directory, a free port on 127.0.0.1, trust
# authentication, fsync off (nothing here must survive the run); the
# command runs with DATABASE_URL set to the cluster's `postgres` database,
# and the cluster is stopped and removed however the command ends. As root,
# the cluster runs as the `postgres` user (PostgreSQL refuses root). Where
# PostgreSQL is missing, root installs it from Debian's packages; anyone
# else is told what to install. Exits with the command's status.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

# The server's binaries: on PATH, or in Debian's versioned directory.
find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$dir" && -x "$dir/initdb" ]]; then
    echo "$dir"
  elif command -v initdb >/dev/null; then
    dirname "$(command -v initdb)"
  fi
}

bin=$(find_bin)
if [[ -z "$bin" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "with-postgres: installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    bin=$(find_bin)
  fi
  if [[ -z "$bin" ]]; then
    echo "with-postgres: PostgreSQL's server is missing: install it (Debian/Ubuntu:" \
      "\`apt-get install postgresql\`; macOS: \`brew install postgresql\`) and run again" >&2
    exit 1
  fi
fi

# As root, the cluster belongs to `postgres`; otherwise to the caller.
as_owner=()
if [[ $(id -u) == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_owner=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/ctx-postgres.XXXXXX)
chmod 755 "$dir"
[[ ${#as_owner[@]} -gt 0 ]] && chown postgres "$dir"

stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

# A free port: the kernel picks one, which is then given to the server.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)))

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk "{print \$3}") at $DATABASE_URL" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
