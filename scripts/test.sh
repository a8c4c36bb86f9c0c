#!/usr/bin/env bash
# Installs the system tools the tests need (when missing), then runs the whole test suite.
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

need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb ] || need+=(golang-golang-x-mod-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

py_need="jsonschema==4.26.0 rfc3339-validator==0.1.4 rfc3986-validator==0.1.1"
if ! python3 -c 'import jsonschema, referencing, rfc3339_validator, rfc3986_validator' >/dev/null 2>&1; then
  echo "scripts/test.sh: installing $py_need (PyPI)" >&2
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-pip >/dev/null
  fi
  # shellcheck disable=SC2086
  python3 -m pip install --quiet $py_need 2>/dev/null || python3 -m pip install --quiet --break-system-packages $py_need
fi

if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  echo "scripts/test.sh: installing tests/browser's npm packages (npm ci)" >&2
  (cd tests/browser && npm ci --silent --no-audit --no-fund)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test "$@" 2>&1 | tee "$log" || status=$?
# One summary line over every test binary and the doc-tests.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
