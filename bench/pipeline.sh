#!/usr/bin/env bash
# Whole-pipeline figures for docs/benchmarks.md, all measured in one run on
# the same 2M-line realistic log:
#   1. wc -l (the floor: reading the bytes), GoAccess 1.7 (a baseline log
#      analyser), and apimeter's parse-only and full per-line pipeline
#      (parse + normalize + aggregate), each pinned to one core;
#   2. apimeter backfill into a private redis-server: wall time including the
#      flush, Redis commands per 1M lines, and Redis memory afterwards.
# Usage: bench/pipeline.sh [LINES]   (default 2000000). Needs a built tree in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-2000000}
build=${BUILD:-build}
work=$(mktemp -d /tmp/apimeter-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

log="$work/api.access.log"
"$build/tools/apimeter-loggen" --lines "$lines" --start 2h --rps 500 --seed 1 --out "$log"
cat > "$work/apimeter.yaml" <<YAML
sources:
  - paths: ["$log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: bench
customer_id_secret: "bench"
redis: { url: "redis://127.0.0.1:$port/0", prefix: bench }
YAML

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
cat "$log" >/dev/null  # warm the page cache so every reader starts equal
echo "== $lines lines, $(du -h "$log" | cut -f1)"
t_wc=$(secs taskset -c 1 wc -l "$log")
printf "wc -l:      %6.2f s  %12.0f lines/s\n" "$t_wc" "$(echo "$lines / $t_wc" | bc -l)"
if command -v goaccess >/dev/null; then
  t_ga=$(secs taskset -c 1 goaccess "$log" --no-global-config \
    --log-format='%h - %^ [%d:%t %^] "%r" %s %b "%R" "%u" %T %^' \
    --date-format=%d/%b/%Y --time-format=%T -o "$work/report.json")
  printf "goaccess:   %6.2f s  %12.0f lines/s\n" "$t_ga" "$(echo "$lines / $t_ga" | bc -l)"
fi
taskset -c 1 "$build/bench/apimeter-pipeline-bench" "$work/apimeter.yaml" "$log"

redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --dir "$work" --logfile "$work/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$port" config resetstat >/dev/null
start=$(date +%s.%N)
"$build/cli/apimeter" backfill --config "$work/apimeter.yaml" --no-progress > "$work/summary.txt"
end=$(date +%s.%N)
cat "$work/summary.txt"
calls=$(redis-cli -p "$port" info stats | awk -F: '/^total_commands_processed/ {print $2}' | tr -d '\r')
mem=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r')
keys=$(redis-cli -p "$port" dbsize)
printf "backfill wall time incl. flush: %.2f s\n" "$(echo "$end - $start" | bc -l)"
printf "redis commands executed server-side (INFO total_commands_processed, includes the HINCRBYs run inside the flush scripts): %s = %.0f per 1M lines\n" \
  "$calls" "$(echo "$calls * 1000000 / $lines" | bc -l)"
echo "redis memory after backfill: $mem, keys: $keys"
