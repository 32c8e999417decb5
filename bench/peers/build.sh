#!/usr/bin/env bash
# Builds the peer of `npm run bench -- peers`, flink-autoscaler-standalone from the Apache Flink
# Kubernetes Operator's release source, unmodified, into the git-ignored cache:
#   ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}/peers/<tag>/src    the release source
#   ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}/peers/<tag>/flink-autoscaler-standalone.jar   the shaded jar
#   ${SLOTSCALER_CACHE_DIR:-<repo>/.cache}/m2                  Maven's local repository (shared)
# No package registry serves that jar, so the source comes from git:
#   SLOTSCALER_PEER_SOURCE  a git URL or a local clone (bare or not); default the operator's GitHub repository
#   SLOTSCALER_PEER_TAG     default release-1.15.0
# Idempotent: skips everything when the jar is there. Safe to run concurrently (flock). Maven runs on
# one thread and builds only the modules the standalone autoscaler needs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${SLOTSCALER_CACHE_DIR:-$root/.cache}"
source_repo="${SLOTSCALER_PEER_SOURCE:-https://github.com/apache/flink-kubernetes-operator}"
tag="${SLOTSCALER_PEER_TAG:-release-1.15.0}"
out="$cache/peers/$tag"
jar="$out/flink-autoscaler-standalone.jar"
m2="$cache/m2"

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
log() { echo "peer build: $*" >&2; }

for tool in git mvn java flock tar; do
  command -v "$tool" >/dev/null || { log "'$tool' not found on PATH"; exit 1; }
done
mkdir -p "$out" "$m2"
exec 9>"$out/build.lock"
flock 9

if [[ -s "$jar" ]]; then
  log "up to date: $jar"
  echo "$jar"
  exit 0
fi

t0="$(now)"
if [[ ! -f "$out/src/pom.xml" ]]; then
  rm -rf "$out/src.partial"
  mkdir -p "$out/src.partial"
  if git -C "$source_repo" rev-parse --git-dir >/dev/null 2>&1; then
    # A local clone: take the tagged tree as it is, without touching the clone.
    git -C "$source_repo" archive "$tag" | tar -x -C "$out/src.partial"
  else
    git clone -q --depth 1 --branch "$tag" "$source_repo" "$out/src.partial/.clone"
    git -C "$out/src.partial/.clone" archive "$tag" | tar -x -C "$out/src.partial"
    rm -rf "$out/src.partial/.clone"
  fi
  mv "$out/src.partial" "$out/src"
  log "source $source_repo at $tag in $(took "$t0")"
fi

t1="$(now)"
# -am builds flink-autoscaler (and the JDBC plugin the standalone module depends on); the tests,
# the license checks and the spotless/checkstyle gates of the release build are skipped, nothing
# else changes. Debian's Maven prints colour resets even in batch mode; strip them.
(
  cd "$out/src"
  mvn -B -T 1 \
    -Dmaven.repo.local="$m2" \
    -pl flink-autoscaler-standalone -am \
    -DskipTests -Dcheckstyle.skip -Dspotless.check.skip=true -Drat.skip=true \
    package 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' >"$out/build.log"
) || { log "Maven failed; the end of $out/build.log:"; tail -n 40 "$out/build.log" >&2; exit 1; }
built="$(ls "$out"/src/flink-autoscaler-standalone/target/flink-autoscaler-standalone-*.jar 2>/dev/null | grep -v -e sources -e tests -e original | head -n 1)"
[[ -n "$built" ]] || { log "Maven finished but no jar under flink-autoscaler-standalone/target"; exit 1; }
cp "$built" "$jar.partial"
mv "$jar.partial" "$jar"
log "Maven package in $(took "$t1") (local repository $m2)"
echo "$jar"
