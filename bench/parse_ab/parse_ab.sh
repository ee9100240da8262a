#!/bin/bash
# Parse throughput of two parser versions in ONE benchmark run: the parsers (and the
# common code they use) of OLD_TREE are compiled into namespace apimeter_old, linked
# next to this tree's, and each format is benchmarked on both, interleaved at random
# (--benchmark_enable_random_interleaving), so load on the machine hits both alike.
#
#   git worktree add --detach /tmp/base main   # the version to compare against
#   cmake --build build --target apimeter_parsers
#   bench/parse_ab/parse_ab.sh /tmp/base [benchmark flags]
#
# Prints per format the median CPU ns/line of each side and new/old.
set -euo pipefail
OLD=$(cd "${1:?usage: parse_ab.sh OLD_TREE [flags]}" && pwd)
shift
NEW=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$NEW/bench/parse_ab"
OUT=$(mktemp -d /tmp/parse-ab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
FLAGS=(-std=c++20 -O2 -g -DNDEBUG)
for f in "$OLD"/parsers/{endpoint_normalizer,explain,fast_path,format_compiler,line_parser,nginx_time}.cpp \
         "$OLD"/common/{status,time_util}.cpp; do
  g++ "${FLAGS[@]}" -I"$OLD" -Dapimeter=apimeter_old -c "$f" -o "$OUT/old_$(basename "$f" .cpp).o"
done
g++ "${FLAGS[@]}" -I"$OLD" -Dapimeter=apimeter_old -DSIDE=Old -c "$HERE/wrap.cpp" -o "$OUT/wrap_old.o"
g++ "${FLAGS[@]}" -I"$NEW" -DSIDE=New -c "$HERE/wrap.cpp" -o "$OUT/wrap_new.o"
g++ "${FLAGS[@]}" -I"$NEW" -c "$HERE/parse_ab.cpp" -o "$OUT/parse_ab.o"
g++ -o "$OUT/parse_ab" "$OUT"/parse_ab.o "$OUT"/wrap_old.o "$OUT"/old_*.o "$OUT/wrap_new.o" \
  "$NEW/build/parsers/libapimeter_parsers.a" "$NEW/build/common/libapimeter_common.a" \
  -lre2 -lbenchmark -lpthread
"$OUT/parse_ab" --benchmark_enable_random_interleaving=true --benchmark_repetitions=15 \
  --benchmark_min_time=0.15 --benchmark_format=json "$@" > "$OUT/runs.json"
python3 - "$OUT/runs.json" <<'PY'
import collections, json, statistics, sys
runs = collections.defaultdict(list)
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type") == "iteration":
        runs[b["run_name"]].append(b["cpu_time"])
print(f"{'benchmark':24} {'old ns':>8} {'new ns':>8} {'new/old':>8}")
for name in sorted({n.split("_", 2)[2] for n in runs}):
    old, new = statistics.median(runs["BM_Old_" + name]), statistics.median(runs["BM_New_" + name])
    print(f"{name:24} {old:8.0f} {new:8.0f} {new / old:8.3f}")
PY
