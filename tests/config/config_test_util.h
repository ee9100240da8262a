// Helpers shared by the config tests: an in-memory ConfigEnvironment and
// assertions on "<file>:<line>: ..." error messages.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "config/config.h"

namespace apimeter::testing {

inline constexpr const char* kConfigName = "/etc/apimeter/apimeter.yaml";

// Files and host name the loader sees; nothing touches the real machine.
struct FakeMachine {
  std::map<std::string, std::string> files;
  std::string hostname = "testhost";
  bool hostname_fails = false;

  ConfigEnvironment Env() {
    ConfigEnvironment env;
    env.read_file = [this](const std::string& path, size_t max_bytes) -> Result<std::string> {
      auto it = files.find(path);
      if (it == files.end()) return Status::NotFound("No such file or directory");
      if (it->second.size() > max_bytes) return Status::ResourceExhausted("file is too large");
      return it->second;
    };
    env.hostname = [this]() -> Result<std::string> {
      if (hostname_fails) return Status::Unavailable("gethostname failed");
      return hostname;
    };
    return env;
  }

  Result<Config> Load(const std::string& yaml) {
    return LoadConfigString(yaml, kConfigName, Env());
  }
};

// The smallest valid config; tests append sections to it.
inline constexpr const char* kMinimalSources =
    "sources:\n"
    "  - paths: [\"/var/log/nginx/access.log*\"]\n"
    "    log_format: combined\n";

// Asserts that loading fails and the message starts with "<name>:<line>: " and contains `part`.
inline ::testing::AssertionResult FailsAt(const Result<Config>& r, int line,
                                          const std::string& part,
                                          const std::string& name = kConfigName) {
  if (r.ok()) return ::testing::AssertionFailure() << "loaded without error";
  const std::string& msg = r.status().message();
  const std::string prefix = name + ":" + std::to_string(line) + ": ";
  if (msg.rfind(prefix, 0) != 0) {
    return ::testing::AssertionFailure()
           << "message does not start with '" << prefix << "': " << msg;
  }
  if (msg.find(part) == std::string::npos) {
    return ::testing::AssertionFailure() << "message lacks '" << part << "': " << msg;
  }
  return ::testing::AssertionSuccess() << msg;
}

// A directory of real files for one test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("apimeter-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // A named pipe: opening it for reading blocks until a writer comes.
  std::string Fifo(const std::string& name) {
    const std::string path = (dir_ / name).string();
    EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
    return path;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace apimeter::testing
