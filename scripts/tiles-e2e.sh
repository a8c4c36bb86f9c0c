#!/usr/bin/env bash
# End to end on loopback, as deploy/compose.yaml runs it: a ledger (`accord serve --http`) → `accord mirror
# --listen` following its tiles → nginx with deploy/nginx/tiles.conf caching the mirror. An auditor then
# checks the whole log and proves entries from the cache alone, and the cache is shown to do its job:
#   - the cache serves the ledger's own signed checkpoint, with the upstream's Cache-Control per path;
#   - a second audit is answered from the cache (every tile a HIT), each tile reached the mirror once;
#   - a 404 is not cached; other paths and methods are refused;
#   - with the mirror and the ledger stopped, the audit and the proofs still pass from the cache alone
#     (tiles HIT, the expired checkpoint served STALE).
# And the static ways to publish: the ledger's `serve --tiles-dir` directory served by nginx with
# deploy/nginx/tiles-static.conf (Cache-Control per path, 404s not cacheable), and `accord tiles export`,
# each audited.
# Installs nginx (Debian) when missing. Uses target/debug/accord (ACCORD_BIN overrides; built when missing).
# Exits non-zero with a message on any failure; E2E_KEEP=1 keeps the temp directory.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
started=$SECONDS
BIN=${ACCORD_BIN:-${CARGO_TARGET_DIR:-target}/debug/accord}
[ -x "$BIN" ] || cargo build --quiet --bin accord
BIN=$(realpath "$BIN")
# Only the flags below configure the processes.
for v in $(compgen -e | grep '^ACCORD_' || true); do unset "$v"; done
if ! command -v nginx >/dev/null 2>&1; then
  echo "tiles-e2e: installing nginx (Debian)" >&2
  scripts/apt-install.sh nginx
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

ENTRIES=400 # plans after the charter: 401 entries, one full tile and partial tiles at levels 0 and 1
ORIGIN=e2e.accord.example/ledger
tmp=$(mktemp -d)
pids=()
fail() {
  echo "tiles-e2e: FAILED: $*" >&2
  exit 1
}
# stop PID...: SIGTERM, then SIGKILL after 10 s; reaps them.
stop() {
  local p
  kill "$@" 2>/dev/null || true
  for p in "$@"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  stop "${pids[@]}"
  if [ "$rc" -ne 0 ]; then
    for f in ledger.log mirror.log nginx/error.log nginx/access.log static/error.log; do
      [ -s "$tmp/$f" ] && { echo "--- $f (last 25 lines)" >&2; tail -n 25 "$tmp/$f" >&2; }
    done
    echo "tiles-e2e: FAILED after $((SECONDS - started)) s" >&2
  fi
  if [ "${E2E_KEEP:-}" = 1 ]; then echo "tiles-e2e: kept $tmp" >&2; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 # loopback only, whatever the environment says

# Free loopback ports: gRPC, the ledger's HTTP port, the mirror, the cache, the static server.
read -r P_GRPC P_HTTP P_MIRROR P_CACHE P_STATIC < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
LEDGER=http://127.0.0.1:$P_HTTP MIRROR=http://127.0.0.1:$P_MIRROR CACHE=http://127.0.0.1:$P_CACHE
STATIC=http://127.0.0.1:$P_STATIC

export ACCORD_LOG=warn
accord() { "$BIN" "$@"; }
# run DESCRIPTION FILE COMMAND...: COMMAND's output into FILE and shown; fail with DESCRIPTION unless it succeeds.
run() {
  local what=$1 out=$2
  shift 2
  "$@" > "$out" 2>&1 || { cat "$out"; fail "$what"; }
  cat "$out"
}
# wait_for DESCRIPTION PID COMMAND...: up to 20 s for COMMAND to succeed while PID lives.
wait_for() {
  local what=$1 pid=$2
  shift 2
  for _ in $(seq 200); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || fail "$what: the process exited"
    sleep 0.1
  done
  fail "$what: not within 20 s"
}
size_at() { curl -sf "$1/checkpoint" | sed -n 2p; }
# The requests nginx logged since line $1 (METHOD URI STATUS CACHE_STATUS UPSTREAM).
log_since() { tail -n +"$(($1 + 1))" "$tmp/nginx/access.log"; }
log_lines() { wc -l < "$tmp/nginx/access.log"; }
header() { curl -s -D - -o /dev/null "$1" | tr -d '\r' | awk -v h="$2" 'tolower($1) == tolower(h) ":" { $1 = ""; sub(/^ /, ""); print }'; }
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

echo "== ledger: init, serve --http, charter and $ENTRIES statements"
cd "$tmp"
KEY=$(accord init --data-dir ledger --origin "$ORIGIN")
ACCORD_LOG=info "$BIN" serve --data-dir ledger --listen "127.0.0.1:$P_GRPC" --http "127.0.0.1:$P_HTTP" \
  --tiles-dir ledger-tiles > ledger.log 2>&1 &
LEDGER_PID=$!
pids+=("$LEDGER_PID")
wait_for "ledger" "$LEDGER_PID" accord health --server "http://127.0.0.1:$P_GRPC"
accord key generate --name XM-SEC --out sec > /dev/null
accord charter propose --origin "$ORIGIN" --name "Tiles e2e" --founder "XM-SEC;Secretariat;secretariat;sec.pub" \
  -o charter.json
accord charter sign --key sec.key charter.json -o charter.env.json
mkdir -p plans proofs
for i in $(seq -f %04g "$ENTRIES"); do
  printf '{"ledger":"%s","statementId":"plan-%s","issuedAt":"2026-03-01T00:00:00Z","effectiveDate":"2026-03-01",
    "planCreated":{"planId":"P-%s","title":"Plan %s","period":{"start":"2026-01-01","end":"2028-12-31"},
    "reportingCurrency":"USD"}}' "$ORIGIN" "$i" "$i" "$i" > "plans/$i.json"
  accord sign --key sec.key "plans/$i.json" -o "plans/$i.env.json"
