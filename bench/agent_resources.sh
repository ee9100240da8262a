#!/usr/bin/env bash
# The live agent's own cost under live traffic: `apimeter agent` tails a log
# that apimeter-loggen --follow writes in real time, at each rate (default
# 2000 and 20000 lines/s), into a private redis-server. Over a measured window
# (after a warm-up) it reports, for the agent:
#   - CPU % of one core: utime+stime deltas from /proc/<pid>/stat over the window;
#   - steady RSS (median of per-second VmRSS samples) and peak RSS (VmHWM);
#   - the rate it actually counted (lines_read_total delta from /metrics) and
#     its lag at the end of the window;
# (RSS 1st->last: the first and last per-second sample, to see growth)
# and, as references measured the same way in the same run, the loggen's and
# redis-server's CPU %, and the flushes in the window with their mean duration
# (from apimeter_agent_flushes_total / apimeter_agent_flush_duration_seconds_sum).
# Each rate runs once per TRAFFIC mode: "on" or "off" is prometheus.traffic
# (the apimeter_api_* traffic metrics); "on off on off" interleaves them to
# compare their cost in the same run.
# Usage: bench/agent_resources.sh [RATE...]   env: BUILD (default build),
#        WINDOW (measured seconds, default 20), WARMUP (default 3),
#        TRAFFIC (modes, default "on").
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
window=${WINDOW:-20}
warmup=${WARMUP:-3}
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(2000 20000)
read -r -a modes <<< "${TRAFFIC:-on}"
bin="$build/cli/apimeter"
loggen="$build/tools/apimeter-loggen"
tck=$(getconf CLK_TCK)
work=$(mktemp -d /tmp/apimeter-agent-res-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
agent_pid="" loggen_pid=""

cleanup() {
  # Only the processes this script started, by pid.
  for p in $agent_pid $loggen_pid; do kill "$p" 2>/dev/null || true; done
  for p in $agent_pid $loggen_pid; do wait "$p" 2>/dev/null || true; done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --dir "$work" --logfile "$work/redis.log" --pidfile "$work/redis.pid"
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis_pid=$(cat "$work/redis.pid")

# utime+stime of a pid, in clock ticks (fields 14 and 15; the comm field may
# hold spaces, so count from the closing parenthesis).
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
metric() { curl -s "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v n="$2" '{k = $1; sub(/\{.*/, "", k)} k == n {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print 0}'; }

results=()
run=0
for rate in "${rates[@]}"; do
for mode in "${modes[@]}"; do
  run=$((run + 1))
  traffic=$([ "$mode" = off ] && echo false || echo true)
  dir="$work/r$rate-$run"
  mkdir -p "$dir"
  log="$dir/api.access.log"
  : > "$log"
  mport=$(free_port)
  cat > "$dir/apimeter.yaml" <<YAML
sources:
  - paths: ["$log"]
    log_format: '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time \$upstream_response_time "\$http_x_api_key" \$request_length'
    customer: \$http_x_api_key
    latency: \$request_time
    host: bench
customer_id_secret: "bench-agent-resources"
redis: { url: "redis://127.0.0.1:$port/0", prefix: "res$rate-$run" }
agent: { from_start: true, metrics_listen: "127.0.0.1:$mport" }
prometheus: { traffic: $traffic }
YAML
  "$loggen" --follow --rps "$rate" --duration 0 --seed "$rate" --out "$log" &
  loggen_pid=$!
  "$bin" agent --config "$dir/apimeter.yaml" > "$dir/agent.out" 2>&1 &
  agent_pid=$!
  sleep "$warmup"  # warm-up before the measured window (a measurement interval, not a sync)

  t0=$(date +%s.%N)
  a0=$(ticks $agent_pid); g0=$(ticks $loggen_pid); s0=$(ticks $redis_pid)
  f0=$(metric "$mport" apimeter_agent_flushes_total); fs0=$(metric "$mport" apimeter_agent_flush_duration_seconds_sum)
  r0=$(metric "$mport" apimeter_agent_lines_read_total); w0=$(wc -l < "$log")
  rss_samples=()
  for _ in $(seq 1 "$window"); do
    sleep 1
    rss_samples+=("$(status_kb $agent_pid VmRSS)")
  done
  t1=$(date +%s.%N)
  a1=$(ticks $agent_pid); g1=$(ticks $loggen_pid); s1=$(ticks $redis_pid)
  f1=$(metric "$mport" apimeter_agent_flushes_total); fs1=$(metric "$mport" apimeter_agent_flush_duration_seconds_sum)
  r1=$(metric "$mport" apimeter_agent_lines_read_total); w1=$(wc -l < "$log")
  lag=$(metric "$mport" apimeter_agent_lag_bytes)
  hwm=$(status_kb $agent_pid VmHWM)
  steady=$(printf '%s\n' "${rss_samples[@]}" | median)
  first=${rss_samples[0]} last=${rss_samples[-1]}
  el=$(echo "$t1 - $t0" | bc -l)

  kill "$loggen_pid"; wait "$loggen_pid" 2>/dev/null || true; loggen_pid=""
  kill -TERM "$agent_pid"; code=0; wait "$agent_pid" || code=$?; agent_pid=""
  [ "$code" = 0 ] || { echo "agent exited $code at $rate lines/s:"; tail -5 "$dir/agent.out"; }

  results+=("$(awk -v mode="$mode" -v rate="$rate" -v el="$el" -v tck="$tck" -v a="$((a1 - a0))" -v g="$((g1 - g0))" \
    -v w="$((w1 - w0))" -v r="${r1:-0}" -v r0="${r0:-0}" -v steady="$steady" -v hwm="$hwm" -v first="$first" -v last="$last" -v lag="${lag:-?}" -v s="$((s1 - s0))" \
    -v f="$(echo "${f1:-0} - ${f0:-0}" | bc -l)" -v fs="$(echo "${fs1:-0} - ${fs0:-0}" | bc -l)" \
    'BEGIN {printf "%7s  %9d  %10.0f  %10.0f  %9.1f  %10.1f  %13s  %10.1f  %9s  %9.1f  %9.1f  %11s\n",
            mode, rate, w/el, (r-r0)/el, 100*a/tck/el, steady/1024,
            sprintf("%.0f->%.0f", first/1024, last/1024), hwm/1024, lag, 100*g/tck/el, 100*s/tck/el,
            (f > 0 ? sprintf("%.0f/%.2f", f, fs/f) : "0/-")}')")
done
done

echo
echo "agent resources over a ${window}s window (after ${warmup}s warm-up); CPU % of one core; RSS in MiB"
printf "%7s  %9s  %10s  %10s  %9s  %10s  %13s  %10s  %9s  %9s  %9s  %11s\n" "traffic" "target/s" "written/s" "counted/s" "agent CPU" \
  "RSS steady" "RSS 1st->last" "RSS peak" "lag bytes" "loggen CPU" "redis CPU" "flushes/avg s"
printf '%s\n' "${results[@]}"
