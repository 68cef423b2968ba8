#!/usr/bin/env bash
# Builds the kubelet-like SPDY peer (Interop/go/kubelet-peer, Go on moby/spdystream) to
# OUTDIR/kubelet-peer, offline, in GOPATH mode against Debian's packages in /usr/share/gocode
# (golang-go, golang-github-docker-spdystream-dev: scripts/install-interop-deps.sh).
# Idempotent (Go's build cache lives in OUTDIR/go-cache).
#
#   scripts/build-kubelet-peer.sh OUTDIR
#   OUTDIR/kubelet-peer -listen 127.0.0.1:0    # prints "LISTENING <port>", logs on stderr
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1"
outdir=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

gopath=/usr/share/gocode
if ! command -v go >/dev/null 2>&1; then
    echo "build-kubelet-peer: go is not installed (apt-get install golang-go, or scripts/install-interop-deps.sh)" >&2
    exit 1
fi
if [ ! -f "$gopath/src/github.com/moby/spdystream/connection.go" ]; then
    echo "build-kubelet-peer: moby/spdystream is missing from $gopath (apt-get install golang-github-docker-spdystream-dev, or scripts/install-interop-deps.sh)" >&2
    exit 1
fi

if ! GO111MODULE=off GOPATH="$gopath" GOCACHE="$outdir/go-cache" GOFLAGS= \
    go build -o "$outdir/kubelet-peer" ./Interop/go/kubelet-peer; then
    echo "build-kubelet-peer: go build failed" >&2
    exit 1
fi
echo "build-kubelet-peer: built $outdir/kubelet-peer"
