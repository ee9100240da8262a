#!/usr/bin/env bash
# Storage-engine figures (issue 16, docs/benchmarks.md "Storage engine"), all
# from one run on the same machine and the same files:
#   - GoAccess 1.7 on the log (the baseline every ratio is taken against);
#   - `apimeter backfill` of the same log with storage v1 (a binary built from
#     the last v1 commit, in a git worktree) and with this tree's v2, each into
#     a fresh private redis-server;
#   - per engine: wall time, client CPU, redis-server CPU (INFO cpu), commands
#     processed (INFO stats), used memory and keys afterwards, and the longest
#     single command or script (SLOWLOG, threshold 1 ms);
#   - query latency (p50/p95 of `apimeter query` over REPEATS runs, process
#     start included, the same for both engines) on the loaded day;
#   - with --reference DAYS: the reference set (bench/seed_reference.cpp,
#     50 req/s, 5,000 customers, 2 hosts) seeded for DAYS days with this
#     tree's engine: Redis memory and the longest command.
# The log is realistic and recent (its last 24 hours, so the minute tier is
# written), 5,000 Zipf customers.
#
# Usage: bench/storage.sh [--lines N] [--v1 COMMIT] [--repeats R] [--reference DAYS]
# Needs a built tree in $BUILD (default build/) with the tools and benches.
# Benchmarks are not timed tests: nothing here passes or fails on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lines=2000000
v1_commit=${V1_COMMIT:-3fe9d94}  # the last commit whose binaries write storage v1
repeats=20
reference_days=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --lines) lines=$2; shift 2 ;;
    --v1) v1_commit=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --reference) reference_days=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
