#!/usr/bin/env bash
# Lints deploy/: the systemd unit (systemd-analyze verify), YAML (yamllint), Kubernetes manifests against
# the API schemas (kubernetes-validate), both config files through `accord serve --print-config`, every
# command and flag the compose file and Dockerfile use against the binary's own --help, the files compose
# mounts, the Dockerfile's non-root user and health check, and the tiles cache's nginx config (nginx -t).
# Installs yamllint and kubernetes-validate (PyPI) and nginx (Debian) when missing.
# Needs target/debug/accord (built by scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ACCORD_BIN:-${CARGO_TARGET_DIR:-target}/debug/accord}
[ -x "$BIN" ] || cargo build --quiet --bin accord
BIN=$(realpath "$BIN")
command -v yamllint >/dev/null 2>&1 && command -v kubernetes-validate >/dev/null 2>&1 \
  || python3 -m pip install -q yamllint kubernetes-validate
command -v systemd-analyze >/dev/null 2>&1 || { echo "lint-deploy: systemd-analyze is required (package systemd)" >&2; exit 1; }
if ! command -v nginx >/dev/null 2>&1; then
  echo "lint-deploy: installing nginx (Debian)" >&2
  scripts/apt-install.sh nginx
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "-- systemd unit"
sed "s#/usr/local/bin/accord#$BIN#" deploy/accord.service > "$tmp/accord.service"
out=$(systemd-analyze verify "$tmp/accord.service" 2>&1 || true)
if [ -n "$out" ]; then echo "$out"; exit 1; fi

echo "-- YAML"
yamllint -s -d "{extends: relaxed, rules: {line-length: {max: 200}}}" deploy/compose.yaml deploy/k8s/*.yaml
kubernetes-validate --strict deploy/k8s/*.yaml

echo "-- configuration files"
"$BIN" serve --config deploy/accord.toml --print-config > /dev/null
python3 - "$tmp/cm.toml" <<'PY'
import sys, yaml
cm = yaml.safe_load(open("deploy/k8s/configmap.yaml"))
open(sys.argv[1], "w").write(cm["data"]["accord.toml"])
PY
"$BIN" serve --config "$tmp/cm.toml" --print-config > /dev/null

echo "-- commands and flags used by compose.yaml, the StatefulSet and the Dockerfile"
python3 - "$BIN" <<'PY'
import os, re, subprocess, sys, yaml
binary = sys.argv[1]
def check(args, where):
    words = [a for a in args if not a.startswith("-")]
    sub = []
    for w in words:  # the subcommand path is the leading words that --help accepts
        r = subprocess.run([binary, *sub, w, "--help"], capture_output=True, text=True)
        if r.returncode != 0:
            break
        sub.append(w)
    help_text = subprocess.run([binary, *sub, "--help"], capture_output=True, text=True, check=True).stdout
    for flag in [a.split("=")[0] for a in args if a.startswith("--")]:
        if flag not in help_text:
            sys.exit(f"{where}: `accord {' '.join(sub)}` has no flag {flag}")
    print(f"ok: {where}: accord {' '.join(sub)}")
compose = yaml.safe_load(open("deploy/compose.yaml"))
for name, svc in compose["services"].items():
    for v in svc.get("volumes", []):  # bind mounts are relative to deploy/
        src = v.split(":")[0]
        if src.startswith((".", "/")):
            path = src if src.startswith("/") else os.path.normpath("deploy/" + src)
            assert os.path.exists(path), f"compose service {name} mounts {src}, which does not exist"
            print(f"ok: compose service {name} mounts {path}")
    if svc.get("image", "accord:latest") != "accord:latest":
        continue  # not our binary (the tiles cache is nginx: its config is tested below)
    check(svc.get("command", ["serve"]), f"compose service {name}")
sts = yaml.safe_load(open("deploy/k8s/statefulset.yaml"))
for c in sts["spec"]["template"]["spec"]["containers"]:
    check(c["args"], f"statefulset container {c['name']}")
docker = open("deploy/Dockerfile").read()
hc = re.search(r'HEALTHCHECK[^\n]*\\\n\s*CMD \[(.*)\]', docker)
assert hc, "the Dockerfile needs a HEALTHCHECK"
check([a.strip().strip('"') for a in hc.group(1).split(",")][1:], "Dockerfile HEALTHCHECK")
user = re.findall(r'^USER\s+(\S+)', docker, re.M)
assert user and not user[-1].startswith(("0", "root")), "the runtime stage must run as a non-root user"
print("ok: Dockerfile runs as", user[-1])
PY

echo "-- nginx configs (deploy/nginx/), with the upstream, directory and paths made local"
for conf in deploy/nginx/*.conf; do
  target=127.0.0.1:8082 # the upstream of the cache, the directory of the static config
  [ "$(basename "$conf")" != tiles-static.conf ] || target=$tmp
  scripts/nginx-local.sh "$conf" "$tmp/nginx" 127.0.0.1:8090 "$target"
  "$NGINX" -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" \
    || { cat "$tmp/nginx/error.log" >&2; echo "lint-deploy: nginx -t failed on $conf" >&2; exit 1; }
  echo "ok: nginx -t $conf"
done
echo "lint-deploy: ok"
