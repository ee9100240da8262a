// FaultInjectingRedis: a RedisCommands that forwards everything to a real
// connection and then replaces chosen replies with an error reply, as if
// Redis had answered so. It lets a test put an error at any single point of
// the sink's write path (a top-level reply, a "QUEUED" reply, or one element
// of EXEC's array) and check that the flush fails with that reason.
//
// Promise: the command still runs on the real server (only the reply the
// caller sees changes); each rule fires at most once, on the first matching
// command. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sink/redis_client.h"

namespace apimeter::testing {

class FaultInjectingRedis final : public RedisCommands {
 public:
  using Match = std::function<bool(const RedisArgs&)>;
  enum class Where {
    kReply,   // the command's own reply (for a command inside MULTI: its "QUEUED")
    kInExec,  // the element of the EXEC array that answers the queued command
  };

  explicit FaultInjectingRedis(RedisCommands* real) : real_(real) {}

  // The first command matching `match` gets `error` (an error reply) at `where`.
  void Fail(Match match, Where where, std::string error) {
    rules_.push_back({std::move(match), where, std::move(error), false});
  }
  // Whether every rule fired (a test that injects nothing proves nothing).
  bool AllFired() const {
    for (const Rule& r : rules_) {
      if (!r.fired) return false;
    }
    return true;
  }

  Status Connect() override { return real_->Connect(); }
  Result<RedisReply> Command(const RedisArgs& args) override {
    auto r = Pipeline({args});
    if (!r.ok()) return r.status();
    return std::move(r->front());
  }
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisArgs>& commands) override {
    auto replies = real_->Pipeline(commands);
    if (!replies.ok()) return replies;
    size_t multi = commands.size();  // index of the open MULTI, if any
    for (size_t i = 0; i < commands.size(); ++i) {
      const std::string& name = commands[i][0];
      if (name == "MULTI") multi = i;
      for (Rule& rule : rules_) {
        if (rule.fired || !rule.match(commands[i])) continue;
        if (rule.where == Where::kReply) {
          rule.fired = true;
          (*replies)[i] = Error(rule.error);
        } else if (multi < i && name != "EXEC") {
          // Find the EXEC that closes this MULTI and replace the element.
          for (size_t e = i + 1; e < commands.size(); ++e) {
            if (commands[e][0] != "EXEC") continue;
            RedisReply& exec = (*replies)[e];
            const size_t element = i - multi - 1;
            if (exec.type == RedisReply::Type::kArray && element < exec.elements.size()) {
              exec.elements[element] = Error(rule.error);
              rule.fired = true;
            }
            break;
          }
        }
      }
    }
    return replies;
  }
  uint64_t commands_sent() const override { return real_->commands_sent(); }

 private:
  struct Rule {
    Match match;
    Where where;
    std::string error;
    bool fired;
  };
  static RedisReply Error(const std::string& text) {
    RedisReply r;
    r.type = RedisReply::Type::kError;
    r.str = text;
    return r;
  }

  RedisCommands* real_;
  std::vector<Rule> rules_;
};

}  // namespace apimeter::testing
