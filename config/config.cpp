// Top-level config loading: reads the document, dispatches each section in a
// fixed order (limits before sources, which need max_line_bytes), then checks
// rules that span keys (retention order, secret sources).
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "common/redis_url.h"
#include "config/alerts_section.h"
#include "config/clients_section.h"
#include "config/config_keys.h"
#include "config/customers_file.h"
#include "config/prometheus_section.h"
#include "config/sections.h"
#include "config/server_section.h"
#include "config/yaml_reader.h"

namespace apimeter {
namespace {

using config_internal::YamlField;
using config_internal::YamlReader;

constexpr int64_t kMsPerDay = 86400 * 1000LL;
constexpr size_t kMinSecretBytes = 16;

const YamlField* Find(const std::vector<YamlField>& fields, std::string_view key) {
  for (const YamlField& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

bool HasControlChar(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

class Loader {
 public:
  Loader(const std::string& name, const ConfigEnvironment& env) : r_(name), env_(env) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::path(name).parent_path();
    base_dir_ = std::filesystem::absolute(dir.empty() ? "." : dir, ec).lexically_normal();
  }

  Result<Config> Load(const std::string& text) {
    Config c;
    c.path = r_.file();
    APIMETER_ASSIGN_OR_RETURN(YAML::Node root, r_.Parse(text));
    if (!root.IsMap()) {
      return r_.ErrorAt(root, root.IsNull()
                                  ? "the config is empty; it needs at least a "
                                    "'sources:' list (see packaging/apimeter.example.yaml)"
                                  : "the config must be a mapping of 'key: value' "
                                    "lines; see docs/config.md");
    }
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> top,
                              r_.OpenMap(root, "", config_keys::kTopLevel));
    // Sections are read in a fixed order: sources need limits.max_line_bytes.
    if (auto f = Find(top, "limits")) APIMETER_RETURN_IF_ERROR(LoadLimits(*f, &c.limits));
    const YamlField* sources = Find(top, "sources");
    if (sources == nullptr) {
      return r_.ErrorAtLine(1,
                            "the config has no 'sources:' list; add one, e.g.\nsources:\n  - "
                            "paths: [\"/var/log/nginx/access.log*\"]\n    log_format: combined");
    }
    APIMETER_RETURN_IF_ERROR(LoadSources(r_, *sources, env_, c.limits.max_line_bytes, &c.sources));
    if (auto f = Find(top, "routes")) APIMETER_RETURN_IF_ERROR(LoadRoutes(r_, *f, &c.routes));
    if (auto f = Find(top, "redis")) APIMETER_RETURN_IF_ERROR(LoadRedis(*f, &c.redis));
    if (auto f = Find(top, "retention")) APIMETER_RETURN_IF_ERROR(LoadRetention(*f, &c.retention));
    if (auto f = Find(top, "aggregation")) APIMETER_RETURN_IF_ERROR(LoadAggregation(*f, &c));
    if (auto f = Find(top, "agent")) APIMETER_RETURN_IF_ERROR(LoadAgent(*f, &c.agent));
    if (auto f = Find(top, "server")) {
      APIMETER_RETURN_IF_ERROR(config_internal::LoadServer(r_, *f, &c.server));
    }
    if (auto f = Find(top, "alerts")) APIMETER_RETURN_IF_ERROR(LoadAlerts(r_, *f, &c.alerts));
    if (auto f = Find(top, "prometheus")) {
      APIMETER_RETURN_IF_ERROR(config_internal::LoadPrometheus(r_, *f, &c.prometheus));
    }
    if (auto f = Find(top, "clients")) {
      APIMETER_RETURN_IF_ERROR(config_internal::LoadClients(r_, *f, &c.client_rules));
    }
    if (auto f = Find(top, "customers_file")) APIMETER_RETURN_IF_ERROR(LoadCustomers(*f, &c));
    APIMETER_RETURN_IF_ERROR(
        LoadSecret(Find(top, "customer_id_secret"), Find(top, "customer_id_secret_file"), &c));
    // Token scopes name customers by id or by a customers_file name.
    APIMETER_RETURN_IF_ERROR(config_internal::ResolveServerCustomers(r_, c.customers, &c.server));
    return c;
  }

 private:
  Status LoadLimits(const YamlField& f, LimitsConfig* l) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(f.value, "limits", config_keys::kLimits));
    for (const YamlField& x : fields) {
      const std::string name = "limits." + x.key;
      if (x.key == "endpoints_per_day") {
        APIMETER_ASSIGN_OR_RETURN(l->endpoints_per_day, r_.Int(x, name, 1, 1000000));
      } else if (x.key == "customers_per_day") {
        APIMETER_ASSIGN_OR_RETURN(l->customers_per_day, r_.Int(x, name, 1, 10000000));
      } else if (x.key == "max_line_bytes") {
        APIMETER_ASSIGN_OR_RETURN(l->max_line_bytes, r_.Size(x, name, 256, 16 << 20));
      } else if (x.key == "clients_per_day") {
        APIMETER_ASSIGN_OR_RETURN(l->clients_per_day, r_.Int(x, name, 1, 100000));
      } else if (x.key == "max_future") {
        APIMETER_ASSIGN_OR_RETURN(
            int64_t ms, r_.DurationMs(x, name, 60000, 366 * kMsPerDay, /*allow_ms=*/false));
        l->max_future_s = ms / 1000;
      } else {
        APIMETER_ASSIGN_OR_RETURN(l->memory_mb, r_.Int(x, name, 1, 1 << 20));
      }
    }
    return Status::Ok();
  }

