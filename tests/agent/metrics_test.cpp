// The agent's self-metrics: Prometheus text rendering, and the HTTP endpoint
// (real loopback socket, port chosen by the kernel).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <regex>
#include <set>
#include <thread>

#include "agent/agent_metrics.h"
#include "agent/metrics_server.h"

namespace apimeter {
namespace {

TEST(AgentMetricsTest, RendersPrometheusTextWithoutHostLabel) {
  AgentMetrics m;
  m.lines_read = 42;
  m.rejected_by_reason["no_match"] = 3;
  m.rejected_by_reason["too_long"] = 0;
  m.customer_key_errors["jwt_malformed"] = 2;
  m.paused = true;
  m.ObserveFlush(0.02);
  m.ObserveFlush(7);
  PrometheusText out;
  m.Render(&out);
  const std::string text = out.str();
  EXPECT_NE(text.find("# TYPE apimeter_agent_lines_read_total counter\n"
                      "apimeter_agent_lines_read_total 42\n"),
            std::string::npos);
  // One family for rejected lines, every reason present (zeros too).
  EXPECT_NE(text.find("# TYPE apimeter_api_rejected_lines_total counter\n"
                      "apimeter_api_rejected_lines_total{reason=\"no_match\"} 3\n"
                      "apimeter_api_rejected_lines_total{reason=\"too_long\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("lines_rejected"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE apimeter_agent_customer_key_errors_total counter\n"
                      "apimeter_agent_customer_key_errors_total{reason=\"jwt_malformed\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apimeter_agent_reading_paused 1\n"), std::string::npos);
  // Flush durations are a histogram, not a "_sum" typed as a counter.
  EXPECT_NE(text.find("# TYPE apimeter_agent_flush_duration_seconds histogram\n"
                      "apimeter_agent_flush_duration_seconds_bucket{le=\"0.005\"} 0\n"
                      "apimeter_agent_flush_duration_seconds_bucket{le=\"0.01\"} 0\n"
                      "apimeter_agent_flush_duration_seconds_bucket{le=\"0.025\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apimeter_agent_flush_duration_seconds_bucket{le=\"+Inf\"} 2\n"
                      "apimeter_agent_flush_duration_seconds_sum 7.0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("apimeter_agent_flush_duration_seconds_count 2\n"), std::string::npos);
  EXPECT_EQ(text.find("host="), std::string::npos);
  EXPECT_EQ(text.find("flush_seconds_sum"), std::string::npos);
  // Every non-comment line is "name value" or "name{labels} value"; every
  // family is typed once; counters end in _total.
  size_t pos = 0;
  std::set<std::string> typed;
  const std::regex kSample(R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eInf]+)");
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << name;
      EXPECT_TRUE(PrometheusText::ValidMetricName(name)) << name;
      if (line.substr(line.rfind(' ') + 1) == "counter") {
        EXPECT_EQ(name.substr(name.size() - 6), "_total") << name;
      }
    }
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, kSample)) << line;
  }
}

std::string Get(uint16_t port, const std::string& request) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket sock(io);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(sock, boost::asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    size_t n = sock.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

TEST(AgentMetricsTest, StorageV2SamplesOnlyWithSchema2) {
  auto render = [](const AgentMetrics& m) {
    PrometheusText out;
    m.Render(&out);
    return out.str();
  };
  AgentMetrics m;
  m.store.schema = 1;
  EXPECT_EQ(render(m).find("apimeter_agent_store_"), std::string::npos);
  m.store = {2, 12, 3456, 5, 1, 2, 7, 9, 4};
  const std::string text = render(m);
  for (const char* want :
       {"# TYPE apimeter_agent_store_blocks_total counter\n", "apimeter_agent_store_blocks_total 12\n",
        "apimeter_agent_store_block_bytes_total 3456\n",
        "apimeter_agent_store_compactions_total 5\n",
        "apimeter_agent_store_compaction_lost_races_total 1\n",
        "apimeter_agent_store_compaction_failures_total 2\n",
        "# TYPE apimeter_agent_store_compactions_pending gauge\n",
        "apimeter_agent_store_compactions_pending 7\n",
        "apimeter_agent_store_registry_calls_total 9\n",
        "apimeter_agent_store_registry_refused_total 4\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want;
  }
}

TEST(MetricsServerTest, ServesMetricsAndHealthAnd404) {
  boost::asio::io_context io;
  auto server = MetricsServer::Start(io, "127.0.0.1:0", [] { return std::string("m 1\n"); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  std::thread loop([&] { io.run(); });
  const std::string metrics = Get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string health = Get(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string missing = Get(port, "GET /secret HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string garbage = Get(port, std::string(20000, 'A') + "\r\n\r\n");
  boost::asio::post(io, [&] { (*server)->Stop(); });
  loop.join();
  EXPECT_NE(metrics.find("200 OK"), std::string::npos);
  EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.find("\r\n\r\nm 1\n"), std::string::npos);
  EXPECT_NE(health.find("200 OK"), std::string::npos);
  EXPECT_NE(missing.find("404 Not Found"), std::string::npos);
  EXPECT_EQ(garbage.find("200 OK"), std::string::npos);  // oversized header: no answer
}

TEST(MetricsServerTest, RefusesBadListenAddress) {
  boost::asio::io_context io;
  EXPECT_FALSE(MetricsServer::Start(io, "nonsense", [] { return std::string(); }).ok());
  EXPECT_FALSE(MetricsServer::Start(io, "127.0.0.1:99999", [] { return std::string(); }).ok());
  EXPECT_FALSE(MetricsServer::Start(io, "not-an-ip:80", [] { return std::string(); }).ok());
}

}  // namespace
}  // namespace apimeter
