// Helpers shared by the config tests: an in-memory ConfigEnvironment and
// assertions on "<file>:<line>: ..." error messages.
#pragma once

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

}  // namespace apimeter::testing
