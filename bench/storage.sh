#!/usr/bin/env bash
# Storage-engine figures (issue 16, docs/benchmarks.md "Storage engine"), all
# from one run on the same machine and the same log:
#   - GoAccess 1.7 on the log (the baseline the backfill ratio is taken against);
#   - `apimeter backfill` of the log with storage v1 (a binary built from the
#     last v1 commit, in a git worktree) and with this tree's v2, each into a
#     fresh private redis-server. Per engine: wall time, client CPU and peak
#     RSS, redis-server CPU (INFO cpu), commands processed (INFO stats; script-
#     inner commands included) and the top of INFO commandstats, used memory
#     and keys afterwards, and the longest single command or script (SLOWLOG,
#     everything over 1 ms kept);
#   - v2 only: where Redis memory goes, per key kind (bench/storage_breakdown.py);
#   - v2 backfill with --jobs 1 and --jobs 2 (parallel parse), each into a
#     fresh redis-server: the speed-up;
#   - the live agent at 20K lines/s (bench/agent_resources.sh): the mean flush;
#   - query latency (p50/p95 of `apimeter query` over REPEATS runs, process
#     start included) on the loaded day, both engines;
#   - with --clients: v2 backfill with the client dimension (issue 18 part 2)
#     on and off, each into a fresh redis-server: the same log, read with
#     $http_user_agent in log_format (on) and with that field named
#     $http_x_ua_unused (off: the line parses the same, no client series);
#   - with --reference DAYS: the reference set (bench/seed_reference.cpp,
#     50 req/s, 5,000 customers, 2 hosts) seeded for DAYS days with v2.
# The log is realistic and recent (its last 24 hours, so the minute tier is
# written), 5,000 Zipf customers. Memory and command counts do not depend on
# machine load; times do: run the full bench on a quiet machine.
#
# Usage: bench/storage.sh [--lines N] [--v1 COMMIT | --no-v1] [--no-goaccess]
#          [--no-jobs] [--agent-window S | --no-agent] [--repeats R] [--reference DAYS]
#          [--clients]
#   Smoke run: bench/storage.sh --lines 20000 --no-v1 --repeats 2 --agent-window 4
#   V1_BIN=path uses that v1 binary (built from --v1's commit) instead of building it.
#   PERF=1 records `perf record -g` of the v2 backfill and prints its top symbols.
# Needs a built tree in $BUILD (default build/): cli/apimeter, tools/apimeter-loggen
# (and bench/apimeter-seed for --reference). Nothing passes or fails on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lines=2000000
v1_commit=${V1_COMMIT:-3fe9d94}  # the last commit whose binaries write storage v1
with_v1=1 with_goaccess=1 with_jobs=1 agent_window=20 repeats=20 reference_days=0 with_clients=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --lines) lines=$2; shift 2 ;;
    --v1) v1_commit=$2; shift 2 ;;
    --no-v1) with_v1=0; shift ;;
    --no-goaccess) with_goaccess=0; shift ;;
    --no-jobs) with_jobs=0; shift ;;
    --agent-window) agent_window=$2; shift 2 ;;
    --no-agent) agent_window=0; shift ;;
    --repeats) repeats=$2; shift 2 ;;
    --reference) reference_days=$2; shift 2 ;;
    --clients) with_clients=1; shift ;;
    *) echo "unknown argument: $1 (see the header of $0)" >&2; exit 2 ;;
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
    --slowlog-max-len 100000 --latency-monitor-threshold 1
  ports+=("$1")
  for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis-server on port $1 did not start" >&2; exit 1
}
stop_redis() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true; }
info() { redis-cli -p "$1" info "$2" | awk -F: -v k="$3" '$1 == k {print $2}' | tr -d '\r'; }
redis_cpu() { echo "$(info "$1" cpu used_cpu_user) + $(info "$1" cpu used_cpu_sys)" | bc -l; }
slowest_ms() {  # the longest command SLOWLOG kept, in ms ("< 1" when none passed 1 ms)
  redis-cli -p "$1" --json slowlog get 100000 | python3 -c '
import json, sys
entries = json.load(sys.stdin)
us = max((e[2] for e in entries), default=0)
print("< 1" if us == 0 else "%.1f" % (us / 1000))'
}
longest_block_ms() {  # the longest time Redis answered nobody: LATENCY's "command" max
  # SLOWLOG leaves out EXEC (Redis 7 logs the commands inside it instead), so
  # a whole flush transaction shows only here.
  redis-cli -p "$1" latency latest | awk 'NR % 4 == 1 {e=$1} NR % 4 == 0 && e == "command" {m=$1}
    END {if (m == "") print "< 1"; else print m}'
}
top_commands() {  # the 8 most called commands: "name calls; ..."
  redis-cli -p "$1" info commandstats | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\2 \1/p' |
    sort -rn | head -8 | awk '{printf "%s %s; ", $2, $1}'
}

