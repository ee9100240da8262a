#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine, install what is
# missing, build apimeter, start a private redis-server, generate a day of
# realistic nginx API traffic, backfill it, and show what apimeter answers.
# Everything lives in .demo/ and the private Redis is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target apimeter apimeter-loggen

demo="$root/.demo"
mkdir -p "$demo/logs"
port=${APIMETER_DEMO_REDIS_PORT:-6391}
redis-server --port "$port" --bind 127.0.0.1 --dir "$demo" --save "" --appendonly no \
  --daemonize yes --pidfile "$demo/redis.pid" --logfile "$demo/redis.log"
trap 'kill "$(cat "$demo/redis.pid")" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat > "$demo/apimeter.yaml" <<YAML
# Demo config: see docs/config.md for every key.
sources:
  - paths: ["$demo/logs/api.access.log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: demo-host
customer_id_secret: "demo-secret-change-me"
redis: { url: "redis://127.0.0.1:$port/0", prefix: demo }
YAML

if [ ! -s "$demo/logs/api.access.log.1.gz" ]; then
  echo "demo: generating 24 h of API traffic (300 endpoints, 5000 customers)..."
  ./build/bench/apimeter-loggen --lines 400000 --start 24h --rps 4.63 --bad-ratio 0.001 \
    --out "$demo/logs/api.access.log.1"
  gzip -f "$demo/logs/api.access.log.1"
  ./build/bench/apimeter-loggen --lines 20000 --start 1h --rps 5.5 --seed 9 \
    --out "$demo/logs/api.access.log"
fi

a=./build/agent/apimeter
$a check-config --config "$demo/apimeter.yaml" | head -3
$a backfill --config "$demo/apimeter.yaml"
echo; echo "== overview, last 24 h";   $a query overview   --config "$demo/apimeter.yaml" --from 24h
echo; echo "== top endpoints";          $a query endpoints  --config "$demo/apimeter.yaml" --from 24h --limit 10
echo; echo "== top customers";          $a query customers  --config "$demo/apimeter.yaml" --from 24h --limit 5
echo; echo "== last 6 hours";           $a query timeseries --config "$demo/apimeter.yaml" --from 6h --step 1h
echo; echo "== slowest requests";       $a query slow       --config "$demo/apimeter.yaml" --from 24h --limit 5
echo
echo "demo: config in $demo/apimeter.yaml; try: $a query --help"
