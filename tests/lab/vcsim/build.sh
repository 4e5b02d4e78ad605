#!/usr/bin/env bash
# Build the lab vCenter (govmomi's simulator + the lab's extensions) into OUTPUT.
#
# Offline, from Debian's packages only: golang-go and golang-github-vmware-govmomi-dev
# (GOPATH mode against /usr/share/gocode). Go's caches go under build/ (or $TMPDIR when
# the tree is read-only; VCSIM_GOCACHE overrides), never into the source tree.
# Fails loudly on anything missing.
set -euo pipefail

usage() { echo "usage: $0 OUTPUT" >&2; exit 2; }
[ $# -eq 1 ] || usage
out=$1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
gopath=${VCSIM_GOPATH:-/usr/share/gocode}

die() { echo "build.sh: $*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "no 'go' on PATH: install golang-go (make apt)"
[ -d "$gopath/src/github.com/vmware/govmomi/simulator" ] \
  || die "govmomi sources not found under $gopath: install golang-github-vmware-govmomi-dev (make apt)"

case $out in /*) ;; *) out=$PWD/$out ;; esac
mkdir -p "$(dirname "$out")"

cache=${VCSIM_GOCACHE:-$root/build/go-cache}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
  cache=${TMPDIR:-/tmp}/eos-vmtracer-go-cache-$(id -u)
  mkdir -p "$cache"
fi

export GO111MODULE=off GOPATH=$gopath GOCACHE=$cache GOFLAGS= GOENV=off CGO_ENABLED=0
export GOTMPDIR=$cache

tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
start=$(date +%s%N)
(cd "$here" && go build -o "$tmp" .) || die "go build failed (see above)"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "build.sh: built $out in $((ms / 1000)).$(( (ms % 1000) / 100 ))s" >&2
