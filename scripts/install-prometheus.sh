#!/usr/bin/env bash
# Installs Debian's Prometheus (prometheus and promtool) for the metric, rule and dashboard tests
# (test/unit/observability, test/e2e/prometheus.test.ts), once. Needs root (apt-get). Prints
# nothing when both are already there. The package's service is not started: the tests run their
# own Prometheus on 127.0.0.1, and apt-get inside a container is kept from starting services.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
started=$(date +%s)
if [[ $(id -u) -ne 0 ]]; then
  echo "prometheus is missing and installing it needs root: apt-get install -y prometheus" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
echo "prometheus and promtool installed in $(( $(date +%s) - started )) s" >&2
