#!/usr/bin/env bash
# Runs libFuzzer targets for a fixed time each over their committed seeds.
#   fuzz/run.sh BUILD_DIR SECONDS TARGET...
# New interesting inputs go to BUILD_DIR/corpus/<target>/ (never into the
# committed fuzz/corpus/), crashes to BUILD_DIR/artifacts/<target>/. Prints one
# line per target (executions, corpus size) and exits non-zero if any target
# found a crash, a leak, a timeout or an out-of-memory.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1 seconds=$2
shift 2
status=0
summary=""
for t in "$@"; do
  name=${t#fuzz_}
  seeds=fuzz/corpus/$name
  work=$build/corpus/$name
  art=$build/artifacts/$name/
  log=$build/logs/$name.log
  mkdir -p "$work" "$art" "$(dirname "$log")"
  [ -d "$seeds" ] || seeds=""
  # -malloc_limit_mb: one allocation past 512 MiB is a finding (sizes taken on
  # trust); -timeout: one input past 10 s is a hang.
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -print_final_stats=1 -artifact_prefix="$art" "$work" $seeds >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  line=$(printf '%-16s rc=%d execs=%s cov=%s corpus=%s' "$name" "$rc" "${execs:-?}" "${cov:-?}" \
         "$(find "$work" -type f | wc -l)")
  echo "$line"
  summary+="$line"$'\n'
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "---- $t failed; last lines of $log:"
    tail -40 "$log"
  fi
done
echo "==== fuzz summary ($seconds s per target)"
printf '%s' "$summary"
exit $status
