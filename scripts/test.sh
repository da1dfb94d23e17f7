#!/usr/bin/env bash
# The whole test suite, from a clean checkout: installs what the tests need
# (a Python venv with the OpenTelemetry SDK, …), then formatting, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Incremental caches are for editing loops; on a fresh checkout they only take
# disk (1.6 GB of the 5 GB this suite once used). CI machines have little.
export CARGO_INCREMENTAL=0

free_kb() { df -k --output=avail . | tail -1 | tr -d ' '; }
disk_free() { echo "disk: $(df -h --output=avail . | tail -1 | tr -d ' ') free, target/ $(du -sh target 2>/dev/null | cut -f1 || true)"; }

echo "== test prerequisites"
# Python packages for the interoperability tests (the OpenTelemetry SDK's own exporters).
if ! [ -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# No pip cache: disk is what CI machines are short of.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-cache-dir -r tests-support/python/requirements.txt

# The field test bed (tests-support/testbed): FastAPI + SQLAlchemy + psycopg
# under opentelemetry-instrument, in a venv of its own (its SDK pins differ).
if ! [ -x .venv-testbed/bin/python ]; then
    python3 -m venv .venv-testbed
fi
.venv-testbed/bin/python -m pip install --quiet --disable-pip-version-check --no-cache-dir -r tests-support/testbed/requirements.txt

# Debian packages: headless Chromium for the HTML report test, docker-compose
# (1.29; validates docker-compose.yml without an engine), the system's CA
# certificates (the https client reads the system trust store).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-dejavu-core)
[ -s /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# nginx: a real HTTP/2 server over TLS for the GOAWAY test (the test starts its own).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# PostgreSQL for the test bed (the tests start a throwaway cluster).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        apt-get clean # the downloaded .deb files (~100 MB for chromium)
    else
        echo "missing Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi

disk_free
if [ "$(free_kb)" -lt $((4 * 1024 * 1024)) ]; then
    echo "warning: under 4 GB free here; the whole suite needs about 3 GB" \
        "(2.1 GB in target/, 0.5 GB for .venv, 0.4 GB of crate sources in" \
        "~/.cargo). Free some disk if it fails with 'No space left on device'." >&2
fi
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
# Lints in their own target dir: their check-only metadata (~0.5 GB) is not
# what the test build needs, so on a machine short of disk it goes before the
# tests are built. With room to spare it stays, for quick reruns.
cargo clippy --workspace --all-targets --target-dir target/clippy -- -D warnings
if [ "$(free_kb)" -lt $((20 * 1024 * 1024)) ]; then
    rm -rf target/clippy
fi
disk_free
echo "== cargo test"
cargo test --workspace
disk_free
