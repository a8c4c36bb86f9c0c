#!/usr/bin/env bash
# Installs what the tests and CI's checks need, when missing, in one pass (one apt-get update):
#   - for scripts/test.sh: Go with golang.org/x/mod, chromium, xmllint, curl, Node.js with npm (Debian),
#     Python's jsonschema with its format checkers (PyPI), tests/browser's npm packages (npm ci);
#   - for scripts/lint-deploy.sh and scripts/tiles-e2e.sh: nginx (Debian), yamllint and
#     kubernetes-validate (PyPI).
# scripts/test.sh runs it first; .ci/run also starts it in the background at the beginning, so that the
# downloads and unpacking overlap the formatting and lint stages instead of following them.
# Idempotent: a second run finds everything and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb ] || need+=(golang-golang-x-mod-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
  echo "install-tools: installing ${need[*]}" >&2
  scripts/apt-install.sh "${need[@]}"
fi

py_need="jsonschema==4.26.0 rfc3339-validator==0.1.4 rfc3986-validator==0.1.1"
if ! python3 -c 'import jsonschema, referencing, rfc3339_validator, rfc3986_validator' >/dev/null 2>&1; then
  echo "install-tools: installing $py_need (PyPI)" >&2
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    scripts/apt-install.sh python3 python3-pip
  fi
  # shellcheck disable=SC2086
  python3 -m pip install --quiet $py_need 2>/dev/null || python3 -m pip install --quiet --break-system-packages $py_need
fi

if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  echo "install-tools: installing tests/browser's npm packages (npm ci)" >&2
  (cd tests/browser && npm ci --silent --no-audit --no-fund)
fi

if ! command -v yamllint >/dev/null 2>&1 || ! command -v kubernetes-validate >/dev/null 2>&1; then
  echo "install-tools: installing yamllint and kubernetes-validate (PyPI)" >&2
  python3 -m pip install --quiet yamllint kubernetes-validate 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages yamllint kubernetes-validate
fi
echo "install-tools: ready after $((SECONDS - started)) s" >&2
