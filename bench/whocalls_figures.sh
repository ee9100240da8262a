#!/usr/bin/env bash
# Issue 18's new data on vs off, on the same log in one run: `apimeter
# backfill` (storage v2) of a realistic log with a baseline binary that has
# no first/last seen columns (OFF=path, e.g. a build of main) and with this
# build (seen columns on the customer x endpoint day blocks). Per binary:
# backfill wall and client CPU, Redis used_memory after the backfill's own
# compaction, keys, and the bytes of the day-tier x lists. Then the same
# customers-of-an-endpoint question through this build's CLI, to show it is
# answered from what was written.
# Usage: OFF=/path/to/apimeter-main bench/whocalls_figures.sh [LINES] (default 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-200000}
build=${BUILD:-build}
off=${OFF:?OFF=path of a baseline apimeter binary}
loggen=${LOGGEN:-$build/tools/apimeter-loggen}
work=$(mktemp -d /tmp/apimeter-whocalls-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
log="$work/api.access.log"
start=$(date -u -d "@$(( $(date +%s) - 86400 + 300 ))" +%Y-%m-%dT%H:%M:%SZ)
"$loggen" --lines "$lines" --start "$start" --rps $(( lines / 86000 + 1 )) --customers 5000 --seed 1 --out "$log"
echo "== $lines lines from $start, $(du -h "$log" | cut -f1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$log" >/dev/null
field() { awk -F: -v k="$1" '$1 == k {print $2}' | tr -d '\r'; }
for run in off on; do
  bin=$off; [[ $run == on ]] && bin=$build/cli/apimeter
  cat > "$work/apimeter.yaml" <<YAML
sources:
  - paths: ["$log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: bench
customer_id_secret: "bench"
redis: { url: "redis://127.0.0.1:$port/0", prefix: bench, schema: 2, command_timeout: 60s }
YAML
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$work" --logfile "$work/redis.log"
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/time.txt" "$bin" backfill --config "$work/apimeter.yaml" \
    --no-progress -j 1 > "$work/summary.txt" || { cat "$work/summary.txt"; exit 1; }
  t1=$(date +%s.%N)
  read -r cu cs < "$work/time.txt"
  mem=$(redis-cli -p "$port" info memory | field used_memory)
  keys=$(redis-cli -p "$port" dbsize)
  xbytes=0
  for k in $(redis-cli -p "$port" --scan --pattern 'bench:{d*}:x'); do
    xbytes=$(( xbytes + $(redis-cli -p "$port" memory usage "$k" samples 0) ))
  done
  printf "== %s: wall %.2f s (%.0f lines/s), client CPU %.2f s; used_memory %.2f MB; keys %s; day x lists %.1f KB\n" \
    "$run" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$lines / ($t1 - $t0)" | bc -l)" "$(echo "$cu + $cs" | bc -l)" \
    "$(echo "$mem / 1048576" | bc -l)" "$keys" "$(echo "$xbytes / 1024" | bc -l)"
  if [[ $run == on ]]; then
    ep=$("$bin" query endpoints --config "$work/apimeter.yaml" --from 2d --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["endpoints"][0]["endpoint"])')
    /usr/bin/time -f "  query customers --endpoint: %e s" "$bin" query customers --config "$work/apimeter.yaml" \
      --from 2d --endpoint "$ep" --limit 5
  fi
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 || break; sleep 0.1; done
done
