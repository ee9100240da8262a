#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine lacks to build, test and demo apimeter.
# Idempotent: packages already present are skipped by apt; safe to run again.
# Used by README.md (quick start) and by .ci/run, so both stay in step.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake pkg-config ninja-build git
  # libraries from the design card (and Debian-packaged additions)
  libboost-dev libboost-system-dev
  libre2-dev libhiredis-dev libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev zlib1g-dev libssl-dev libzstd-dev libjemalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # services and tools the tests and benchmarks drive
  redis-server redis-tools nginx-light logrotate goaccess python3 bc
  # alert delivery tests: a real Alertmanager (tests/integration/alerts_delivery_test.py)
  prometheus-alertmanager
  # traffic metrics test: a real Prometheus scrapes the agent (tests/integration/prometheus_test.py)
  prometheus
  # the .deb: cpack's dependency scan, lintian, systemd-analyze (tests/packaging)
  dpkg-dev file lintian systemd
  # customer reports: PDF with cairo; pdftotext/pdftoppm check it in tests/report
  libcairo2-dev poppler-utils
  # headless browser for the dashboard test (tests/web, driven by playwright-core from npm)
  chromium
)
# Node.js and npm: any install will do (some images ship NodeSource's nodejs,
# which bundles npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

# npm packages of the browser test (playwright-core drives Debian's chromium;
# it never downloads a browser of its own).
web_tests() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/web"
  if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules/playwright-core" ]; then
    echo "setup: npm install in tests/web"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  web_tests
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The test suite starts its own redis-server and nginx on private ports; the
# packaged system services are not needed and would hold the default ports.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now redis-server nginx prometheus-alertmanager prometheus 2>/dev/null || true
fi
echo "setup: done"
web_tests
