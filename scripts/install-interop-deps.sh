#!/usr/bin/env bash
# Installs the Debian packages the interoperability suite (Interop/run.sh) needs: Netty 4.1
# (libnetty-java) and a JDK to compile the Netty peers, Go and moby/spdystream
# (golang-github-docker-spdystream-dev, built in GOPATH mode), tshark and text2pcap
# (wireshark-common), and for the reliability scripts (scripts/faults.sh, vanish.sh,
# many-connections.sh, soak.sh) iproute2 (network namespaces, tbf), nftables (packet loss),
# procps, jq and openssl (the TLS handshake flood). Idempotent; run as root or with sudo
# available.
set -euo pipefail

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

packages=()
for package in libnetty-java golang-go golang-github-docker-spdystream-dev tshark wireshark-common \
    iproute2 nftables procps openssl jq; do
    installed "$package" || packages+=("$package")
done
command -v javac >/dev/null 2>&1 || packages+=(default-jdk-headless)

if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "install-interop-deps: installing ${packages[*]}"
    # wireshark-common asks whether non-root users may capture; answer no, without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
