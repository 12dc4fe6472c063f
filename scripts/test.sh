#!/usr/bin/env bash
# Runs every Kiln test: vet and format checks, the unit and API suites on SQLite and
# PostgreSQL (race detector on the concurrent packages), and a short run of every fuzz target
# (each func Fuzz... the test files declare). Starts the local PostgreSQL server if it is
# installed but stopped. Every failing test is listed with its output, a failing fuzz target
# with the input that failed. With KILN_REQUIRE_SERVICES=1 (CI), a missing service fails the
# run instead of skipping, and so does any skipped test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

FUZZTIME=${KILN_FUZZTIME:-8s}
export KILN_TEST_POSTGRES_URL=${KILN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export KILN_TEST_REDIS_URL=${KILN_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

STEP_START=$SECONDS
# say starts a step; the step before it is timed, so a slow step shows in CI's log.
say() {
  local took=$((SECONDS - STEP_START))
  [ "$took" -gt 0 ] && printf '(%dm%02ds)\n' $((took / 60)) $((took % 60))
  STEP_START=$SECONDS
  printf '\n== %s\n' "$*"
}

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

# Mailpit is a real SMTP server with a REST API; the mail tests send to it.
ensure_mailpit() {
  local bin=.tools/bin/mailpit
  if [ ! -x "$bin" ]; then
    echo "installing Mailpit into .tools/bin (go install, about a minute the first time)"
    GOBIN="$PWD/.tools/bin" go install github.com/axllent/mailpit@v1.33.1 >/dev/null 2>&1 || true
  fi
  if [ -x "$bin" ]; then
    export KILN_MAILPIT="$PWD/$bin"
  elif [ "${KILN_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "Mailpit is required (KILN_REQUIRE_SERVICES=1) but could not be installed with go install" >&2
    exit 1
  else
    echo "Mailpit not installed: the mail tests will say SKIPPED"
  fi
}

# versitygw is a real S3 server (it checks SigV4 signatures and presigned URLs); the file
# storage tests run against it. Its build takes minutes the first time, so it starts first,
# in the background, and ensure_versitygw waits for it.
VERSITYGW_INSTALL_PID=
start_versitygw_install() {
  if [ ! -x .tools/bin/versitygw ]; then
    echo "installing versitygw into .tools/bin (go install, a few minutes the first time; in the background)"
    mkdir -p .tools
    (GOBIN="$PWD/.tools/bin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 >.tools/versitygw-install.log 2>&1 || true) &
    VERSITYGW_INSTALL_PID=$!
  fi
}

ensure_versitygw() {
  local bin=.tools/bin/versitygw
  if [ -n "$VERSITYGW_INSTALL_PID" ]; then wait "$VERSITYGW_INSTALL_PID" || true; fi
  if [ -x "$bin" ]; then
    export KILN_VERSITYGW="$PWD/$bin"
  elif [ "${KILN_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "versitygw is required (KILN_REQUIRE_SERVICES=1) but could not be installed with go install:" >&2
    tail -n 20 .tools/versitygw-install.log >&2 || true
    exit 1
  else
    echo "versitygw not installed: the S3 storage tests will say SKIPPED"
  fi
}

# stripe-mock answers Stripe's API (validated against its OpenAPI, fixtures back); the
# payments tests start it on 127.0.0.1 and sign webhook events themselves.
ensure_stripe_mock() {
  local bin=.tools/bin/stripe-mock
  if [ ! -x "$bin" ]; then
    echo "installing stripe-mock into .tools/bin (go install)"
    GOBIN="$PWD/.tools/bin" go install github.com/stripe/stripe-mock@v0.203.0 >/dev/null 2>&1 || true
  fi
  if [ -x "$bin" ]; then
    export KILN_STRIPE_MOCK="$PWD/$bin"
  elif [ "${KILN_REQUIRE_SERVICES:-}" = 1 ]; then
    echo "stripe-mock is required (KILN_REQUIRE_SERVICES=1) but could not be installed with go install" >&2
    exit 1
  else
    echo "stripe-mock not installed: the payments tests will say SKIPPED"
  fi
}

say "services"
start_versitygw_install
ensure_postgres
ensure_redis
ensure_newman
ensure_mailpit
ensure_stripe_mock

say "go vet"
go vet ./...

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi

ensure_versitygw

# The go test -json reader: built once for both test steps, removed when the script ends.
if [ -z "${KILN_TESTREPORT:-}" ] && KILN_TESTREPORT=$(testreport); then
  export KILN_TESTREPORT
  trap 'rm -rf "$(dirname "$KILN_TESTREPORT")"' EXIT
fi

# The packages with concurrency run under the race detector, the others without it: each
# package's tests run once.
RACE=(. ./internal/store/... ./internal/jobs/... ./internal/events/... ./internal/live/... ./internal/integrations/... ./internal/mail/... ./internal/server/... ./internal/logbuf/... ./internal/api/... ./internal/auth/... ./internal/ratelimit/... ./internal/redisguard/... ./internal/revocation/... ./internal/service/... ./kilntest/...)
status=0
fuzz_prebuild # the fuzz step's binaries, built beside the test steps

say "tests (the packages the race detector step does not run)"
if plain=$(packages_except "${RACE[@]}") && [ -n "$plain" ]; then
  # shellcheck disable=SC2086 # one import path per line
  run_tests $plain || status=$?
else
  echo "could not list the packages outside the race step" >&2
  status=1
fi

say "race detector (packages with concurrency)"
run_tests -race "${RACE[@]}" || status=$?

say "fuzz ($FUZZTIME each)"
KILN_FUZZTIME=$FUZZTIME fuzz_all || status=$?

say "summary"
if [ "$status" -ne 0 ]; then
  echo "FAILED: see the failures listed above" >&2
  exit "$status"
fi
echo "all passed"
