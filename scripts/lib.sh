# Functions scripts/test.sh runs, in a file of their own so that a test can run them against a
# scratch module (scripts/testreport/script_test.go): what they hide, CI would not see.
# Source it with bash; each function returns non-zero when its step failed.

KILN_ROOT=${KILN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# testreport builds the go test -json reader once per run and prints its path.
testreport() {
  local bin=${KILN_TESTREPORT:-}
  if [ -z "$bin" ]; then
    bin=$(mktemp -d)/testreport
    (cd "$KILN_ROOT" && go build -o "$bin" ./scripts/testreport) >&2 || return 1
    export KILN_TESTREPORT=$bin
  fi
  echo "$bin"
}

# run_tests runs go test with the given arguments (packages, -race, ...) and reports every
# failing test with its output, every skipped one (a failure with KILN_REQUIRE_SERVICES=1) and
# build errors; it returns non-zero on any of them.
run_tests() {
  local log status=0
  log=$(mktemp)
  run_tests_logged "$log" "$@" || status=$?
  rm -f "$log"
  return "$status"
}

# run_tests_logged is run_tests with go test's output kept in the file $1.
run_tests_logged() {
  local log=$1 report status=0
  shift
  report=$(testreport) || return 1
  # -timeout: the root package alone takes 7–10 minutes under the race detector on a 2-core
  # machine, beside the other packages; go test's default of 10 minutes per binary killed it.
  # -ldflags=-w: test binaries without DWARF link a quarter faster (a race build of the root
  # package: 8.9 → 6.4 s); stack traces and race reports come from the runtime's own tables.
  go test -count=1 -timeout 25m -ldflags=-w -json "$@" >"$log" 2>&1 || status=$?
  local require=false
  [ "${KILN_REQUIRE_SERVICES:-}" = 1 ] && require=true
  if ! "$report" -require-services="$require" "$log"; then
    return 1
  fi
  if [ "$status" -ne 0 ]; then
    echo "go test exited with status $status" >&2
    return "$status"
  fi
}

# packages_except lists the module's packages (import paths, one per line) that none of the
# package patterns given names: the plain test step runs these, the race step the rest, so no
# package's tests run twice.
packages_except() {
  local all named p
  all=$(go list ./...) || return 1
  for p in "$@"; do # go list only warns of a pattern that matches nothing: a stale entry
    [ -n "$(go list "$p" 2>/dev/null)" ] || { echo "packages_except: $p matches no package" >&2; return 1; }
  done
  named=$(go list "$@") || return 1
  comm -23 <(sort <<<"$all") <(sort <<<"$named")
}

# fuzz_targets lists "<package> <FuzzName>" for every fuzz target the module's test files
# declare, as go test itself finds them (-list), so a new or renamed target is fuzzed without
# editing a list.
fuzz_targets() {
  local out
  out=$(go test -list '^Fuzz' ./... 2>&1) || { echo "$out" >&2; return 1; }
  awk '/^Fuzz[A-Za-z0-9_]*$/ { names[++n] = $1; next }
       /^(ok|\?) / { for (i = 1; i <= n; i++) print $2, names[i]; n = 0 }' <<<"$out" | sort
}

# fuzz_one runs one target for the fuzz time. A target that does not exist fails: go test
# says "no fuzz tests to fuzz", or nothing at all in a package without fuzz targets, and exits
# 0 either way, so a run that never fuzzed is a failure. A failure prints the fuzzer's output
# and the input that failed.
fuzz_one() {
  local log status=0
  log=$(mktemp)
  fuzz_one_logged "$log" "$@" || status=$?
  rm -f "$log"
  return "$status"
}

# fuzz_one_logged is fuzz_one with the fuzzer's output kept in the file $1.
fuzz_one_logged() {
  local log=$1 pkg=$2 name=$3 time=${4:-${KILN_FUZZTIME:-8s}} status=0
  fuzz_run "$log" "$pkg" "$name" "$time" || status=$?
  if [ "$status" -ne 0 ] && fuzz_deadline_race "$log"; then
    echo "$pkg $name: the fuzzer stopped with a bare 'context deadline exceeded' at the end of its time and wrote no input (golang/go#75804, fixed in Go 1.27): running it once more" >&2
    status=0
    fuzz_run "$log" "$pkg" "$name" "$time" || status=$?
  fi
  if [ "$status" -eq 0 ] && ! grep -q '^fuzz: elapsed' "$log"; then
    echo "FAIL $pkg $name: no such fuzz target, nothing was fuzzed" >&2
    cat "$log" >&2
    return 1
  fi
  if [ "$status" -ne 0 ]; then
    echo "FAIL $pkg $name" >&2
    cat "$log" >&2
    local input dir
    input=$(sed -n -E 's/.*Failing input written to ([^ ]+).*/\1/p' "$log" | head -n1)
    dir=$(go list -f '{{.Dir}}' "$pkg" 2>/dev/null || echo "$pkg")
    if [ -n "$input" ] && [ -f "$dir/$input" ]; then
      echo "failing input ($dir/$input):" >&2
      cat "$dir/$input" >&2
    fi
    return "$status"
  fi
  echo "ok $pkg $name"
}

# fuzz_run fuzzes target $3 of package $2 for $4, its output in the file $1: with the package's
# instrumented test binary when fuzz_build made one (in KILN_FUZZ_BINS), run in the package's
# directory with go test's own corpus cache, else through go test.
fuzz_run() {
  local log=$1 pkg=$2 name=$3 time=$4 bin="" dir path workers=()
  [ -z "${KILN_FUZZ_BINS:-}" ] || bin="$KILN_FUZZ_BINS/$(fuzz_bin_name "$pkg")"
  if [ -n "$bin" ] && [ -x "$bin" ]; then
    [ -z "${KILN_FUZZ_PARALLEL:-}" ] || workers=(-test.parallel "$KILN_FUZZ_PARALLEL")
    read -r dir path < <(go list -f '{{.Dir}} {{.ImportPath}}' "$pkg") && [ -n "$dir" ] || return 1
    (cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${name}\$" -test.fuzztime "$time" "${workers[@]}" \
      -test.fuzzcachedir "$(go env GOCACHE)/fuzz/$path" -test.timeout 10m -test.paniconexit0) >"$log" 2>&1
    return
  fi
  [ -z "${KILN_FUZZ_PARALLEL:-}" ] || workers=(-parallel "$KILN_FUZZ_PARALLEL")
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "${workers[@]}" "$pkg" >"$log" 2>&1
}

# fuzz_bin_name is the file fuzz_build writes package $1's test binary to.
fuzz_bin_name() { printf '%s.test' "${1//\//_}"; }

# fuzz_build builds, one package after another (each go command builds with every core, and
# what one compiled the next finds in the build cache), the instrumented test binary of every
# package named in the target list on stdin into KILN_FUZZ_BINS: go test -fuzz linked one for
# every target, twenty-four links instead of fourteen. A package that does not build gets no
# binary; its targets then fail through go test, with the build error.
fuzz_build() {
  local pkg _
  while read -r pkg _; do
    [ -x "$KILN_FUZZ_BINS/$(fuzz_bin_name "$pkg")" ] ||
      go test -c -fuzz . -ldflags=-w -o "$KILN_FUZZ_BINS/$(fuzz_bin_name "$pkg")" "$pkg" >/dev/null 2>&1 || true
  done
}

# fuzz_deadline_race says whether a failed fuzz log ($1) is only Go's fuzz coordinator racing
# its own -fuzztime deadline (golang/go#75804, before Go 1.27): "context deadline exceeded" as
# the failure, with no input written, no panic and no test error. Anything else is a finding.
fuzz_deadline_race() {
  local log=$1
  grep -q '^    context deadline exceeded$' "$log" &&
    ! grep -q -e 'Failing input written to' -e '^panic:' -e '_test\.go:[0-9]' "$log"
}

# fuzz_prebuild lists the fuzz targets (KILN_FUZZ_TARGETS) and builds their packages'
# instrumented test binaries (KILN_FUZZ_BINS) in the background, at a lower priority, while
# the test steps run: fuzzing instruments every package of a binary, so after a change to a
# package most others import the fuzz step spent minutes compiling, and the plain test step
# leaves about half of the CPU idle (tests waiting on timers and processes). fuzz_all waits
# for it, then builds whatever it did not (a failed listing is listed again, with its error).
fuzz_prebuild() {
  local dir
  dir=$(mktemp -d)
  # shell variables, not exported: a go test the script runs meanwhile (the script tests'
  # scratch modules) must not see them
  KILN_FUZZ_BINS="$dir/bin" KILN_FUZZ_TARGETS="$dir/targets"
  mkdir "$KILN_FUZZ_BINS"
  (
    renice -n 10 -p "$BASHPID" >/dev/null 2>&1 || true
    fuzz_targets >"$dir/list" 2>/dev/null && mv "$dir/list" "$KILN_FUZZ_TARGETS" && fuzz_build <"$KILN_FUZZ_TARGETS"
  ) >/dev/null 2>&1 &
  KILN_FUZZ_PREBUILD_PID=$!
}

# fuzz_all fuzzes every target fuzz_targets finds; it fails when none is found or any fails,
# after running them all. The instrumented test binaries are built first, one per package
# (fuzz_build); then targets run KILN_FUZZ_JOBS at a time (default 2), each fuzzing with its
# share of the cores (KILN_FUZZ_PARALLEL workers), so one replays its corpus while another
# fuzzes. Each target's lines are printed together when it ends.
fuzz_all() {
  local targets failed=0 n=0 max=${KILN_FUZZ_JOBS:-2} dir start=$SECONDS waited built
  local -A logs=()
  if [ -n "${KILN_FUZZ_PREBUILD_PID:-}" ]; then wait "$KILN_FUZZ_PREBUILD_PID" || true; fi
  waited=$((SECONDS - start))
  if [ -n "${KILN_FUZZ_PREBUILD_PID:-}" ] && [ -s "$KILN_FUZZ_TARGETS" ]; then
    targets=$(cat "$KILN_FUZZ_TARGETS")
  else
    targets=$(fuzz_targets)
  fi
  if [ -z "$targets" ]; then
    echo "no fuzz targets found" >&2
    return 1
  fi
  export KILN_FUZZ_PARALLEL=${KILN_FUZZ_PARALLEL:-$(( $(nproc) / max > 0 ? $(nproc) / max : 1 ))}
  dir=$(mktemp -d)
  if [ -z "${KILN_FUZZ_PREBUILD_PID:-}" ]; then
    export KILN_FUZZ_BINS="$dir/bin"
    mkdir "$KILN_FUZZ_BINS"
  fi
  fuzz_build <<<"$targets" # what fuzz_prebuild did not build (all of it without one)
  built=$((SECONDS - start - waited))
  echo "waited ${waited}s for the binaries built beside the tests, built ${built}s more"
  while read -r pkg name; do
    n=$((n + 1))
    if [ "${#logs[@]}" -ge "$max" ]; then
      fuzz_reap || failed=$((failed + 1))
    fi
    fuzz_one "$pkg" "$name" >"$dir/$n" 2>&1 &
    logs[$!]="$dir/$n"
  done <<<"$targets"
  while [ "${#logs[@]}" -gt 0 ]; do
    fuzz_reap || failed=$((failed + 1))
  done
  rm -rf "$dir"
  if [ -n "${KILN_FUZZ_PREBUILD_PID:-}" ]; then rm -rf "$(dirname "$KILN_FUZZ_BINS")"; fi
  echo "fuzzed $n targets, $failed failed"
  [ "$failed" -eq 0 ]
}

# fuzz_reap waits for one of fuzz_all's runs (its logs: pid -> output file) to end, prints that
# run's lines and returns its status. A run that ended before wait -n looked may be gone from
# bash's job table already: wait -n then says "no such job" and names no pid (a CI run failed
# so, with "pid: unbound variable"); plain wait still has its status, so it is collected that way.
fuzz_reap() {
  local pid status p tries=0
  while :; do
    pid="" status=0
    wait -n -p pid "${!logs[@]}" 2>/dev/null || status=$?
    [ -z "${pid:-}" ] || break
    for p in "${!logs[@]}"; do
      if ! kill -0 "$p" 2>/dev/null; then
        pid=$p status=0
        wait "$p" || status=$?
        break 2
      fi
    done
    tries=$((tries + 1))
    if [ "$tries" -ge 600 ]; then
      echo "fuzz: cannot tell which run ended (pids ${!logs[*]})" >&2
      return 1
    fi
    sleep 0.1
  done
  cat "${logs[$pid]}"
  unset "logs[$pid]"
  return "$status"
}
