#!/usr/bin/env bash
# Installs the system tools the tests need when missing (scripts/install-tools.sh), then runs the whole
# test suite.
# The tests never skip silently: a missing tool makes its test fail with a message pointing here.
#   - Go and golang.org/x/mod (Debian packages): the interoperability test checks our checkpoints and
#     proofs with Go's sumdb/note and sumdb/tlog.
#   - chromium (Debian package): the public transparency page is loaded in headless Chromium.
#   - xmllint (libxml2-utils): the IATI export is validated against the official 2.03 schema.
#   - curl: the public page is fetched over TLS with a test CA.
#   - Node.js with npm (Debian packages when missing) and tests/browser's npm packages (playwright-core and
#     axe-core, pinned by its package-lock.json): the portal is checked in headless Chromium at 390 and
#     1280 px, with axe-core's accessibility rules (tests/portal.rs).
#   - Python's jsonschema with its date-time and uri format checkers (PyPI): the OCDS export is validated
#     against the official OCDS 1.1 schemas (tests/data/ocds-1.1, scripts/ocds_validate.py).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-tools.sh

echo "scripts/test.sh: tools ready after $SECONDS s" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Built first, then run, so that the log says how the time divides between the two.
cargo test --no-run "$@" 2>&1 | tee "$log" || status=$?
echo "scripts/test.sh: tests built after $SECONDS s" >&2
[ "$status" -ne 0 ] || cargo test "$@" 2>&1 | tee "$log" || status=$?
echo "scripts/test.sh: tests ran, after $SECONDS s" >&2
# One summary line over every test binary and the doc-tests.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