done
S=(--server "http://127.0.0.1:$P_GRPC" --log-key "$KEY" --proof-dir proofs)
accord submit "${S[@]}" charter.env.json > /dev/null
# Four batches, a checkpoint after each: the mirror and the cache see the log grow.
for b in 0 1 2 3; do
  accord submit "${S[@]}" --batch $(seq -f "plans/%04g.env.json" $((b * 100 + 1)) $((b * 100 + 100))) > /dev/null
done
SIZE=$((ENTRIES + 1))
[ "$(size_at "$LEDGER")" = "$SIZE" ] || fail "the ledger's /checkpoint is not at size $SIZE"

echo "== mirror following the ledger's tiles, serving them on $MIRROR"
ACCORD_LOG=info "$BIN" mirror --from "$LEDGER" --log-key "$KEY" --dir mirror --listen "127.0.0.1:$P_MIRROR" \
  --interval 1 > mirror.log 2>&1 &
MIRROR_PID=$!
pids+=("$MIRROR_PID")
wait_for "mirror at size $SIZE" "$MIRROR_PID" sh -c "[ \"\$(curl -sf $MIRROR/checkpoint | sed -n 2p)\" = $SIZE ]"

echo "== nginx (deploy/nginx/tiles.conf) caching the mirror on $CACHE"
"$REPO/scripts/nginx-local.sh" "$REPO/deploy/nginx/tiles.conf" "$tmp/nginx" "127.0.0.1:$P_CACHE" "127.0.0.1:$P_MIRROR"
"$NGINX" -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" || fail "nginx -t"
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" &
NGINX_PID=$!
pids+=("$NGINX_PID")
wait_for "nginx" "$NGINX_PID" curl -sf "$CACHE/checkpoint"