  Status LoadRedis(const YamlField& f, RedisConfig* rc) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(f.value, "redis", config_keys::kRedis));
    const YamlField* url = nullptr;
    const YamlField* cluster = nullptr;
    for (const YamlField& x : fields) {
      const std::string name = "redis." + x.key;
      if (x.key == "url") url = &x;
      if (x.key == "cluster") cluster = &x;
      if (x.key == "url") {
        APIMETER_ASSIGN_OR_RETURN(rc->url, r_.String(x, name));
        Result<RedisEndpoint> ep = ParseRedisUrl(rc->url);
        if (!ep.ok()) return r_.ErrorAt(x, ep.status().message());
      } else if (x.key == "prefix") {
        APIMETER_ASSIGN_OR_RETURN(rc->prefix, r_.String(x, name));
        APIMETER_RETURN_IF_ERROR(CheckPrefix(x, rc->prefix));
      } else if (x.key == "cluster") {
        APIMETER_ASSIGN_OR_RETURN(rc->cluster, r_.StringList(x, name));
        // host:port, or a redis:// URL carrying the nodes' user and password.
        Result<ClusterSeeds> seeds = ParseClusterSeeds(rc->cluster);
        if (!seeds.ok()) return r_.ErrorAt(x, seeds.status().message());
      } else if (x.key == "schema") {
        APIMETER_ASSIGN_OR_RETURN(std::string v, r_.String(x, name));
        rc->schema = v == "1" ? 1 : v == "2" ? 2 : 0;
        if (rc->schema == 0) {
          return r_.ErrorAt(x, "redis.schema must be 1 (v1: hashes) or 2 (v2: blocks, "
                               "docs/storage-v2.md); data written with 1 is converted to 2 by "
                               "`apimeter migrate`");
        }
      } else {
        int64_t* out =
            x.key == "connect_timeout" ? &rc->connect_timeout_ms : &rc->command_timeout_ms;
        APIMETER_ASSIGN_OR_RETURN(*out, r_.DurationMs(x, name, 1, 600000, /*allow_ms=*/true));
      }
    }
    if (url != nullptr && cluster != nullptr && !rc->cluster.empty()) {
      return r_.ErrorAt(*cluster,
                        "redis.cluster and redis.url are mutually exclusive: write either url "
                        "(one Redis) or cluster (seed nodes of a Redis Cluster), not both");
    }
    return Status::Ok();
  }

  // The prefix starts every key; braces would change the Redis Cluster hash tag.
  Status CheckPrefix(const YamlField& x, const std::string& prefix) {
    const bool bad_char =
        prefix.find_first_of("{} \t") != std::string::npos || HasControlChar(prefix);
    if (prefix.empty() || prefix.size() > 64 || bad_char) {
      return r_.ErrorAt(x,
                        "redis.prefix must be 1 to 64 characters without spaces, braces or "
                        "control characters; write e.g. prefix: apimeter");
    }
    return Status::Ok();
  }

  Status LoadRetention(const YamlField& f, RetentionConfig* rt) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(f.value, "retention", config_keys::kRetention));
    int lines[3] = {0, 0, 0};  // where each tier was set, 0 = default
    int64_t* outs[3] = {&rt->minute_s, &rt->hour_s, &rt->day_s};
    for (const YamlField& x : fields) {
      const int i = x.key == "minute" ? 0 : (x.key == "hour" ? 1 : 2);
      APIMETER_ASSIGN_OR_RETURN(int64_t ms,
                                r_.DurationMs(x, "retention." + x.key, 1000, 36500 * kMsPerDay,
                                              /*allow_ms=*/false));
      *outs[i] = ms / 1000;
      lines[i] = YamlReader::LineOf(x);
    }
    static constexpr const char* kNames[3] = {"minute", "hour", "day"};
    for (int i = 0; i < 2; ++i) {
      if (*outs[i] <= *outs[i + 1]) continue;
      // Point at the tier the operator wrote (the coarser one when both were).
      const int line = lines[i + 1] != 0 ? lines[i + 1] : lines[i];
      return r_.ErrorAtLine(
          line, std::string("retention.") + kNames[i] + " (" +
                    config_internal::FormatDurationMs(*outs[i] * 1000) +
                    ") is longer than retention." + kNames[i + 1] + " (" +
                    config_internal::FormatDurationMs(*outs[i + 1] * 1000) +
                    "); coarser tiers must be kept at least as long: minute <= hour <= day");
    }
    return Status::Ok();
  }

  Status LoadAggregation(const YamlField& f, Config* c) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(f.value, "aggregation", config_keys::kAggregation));
    for (const YamlField& x : fields) {
      APIMETER_ASSIGN_OR_RETURN(c->aggregation.slow_top_n,
                                r_.Int(x, "aggregation.slow_top_n", 1, 10000));
    }
    return Status::Ok();
  }

  Status LoadAgent(const YamlField& f, AgentConfig* a) {
    APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                              r_.OpenMap(f.value, "agent", config_keys::kAgent));
    for (const YamlField& x : fields) {
      const std::string name = "agent." + x.key;
      if (x.key == "flush_interval") {
        APIMETER_ASSIGN_OR_RETURN(a->flush_interval_ms,
                                  r_.DurationMs(x, name, 100, 3600000, /*allow_ms=*/true));
      } else if (x.key == "from_start") {
        APIMETER_ASSIGN_OR_RETURN(a->from_start, r_.Bool(x, name));
      } else if (x.key == "state_dir") {
        APIMETER_ASSIGN_OR_RETURN(a->state_dir, r_.String(x, name));
        if (a->state_dir.empty() || a->state_dir[0] != '/' || HasControlChar(a->state_dir)) {
          return r_.ErrorAt(x,
                            "agent.state_dir must be an absolute directory path; write e.g. "
                            "state_dir: /var/lib/apimeter");
        }
      } else {
        APIMETER_ASSIGN_OR_RETURN(a->metrics_listen, r_.String(x, name));
        if (!a->metrics_listen.empty() && !config_internal::IsHostPort(a->metrics_listen)) {
          return r_.ErrorAt(x, "agent.metrics_listen '" + a->metrics_listen.substr(0, 60) +
                                   "' is not host:port; write e.g. 127.0.0.1:9465, or \"\" to "
                                   "turn the metrics endpoint off");
        }
      }
    }
    return Status::Ok();
  }

  std::string Resolve(const std::string& path) const {
    std::filesystem::path p(path);
    return (p.is_absolute() ? p : base_dir_ / p).lexically_normal().string();
  }

  Result<std::string> ReadFile(const YamlField& x, const std::string& what, const std::string& path,
                               size_t max_bytes) const {
    Result<std::string> text =
        env_.read_file ? env_.read_file(path, max_bytes) : Status::Internal("no file reader");
    if (!text.ok()) {
      return r_.ErrorAt(x, "cannot read " + what + " '" + path + "': " + text.status().message() +
                               "; create the file or fix the path (relative paths are relative "
                               "to the config file's directory)");
    }
    return text;
  }

  Status LoadCustomers(const YamlField& x, Config* c) {
    APIMETER_ASSIGN_OR_RETURN(std::string path, r_.String(x, "customers_file"));
    if (path.empty()) return Status::Ok();
    c->customers_file = Resolve(path);
    APIMETER_ASSIGN_OR_RETURN(
        std::string text, ReadFile(x, "customers file", c->customers_file, kMaxCustomersFileBytes));
    APIMETER_ASSIGN_OR_RETURN(c->customers,
                              config_internal::ParseCustomersYaml(text, c->customers_file));
    return Status::Ok();
  }

  Status LoadSecret(const YamlField* inline_secret, const YamlField* file, Config* c) {
    if (inline_secret != nullptr && file != nullptr) {
      return r_.ErrorAt(*file,
                        "both customer_id_secret and customer_id_secret_file are set; "
                        "keep only one");
    }
    if (inline_secret != nullptr) {
      APIMETER_ASSIGN_OR_RETURN(c->customer_id_secret,
                                r_.String(*inline_secret, "customer_id_secret"));
      if (c->customer_id_secret.empty()) {
        return r_.ErrorAt(*inline_secret,
                          "customer_id_secret is empty; set a long random "
                          "string or remove the key");
      }
    } else if (file != nullptr) {
      APIMETER_ASSIGN_OR_RETURN(std::string path, r_.String(*file, "customer_id_secret_file"));
      c->customer_id_secret_file = Resolve(path);
      APIMETER_ASSIGN_OR_RETURN(
          std::string text, ReadFile(*file, "customer_id_secret_file", c->customer_id_secret_file,
                                     kMaxSecretFileBytes));
      // `echo secret > file` leaves a newline that is not part of the secret.
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      if (text.empty()) {
        return r_.ErrorAt(*file, "customer_id_secret_file '" + c->customer_id_secret_file +
                                     "' is empty; write a long random string into it");
      }
      c->customer_id_secret = std::move(text);
    } else {
      c->warnings.push_back(
          "customer_id_secret is not set: customer ids use the built-in default secret, so "
          "anyone can compute them from API keys; set customer_id_secret_file");
      return Status::Ok();
    }
    c->customer_id_secret_is_default = false;
    if (c->customer_id_secret == defaults::kCustomerIdSecret) {
      // An upgraded package keeps the ids it had (packaging/debian/postinst).
      c->warnings.push_back(
          "the customer id secret is the built-in default secret, so anyone can compute "
          "customer ids from API keys; write a secret of your own (docs/operations.md, "
          "\"Secrets and rotation\": every customer id changes with it)");
    } else if (c->customer_id_secret.size() < kMinSecretBytes) {
      c->warnings.push_back("customer_id_secret is shorter than " +
                            std::to_string(kMinSecretBytes) +
                            " characters; use a long random string, e.g. `openssl rand -hex 32`");
    }
    return Status::Ok();
  }

  YamlReader r_;
  const ConfigEnvironment& env_;
  std::filesystem::path base_dir_;
};

