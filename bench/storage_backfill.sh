#!/usr/bin/env bash
# Storage v1 vs v2 on the same realistic day, in one run: `apimeter backfill`
# of a 2M-line log covering the last 24 h (5,000 Zipf customers, so the
# minute tier is written) into a fresh private redis-server per schema.
# Per schema: backfill wall time, client CPU (user+sys of the process),
# redis-server CPU (INFO cpu, before/after), commands processed (INFO stats
# and the top of INFO commandstats), used_memory, keys, and the longest
# command or script (SLOWLOG, everything over 1 ms logged).
# Usage: bench/storage_backfill.sh [LINES]   (default 2000000). Needs build/.
# Optional: PERF=1 records `perf record -g` of the schema-2 backfill.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-2000000}
build=${BUILD:-build}
work=$(mktemp -d /tmp/apimeter-storage-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

log="$work/api.access.log"
start=$(date -u -d "@$(( $(date +%s) - 86400 + 300 ))" +%Y-%m-%dT%H:%M:%SZ)
rps=$(( lines / 86000 + 1 ))
"$build/tools/apimeter-loggen" --lines "$lines" --start "$start" --rps "$rps" --customers 5000 \
  --seed 1 --out "$log"
echo "== $lines lines from $start at ~$rps/s, $(du -h "$log" | cut -f1)"
cat "$log" >/dev/null

info() { redis-cli -p "$port" info "$1" | tr -d '\r'; }
field() { awk -F: -v k="$1" '$1 == k {print $2}'; }

for schema in 1 2; do
  cat > "$work/apimeter.yaml" <<YAML
sources:
  - paths: ["$log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: bench
customer_id_secret: "bench"
redis: { url: "redis://127.0.0.1:$port/0", prefix: bench, schema: $schema, command_timeout: 60s }
YAML
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$work" --logfile "$work/redis.log" --slowlog-log-slower-than 1000 --slowlog-max-len 100000
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" config resetstat >/dev/null
  cpu0=$(info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {print s}')
  perf_prefix=()
  if [[ "${PERF:-0}" == 1 && $schema == 2 ]] && command -v perf >/dev/null; then
    perf_prefix=(perf record -g -o "$work/perf.data" --)
  fi
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/time.txt" "${perf_prefix[@]}" \
    "$build/cli/apimeter" backfill --config "$work/apimeter.yaml" --no-progress > "$work/summary.txt"
  t1=$(date +%s.%N)
  cpu1=$(info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {print s}')
  calls=$(info stats | field total_commands_processed)
  mem=$(info memory | field used_memory)
  keys=$(redis-cli -p "$port" dbsize)
  slow=$(redis-cli -p "$port" --json slowlog get 100000 2>/dev/null | python3 -c '
import json, sys
try:
    e = json.load(sys.stdin)
except Exception:
    e = []
if not e:
    print("none over 1 ms")
else:
    top = max(e, key=lambda x: x[2])
    print("%.1f ms (%s), %d over 1 ms" % (top[2] / 1000.0, " ".join([str(top[3][0])] + [str(a)[:40] for a in top[3][3:4]]), len(e)))
')
  read -r cu cs < "$work/time.txt"
  echo "== schema $schema"
  grep -E "lines:|redis:|storage v2:" "$work/summary.txt" | sed 's/^/  /'
  printf "  wall %.2f s, client CPU %.2f s, redis-server CPU %.2f s (%.2f s per 1M lines)\n" \
    "$(echo "$t1 - $t0" | bc -l)" "$(echo "$cu + $cs" | bc -l)" "$(echo "$cpu1 - $cpu0" | bc -l)" \
    "$(echo "($cpu1 - $cpu0) * 1000000 / $lines" | bc -l)"
  printf "  commands processed %s (%.4f per line); used_memory %.1f MB; keys %s\n" \
    "$calls" "$(echo "$calls / $lines" | bc -l)" "$(echo "$mem / 1048576" | bc -l)" "$keys"
  echo "  top commands: $(info commandstats | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),usec=\([0-9]*\).*/\2 \1 \3/p' | sort -rn | head -4 | awk '{printf "%s %s (%.1f s); ", $2, $1, $3/1e6}')"
  echo "  longest command (SLOWLOG): $slow"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  sleep 0.5
done
if [[ -f "$work/perf.data" ]]; then
  perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
fi
