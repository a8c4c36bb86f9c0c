#!/usr/bin/env bash
# Writes PREFIX/nginx.conf: one of deploy/nginx/'s configs made runnable by anyone, anywhere (no root, no
# /etc/nginx), listening on LISTEN, with its temp files, pid and logs under PREFIX:
#   tiles.conf         the caching proxy: TARGET is the upstream (HOST:PORT); its cache in PREFIX/cache
#   tiles-static.conf  the static directory: TARGET is the directory to publish
# The access log (PREFIX/access.log) records how each request was answered:
#   METHOD URI STATUS CACHE_STATUS UPSTREAM_ADDR
# Used by scripts/tiles-e2e.sh (which runs both) and scripts/lint-deploy.sh (nginx -t).
#   scripts/nginx-local.sh CONF PREFIX LISTEN TARGET && nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/error.log
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 deploy/nginx/CONF PREFIX LISTEN TARGET" >&2; exit 2; }
conf=$1 prefix=$2 listen=$3 target=$4
mkdir -p "$prefix/cache" "$prefix/tmp"

# Each rewrite must apply exactly once: a changed config fails here instead of being tested half-rewritten.
sub() {
  local n
  n=$(grep -c -- "$1" "$prefix/tiles.conf" || true)
  [ "$n" -eq 1 ] || { echo "nginx-local: expected one line matching '$1' in $conf, found $n" >&2; exit 1; }
  sed -i "s#$1#$2#" "$prefix/tiles.conf"
}
cp "$conf" "$prefix/tiles.conf"
sub '^\( *\)listen 80;' "\\1listen $listen;"
case "$(basename "$conf")" in
  tiles.conf)
    sub '^\( *\)server mirror:8082;' "\\1server $target;"
    sub '/var/cache/nginx/accord-tiles' "$prefix/cache"
    ;;
  tiles-static.conf) sub '^\( *\)root /srv/accord-tiles;' "\\1root $(realpath "$target");" ;;
  *) echo "nginx-local: no rewrites known for $conf" >&2; exit 2 ;;
esac

# As root the workers would switch to nobody, who cannot enter a private temp directory.
user=""
[ "$(id -u)" -ne 0 ] || user="user root;"
cat > "$prefix/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log notice;
$user
events { worker_connections 256; }
http {
    log_format cache '\$request_method \$uri \$status \$upstream_cache_status \$upstream_addr';
    access_log $prefix/access.log cache;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    include $prefix/tiles.conf;
}
CONF
