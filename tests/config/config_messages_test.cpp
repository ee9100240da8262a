// Config messages that must name the real problem (issue 13): special files
// in place of the config or the files it names are refused at once, never
// read (a FIFO would block the load forever).
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
            fifo + ":1: cannot read the config file: it is a FIFO (named pipe), not a regular "
                   "file; check the path given with --config");
}

TEST(ConfigSpecialFiles, FilesTheConfigNamesThatAreFifosAreRefusedAtTheirLine) {
  // customers_file (relative to the config) and customer_id_secret_file (absolute).
  for (const std::string key : {"customers_file", "customer_id_secret_file"}) {
    TempDir dir;
    const std::string fifo = dir.Fifo("named.pipe");
    const std::string value = key == "customers_file" ? "named.pipe" : fifo;
    const std::string config = dir.Write("apimeter.yaml", std::string(kMinimalSources) +  // 1-3
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
  const std::string config = dir.Write("apimeter.yaml", std::string(kMinimalSources) +
                                                            "customers_file: /dev/zero\n");
  EXPECT_TRUE(FailsAt(LoadWithin10s(config, {}), 4,
                      "customers file '/dev/zero': it is a device, not a regular file", config));
  Result<Config> r = LoadWithin10s(dir.Path(""), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("it is a directory, not a regular file"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace apimeter::testing