# The cache serves the ledger's own signed checkpoint (origin, size, root), with the per-path Cache-Control.
[ "$(curl -sf "$CACHE/checkpoint" | head -3)" = "$(curl -sf "$LEDGER/checkpoint" | head -3)" ] \
  || fail "the cache's checkpoint is not the ledger's"
[ "$(header "$CACHE/checkpoint" Cache-Control)" = "public, max-age=2" ] || fail "checkpoint Cache-Control"
[ "$(header "$CACHE/tile/0/000" Cache-Control)" = "public, max-age=31536000, immutable" ] || fail "full tile Cache-Control"
[ "$(header "$CACHE/tile/entries/001.p/145" Cache-Control)" = "public, max-age=60" ] || fail "partial tile Cache-Control"
[ "$(header "$CACHE/tile/0/000" X-Cache-Status)" = HIT ] || fail "a full tile asked twice is not a cache HIT"

echo "== audit and proofs from the cache"
mark=$(log_lines)
run "audit from the cache (first pass)" audit1.out accord audit --tiles "$CACHE" --log-key "$KEY" --evidence audit1.json
grep -q "audit passed: $SIZE entries" audit1.out || fail "audit from the cache (first pass)"
for i in 123 $ENTRIES; do
  accord verify --tiles "$CACHE" --index "$i" --log-key "$KEY" --signer sec.pub -o "e$i.tlog-proof" \
    || fail "verify --index $i from the cache"
done
[ "$(log_since "$mark" | awk '$2 ~ /^\/tile\// { n++ } END { print n + 0 }')" -gt 0 ] || fail "the audit fetched no tile through the cache"

echo "== second audit: answered from the cache"
mark=$(log_lines)
run "audit from the cache (second pass)" audit2.out accord audit --tiles "$CACHE" --log-key "$KEY" --evidence audit2.json
log_since "$mark" > pass2.log
tiles2=$(awk '$2 ~ /^\/tile\// { n++ } END { print n + 0 }' pass2.log)
[ "$tiles2" -gt 0 ] || fail "the second audit fetched no tile"
awk '$2 ~ /^\/tile\// && !($3 == 200 && $4 == "HIT" && $5 == "-")' pass2.log | grep . \
  && fail "tiles of the second audit that were not cache HITs (above)"
# Each tile reached the mirror at most once in the whole run (proxy_cache_lock merges concurrent misses).
awk '$2 ~ /^\/tile\// && $3 == 200 && $5 != "-" { print $2 }' "$tmp/nginx/access.log" | sort | uniq -d | grep . \
  && fail "tiles fetched from the mirror more than once (above)"
echo "ok: $tiles2 tile requests, all HIT"

echo "== what the cache refuses or does not keep"
for _ in 1 2; do
  [ "$(status "$CACHE/tile/entries/009")" = 404 ] || fail "a tile beyond the tree is not a 404"
done
[ "$(header "$CACHE/tile/entries/009" X-Cache-Status)" = MISS ] || fail "a 404 was cached"
[ "$(status "$MIRROR/healthz")" = 200 ] || fail "the mirror's /healthz"
[ "$(status "$CACHE/healthz")" = 404 ] || fail "the cache forwards paths other than /checkpoint and /tile/"
[ "$(status "$CACHE/")" = 404 ] || fail "the cache serves /"
[ "$(status "$CACHE/tile/0/abc")" = 404 ] || fail "the cache forwards a path that is not a tile"
[ "$(status -X POST "$CACHE/checkpoint")" = 405 ] || fail "the cache accepts POST"
[ "$(status -I "$CACHE/tile/0/000")" = 200 ] || fail "HEAD of a full tile"

