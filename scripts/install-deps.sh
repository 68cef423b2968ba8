#!/usr/bin/env bash
# Installs the Debian packages swift-spdy needs next to a Swift toolchain:
# zlib's and OpenSSL's headers (the CZlib and COpenSSL system libraries),
# pkg-config, python3 (an independent zlib used by the interoperability
# tests), curl (the HTTP/1.1 client spdyd's and the proxy backends' tests
# fetch with) and nginx-light (/usr/sbin/nginx with the echo module: the
# real HTTP/1.1 backend behind spdyproxy in its tests, which start their own
# nginx on a free port with a private prefix; a system nginx the package may
# start on port 80 is not used). Idempotent; run as root or with sudo
# available.
set -euo pipefail

packages=()
for package in zlib1g-dev libssl-dev pkg-config curl nginx-light; do
    dpkg -s "$package" >/dev/null 2>&1 || packages+=("$package")
done
command -v python3 >/dev/null 2>&1 || packages+=(python3)

if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "install-deps: installing ${packages[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
