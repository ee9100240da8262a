#!/usr/bin/env bash
# The README's first command. On a fresh Debian 12 machine: install what is
# missing, build apimeter, start a private redis-server, backfill a day of
# realistic nginx API traffic, then run the live agent on a log that a
# generator keeps writing, serve the dashboard (its URL and login token are
# printed), and print what apimeter sees every 10 seconds.
# Ctrl-C, SIGTERM (kill, timeout) stop everything this script started, then
# the script exits (130 on SIGINT, 143 on SIGTERM). State lives in .demo/.
#
# Environment (all optional): APIMETER_DEMO_REDIS_PORT (6391),
# APIMETER_DEMO_METRICS_PORT (9465), APIMETER_DEMO_WEB_PORT (8080);
# APIMETER_DEMO_DIR (state, default .demo/); APIMETER_DEMO_LINES (lines of
# yesterday's log, 150000); APIMETER_DEMO_INTERVAL (seconds between prints,
# 10); APIMETER_DEMO_APIMETER and APIMETER_DEMO_LOGGEN (use these binaries:
# no package set-up, no build; the test of this script uses them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

a=${APIMETER_DEMO_APIMETER:-./build/cli/apimeter}
gen=${APIMETER_DEMO_LOGGEN:-./build/tools/apimeter-loggen}
if [ -z "${APIMETER_DEMO_APIMETER:-}" ] || [ -z "${APIMETER_DEMO_LOGGEN:-}" ]; then
  bash scripts/setup.sh
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" --target apimeter apimeter-loggen
fi

demo=${APIMETER_DEMO_DIR:-$root/.demo}
rm -rf "$demo"
mkdir -p "$demo/logs"
port=${APIMETER_DEMO_REDIS_PORT:-6391}
metrics=${APIMETER_DEMO_METRICS_PORT:-9465}
web=${APIMETER_DEMO_WEB_PORT:-8080}
lines=${APIMETER_DEMO_LINES:-150000}
interval=${APIMETER_DEMO_INTERVAL:-10}
if redis-cli -p "$port" ping >/dev/null 2>&1; then
  echo "demo: port $port already has a Redis (another demo?); stop it or set APIMETER_DEMO_REDIS_PORT" >&2
  exit 1
fi
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "demo: stopping"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}
# A trap returns to where the script was: without the exit, the loop below
# would go on printing empty answers after the services are stopped.
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --dir "$demo" --save "" --appendonly no \
  --daemonize yes --pidfile "$demo/redis.pid" --logfile "$demo/redis.log"
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# A fresh access token for the dashboard; only its hash goes in the config.
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
token_hash=$(printf '%s' "$token" | "$a" hash-token 2>/dev/null || true)
echo "$token" > "$demo/token.txt"
chmod 600 "$demo/token.txt"

cat > "$demo/apimeter.yaml" <<YAML
# Demo config: see docs/config.md for every key.
sources:
  - paths: ["$demo/logs/api.access.log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: demo-host
customer_id_secret: "demo-secret-change-me-0123456789"
redis: { url: "redis://127.0.0.1:$port/0", prefix: demo }
agent: { flush_interval: 2s, metrics_listen: "127.0.0.1:$metrics" }
server: { listen: "127.0.0.1:$web", tokens: ["$token_hash"] }
YAML

echo "demo: generating yesterday's rotated log (24 h, 300 endpoints, 5000 customers)..."
"$gen" --lines "$lines" --start 25h --rps "$(awk "BEGIN { print $lines / 86400 }")" --bad-ratio 0.001 \
  --out "$demo/logs/api.access.log.1"
gzip -f "$demo/logs/api.access.log.1"
"$a" check-config --config "$demo/apimeter.yaml" | head -1
"$a" backfill --config "$demo/apimeter.yaml" "$demo/logs/api.access.log.1.gz"

echo "demo: starting live traffic (50 req/s) and the agent"
"$gen" --follow --rps 50 --seed 11 --bad-ratio 0.001 --out "$demo/logs/api.access.log" &
pids+=($!)
"$a" agent --config "$demo/apimeter.yaml" 2> "$demo/agent.log" &
pids+=($!)
"$a" serve --config "$demo/apimeter.yaml" 2> "$demo/serve.log" &
pids+=($!)
echo
echo "demo: dashboard at http://127.0.0.1:$web/  (log in with the token in $demo/token.txt: $token)"
echo "demo: agent metrics at http://127.0.0.1:$metrics/metrics, agent log in $demo/agent.log"
echo "demo: try  $a query endpoints --config $demo/apimeter.yaml --from 1h"
echo "demo: Ctrl-C to stop"
while true; do
  # In the background, so a signal interrupts the wait at once (bash runs a
  # trap only when the foreground command ends); cleanup stops the sleep too.
  sleep "$interval" &
  pids+=($!)
  wait $!
  unset 'pids[-1]'
  echo; echo "== $(date -u +%H:%M:%S) last 5 minutes (live)"
  "$a" query overview --config "$demo/apimeter.yaml" --from 5m 2>/dev/null | head -5 || true
  echo "== top endpoints, last 24 h"
  "$a" query endpoints --config "$demo/apimeter.yaml" --from 24h --limit 5 2>/dev/null || true
done
