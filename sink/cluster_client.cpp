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

Result<RedisReply> ClusterClient::CommandOnNode(const std::string& node, const RedisArgs& args) {
  RedisClient* c = ClientFor(node);
  if (c == nullptr) return Status::InvalidArgument(node + ": not host:port");
  ++commands_sent_;
  auto r = c->Command(args);
  if (!r.ok()) return r.status().WithContext(node);
  return r;
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

ClusterClient::ReplyAction ClusterClient::Follow(const RedisReply& reply, std::string* ask_node) {
  if (!reply.is_error()) return ReplyAction::kDone;
  if (auto r = ParseRedirect(reply.str)) {
    const std::string node = r->host + ":" + std::to_string(r->port);
    if (r->ask) {
      ++stats_.ask;
      if (ask_node != nullptr) *ask_node = node;
      return ReplyAction::kAsk;
    }
    ++stats_.moved;
    slot_node_[r->slot] = static_cast<int16_t>(NodeIndex(node));
    return ReplyAction::kMoved;
  }
  return IsTransientClusterError(reply.str) ? ReplyAction::kLater : ReplyAction::kDone;
}

bool ClusterClient::NoteRetriable(const RedisReply& reply) {
  return Follow(reply, nullptr) != ReplyAction::kDone;
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

Result<std::vector<ClusterClient::Unit>> ClusterClient::SplitUnits(
    const std::vector<RedisArgs>& commands) {
  std::vector<Unit> units;
  for (size_t i = 0; i < commands.size();) {
    Unit u{i, 1, CommandSlot(commands[i])};
    if (!commands[i].empty() && Upper(commands[i][0]) == "MULTI") {
      // MULTI .. EXEC is one unit: sent whole to one node, and sent again
      // whole after a redirect (EXEC then answered EXECABORT: nothing ran).
      size_t end = i + 1;
      while (end < commands.size() &&
             (commands[end].empty() || Upper(commands[end][0]) != "EXEC")) {
        ++end;
      }
      if (end == commands.size()) {
        return Status::InvalidArgument("Redis Cluster: MULTI without EXEC in a pipeline");
      }
      u.count = end - i + 1;
      for (size_t k = i + 1; k < end; ++k) {
        const int slot = CommandSlot(commands[k]);
        if (slot < 0) continue;
        if (u.slot >= 0 && slot != u.slot) {
          return Status::InvalidArgument(
              "Redis Cluster: a MULTI/EXEC block touches keys of slots " +
              std::to_string(u.slot) + " and " + std::to_string(slot) + " (" + commands[k][0] +
              " " + commands[k][1] + "); a transaction must stay in one slot");
        }
        u.slot = slot;
      }
    }
    units.push_back(u);
    i += u.count;
  }
  return units;
}

std::map<std::string, std::vector<size_t>> ClusterClient::Route(
    const std::vector<Unit>& units, const std::vector<size_t>& pending,
    const std::map<size_t, std::string>& ask_target) const {
  std::map<std::string, std::vector<size_t>> groups;  // node -> units for it this round
  for (size_t u : pending) {
    auto a = ask_target.find(u);
    if (a != ask_target.end()) {
      groups[a->second].push_back(u);
      continue;
    }
    int slot = units[u].slot;
    if (slot < 0) {
      // Keyless: any master that serves slots.
      slot = static_cast<int>(
          std::find_if(slot_node_.begin(), slot_node_.end(), [](int16_t n) { return n >= 0; }) -
          slot_node_.begin());
      if (slot >= kClusterSlots) slot = 0;
    }
    const int idx = slot_node_[slot];
    groups[idx < 0 ? std::string() : nodes_[idx]].push_back(u);  // "": unserved, wait
  }
  return groups;
}

std::vector<ClusterClient::Sent> ClusterClient::SendRound(
    const std::vector<RedisArgs>& commands, const std::vector<Unit>& units,
    const std::map<std::string, std::vector<size_t>>& routed,
    const std::map<size_t, std::string>& ask_target, bool durable, Round* round) {
  std::vector<Sent> sent;
  for (const auto& [node, us] : routed) {
    RedisClient* c = node.empty() ? nullptr : ClientFor(node);
    if (c == nullptr) {
      round->next.insert(round->next.end(), us.begin(), us.end());
      round->last = Status::Unavailable("Redis Cluster: some slots have no master");
      round->refresh = round->wait = true;
      continue;
    }
    std::vector<RedisArgs> batch;
    batch.reserve(us.size() + 2);
    int want_replicas = 0;
    for (size_t u : us) {
      if (ask_target.count(u) != 0) batch.push_back({"ASKING"});
      batch.insert(batch.end(), commands.begin() + units[u].first,
                   commands.begin() + units[u].first + units[u].count);
      if (durable && units[u].slot >= 0) {
        want_replicas = std::max(want_replicas, std::min(1, ReplicasOfSlot(units[u].slot)));
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
      round->last = st;
      round->next.insert(round->next.end(), us.begin(), us.end());
      round->refresh = round->wait = true;
      continue;
    }
    sent.push_back({&node, &us, c, batch.size(), want_replicas});
  }
  return sent;
}

void ClusterClient::Collect(const std::vector<Unit>& units, const std::vector<Sent>& sent,
                            std::map<size_t, std::string>* ask_target,
                            std::vector<RedisReply>* out, Round* round) {
  for (const Sent& g : sent) {
    auto replies = g.client->Receive(g.count);
    if (!replies.ok()) {
      spdlog::warn("Redis Cluster node {}: {}; reloading the topology", *g.node,
                   replies.status().message());
      round->last = replies.status();
      round->next.insert(round->next.end(), g.units->begin(), g.units->end());
      round->refresh = round->wait = true;
      continue;
    }
    size_t k = 0;
    for (size_t u : *g.units) {
      if (ask_target->erase(u) != 0) ++k;  // the ASKING reply
      const Unit& unit = units[u];
      // The first reply of the unit that asks to go elsewhere or later
      // decides for the whole unit (a transaction refused while queuing or
      // at EXEC ran nothing).
      ReplyAction action = ReplyAction::kDone;
      std::string ask_node, why;
      for (size_t i = 0; i < unit.count && action == ReplyAction::kDone; ++i) {
        action = Follow((*replies)[k + i], &ask_node);
        if (action != ReplyAction::kDone) why = (*replies)[k + i].str;
      }
      switch (action) {
        case ReplyAction::kDone:
          for (size_t i = 0; i < unit.count; ++i) {
            (*out)[unit.first + i] = std::move((*replies)[k + i]);
          }
          break;
        case ReplyAction::kAsk:
          (*ask_target)[u] = ask_node;
          round->redirected = true;
          round->next.push_back(u);
          break;
        case ReplyAction::kMoved:
          round->refresh = round->redirected = true;
          round->next.push_back(u);
          break;
        case ReplyAction::kLater:
          round->last = Status::Unavailable("Redis Cluster: " + why);
          round->wait = true;
          round->next.push_back(u);
          break;
      }
      k += unit.count;
    }
    if (g.want_replicas > 0) {
      const RedisReply& w = replies->back();
      if (w.is_error() || w.type != RedisReply::Type::kInteger || w.integer < g.want_replicas) {
        NoteShortWait(*g.node, w);
      }
    }
  }
}

Result<std::vector<RedisReply>> ClusterClient::Run(const std::vector<RedisArgs>& commands,
                                                   bool durable) {
  APIMETER_ASSIGN_OR_RETURN(const std::vector<Unit> units, SplitUnits(commands));
  std::vector<RedisReply> out(commands.size());
  std::vector<size_t> pending(units.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  std::map<size_t, std::string> ask_target;  // unit -> node named by ASK
  Backoff backoff = NewBackoff();
  Status last = Status::Ok();
  int redirect_rounds = 0;
  while (!pending.empty()) {
    if (!loaded_) {
      if (Status st = RefreshTopology(); !st.ok()) {
        last = st;
        if (!backoff.Wait()) return last;
        continue;
      }
    }
    Round round;
    round.last = last;
    const auto routed = Route(units, pending, ask_target);
    // Every node's pipeline is written before any is read: the masters
    // work on their parts at the same time.
    const std::vector<Sent> sent = SendRound(commands, units, routed, ask_target, durable, &round);
    Collect(units, sent, &ask_target, &out, &round);
    last = round.last;
    pending = std::move(round.next);
    if (pending.empty()) break;
    if (round.refresh) {
      if (Status st = RefreshTopology(); !st.ok()) {
        last = st;
        round.wait = true;
      }
    }
    if (round.wait) {
      if (!backoff.Wait()) {
        return last.WithContext("Redis Cluster: gave up after " +
                                std::to_string(options_.max_wait.count()) + " ms of retries");
      }
    } else if (round.redirected && ++redirect_rounds > options_.max_redirect_rounds) {
      return Status::Unavailable("Redis Cluster: too many redirects (slots keep moving)");
    }
  }
  return out;
}

std::unique_ptr<RedisCommands> NewRedisCommands(const RedisEndpoint& node,
                                                const std::vector<std::string>& cluster) {
  if (cluster.empty()) return std::make_unique<RedisClient>(node);
  ClusterOptions co;
  co.node = node;
  co.seeds = cluster;
  // Seeds may be redis:// URLs with the nodes' credentials (checked when the
  // config loaded; a bad one is left as it is and fails to connect).
  if (auto seeds = ParseClusterSeeds(cluster); seeds.ok()) {
    co.seeds = seeds->nodes;
    if (!seeds->password.empty()) {
      co.node.username = seeds->username;
      co.node.password = seeds->password;
    }
  }
  // Retries inside one call stay short: callers have their own backoff
  // (which does not block their loop) for longer outages.
  co.max_wait = node.command_timeout;
  return std::make_unique<ClusterClient>(std::move(co));
}

}  // namespace apimeter
