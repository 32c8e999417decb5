#!/usr/bin/env bash
# Installs and builds what the e2e control plane runs: etcd (Debian's etcd-server), openssl, and
# kube-apiserver + kube-controller-manager built from k8s.io/kubernetes at the release pinned in
# go.mod beside this script.
#
# Idempotent: the Go build is skipped when go.mod, go.sum, this script and the Go toolchain are
# unchanged since the last successful build (a hash stamp next to the binaries).
#
# Cache folder: ${SLOTSCALER_CACHE_DIR:-<repo root>/.cache}, holding go/mod (GOMODCACHE),
# go/build (GOCACHE) and bin/ (the binaries). Prints the path of bin/ on stdout; progress and the
# time each step took go to stderr.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${script_dir}/../../.." && pwd)"
cache_dir="${SLOTSCALER_CACHE_DIR:-${repo_root}/.cache}"
bin_dir="${cache_dir}/bin"
stamp_file="${bin_dir}/.kube-build-stamp"

log() { printf '[control-plane/build] %s\n' "$*" >&2; }

# Milliseconds since the epoch (bash 5's EPOCHREALTIME: no subprocess, no bc).
now_ms() {
  local t="${EPOCHREALTIME/[.,]/}"
  echo "$((t / 1000))"
}

# Logs the seconds elapsed since $2 (from now_ms) under the name $1.
log_elapsed() {
  local ms=$(($(now_ms) - $2))
  log "$(printf '%s: %d.%01ds' "$1" "$((ms / 1000))" "$((ms % 1000 / 100))")"
}

# Runs "$@" and logs how long it took, under the step name given first.
timed() {
  local name="$1"
  shift
  local start
  start="$(now_ms)"
  "$@"
  log_elapsed "${name}" "${start}"
}

apt_updated=0
apt_install() {
  if [[ "$(id -u)" != 0 ]]; then
    log "need root to apt-get install $*; install it yourself and retry"
    return 1
  fi
  if [[ "${apt_updated}" == 0 ]]; then
    apt-get update -qq >&2
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_etcd() {
  if command -v etcd >/dev/null 2>&1; then
    log "etcd present: $(command -v etcd)"
    return 0
  fi
  log "etcd missing: installing Debian etcd-server"
  apt_install etcd-server
}

ensure_openssl() {
  if command -v openssl >/dev/null 2>&1; then
    log "openssl present: $(command -v openssl)"
    return 0
  fi
  log "openssl missing: installing it"
  apt_install openssl
}

ensure_go() {
  if ! command -v go >/dev/null 2>&1; then
    log "go not found on PATH; Go >= 1.25 is needed to build kube-apiserver"
    return 1
  fi
}

# Everything that changes the binaries: the module files, this script (it holds the flags) and
# the toolchain.
inputs_hash() {
  {
    sha256sum "${script_dir}/go.mod" "${script_dir}/go.sum" "${script_dir}/build.sh" | cut -d' ' -f1
    go version
  } | sha256sum | cut -d' ' -f1
}

build_kube() {
  export GOTOOLCHAIN=local
  export GOMODCACHE="${cache_dir}/go/mod"
  export GOCACHE="${cache_dir}/go/build"
  # go.sum is committed and complete: never let a build rewrite it.
  export GOFLAGS=-mod=readonly
  # Like the upstream release build of the server binaries: static, no cgo.
  export CGO_ENABLED=0
  mkdir -p "${GOMODCACHE}" "${GOCACHE}" "${bin_dir}"

  cd "${script_dir}"
  local want
  want="$(inputs_hash)"
  if [[ -x "${bin_dir}/kube-apiserver" && -x "${bin_dir}/kube-controller-manager" &&
    -f "${stamp_file}" && "$(cat "${stamp_file}")" == "${want}" ]]; then
    log "kube binaries up to date in ${bin_dir}"
    return 0
  fi

  local kube_version major minor
  kube_version="$(go list -m -f '{{.Version}}' k8s.io/kubernetes)"
  if [[ ! "${kube_version}" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
    log "unexpected k8s.io/kubernetes version in go.mod: ${kube_version}"
    return 1
  fi
  major="${BASH_REMATCH[1]}"
  minor="${BASH_REMATCH[2]}"

  # /version and the client User-Agent read these; kube-apiserver also derives its binary
  # (compatibility) version from gitVersion, so it must be a real release.
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${pkg}.gitVersion=${kube_version}"
    ldflags+=" -X ${pkg}.gitMajor=${major}"
    ldflags+=" -X ${pkg}.gitMinor=${minor}"
    ldflags+=" -X ${pkg}.gitTreeState=clean"
  done

  log "building kube-apiserver and kube-controller-manager ${kube_version} (cold: 5-10 min on 2 cores)"
  local out_dir
  out_dir="$(mktemp -d "${bin_dir}/.build.XXXXXX")"
  # go build downloads the modules it needs (about 700 MB) into GOMODCACHE on the way.
  timed "go build" go build -p 2 -trimpath -ldflags "${ldflags}" -o "${out_dir}/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager
  mv -f "${out_dir}/kube-apiserver" "${out_dir}/kube-controller-manager" "${bin_dir}/"
  rmdir "${out_dir}"
  echo "${want}" >"${stamp_file}"
  log "built $("${bin_dir}/kube-apiserver" --version) into ${bin_dir}"
}

main() {
  local start
  start="$(now_ms)"
  mkdir -p "${cache_dir}"
  # Two test processes may call this at once: one builds, the other waits and then skips.
  exec 9>"${cache_dir}/.control-plane-build.lock"
  flock 9
  timed "etcd" ensure_etcd
  timed "openssl" ensure_openssl
  ensure_go
  timed "kube binaries" build_kube
  log_elapsed "total" "${start}"
  echo "${bin_dir}"
}

main "$@"
