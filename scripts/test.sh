#!/usr/bin/env bash
# Installs the system tools the tests need (when missing), then runs the whole test suite.
# The tests never skip silently: a missing tool makes its test fail with a message pointing here.
#   - Go and golang.org/x/mod (Debian packages): the interoperability test checks our checkpoints and
#     proofs with Go's sumdb/note and sumdb/tlog.
#   - chromium (Debian package): the public transparency page is loaded in headless Chromium.
#   - xmllint (libxml2-utils): the IATI export is validated against the official 2.03 schema.
#   - curl: the public page is fetched over TLS with a test CA.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb ] || need+=(golang-golang-x-mod-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test "$@" 2>&1 | tee "$log" || status=$?
# One summary line over every test binary and the doc-tests.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
