#!/usr/bin/env bash
# Debian packages livestage needs: the libraries the mediasoup worker builds against, the build
# tools, ffmpeg (HLS, recordings and snapshots; the load tester's VP8/Opus test source),
# Chromium, an emoji font (reactions in screenshots) and iptables (network cuts) for the e2e
# tests, redis-server for the cluster tests (each test starts its own on a free port and never
# uses the system service); plus meson >= 1.1 (Debian's is 1.0).
# Idempotent and quick when everything is there. Needs root (or sudo) only when something is
# missing.
set -euo pipefail

packages=(libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev nlohmann-json3-dev
  ninja-build pkg-config g++ python3-pip chromium fonts-noto-color-emoji iptables ffmpeg redis-server)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "[deps] installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

meson_ok() {
  command -v meson >/dev/null 2>&1 &&
    python3 -c "import sys; v=tuple(map(int,'$(meson --version 2>/dev/null || echo 0)'.split('.')[:2])); sys.exit(0 if v>=(1,1) else 1)"
}
if ! meson_ok; then
  echo "[deps] installing meson >= 1.1 with pip"
  python3 -m pip install --quiet 'meson>=1.1' ||
    python3 -m pip install --quiet --break-system-packages 'meson>=1.1'
fi
echo "[deps] system dependencies ready"
