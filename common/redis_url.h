// Redis URLs: where apimeter's Redis is, as the config's redis.url writes it.
// A config-level fact, kept below both config/ (which validates the URL when
// it loads) and sink/ (which connects to it), so neither depends on the other.
//
// Promise: pure functions, no I/O; errors name the URL with its password
// masked and say what was expected. Thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace apimeter {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;  // when set, host/port are ignored
  int db = 0;
  std::string username;     // ACL user (Redis 6+); empty for the default user
  std::string password;     // secret: never logged
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
};

// Parses redis://[[user]:password@]host[:port][/db] and unix:///path[?db=N].
Result<RedisEndpoint> ParseRedisUrl(std::string_view url);
// The URL with any password replaced by "****", for logs and check-config.
std::string MaskRedisUrl(std::string_view url);

// Redis Cluster seeds as the config's redis.cluster writes them: each
// "host:port", or "redis://[[user]:password@]host:port" to give the
// credentials (AUTH) every node of the cluster is asked with. Seeds that
// carry credentials must carry the same ones; a database other than 0 is
// refused (a cluster has only database 0). Errors name the seed with its
// password masked.
struct ClusterSeeds {
  std::vector<std::string> nodes;  // "host:port", in the order given
  std::string username;            // ACL user; empty for the default user
  std::string password;            // secret: never logged; empty = no AUTH
};
Result<ClusterSeeds> ParseClusterSeeds(const std::vector<std::string>& seeds);

}  // namespace apimeter
