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

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