build=$(realpath "${BUILD:-build}")
work=$(mktemp -d /tmp/apimeter-storage-XXXXXX)
ports=()
cleanup() {
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  git -C "$root" worktree remove --force "$work/v1src" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_redis() {  # start_redis PORT: a fresh, empty redis-server
  redis-server --port "$1" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$work" --logfile "$work/redis-$1.log" --slowlog-log-slower-than 1000 \
    --slowlog-max-len 100000
  ports+=("$1")
  for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server on port $1 did not start" >&2; exit 1
}
info() { redis-cli -p "$1" info "$2" | awk -F: -v k="$3" '$1 == k {print $2}' | tr -d '\r'; }
redis_cpu() { echo "$(info "$1" cpu used_cpu_user) + $(info "$1" cpu used_cpu_sys)" | bc -l; }
slowest_ms() {  # the longest command SLOWLOG kept, in ms ("< 1" when none passed 1 ms)
  redis-cli -p "$1" --json slowlog get 100000 | python3 -c '
import json, sys
entries = json.load(sys.stdin)
us = max((e[2] for e in entries), default=0)
print("< 1" if us == 0 else "%.1f" % (us / 1000))'
}

# --- binaries: v2 from this tree, v1 from the last v1 commit -----------------
v2_bin=$build/cli/apimeter
loggen=$build/tools/apimeter-loggen
[[ -x $v2_bin && -x $loggen ]] || { echo "build the tree in $build first" >&2; exit 1; }
echo "== building v1 ($v1_commit) in a worktree"
git -C "$root" worktree add --detach "$work/v1src" "$v1_commit" >/dev/null 2>&1
cmake -S "$work/v1src" -B "$work/v1build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAPIMETER_BUILD_TESTS=OFF -DAPIMETER_BUILD_BENCH=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >/dev/null
cmake --build "$work/v1build" --target apimeter -j2 >/dev/null
v1_bin=$work/v1build/cli/apimeter

# --- the log ------------------------------------------------------------------
log=$work/api.access.log
start=$(date -u -d "@$(( $(date +%s) - 86400 + 60 ))" +%Y-%m-%dT%H:%M:%SZ)
rps=$(echo "$lines / 86340" | bc -l)
"$loggen" --lines "$lines" --start "$start" --rps "$rps" --customers 5000 --seed 1 --out "$log"
cat "$log" >/dev/null  # warm the page cache so every reader starts equal
echo "== $lines lines over the last 24 h, $(du -h "$log" | cut -f1)"

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
t_ga=$(secs goaccess "$log" --no-global-config \
  --log-format='%h - %^ [%d:%t %^] "%r" %s %b "%R" "%u" %T %^' \
  --date-format=%d/%b/%Y --time-format=%T -o "$work/report.json")
printf "goaccess 1.7: %.2f s\n" "$t_ga"

write_config() {  # write_config FILE PORT
  cat > "$1" <<YAML
sources:
  - paths: ["$log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: bench
customer_id_secret: "bench"
redis: { url: "redis://127.0.0.1:$2/0", prefix: bench }
YAML
}

query_p() {  # query_p BIN CONFIG KIND [args]: "p50 p95" in ms of REPEATS runs
  local bin=$1 cfg=$2; shift 2
  local i s e
  for i in $(seq 1 "$repeats"); do
    s=$(date +%s%N); "$bin" query "$@" --config "$cfg" --json >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{v[NR]=$1} END {i50=int(NR*0.5+0.5); i95=int(NR*0.95+0.5); if (i95<1) i95=1;
    printf "%.1f %.1f", v[i50]/1000, v[i95]/1000}'
}

declare -A fig
run_engine() {  # run_engine NAME BIN
  local name=$1 bin=$2 port cfg cpu0 cpu1 t0 t1 tf
  port=$(free_port); start_redis "$port"
  cfg=$work/$name.yaml; write_config "$cfg" "$port"
  redis-cli -p "$port" config resetstat >/dev/null
  redis-cli -p "$port" slowlog reset >/dev/null
  cpu0=$(redis_cpu "$port")
  tf=$work/$name.time
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$tf" "$bin" backfill --config "$cfg" --no-progress \
    > "$work/$name.summary"
  t1=$(date +%s.%N)
  cpu1=$(redis_cpu "$port")
  fig[$name.wall]=$(echo "$t1 - $t0" | bc -l)
  fig[$name.client_cpu]=$(awk '{print $1 + $2}' "$tf")
  fig[$name.client_rss_mb]=$(awk '{printf "%.0f", $3 / 1024}' "$tf")
  fig[$name.redis_cpu]=$(echo "$cpu1 - $cpu0" | bc -l)
  fig[$name.commands]=$(info "$port" stats total_commands_processed)
  fig[$name.memory_mb]=$(echo "$(info "$port" memory used_memory) / 1048576" | bc -l)
  fig[$name.keys]=$(redis-cli -p "$port" dbsize)
  fig[$name.slowest]=$(slowest_ms "$port")
  local range="--from 24h"
  fig[$name.q_overview]=$(query_p "$bin" "$cfg" overview $range)
  fig[$name.q_endpoints]=$(query_p "$bin" "$cfg" endpoints $range)
  fig[$name.q_customers]=$(query_p "$bin" "$cfg" customers $range)
  fig[$name.q_timeseries]=$(query_p "$bin" "$cfg" timeseries $range)
  grep -E "^  (lines|redis):" "$work/$name.summary" | sed "s/^/  $name /"
}

echo "== backfill, storage v1"; run_engine v1 "$v1_bin"
echo "== backfill, storage v2"; run_engine v2 "$v2_bin"

ratio() { echo "$1 / $2" | bc -l; }
per_m() { echo "$1 * 1000000 / $lines" | bc -l; }
echo
echo "## Storage figures, one run, $lines lines ($(nproc) cores)"
echo
echo "| figure | v1 | v2 | v1 / v2 |"
echo "|---|---|---|---|"
printf "| backfill wall, end to end | %.2f s (%.1f× GoAccess) | %.2f s (%.1f× GoAccess) | %.1f× |\n" \
  "${fig[v1.wall]}" "$(ratio "$t_ga" "${fig[v1.wall]}")" "${fig[v2.wall]}" \
  "$(ratio "$t_ga" "${fig[v2.wall]}")" "$(ratio "${fig[v1.wall]}" "${fig[v2.wall]}")"
printf "| client CPU | %.2f s | %.2f s | %.1f× |\n" "${fig[v1.client_cpu]}" "${fig[v2.client_cpu]}" \
  "$(ratio "${fig[v1.client_cpu]}" "${fig[v2.client_cpu]}")"
printf "| client peak RSS | %s MB | %s MB | |\n" "${fig[v1.client_rss_mb]}" "${fig[v2.client_rss_mb]}"
printf "| redis-server CPU per 1M lines | %.2f s | %.3f s | %.0f× |\n" \
  "$(per_m "${fig[v1.redis_cpu]}")" "$(per_m "${fig[v2.redis_cpu]}")" \
  "$(ratio "${fig[v1.redis_cpu]}" "${fig[v2.redis_cpu]}")"
printf "| Redis commands per line | %.3f | %.5f | %.0f× |\n" \
  "$(ratio "${fig[v1.commands]}" "$lines")" "$(ratio "${fig[v2.commands]}" "$lines")" \
  "$(ratio "${fig[v1.commands]}" "${fig[v2.commands]}")"
printf "| Redis memory after the day | %.1f MB, %s keys | %.1f MB, %s keys | %.1f× |\n" \
  "${fig[v1.memory_mb]}" "${fig[v1.keys]}" "${fig[v2.memory_mb]}" "${fig[v2.keys]}" \
  "$(ratio "${fig[v1.memory_mb]}" "${fig[v2.memory_mb]}")"
printf "| longest command (SLOWLOG) | %s ms | %s ms | |\n" "${fig[v1.slowest]}" "${fig[v2.slowest]}"
for q in overview endpoints customers timeseries; do
  read -r a50 a95 <<< "${fig[v1.q_$q]}"; read -r b50 b95 <<< "${fig[v2.q_$q]}"
  printf "| query %s, 24 h, p50 / p95 (CLI, process start included) | %s / %s ms | %s / %s ms | |\n" \
    "$q" "$a50" "$a95" "$b50" "$b95"
done
printf "| GoAccess 1.7, same file | %.2f s | | |\n" "$t_ga"

if [[ $reference_days -gt 0 ]]; then
  seed=$build/bench/apimeter-seed
  [[ -x $seed ]] || { echo "no $seed: build with -DAPIMETER_BUILD_BENCH=ON" >&2; exit 1; }
  port=$(free_port); start_redis "$port"
  cfg=$work/reference.yaml; write_config "$cfg" "$port"
  cpu0=$(redis_cpu "$port"); t0=$(date +%s.%N)
  "$seed" --config "$cfg" --days "$reference_days" --rps 50 --customers 5000 --hosts 2 --seed 1 \
    > "$work/seed.out"
  t1=$(date +%s.%N); cpu1=$(redis_cpu "$port")
  echo
  printf "reference set, %s days at 50 req/s (v2): seed %.0f s, redis-server CPU %.1f s, " \
    "$reference_days" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$cpu1 - $cpu0" | bc -l)"
  printf "memory %.1f MB, %s keys, longest command %s ms\n" \
    "$(echo "$(info "$port" memory used_memory) / 1048576" | bc -l)" "$(redis-cli -p "$port" dbsize)" \
    "$(slowest_ms "$port")"
fi
