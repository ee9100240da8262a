// Config messages that must name the real problem (issue 13): special files
// in place of the config or the files it names are refused at once, never
// read (a FIFO would block the load forever); a duration too large for its
// key says so, with the largest allowed; deep YAML nesting names the limit;
// a threshold's message does not repeat its unit. Also limits.max_future.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/config/config_test_util.h"

namespace apimeter::testing {
namespace {

// Loads `path` on another thread. A load still blocked after 10 s is a
// failure; the FIFOs are then opened for writing and closed, which releases
// a reader blocked on them, so the test ends either way.
Result<Config> LoadWithin10s(const std::string& path, const std::vector<std::string>& fifos) {
  auto done = std::make_shared<std::promise<Result<Config>>>();
  std::future<Result<Config>> result = done->get_future();
  std::thread([done, path] { done->set_value(LoadConfigFile(path)); }).detach();
  if (result.wait_for(std::chrono::seconds(10)) == std::future_status::ready) return result.get();
  ADD_FAILURE() << "loading " << path << " was still blocked after 10 s";
  for (const std::string& f : fifos) {
    const int fd = ::open(f.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  result.wait();
  return Status::Internal("blocked");
}

TEST(ConfigSpecialFiles, ConfigThatIsAFifoIsRefusedWithoutBlocking) {
  TempDir dir;
  const std::string fifo = dir.Fifo("apimeter.yaml");
  Result<Config> r = LoadWithin10s(fifo, {fifo});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            fifo +
                ":1: cannot read the config file: it is a FIFO (named pipe), not a regular "
                "file; check the path given with --config");
}

TEST(ConfigSpecialFiles, FilesTheConfigNamesThatAreFifosAreRefusedAtTheirLine) {
  // customers_file (relative to the config) and customer_id_secret_file (absolute).
  for (const std::string key : {"customers_file", "customer_id_secret_file"}) {
    TempDir dir;
    const std::string fifo = dir.Fifo("named.pipe");
    const std::string value = key == "customers_file" ? "named.pipe" : fifo;
    const std::string config = dir.Write("apimeter.yaml", std::string(kMinimalSources) +   // 1-3
                                                              key + ": " + value + "\n");  // 4
    const std::string what = key == "customers_file" ? "customers file" : key;
    EXPECT_TRUE(FailsAt(LoadWithin10s(config, {fifo}), 4,
                        "cannot read " + what + " '" + fifo +
                            "': it is a FIFO (named pipe), not a regular file; create the file",
                        config));
  }
}

TEST(ConfigSpecialFiles, DirectoriesAndDevicesAreRefusedToo) {
  TempDir dir;
  const std::string config =
      dir.Write("apimeter.yaml", std::string(kMinimalSources) + "customers_file: /dev/zero\n");
  EXPECT_TRUE(FailsAt(LoadWithin10s(config, {}), 4,
                      "customers file '/dev/zero': it is a device, not a regular file", config));
  Result<Config> r = LoadWithin10s(dir.Path(""), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("it is a directory, not a regular file"), std::string::npos)
      << r.status().message();
}

class ConfigMessages : public ::testing::Test {
 protected:
  Result<Config> Load(const std::string& yaml) { return machine_.Load(yaml); }
  FakeMachine machine_;
};

TEST_F(ConfigMessages, OverflowingDurationSaysTooLargeWithTheMaximum) {
  const std::string head = std::string(kMinimalSources) + "agent:\n";  // 1-4
  // Each is a whole number followed by a unit: the number is what is wrong.
  for (const char* text : {"99999999999999999999s", "99999999999999999999ms", "9999999999999d"}) {
    Result<Config> r = Load(head + "  flush_interval: " + text + "\n");
    EXPECT_TRUE(FailsAt(r, 5,
                        std::string("'agent.flush_interval' is too large, got '") + text +
                            "'; the largest allowed is 1h"))
        << text;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().find("whole number"), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(
      FailsAt(Load(std::string(kMinimalSources) + "retention:\n  day: 99999999999999999999d\n"), 5,
              "'retention.day' is too large, got '99999999999999999999d'; the "
              "largest allowed is 36500d"));
  // A number that fits but is out of the key's range keeps the range message.
  EXPECT_TRUE(FailsAt(Load(head + "  flush_interval: 2h\n"), 5,
                      "'agent.flush_interval' must be between 100ms and 1h, got 2h"));
  // Not a duration at all: the format message.
  EXPECT_TRUE(FailsAt(Load(head + "  flush_interval: 5x\n"), 5,
                      "duration '5x' must be a whole number followed by ms, s, m, h or d"));
}

TEST_F(ConfigMessages, DeepNestingNamesTheLimit) {
  std::string flow = std::string(kMinimalSources) + "routes: ";  // line 4
  for (int i = 0; i < 500; ++i) flow += "[";
  for (int i = 0; i < 500; ++i) flow += "]";
  Result<Config> r = Load(flow + "\n");
  EXPECT_TRUE(FailsAt(r, 4, "the YAML is nested too deeply: the parser stops at 500 levels"));

  std::string block = std::string(kMinimalSources) + "alerts:\n";  // 1-4
  for (int i = 0; i < 600; ++i)
    block += std::string(2 * (i + 1), ' ') + "k" + std::to_string(i) + ":\n";
  r = Load(block);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested too deeply: the parser stops at 500 levels"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("bad file"), std::string::npos) << r.status().message();
}

TEST_F(ConfigMessages, NegativeThresholdDoesNotRepeatItsUnit) {
  const std::string head = std::string(kMinimalSources) +                    // 1-3
                           "alerts:\n"                                       // 4
                           "  rules:\n"                                      // 5
                           "    - name: r\n";                                // 6
  Result<Config> r = Load(head + "      metric: p99\n      above: -5ms\n");  // 7, 8
  EXPECT_TRUE(FailsAt(r, 8,
                      "above: '-5ms' must be a number of 0 or more followed by its unit: a "
                      "latency such as 500ms or 1.5s"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("msms"), std::string::npos) << r.status().message();
  EXPECT_TRUE(FailsAt(Load(head + "      metric: requests\n      below: -3/min\n"), 8,
                      "'-3/min' must be a number of 0 or more followed by its unit: a rate"));
  EXPECT_TRUE(FailsAt(Load(head + "      metric: error_rate\n      above: 150%\n"), 8,
                      "'150%' is more than 100%"));
  EXPECT_TRUE(FailsAt(Load(head + "      metric: p99\n      above: fast\n"), 8,
                      "'fast' is not understood: a latency such as 500ms or 1.5s"));
}

TEST_F(ConfigMessages, MaxFutureIsADurationFromOneMinuteToAYear) {
  const std::string head = std::string(kMinimalSources) + "limits:\n";  // 1-4
  Result<Config> r = Load(head + "  max_future: 90m\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->limits.max_future_s, 5400);
  EXPECT_NE(EffectiveConfigYaml(*r).find("max_future: 90m"), std::string::npos);
  EXPECT_TRUE(FailsAt(Load(head + "  max_future: 30s\n"), 5,
                      "'limits.max_future' must be between 1m and 366d, got 30s"));
  EXPECT_TRUE(FailsAt(Load(head + "  max_future: 1\n"), 5, "needs a unit"));
}

}  // namespace
}  // namespace apimeter::testing
