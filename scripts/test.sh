#!/usr/bin/env bash
# Runs every Kiln test: vet and format checks, the unit and API suites on SQLite and
# PostgreSQL (race detector on the concurrent packages), and a short run of each fuzz target.
# Starts the local PostgreSQL server if it is installed but stopped.
# With KILN_REQUIRE_SERVICES=1 (CI), a missing PostgreSQL fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${KILN_FUZZTIME:-8s}
export KILN_TEST_POSTGRES_URL=${KILN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export KILN_TEST_REDIS_URL=${KILN_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

say() { printf '\n== %s\n' "$*"; }

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  fi
  if [ "${KILN_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "PostgreSQL is required (KILN_REQUIRE_SERVICES=1) but not reachable at 127.0.0.1:5432" >&2
    exit 1
  fi
  echo "PostgreSQL not reachable: its suites will say SKIPPED"
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/kiln-test.log || true
    for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 0.5; done
  fi
  if [ "${KILN_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "Redis is required (KILN_REQUIRE_SERVICES=1) but not reachable at 127.0.0.1:6379" >&2
    exit 1
  fi
  echo "Redis not reachable: its suites will say SKIPPED"
}

ensure_newman() {
  local bin=.tools/node_modules/.bin/newman
  if [ ! -x "$bin" ] && command -v npm >/dev/null 2>&1; then
    echo "installing Newman into .tools/"
    npm install --prefix .tools --no-audit --no-fund --silent newman@6.2.2 >/dev/null 2>&1 || true
  fi
  if [ -x "$bin" ]; then
    export KILN_NEWMAN="$PWD/$bin"
  elif [ "${KILN_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "Newman is required (KILN_REQUIRE_SERVICES=1) but could not be installed with npm" >&2
    exit 1
  else
    echo "Newman not installed: its test will say SKIPPED"
  fi
}

say "services"
ensure_postgres
ensure_redis
ensure_newman

say "go vet"
go vet ./...

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi

say "tests"
log=$(mktemp)
status=0
go test -count=1 -v ./... >"$log" 2>&1 || status=$?
grep -E '^(ok|FAIL|---.*FAIL|panic:|\?)|SKIPPED' "$log" | sed 's/^ *//' | sort -u -k1,1 -k2,2 | grep -v '^?' || true
passed=$(grep -cE -- '^ *--- PASS' "$log" || true)
failed=$(grep -cE -- '^ *--- FAIL' "$log" || true)
skipped=$(grep -cE -- '^ *--- SKIP' "$log" || true)
if [ "$status" -ne 0 ]; then
  grep -B2 -A20 -E -- '--- FAIL|panic:' "$log" | head -200
  echo "go test: $passed passed, $failed failed, $skipped skipped"
  exit "$status"
fi

say "race detector (packages with concurrency)"
go test -count=1 -race . ./internal/store/... ./internal/server/... ./internal/api/... ./internal/auth/... ./internal/ratelimit/... ./kilntest/...

say "fuzz ($FUZZTIME each)"
fuzz() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" >/dev/null && echo "ok $1 $2"; }
fuzz ./internal/spec FuzzParse
fuzz ./internal/expr FuzzFilter
fuzz ./internal/query FuzzDecodeCursor
fuzz ./internal/service FuzzParseList
fuzz ./internal/auth FuzzVerify
fuzz ./internal/expr FuzzRuleCompile
fuzz ./internal/expr FuzzInterpret
fuzz ./internal/selftest FuzzParseSentence
fuzz ./internal/selftest FuzzExpand
fuzz ./internal/selftest FuzzEncodeQuery

say "summary"
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
