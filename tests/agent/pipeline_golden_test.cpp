// Golden test for the whole per-line pipeline: tests/testdata/pipeline.log
// through parse → normalize → resolve → aggregate, dumped as sorted readable
// text and compared with tests/testdata/pipeline.golden. To update the golden
// file on purpose: APIMETER_UPDATE_GOLDEN=1 ctest -R PipelineGolden, then
// review the diff before committing it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/line_pipeline.h"
#include "agent/line_splitter.h"
#include "agent/runtime.h"

namespace apimeter {
namespace {

std::string SourceDir() {
  const char* d = std::getenv("APIMETER_SOURCE_DIR");
  return d ? d : ".";
}

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* KindName(SeriesKind k) {
  switch (k) {
    case SeriesKind::kAll: return "all";
    case SeriesKind::kHost: return "host";
    case SeriesKind::kEndpoint: return "endpoint";
    case SeriesKind::kCustomer: return "customer";
    case SeriesKind::kCustomerEndpoint: return "cust*ep";
    case SeriesKind::kClient: return "client";
    case SeriesKind::kClientEndpoint: return "client*ep";
    case SeriesKind::kCustomerClient: return "cust*client";
  }
  return "?";
}

std::string Dump(const FlushBatch& batch, const RejectedLines& rejected) {
  std::vector<std::string> rows;
  for (const auto& d : batch.series) {
    std::ostringstream o;
    std::string name = d.name;
    for (char& c : name) if (c == kNameSeparator) c = '|';
    o << TierLetter(d.tier) << d.bucket << " " << KindName(d.kind) << " [" << name << "] n="
      << d.rollup.requests << " bi=" << d.rollup.bytes_in << " bo=" << d.rollup.bytes_out
      << " lc=" << d.rollup.latency_count << " ls=" << d.rollup.latency_sum_us
      << " max=" << d.rollup.latency_max_us << " rej=" << d.rollup.rejected << " status";
    auto st = d.rollup.status_counts;
    std::sort(st.begin(), st.end());
    for (auto& [s, n] : st) o << " " << s << ":" << n;
    o << " hist";
    d.rollup.histogram.ForEachBucket([&](int i, uint64_t n) { o << " " << i << ":" << n; });
    rows.push_back(o.str());
  }
  std::sort(rows.begin(), rows.end());
  std::ostringstream out;
  for (const auto& r : rows) out << r << "\n";
  for (const auto& s : batch.slow) {
    out << "slow t=" << s.time_us << " lat=" << s.latency_us << " " << s.status << " ["
        << s.endpoint << "] [" << s.customer << "] " << s.host << "\n";
  }
  out << "rejected " << rejected.Summary() << "\n";
  return out.str();
}

TEST(PipelineGoldenTest, SampleLogMatchesGolden) {
  const std::string dir = SourceDir() + "/tests/testdata/";
  auto config = LoadConfigFile(dir + "pipeline.yaml");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ManualClock clock(1795694400LL * 1000000);
  auto rt = Runtime::Create(*config, &clock);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Aggregator aggregator((*rt)->aggregator_options());
  RejectedLines rejected;
  SourceRuntime& src = (*rt)->sources().front();
  LinePipeline pipeline(&src.parser, &src.customer_key, &(*rt)->normalizer(), &(*rt)->customers(),
                        &aggregator, &rejected, &clock);
  LineSplitter splitter(65536);
  uint64_t begin = 0;
  splitter.Feed(ReadFile(dir + "pipeline.log"), [&](std::string_view line, uint64_t end, bool) {
    pipeline.Process(line, "pipeline.log", begin);
    begin = end;
  });
  EXPECT_EQ(pipeline.parsed(), 10u);
  EXPECT_EQ(pipeline.rejected(), 3u);
  const std::string got = Dump(aggregator.TakeBatch(), rejected);
  const std::string golden_path = dir + "pipeline.golden";
  if (std::getenv("APIMETER_UPDATE_GOLDEN")) {
    std::ofstream(golden_path, std::ios::binary) << got;
    GTEST_SKIP() << "APIMETER_TEST_SKIPPED: golden file rewritten: review `git diff " << golden_path << "`";
  }
  EXPECT_EQ(got, ReadFile(golden_path)) << "to update on purpose: APIMETER_UPDATE_GOLDEN=1";
}

}  // namespace
}  // namespace apimeter