# --- binaries: v2 from this tree, v1 from the last v1 commit -----------------
v2_bin=$build/cli/apimeter
loggen=$build/tools/apimeter-loggen
[[ -x $v2_bin && -x $loggen ]] || { echo "build the tree in $build first" >&2; exit 1; }
engines=(v2)
v1_bin=$work/v1build/cli/apimeter
if [[ $with_v1 == 1 && -n ${V1_BIN:-} ]]; then  # a v1 binary built already
  v1_bin=$(realpath "$V1_BIN")
  engines=(v1 v2)
elif [[ $with_v1 == 1 ]]; then
  echo "== building v1 ($v1_commit) in a worktree"
  git -C "$root" worktree add --detach "$work/v1src" "$v1_commit" >/dev/null 2>&1
  cmake -S "$work/v1src" -B "$work/v1build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DAPIMETER_BUILD_TESTS=OFF -DAPIMETER_BUILD_BENCH=OFF \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >/dev/null
  cmake --build "$work/v1build" --target apimeter -j2 >/dev/null
  engines=(v1 v2)
fi
declare -A bin=([v1]=$v1_bin [v2]=$v2_bin)

# --- the log ------------------------------------------------------------------
log=$work/api.access.log
start=$(date -u -d "@$(( $(date +%s) - 86400 + 60 ))" +%Y-%m-%dT%H:%M:%SZ)
rps=$(echo "$lines / 86340" | bc -l)
"$loggen" --lines "$lines" --start "$start" --rps "$rps" --customers 5000 --seed 1 --out "$log"
cat "$log" >/dev/null  # warm the page cache so every reader starts equal
echo "== $lines lines over the last 24 h, $(du -h "$log" | cut -f1)"

secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
t_ga=0
if [[ $with_goaccess == 1 ]]; then
  command -v goaccess >/dev/null || { echo "no goaccess (apt-get install goaccess, or --no-goaccess)" >&2; exit 1; }
  t_ga=$(secs goaccess "$log" --no-global-config \
    --log-format='%h - %^ [%d:%t %^] "%r" %s %b "%R" "%u" %T %^' \
    --date-format=%d/%b/%Y --time-format=%T -o "$work/report.json")
  printf "goaccess: %.2f s\n" "$t_ga"
fi

