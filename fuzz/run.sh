#!/usr/bin/env bash
# Runs libFuzzer targets for a fixed time each over their committed seeds.
#   fuzz/run.sh BUILD_DIR SECONDS TARGET...
# FUZZ_JOBS=N (default 1) runs N targets at a time: each libFuzzer process is
# single-threaded, so on N cores every target still gets SECONDS of a whole
# core, and the wall time drops from T x SECONDS to ceil(T/N) x SECONDS.
# New interesting inputs go to BUILD_DIR/corpus/<target>/ (never into the
# committed fuzz/corpus/), crashes to BUILD_DIR/artifacts/<target>/. Prints one
# line per target (executions, coverage, corpus size) and exits non-zero if
# any target found a crash, a leak, a timeout or an out-of-memory.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1 seconds=$2
shift 2
jobs=${FUZZ_JOBS:-1}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

# One target; its summary line goes to BUILD_DIR/logs/<name>.result.
run_one() {
  local t=$1 name=${1#fuzz_}
  local seeds=fuzz/corpus/$name work=$build/corpus/$name art=$build/artifacts/$name/
  local log=$build/logs/$name.log
  mkdir -p "$work" "$art" "$(dirname "$log")"
  [ -d "$seeds" ] || seeds=""
  # -malloc_limit_mb: one allocation past 512 MiB is a finding (sizes taken on
  # trust); -timeout: one input past 10 s is a hang.
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -print_final_stats=1 -artifact_prefix="$art" "$work" $seeds >"$log" 2>&1
  local rc=$?
  local execs cov
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  printf '%-16s rc=%d execs=%s cov=%s corpus=%s\n' "$name" "$rc" "${execs:-?}" "${cov:-?}" \
    "$(find "$work" -type f | wc -l)" >"$build/logs/$name.result"
  return $rc
}

mkdir -p "$build/logs"
for t in "$@"; do rm -f "$build/logs/${t#fuzz_}.result"; done
for t in "$@"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  echo "fuzz: $t (${seconds} s)"
  run_one "$t" &
done
wait

status=0
summary=""
for t in "$@"; do
  name=${t#fuzz_}
  line=$(cat "$build/logs/$name.result" 2>/dev/null || printf '%-16s did not run' "$name")
  summary+="$line"$'\n'
  case $line in
    *" rc=0 "*) ;;
    *)
      status=1
      echo "---- $t failed; last lines of $build/logs/$name.log:"
      tail -40 "$build/logs/$name.log"
      ;;
  esac
done
echo "==== fuzz summary ($seconds s per target, $jobs at a time)"
printf '%s' "$summary"
exit $status
