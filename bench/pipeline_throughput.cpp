// apimeter-pipeline-bench: lines/s of the per-line pipeline on one core,
// without Redis: read → split → parse → normalize → resolve → aggregate, with
// the aggregator drained (TakeBatch) as backfill would, batches discarded.
// Also times a parse-only pass over the same bytes in the same run, so the
// two figures share the machine's state.
#include <chrono>
#include <cstdio>
#include <string>

#include "agent/line_pipeline.h"
#include "agent/line_splitter.h"
#include "agent/log_file_reader.h"
#include "agent/runtime.h"

using namespace apimeter;

namespace {

std::string ReadAll(const std::string& path) {
  auto reader = LogFileReader::Open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().message().c_str());
    std::exit(1);
  }
  std::string data;
  std::string buf(1 << 20, '\0');
  for (;;) {
    auto n = (*reader)->Read(buf.data(), buf.size());
    if (!n.ok() || *n == 0) break;
    data.append(buf.data(), *n);
  }
  return data;
}

double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CONFIG LOGFILE\n", argv[0]);
    return 64;
  }
  auto config = LoadConfigFile(argv[1]);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 2;
  }
  SystemClock clock;
  auto rt = Runtime::Create(*config, &clock);
  if (!rt.ok()) {
    std::fprintf(stderr, "%s\n", rt.status().message().c_str());
    return 2;
  }
  SourceRuntime& src = (*rt)->sources().front();
  const std::string data = ReadAll(argv[2]);

  // Baseline in the same run: split + parse only.
  uint64_t parse_lines = 0, parse_ok = 0;
  auto t0 = std::chrono::steady_clock::now();
  {
    LineSplitter splitter(65536);
    LogRecord rec;
    ParseError err{};
    splitter.Feed(data, [&](std::string_view line, uint64_t, bool) {
      ++parse_lines;
      parse_ok += src.parser.Parse(line, &rec, &err);
    });
  }
  const double parse_s = Seconds(t0);

  Aggregator aggregator((*rt)->aggregator_options());
  RejectedLines rejected;
  LinePipeline pipeline(&src.parser, &src.customer_key, &(*rt)->normalizer(), &(*rt)->customers(),
                        &aggregator, &rejected, &clock);
  uint64_t lines = 0, series = 0, batches = 0;
  double take_s = 0;
  t0 = std::chrono::steady_clock::now();
  {
    LineSplitter splitter(65536);
    splitter.Feed(data, [&](std::string_view line, uint64_t end, bool) {
      pipeline.Process(line, argv[2], end);
      if (++lines % 2000000 == 0) {
        auto t1 = std::chrono::steady_clock::now();
        FlushBatch b = aggregator.TakeBatch();
        series += b.series.size();
        ++batches;
        take_s += Seconds(t1);
      }
    });
    auto t1 = std::chrono::steady_clock::now();
    FlushBatch b = aggregator.TakeBatch();
    series += b.series.size();
    ++batches;
    take_s += Seconds(t1);
  }
  const double total_s = Seconds(t0);
  std::printf("lines %llu, parsed %llu, rejected %llu, bytes %zu\n",
              static_cast<unsigned long long>(lines),
              static_cast<unsigned long long>(pipeline.parsed()),
              static_cast<unsigned long long>(pipeline.rejected()), data.size());
  std::printf("parse only:                      %.3f s  %10.0f lines/s\n", parse_s,
              parse_lines / parse_s);
  std::printf("parse+normalize+aggregate+drain: %.3f s  %10.0f lines/s  (drain %.3f s, %llu series in %llu batches)\n",
              total_s, lines / total_s, take_s, static_cast<unsigned long long>(series),
              static_cast<unsigned long long>(batches));
  std::printf("ratio full/parse-only: %.2f\n", (lines / total_s) / (parse_lines / parse_s));
  return 0;
}
