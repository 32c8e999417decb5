#!/usr/bin/env bash
# Builds the e2e Flink workload (see README.md here) into the git-ignored cache:
#   ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}/flink-workload/target/classes   compiled classes
#   ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}/flink-workload/classpath.txt    dependency jars
#   ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}/m2                              Maven's local repository
# Idempotent: skips Maven when pom.xml, the sources and this script hash as last time and the
# outputs are all there. Safe to run concurrently (flock). Installs a JDK 17 and Maven from Debian
# (apt-get, as root) when java or mvn is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cache="${SLOTSCALER_CACHE_DIR:-$root/.cache}"
out="$cache/flink-workload"
m2="$cache/m2"

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
log() { echo "flink-workload build: $*" >&2; }

# A fresh Debian machine has neither: install them (as the control plane's build.sh does for etcd).
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "java or mvn not found on PATH; install a JDK 17+ and Maven 3.8+ and retry"
    exit 1
  fi
  log "java or mvn missing: installing Debian's openjdk-17-jdk-headless and maven"
  t_apt="$(now)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jdk-headless maven >&2
  log "apt-get install in $(took "$t_apt")"
fi
for tool in flock sha256sum; do
  command -v "$tool" >/dev/null || { log "'$tool' not found on PATH"; exit 1; }
done

mkdir -p "$out" "$m2"
exec 9>"$out/build.lock"
flock 9

t0="$(now)"
inputs_hash="$(
  cd "$here"
  {
    find pom.xml build.sh src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    java -version 2>&1 | head -n 1
  } | sha256sum | cut -d' ' -f1
)"

outputs_present() {
  [[ -f "$out/target/classes/dev/slotscaler/workload/Workload.class" && -s "$out/classpath.txt" ]] || return 1
  local entry
  local IFS=:
  for entry in $(cat "$out/classpath.txt"); do
    [[ -f "$entry" ]] || return 1
  done
}

if [[ -f "$out/inputs.sha256" && "$(cat "$out/inputs.sha256")" == "$inputs_hash" ]] && outputs_present; then
  log "up to date, skipped Maven (checked in $(took "$t0"))"
  exit 0
fi
log "inputs hashed in $(took "$t0")"

t1="$(now)"
rm -f "$out/inputs.sha256"
# Debian's Maven prints colour resets even in batch mode; strip them (errors still show).
mvn -B -q \
  -f "$here/pom.xml" \
  -Dmaven.repo.local="$m2" \
  -Dworkload.buildDirectory="$out/target" \
  -Dmdep.outputFile="$out/classpath.txt" \
  -Dmdep.includeScope=runtime \
  clean compile dependency:build-classpath 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' >&2
outputs_present || { log "Maven finished but the outputs are missing under $out"; exit 1; }
echo "$inputs_hash" >"$out/inputs.sha256"
log "Maven compile + classpath in $(took "$t1") (local repository $m2)"
