#!/usr/bin/env bash
# Runs the e2e Flink workload built by build.sh; arguments go to the workload (--help lists them).
# Replaces itself with the JVM (exec), so the caller's child pid is the JVM's.
# Extra JVM options: SLOTSCALER_WORKLOAD_JAVA_OPTS (split on spaces), e.g. -Dworkload.logLevel=INFO.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${SLOTSCALER_CACHE_DIR:-$root/.cache}/flink-workload"

if [[ ! -s "$out/classpath.txt" || ! -d "$out/target/classes" ]]; then
  echo "flink-workload: not built; run $here/build.sh first" >&2
  exit 2
fi

jvm_options=()
while IFS= read -r line; do
  [[ -z "${line// /}" || "$line" == \#* ]] || jvm_options+=("$line")
done <"$here/jvm.options"
# shellcheck disable=SC2206 # word splitting of the extra options is intended
extra=(${SLOTSCALER_WORKLOAD_JAVA_OPTS:-})

exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" "${jvm_options[@]}" "${extra[@]}" \
  -cp "$out/target/classes:$(cat "$out/classpath.txt")" \
  dev.slotscaler.workload.Workload "$@"