echo "== the static ways: serve --tiles-dir behind nginx (tiles-static.conf), tiles export"
wait_for "the ledger's --tiles-dir at size $SIZE" "$LEDGER_PID" sh -c "[ \"\$(sed -n 2p ledger-tiles/checkpoint)\" = $SIZE ]"
"$REPO/scripts/nginx-local.sh" "$REPO/deploy/nginx/tiles-static.conf" "$tmp/static" "127.0.0.1:$P_STATIC" ledger-tiles
"$NGINX" -p "$tmp/static" -c "$tmp/static/nginx.conf" -e "$tmp/static/error.log" &
STATIC_PID=$!
pids+=("$STATIC_PID")
wait_for "static nginx" "$STATIC_PID" curl -sf "$STATIC/checkpoint"
run "audit from the static directory behind nginx" audit-static.out \
  accord audit --tiles "$STATIC" --log-key "$KEY" --evidence audit-static.json
grep -q "audit passed: $SIZE entries" audit-static.out || fail "audit from the static directory behind nginx"
accord verify --tiles "$STATIC" --index 321 --log-key "$KEY" --signer sec.pub > /dev/null \
  || fail "verify --index 321 from the static directory behind nginx"
[ "$(header "$STATIC/checkpoint" Cache-Control)" = "public, max-age=2" ] || fail "static: checkpoint Cache-Control"
[ "$(header "$STATIC/checkpoint" Content-Type)" = "text/plain; charset=utf-8" ] || fail "static: checkpoint Content-Type"
[ "$(header "$STATIC/tile/0/000" Cache-Control)" = "public, max-age=31536000, immutable" ] || fail "static: full tile Cache-Control"
[ "$(header "$STATIC/tile/entries/001.p/145" Cache-Control)" = "public, max-age=60" ] || fail "static: partial tile Cache-Control"
[ "$(header "$STATIC/tile/entries/009" Cache-Control)" = "no-store" ] || fail "static: a missing tile is cacheable"
[ "$(status "$STATIC/tile/entries/009")" = 404 ] || fail "static: a missing tile is not a 404"
[ "$(status "$STATIC/tile/0/.000.1.tmp")" = 404 ] || fail "static: a file other than a tile is served"
[ "$(status -X POST "$STATIC/checkpoint")" = 405 ] || fail "static: POST accepted"
[ "$(status -I "$STATIC/tile/0/000")" = 200 ] || fail "static: HEAD of a full tile"
run "tiles export" export.out accord tiles export exported --data-dir ledger
run "audit of the exported directory" audit-export.out \
  accord audit --tiles exported --log-key "$KEY" --evidence audit-export.json
grep -q "audit passed: $SIZE entries" audit-export.out || fail "audit of the exported directory"

echo "== mirror and ledger stopped: the cache alone"
stop "$MIRROR_PID" "$LEDGER_PID"
curl -sf "$MIRROR/checkpoint" >/dev/null 2>&1 && fail "the mirror still answers"
curl -sf "$LEDGER/checkpoint" >/dev/null 2>&1 && fail "the ledger still answers"
sleep 2.5 # the cached checkpoint (max-age=2) expires: it is now served stale
mark=$(log_lines)
run "audit from the cache with the mirror and ledger down" audit3.out \
  accord audit --tiles "$CACHE" --log-key "$KEY" --evidence audit3.json
grep -q "audit passed: $SIZE entries" audit3.out || fail "audit from the cache with the mirror and ledger down"
accord verify --tiles "$CACHE" --index 200 --log-key "$KEY" --signer sec.pub \
  || fail "verify --index 200 from the cache with the mirror and ledger down"
log_since "$mark" > pass3.log
awk '!($3 == 200 && ($4 == "HIT" || $4 == "STALE" || $4 == "UPDATING"))' pass3.log | grep . \
  && fail "requests the cache could not answer alone (above)"
grep -Eq '^GET /checkpoint 200 (STALE|UPDATING)' pass3.log || fail "the expired checkpoint was not served stale"
grep -q '^GET /tile/entries/000 200 HIT' pass3.log || fail "the full entry bundle was not a HIT"
echo "tiles-e2e: ok ($SIZE entries: ledger → mirror → nginx; audit and proofs from the cache alone, also with" \
  "the mirror and ledger down) in $((SECONDS - started)) s"
