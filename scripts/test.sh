#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what the tests need
# (a Python venv with the OpenTelemetry SDK, …), then formatting, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test prerequisites"
# Python packages for the interoperability tests (the OpenTelemetry SDK's own exporters).
if ! [ -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests-support/python/requirements.txt

# Debian packages: headless Chromium for the HTML report test, docker-compose
# (1.29; validates docker-compose.yml without an engine).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
