#!/usr/bin/env bash
# Installs Debian packages with apt-get (through sudo unless run as root): scripts/apt-install.sh PACKAGE...
# The one install step of scripts/install-tools.sh, scripts/lint-deploy.sh and scripts/tiles-e2e.sh.
set -euo pipefail
[ $# -gt 0 ] || exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
