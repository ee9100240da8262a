#include "sink/cluster_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <thread>

#include "sink/crc16.h"

namespace apimeter {
namespace {

bool ToInt(std::string_view s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Commands apimeter sends that have no key.
constexpr std::array<std::string_view, 13> kKeyless = {
    "PING",    "TIME",   "INFO", "DBSIZE", "CLUSTER",  "MULTI", "EXEC",
    "UNWATCH", "ASKING", "WAIT", "SCRIPT", "FLUSHALL", "CONFIG"};

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

}  // namespace

bool SplitHostPort(std::string_view text, std::string* host, int* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (!ToInt(text.substr(colon + 1), port) || *port < 1 || *port > 65535) return false;
  *host = std::string(text.substr(0, colon));
  return true;
}

Result<std::vector<SlotRange>> ParseClusterSlots(const RedisReply& reply,
                                                 const std::string& asked_host) {
  if (reply.is_error()) return Status::Unavailable("CLUSTER SLOTS: " + reply.str);
  if (reply.type != RedisReply::Type::kArray) {
    return Status::ParseError("CLUSTER SLOTS: expected an array");
  }
  std::vector<SlotRange> out;
  for (const RedisReply& r : reply.elements) {
    if (r.type != RedisReply::Type::kArray || r.elements.size() < 3 ||
        r.elements[0].type != RedisReply::Type::kInteger ||
        r.elements[1].type != RedisReply::Type::kInteger ||
        r.elements[2].type != RedisReply::Type::kArray || r.elements[2].elements.size() < 2) {
      return Status::ParseError("CLUSTER SLOTS: malformed slot range");
    }
    SlotRange s;
    s.start = static_cast<int>(r.elements[0].integer);
    s.end = static_cast<int>(r.elements[1].integer);
    const RedisReply& master = r.elements[2];
    s.host = master.elements[0].str;
    if (s.host.empty() || s.host == "?") s.host = asked_host;
    s.port = static_cast<int>(master.elements[1].integer);
    s.replicas = static_cast<int>(r.elements.size()) - 3;
    if (s.start < 0 || s.end >= kClusterSlots || s.start > s.end || s.port <= 0) {
      return Status::ParseError("CLUSTER SLOTS: slot range or port out of bounds");
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<ClusterRedirect> ParseRedirect(std::string_view error) {
  ClusterRedirect r;
  if (StartsWith(error, "MOVED ")) {
    error.remove_prefix(6);
  } else if (StartsWith(error, "ASK ")) {
    r.ask = true;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const size_t space = error.find(' ');
  if (space == std::string_view::npos || !ToInt(error.substr(0, space), &r.slot) || r.slot < 0 ||
      r.slot >= kClusterSlots || !SplitHostPort(error.substr(space + 1), &r.host, &r.port)) {
    return std::nullopt;
  }
  return r;
}

bool IsTransientClusterError(std::string_view error) {
  return StartsWith(error, "TRYAGAIN") || StartsWith(error, "CLUSTERDOWN") ||
         StartsWith(error, "LOADING") || StartsWith(error, "MASTERDOWN");
}

int CommandSlot(const RedisArgs& args) {
  if (args.empty()) return -1;
  const std::string name = Upper(args[0]);
  if (std::find(kKeyless.begin(), kKeyless.end(), name) != kKeyless.end()) return -1;
  if (name == "EVAL" || name == "EVALSHA") {
    int numkeys = 0;
    if (args.size() < 4 || !ToInt(args[2], &numkeys) || numkeys < 1) return -1;
    return HashSlot(args[3]);
  }
  return args.size() > 1 ? HashSlot(args[1]) : -1;
}

ClusterClient::ClusterClient(ClusterOptions options, SleepFn sleep)
    : options_(std::move(options)),
      sleep_(std::move(sleep)),
      slot_node_(kClusterSlots, -1),
      slot_replicas_(kClusterSlots, 0) {
  if (!sleep_) sleep_ = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  options_.wait_timeout =
      std::max(std::chrono::milliseconds(1),
               std::min(options_.wait_timeout, options_.node.command_timeout / 2));
}

ClusterClient::~ClusterClient() = default;

bool ClusterClient::Backoff::Wait() {
  const auto& o = client_->options_;
  if (slept_ + delay_ > o.max_wait) return false;
  client_->sleep_(delay_);
  ++client_->stats_.retries;
  slept_ += delay_;
  delay_ = std::min(delay_ * 2, o.max_backoff);
  return true;
}

int ClusterClient::NodeIndex(const std::string& node) {
  auto it = std::find(nodes_.begin(), nodes_.end(), node);
  if (it != nodes_.end()) return static_cast<int>(it - nodes_.begin());
  nodes_.push_back(node);
  return static_cast<int>(nodes_.size()) - 1;
}

RedisClient* ClusterClient::ClientFor(const std::string& node) {
  auto& c = clients_[node];
  if (!c) {
    RedisEndpoint ep = options_.node;
    ep.unix_socket.clear();
    ep.db = 0;  // Redis Cluster has only database 0
    if (!SplitHostPort(node, &ep.host, &ep.port)) return nullptr;
    c = std::make_unique<RedisClient>(ep);
  }
  return c.get();
}

Status ClusterClient::RefreshTopology() {
  // Nodes that owned slots first (they know the newest map), then the seeds.
  std::vector<std::string> candidates;
  for (const std::string& n : Masters()) candidates.push_back(n);
  for (const std::string& s : options_.seeds) {
    if (std::find(candidates.begin(), candidates.end(), s) == candidates.end()) {
      candidates.push_back(s);
    }
  }
  std::string last = "no seed nodes configured";
  for (const std::string& node : candidates) {
    RedisClient* c = ClientFor(node);
    if (c == nullptr) {
      last = node + ": not host:port";
      continue;
    }
    auto r = c->Command({"CLUSTER", "SLOTS"});
    ++commands_sent_;
    if (!r.ok()) {
      last = node + ": " + r.status().message();
      continue;
    }
    auto ranges = ParseClusterSlots(*r, c->endpoint().host);
    if (!ranges.ok() || ranges->empty()) {
      last = node + ": " + (ranges.ok() ? "no slots assigned" : ranges.status().message());
      continue;
    }
    std::fill(slot_node_.begin(), slot_node_.end(), -1);
    for (const SlotRange& s : *ranges) {
      const int idx = NodeIndex(s.host + ":" + std::to_string(s.port));
      for (int slot = s.start; slot <= s.end; ++slot) {
        slot_node_[slot] = static_cast<int16_t>(idx);
        slot_replicas_[slot] = static_cast<uint8_t>(std::min(s.replicas, 255));
      }
    }
    loaded_ = true;
    replicas_suspect_ = false;
    ++stats_.refreshes;
    return Status::Ok();
  }
  return Status::Unavailable("Redis Cluster: no node answered CLUSTER SLOTS (last: " + last + ")");
}

void ClusterClient::RecheckReplicas() {
  if (loaded_ && !replicas_suspect_ &&
      std::find(slot_replicas_.begin(), slot_replicas_.end(), 0) == slot_replicas_.end()) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - replicas_checked_at_ < std::chrono::seconds(1)) return;
  replicas_checked_at_ = now;
  if (Status st = RefreshTopology(); !st.ok()) {
    spdlog::warn("Redis Cluster: topology reload failed: {}", st.message());
  }
}

void ClusterClient::NoteShortWait(const std::string& node, const RedisReply& wait) {
  ++stats_.unreplicated;
  replicas_suspect_ = true;
  if (wait.is_error()) {
    last_short_wait_ = node + ": WAIT failed: " + wait.str;
  } else if (wait.type != RedisReply::Type::kInteger) {
    last_short_wait_ = node + ": WAIT gave an unexpected reply";
  } else {
    last_short_wait_ = node + ": no replica acknowledged the writes within " +
                       std::to_string(options_.wait_timeout.count()) + " ms";
  }
  spdlog::warn("Redis Cluster node {}; the topology is read again before the next flush",
               last_short_wait_);
}

std::vector<std::string> ClusterClient::Masters() const {
  std::vector<bool> used(nodes_.size(), false);
  for (int16_t i : slot_node_) {
    if (i >= 0) used[i] = true;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (used[i]) out.push_back(nodes_[i]);
  }
  return out;
}

Status ClusterClient::Connect() { return RefreshTopology(); }

Result<RedisClient*> ClusterClient::NodeForSlot(int slot) {
  if (!loaded_) APIMETER_RETURN_IF_ERROR(RefreshTopology());
  const int idx = slot_node_[slot];
  if (idx < 0)
    return Status::Unavailable("Redis Cluster: slot " + std::to_string(slot) +
                               " is not served by any node");
  RedisClient* c = ClientFor(nodes_[idx]);
  if (c == nullptr) return Status::Internal("Redis Cluster: bad node address " + nodes_[idx]);
  return c;
}

int ClusterClient::ReplicasOfSlot(int slot) const { return slot_replicas_[slot]; }

bool ClusterClient::NoteRetriable(const RedisReply& reply) {
  if (!reply.is_error()) return false;
  if (auto r = ParseRedirect(reply.str)) {
    if (r->ask) {
      ++stats_.ask;
    } else {
      ++stats_.moved;
      slot_node_[r->slot] =
          static_cast<int16_t>(NodeIndex(r->host + ":" + std::to_string(r->port)));
    }
    return true;
  }
  return IsTransientClusterError(reply.str);
}

Result<RedisReply> ClusterClient::Command(const RedisArgs& args) {
  auto r = Pipeline({args});
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

Result<std::vector<RedisReply>> ClusterClient::Pipeline(const std::vector<RedisArgs>& commands) {
  return Run(commands, /*durable=*/false);
}

Result<std::vector<RedisReply>> ClusterClient::PipelineDurable(
    const std::vector<RedisArgs>& commands) {
  return Run(commands, /*durable=*/true);
}

Result<std::vector<RedisReply>> ClusterClient::Run(const std::vector<RedisArgs>& commands,
                                                   bool durable) {
  std::vector<RedisReply> out(commands.size());
  std::vector<size_t> pending(commands.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  std::map<size_t, std::string> ask_target;  // command -> node named by ASK
  Backoff backoff = NewBackoff();
  Status last = Status::Ok();
  int redirect_rounds = 0;
  while (!pending.empty()) {
    bool refresh = !loaded_, wait = false;
    if (refresh) {
      Status st = RefreshTopology();
      if (!st.ok()) {
        last = st;
        if (!backoff.Wait()) return last;
        continue;
      }
      refresh = false;
    }
    // node -> commands for it this round
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i : pending) {
      auto a = ask_target.find(i);
      if (a != ask_target.end()) {
        groups[a->second].push_back(i);
        continue;
      }
      int slot = CommandSlot(commands[i]);
      if (slot < 0) {
        // Keyless: any master that serves slots.
        slot = static_cast<int>(
            std::find_if(slot_node_.begin(), slot_node_.end(), [](int16_t n) { return n >= 0; }) -
            slot_node_.begin());
        if (slot >= kClusterSlots) slot = 0;
      }
      const int idx = slot_node_[slot];
      if (idx < 0) {
        groups[""].push_back(i);  // unserved slot: wait for the cluster to heal
      } else {
        groups[nodes_[idx]].push_back(i);
      }
    }
    std::vector<size_t> next;
    bool redirected = false;
    // Phase 1 writes every node's pipeline, phase 2 reads them: the masters
    // work on their parts at the same time.
    struct Sent {
      const std::string* node;
      const std::vector<size_t>* idxs;
      RedisClient* client;
      size_t count;
      int want_replicas;
    };
    std::vector<Sent> sent;
    for (auto& [node, idxs] : groups) {
      RedisClient* c = node.empty() ? nullptr : ClientFor(node);
      if (c == nullptr) {
        next.insert(next.end(), idxs.begin(), idxs.end());
        last = Status::Unavailable("Redis Cluster: some slots have no master");
        refresh = wait = true;
        continue;
      }
      std::vector<RedisArgs> batch;
      batch.reserve(idxs.size() + 2);
      int want_replicas = 0;
      for (size_t i : idxs) {
        if (ask_target.count(i) != 0) batch.push_back({"ASKING"});
        batch.push_back(commands[i]);
        const int slot = CommandSlot(commands[i]);
        if (durable && slot >= 0) {
          want_replicas = std::max(want_replicas, std::min(1, ReplicasOfSlot(slot)));
        }
      }
      if (want_replicas > 0) {
        batch.push_back(
            {"WAIT", std::to_string(want_replicas), std::to_string(options_.wait_timeout.count())});
      }
      Status st = c->Send(batch);
      commands_sent_ += batch.size();
      if (!st.ok()) {
        spdlog::warn("Redis Cluster node {}: {}; reloading the topology", node, st.message());
        last = st;
        next.insert(next.end(), idxs.begin(), idxs.end());
        refresh = wait = true;
        continue;
      }
      sent.push_back({&node, &idxs, c, batch.size(), want_replicas});
    }
    for (const Sent& g : sent) {
      auto replies = g.client->Receive(g.count);
      if (!replies.ok()) {
        spdlog::warn("Redis Cluster node {}: {}; reloading the topology", *g.node,
                     replies.status().message());
        last = replies.status();
        next.insert(next.end(), g.idxs->begin(), g.idxs->end());
        refresh = wait = true;
        continue;
      }
      size_t k = 0;
      for (size_t i : *g.idxs) {
        const bool asked = ask_target.erase(i) != 0;
        if (asked) ++k;  // the ASKING reply
        RedisReply& r = (*replies)[k++];
        if (r.is_error()) {
          if (auto red = ParseRedirect(r.str)) {
            if (red->ask) {
              ++stats_.ask;
              ask_target[i] = red->host + ":" + std::to_string(red->port);
            } else {
              ++stats_.moved;
              slot_node_[red->slot] =
                  static_cast<int16_t>(NodeIndex(red->host + ":" + std::to_string(red->port)));
              refresh = true;
            }
            redirected = true;
            next.push_back(i);
            continue;
          }
          if (IsTransientClusterError(r.str)) {
            last = Status::Unavailable("Redis Cluster: " + r.str);
            wait = true;
            next.push_back(i);
            continue;
          }
        }
        out[i] = std::move(r);
      }
      if (g.want_replicas > 0) {
        const RedisReply& w = replies->back();
        if (w.is_error() || w.type != RedisReply::Type::kInteger || w.integer < g.want_replicas) {
          NoteShortWait(*g.node, w);
        }
      }
    }
    pending = std::move(next);
    if (pending.empty()) break;
    if (refresh) {
      Status st = RefreshTopology();
      if (!st.ok()) {
        last = st;
        wait = true;
      }
    }
    if (wait) {
      if (!backoff.Wait()) {
        return last.WithContext("Redis Cluster: gave up after " +
                                std::to_string(options_.max_wait.count()) + " ms of retries");
      }
    } else if (redirected && ++redirect_rounds > options_.max_redirect_rounds) {
      return Status::Unavailable("Redis Cluster: too many redirects (slots keep moving)");
    }
  }
  return out;
}

std::unique_ptr<RedisCommands> NewRedisCommands(const RedisEndpoint& node,
                                                const std::vector<std::string>& cluster) {
  if (cluster.empty()) return std::make_unique<RedisClient>(node);
  ClusterOptions co;
  co.seeds = cluster;
  co.node = node;
  // Retries inside one call stay short: callers have their own backoff
  // (which does not block their loop) for longer outages.
  co.max_wait = node.command_timeout;
  return std::make_unique<ClusterClient>(std::move(co));
}

}  // namespace apimeter
