// process_* metrics from /proc, and apimeter_build_info.
#include <gtest/gtest.h>

#include "common/process_metrics.h"

namespace apimeter {
namespace {

TEST(ProcessMetricsTest, ParsesProcSelfStatWithAwkwardCommandName) {
  // pid (comm) state ppid ... ; comm holds a space and a ')'.
  const std::string stat =
      "4242 (api meter) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 3 0 "
      "12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  ProcessStats s;
  ASSERT_TRUE(ParseProcSelfStat(stat, 100, 4096, 1700000000, &s));
  EXPECT_DOUBLE_EQ(*s.cpu_seconds, 4.0);                    // (250 + 150) ticks / 100
  EXPECT_DOUBLE_EQ(*s.start_time_seconds, 1700000123.45);  // btime + 12345 / 100
  EXPECT_DOUBLE_EQ(*s.virtual_bytes, 104857600);
  EXPECT_DOUBLE_EQ(*s.resident_bytes, 2560.0 * 4096);
  EXPECT_FALSE(ParseProcSelfStat("garbage", 100, 4096, 0, &s));
}

TEST(ProcessMetricsTest, RealProcessHasEveryFamilyAndBuildInfo) {
  const ProcessStats s = ReadProcessStats();
  ASSERT_TRUE(s.cpu_seconds && s.resident_bytes && s.virtual_bytes && s.start_time_seconds &&
              s.open_fds && s.max_fds);
  EXPECT_GT(*s.resident_bytes, 0);
  EXPECT_GE(*s.open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GT(*s.start_time_seconds, 1.6e9);
  PrometheusText out;
  WriteProcessMetrics(s, &out);
  WriteBuildInfo("1.2.3", "abc", "agent", &out);
  const std::string& text = out.str();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_start_time_seconds",
                           "process_open_fds", "process_max_fds"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name), std::string::npos) << name;
  }
  EXPECT_NE(text.find("apimeter_build_info{version=\"1.2.3\",revision=\"abc\",component=\"agent\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(ProcessMetricsTest, HistogramIsCumulativeAndEndsWithInf) {
  PrometheusText out;
  const double bounds[] = {0.005, 0.5};
  const uint64_t counts[] = {2, 3};
  out.Family("x_seconds", "histogram", "h");
  out.Histogram("x_seconds", "", bounds, counts, 1.25, 6);
  EXPECT_EQ(out.str(),
            "# HELP x_seconds h\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.005\"} 2\nx_seconds_bucket{le=\"0.5\"} 5\n"
            "x_seconds_bucket{le=\"+Inf\"} 6\nx_seconds_sum 1.25\nx_seconds_count 6\n");
}

}  // namespace
}  // namespace apimeter