// What a path is when it is not a regular file, for the message.
const char* FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

Status NotRegular(mode_t mode) {
  return Status::InvalidArgument(std::string("it is ") + FileKind(mode) + ", not a regular file");
}

// Only regular files are read. A FIFO would block the load until some process
// writes to it, and a device could be read forever, so the type is checked
// before opening, and again on the open descriptor (the path may have changed
// in between); the open itself is non-blocking, so even a FIFO swapped in
// at that moment cannot hang it.
Result<std::string> ReadRealFile(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return NotRegular(st.st_mode);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::NotFound(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fstat(fd, &st) != 0) return Status::Unavailable(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return NotRegular(st.st_mode);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Unavailable(std::string("read error: ") + std::strerror(errno));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      return Status::ResourceExhausted("larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return text;
}

Result<std::string> RealHostname() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) {
    return Status::Unavailable(std::string("gethostname failed: ") + std::strerror(errno));
  }
  return std::string(buf);
}

}  // namespace

ConfigEnvironment DefaultConfigEnvironment() {
  ConfigEnvironment env;
  env.read_file = ReadRealFile;
  env.hostname = RealHostname;
  return env;
}

Result<Config> LoadConfigString(const std::string& yaml_text, const std::string& name,
                                const ConfigEnvironment& env) {
  if (yaml_text.size() > kMaxConfigFileBytes) {
    return Status::InvalidArgument(name + ":1: the config is larger than " +
                                   std::to_string(kMaxConfigFileBytes) +
                                   " bytes; is this the right file?");
  }
  return Loader(name, env).Load(yaml_text);
}

Result<Config> LoadConfigString(const std::string& yaml_text, const std::string& name) {
  return LoadConfigString(yaml_text, name, DefaultConfigEnvironment());
}

Result<Config> LoadConfigFile(const std::string& path, const ConfigEnvironment& env) {
  Result<std::string> text =
      env.read_file ? env.read_file(path, kMaxConfigFileBytes) : Status::Internal("no file reader");
  if (!text.ok()) {
    return Status(text.status().code(),
                  path + ":1: cannot read the config file: " + text.status().message() +
                      "; check the path given with --config");
  }
  return LoadConfigString(*text, path, env);
}

Result<Config> LoadConfigFile(const std::string& path) {
  return LoadConfigFile(path, DefaultConfigEnvironment());
}

}  // namespace apimeter