ua_var=http_user_agent  # the user-agent field's name in log_format (--clients turns it off)
write_config() {  # write_config FILE PORT (no redis.schema: each binary writes its own default)
  cat > "$1" <<YAML
sources:
  - paths: ["$log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$$ua_var" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: bench
customer_id_secret: "bench-storage-secret-0123456789"
redis: { url: "redis://127.0.0.1:$2/0", prefix: bench, command_timeout: 60s }
YAML
}

query_p() {  # query_p BIN CONFIG KIND [args]: "p50 p95" in ms of REPEATS runs
  local bin=$1 cfg=$2; shift 2
  local i s e
  for i in $(seq 1 "$repeats"); do
    s=$(date +%s%N); "$bin" query "$@" --config "$cfg" --json >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{v[NR]=$1} END {i50=int(NR*0.5+0.5); i95=int(NR*0.95+0.5); if (i95<1) i95=1;
    if (i50<1) i50=1; printf "%.1f %.1f", v[i50]/1000, v[i95]/1000}'
}

declare -A fig
backfill() {  # backfill NAME BIN [--jobs N]: one backfill into a fresh redis; leaves $port running
  local name=$1 b=$2; shift 2
  local cpu0 cpu1 t0 t1 tf
  port=$(free_port); start_redis "$port"
  cfg=$work/$name.yaml; write_config "$cfg" "$port"
  redis-cli -p "$port" config resetstat >/dev/null
  redis-cli -p "$port" slowlog reset >/dev/null
  redis-cli -p "$port" latency reset >/dev/null
  cpu0=$(redis_cpu "$port")
  tf=$work/$name.time
  local perf=()
  if [[ "${PERF:-0}" == 1 && $name == v2 ]] && command -v perf >/dev/null; then
    perf=(perf record -g -o "$work/perf.data" --)
  fi
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$tf" "${perf[@]}" "$b" backfill --config "$cfg" --no-progress "$@" \
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
  fig[$name.blocked]=$(longest_block_ms "$port")
  fig[$name.top]=$(top_commands "$port")
}

for e in "${engines[@]}"; do
  echo "== backfill, storage $e"
  backfill "$e" "${bin[$e]}"
  grep -E "^  (lines|redis|storage v2):" "$work/$e.summary" | sed "s/^/  $e /" || true
  echo "  $e top commands: ${fig[$e.top]}"
  if [[ $e == v2 ]]; then
    echo "  v2 Redis memory by key kind:"
    python3 bench/storage_breakdown.py "$port" | sed 's/^/    /'
  fi
  if [[ $repeats -gt 0 ]]; then
    for q in overview endpoints customers timeseries; do
      fig[$e.q_$q]=$(query_p "${bin[$e]}" "$cfg" "$q" --from 24h)
    done
  fi
  stop_redis "$port"
done

if [[ $with_jobs == 1 ]]; then
  for j in 1 2; do
    echo "== backfill, storage v2, --jobs $j"
    backfill "v2j$j" "$v2_bin" --jobs "$j"
    stop_redis "$port"
  done
fi

if [[ $with_clients == 1 ]]; then
  for c in on off; do
    echo "== backfill, storage v2, client dimension $c"
    if [[ $c == on ]]; then ua_var=http_user_agent; else ua_var=http_x_ua_unused; fi
    backfill "v2c$c" "$v2_bin"
    stop_redis "$port"
  done
  ua_var=http_user_agent
fi

if [[ $agent_window -gt 0 ]]; then
  echo "== live agent at 20,000 lines/s (bench/agent_resources.sh, ${agent_window}s window)"
  WINDOW=$agent_window BUILD=$build bench/agent_resources.sh 20000 | tee "$work/agent.out"
  # The last column of the last line: "flushes/mean seconds".
  fig[agent_flush_ms]=$(tail -1 "$work/agent.out" | awk '{split($NF, f, "/"); if (f[2] == "-") print "-"; else printf "%.0f", f[2] * 1000}')
fi

if [[ -f "$work/perf.data" ]]; then
  perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' |
    grep -v '^$' | head -25
fi

ratio() { echo "$1 / $2" | bc -l; }
per_m() { echo "$1 * 1000000 / $lines" | bc -l; }
col() {  # col ENGINE FORMAT KEY: a figure of an engine, or "-" when it did not run
  if [[ -n "${fig[$1.$3]:-}" ]]; then printf "$2" "${fig[$1.$3]}"; else printf -- "-"; fi
}
echo
echo "## Storage figures, one run, $lines lines ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| figure | v1 | v2 | target (issue 16) |"
echo "|---|---|---|---|"
if [[ $with_goaccess == 1 ]]; then
  ga() { [[ -n "${fig[$1.wall]:-}" ]] && printf "%.2f s (%.1f× GoAccess)" "${fig[$1.wall]}" "$(ratio "$t_ga" "${fig[$1.wall]}")" || printf -- "-"; }
  echo "| backfill wall, end to end (GoAccess $(printf "%.2f" "$t_ga") s) | $(ga v1) | $(ga v2) | ≥ 20× GoAccess |"
else
  echo "| backfill wall, end to end | $(col v1 "%.2f s" wall) | $(col v2 "%.2f s" wall) | |"
fi
echo "| client CPU | $(col v1 "%.2f s" client_cpu) | $(col v2 "%.2f s" client_cpu) | |"
echo "| client peak RSS | $(col v1 "%s MB" client_rss_mb) | $(col v2 "%s MB" client_rss_mb) | |"
rc() { [[ -n "${fig[$1.redis_cpu]:-}" ]] && printf "%.3f s" "$(per_m "${fig[$1.redis_cpu]}")" || printf -- "-"; }
echo "| redis-server CPU per 1M lines | $(rc v1) | $(rc v2) | ≤ 0.5 s |"
cl() { [[ -n "${fig[$1.commands]:-}" ]] && printf "%.4f (%s)" "$(ratio "${fig[$1.commands]}" "$lines")" "${fig[$1.commands]}" || printf -- "-"; }
echo "| Redis commands per line (processed) | $(cl v1) | $(cl v2) | ≤ 0.01 |"
mem() { [[ -n "${fig[$1.memory_mb]:-}" ]] && printf "%.1f MB, %s keys" "${fig[$1.memory_mb]}" "${fig[$1.keys]}" || printf -- "-"; }
echo "| Redis memory after the day | $(mem v1) | $(mem v2) | ≤ 20 MB (2M lines) |"
echo "| longest command (SLOWLOG) | $(col v1 "%s ms" slowest) | $(col v2 "%s ms" slowest) | ≤ 10 ms |"
echo "| longest time blocked, EXEC included (LATENCY) | $(col v1 "%s ms" blocked) | $(col v2 "%s ms" blocked) | |"
if [[ $with_jobs == 1 ]]; then
  printf "| backfill --jobs 1 / --jobs 2 | | %.2f s / %.2f s (%.2f×) | use both cores |\n" \
    "${fig[v2j1.wall]}" "${fig[v2j2.wall]}" "$(ratio "${fig[v2j1.wall]}" "${fig[v2j2.wall]}")"
fi
if [[ $agent_window -gt 0 ]]; then
  echo "| agent flush at 20K lines/s (mean) | | ${fig[agent_flush_ms]} ms | ≤ 50 ms |"
fi
if [[ $repeats -gt 0 ]]; then
  for q in overview endpoints customers timeseries; do
    qp() { [[ -n "${fig[$1.q_$q]:-}" ]] && { read -r a b <<< "${fig[$1.q_$q]}"; printf "%s / %s ms" "$a" "$b"; } || printf -- "-"; }
    echo "| query $q, 24 h, p50 / p95 (CLI, process start included) | $(qp v1) | $(qp v2) | |"
  done
fi

if [[ $with_clients == 1 ]]; then
  echo
  echo "## Client dimension on vs off (v2, the same log, same run)"
  echo
  echo "| figure | on | off | on / off |"
  echo "|---|---|---|---|"
  onoff() {  # onoff LABEL KEY FORMAT
    printf "| %s | $3 | $3 | %.3f |\n" "$1" "${fig[v2con.$2]}" "${fig[v2coff.$2]}" \
      "$(ratio "${fig[v2con.$2]}" "${fig[v2coff.$2]}")"
  }
  onoff "backfill wall" wall "%.2f s"
  onoff "client CPU" client_cpu "%.2f s"
  onoff "redis-server CPU" redis_cpu "%.3f s"
  onoff "Redis memory" memory_mb "%.2f MB"
  onoff "keys" keys "%s"
  onoff "Redis commands" commands "%s"
fi

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
