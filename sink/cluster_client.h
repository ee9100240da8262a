// ClusterClient: Redis Cluster on top of per-node RedisClient connections
// (hiredis has no cluster support). docs/redis-schema.md, "Redis Cluster".
//
// Promise:
// - Topology comes from CLUSTER SLOTS (asked of known nodes, then the seeds)
//   at Connect, after MOVED, and after a node fails; masters only.
// - Each command is routed by the slot of its first key (CommandSlot: a
//   small table of the commands apimeter sends; EVAL/EVALSHA: the first key
//   after numkeys; keyless commands go to any master).
// - Pipeline sends one pipeline per node per round and returns the replies
//   in the order of the commands. A MULTI .. EXEC block in a pipeline is
//   routed whole by the slot of its keys (which must be one slot), so a
//   group read atomically works as on one server. MOVED updates the slot
//   and retries on the new owner; ASK retries once on the target behind
//   ASKING (a block: ASKING before its MULTI); TRYAGAIN,
//   CLUSTERDOWN, LOADING, MASTERDOWN and connection failures are retried with
//   doubling backoff until `max_wait` of sleeping is spent, then kUnavailable.
//   Because a command may be resent after an I/O error, Pipeline is for
//   reads and for idempotent or dedupe-guarded writes only; transactions go
//   through NodeForSlot and handle their own outcome.
// - Memory: one connection per master; the slot table is 16384 entries.
// Not thread-safe (like RedisClient): one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sink/redis_client.h"

namespace apimeter {

struct ClusterOptions {
  std::vector<std::string> seeds;  // "host:port"
  RedisEndpoint node;              // timeouts and credentials for every node (host/port replaced)
  std::chrono::milliseconds max_wait{20000};  // backoff budget of one call
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{1000};
  // WAIT for a replica (PipelineDurable and the flush's commit); capped at
  // half of node.command_timeout so that WAIT answers before the socket
  // read times out.
  std::chrono::milliseconds wait_timeout{2000};
  int max_redirect_rounds = 16;  // rounds that only followed redirects
};

struct SlotRange {
  int start = 0, end = 0;  // inclusive
  std::string host;
  int port = 0;
  int replicas = 0;
};

// Parses a CLUSTER SLOTS reply. An empty host (the node that answered) is
// replaced by `asked_host`.
Result<std::vector<SlotRange>> ParseClusterSlots(const RedisReply& reply,
                                                 const std::string& asked_host);

struct ClusterRedirect {
  bool ask = false;  // false: MOVED
  int slot = 0;
  std::string host;
  int port = 0;
};
// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381"; nullopt otherwise.
std::optional<ClusterRedirect> ParseRedirect(std::string_view error);

// Errors after which the same command may succeed later on the same slot.
bool IsTransientClusterError(std::string_view error);

// The slot of the command's first key, or -1 for a keyless command.
int CommandSlot(const RedisArgs& args);

// Splits "host:port" (port 1..65535).
bool SplitHostPort(std::string_view text, std::string* host, int* port);

class ClusterClient final : public RedisCommands {
 public:
  using SleepFn = std::function<void(std::chrono::milliseconds)>;

  struct Stats {
    uint64_t moved = 0;         // MOVED redirects followed
    uint64_t ask = 0;           // ASK redirects followed
    uint64_t refreshes = 0;     // successful CLUSTER SLOTS reloads
    uint64_t retries = 0;       // backoff sleeps (node down, TRYAGAIN, CLUSTERDOWN, ...)
    uint64_t unreplicated = 0;  // WAITs that timed out before a replica acknowledged
  };

  // Sleeps with the calling thread unless `sleep` is given (tests).
  explicit ClusterClient(ClusterOptions options, SleepFn sleep = {});
  ~ClusterClient() override;

  // Loads the topology (CLUSTER SLOTS).
  Status Connect() override;
  Result<RedisReply> Command(const RedisArgs& args) override;
  Result<std::vector<RedisReply>> Pipeline(const std::vector<RedisArgs>& commands) override;
  uint64_t commands_sent() const override { return commands_sent_; }
  ClusterClient* AsCluster() override { return this; }

  // Pipeline, then on every master written a WAIT for one replica (when the
  // slot has replicas), so an acknowledged write survives a failover.
  Result<std::vector<RedisReply>> PipelineDurable(const std::vector<RedisArgs>& commands);

  // The connection to the master that owns `slot` (topology loaded if needed).
  Result<RedisClient*> NodeForSlot(int slot);
  // Replicas the topology lists for the master of `slot`.
  int ReplicasOfSlot(int slot) const;
  // Reacts to an error reply seen on a direct node connection: MOVED updates
  // the slot table. Returns true if the command may succeed when retried.
  bool NoteRetriable(const RedisReply& reply);

  // A bounded doubling backoff for one operation (options' max_wait).
  class Backoff {
   public:
    // Sleeps the next delay; false (without sleeping) once the budget is spent.
    bool Wait();

   private:
    friend class ClusterClient;
    explicit Backoff(ClusterClient* c) : client_(c), delay_(c->options_.initial_backoff) {}
    ClusterClient* client_;
    std::chrono::milliseconds delay_, slept_{0};
  };
  Backoff NewBackoff() { return Backoff(this); }

  Status RefreshTopology();
  // The replica counts can be stale both ways: a node may report a master's
  // replica only after gossip has reached it (a topology read at start shows
  // none), and a replica that died or stopped replicating is still listed
  // until the topology is read again (every WAIT then comes back short, and
  // no I/O error ever forces a reload). So while some slot has no known
  // replica, or after a WAIT came back short (NoteShortWait), reload the
  // topology, at most once a second. Writers call this before each flush.
  void RecheckReplicas();
  // A WAIT answered fewer replicas than asked, or an error: counts it
  // (stats().unreplicated), remembers why (last_short_wait) and makes the
  // next RecheckReplicas reload the topology.
  void NoteShortWait(const std::string& node, const RedisReply& wait);
  // "<node>: <what WAIT answered>" of the last short WAIT, for error messages.
  const std::string& last_short_wait() const { return last_short_wait_; }
  std::chrono::milliseconds wait_timeout() const { return options_.wait_timeout; }
  const Stats& stats() const { return stats_; }
  // "host:port" of the masters that own at least one slot.
  std::vector<std::string> Masters() const;
  // One command on the named node ("host:port", e.g. from Masters()), with
  // no routing and no redirects followed: for node-wide commands (SCAN).
  Result<RedisReply> CommandOnNode(const std::string& node, const RedisArgs& args);

 private:
  // A command, or a MULTI .. EXEC block, routed and resent as one.
  struct Unit {
    size_t first = 0, count = 1;  // commands[first, first + count)
    int slot = -1;                // -1: keyless
  };
  // What to do with a reply (the one redirect parser: MOVED updates the
  // slot table, ASK names the node for one retry).
  enum class ReplyAction { kDone, kMoved, kAsk, kLater };
  ReplyAction Follow(const RedisReply& reply, std::string* ask_node);
  // One round's outcome: units to send again, and why.
  struct Round {
    std::vector<size_t> next;
    bool refresh = false, wait = false, redirected = false;
    Status last = Status::Ok();
  };
  struct Sent {
    const std::string* node;
    const std::vector<size_t>* units;
    RedisClient* client;
    size_t count;  // replies to read
    int want_replicas;
  };

  // Run = SplitUnits, then rounds of Route, SendRound and Collect until every
  // unit has its replies (or the backoff budget is spent).
  Result<std::vector<RedisReply>> Run(const std::vector<RedisArgs>& commands, bool durable);
  // InvalidArgument for a MULTI without EXEC or whose keys span slots.
  static Result<std::vector<Unit>> SplitUnits(const std::vector<RedisArgs>& commands);
  // node ("host:port"; "" for an unserved slot) -> pending units for it.
  std::map<std::string, std::vector<size_t>> Route(
      const std::vector<Unit>& units, const std::vector<size_t>& pending,
      const std::map<size_t, std::string>& ask_target) const;
  // Writes each node's pipeline (ASKING before an asked unit, WAIT last when
  // durable and the node's slots have replicas), reading nothing.
  std::vector<Sent> SendRound(const std::vector<RedisArgs>& commands,
                              const std::vector<Unit>& units,
                              const std::map<std::string, std::vector<size_t>>& routed,
                              const std::map<size_t, std::string>& ask_target, bool durable,
                              Round* round);
  // Reads each node's replies into *out, or marks the unit for another round.
  void Collect(const std::vector<Unit>& units, const std::vector<Sent>& sent,
               std::map<size_t, std::string>* ask_target, std::vector<RedisReply>* out,
               Round* round);
  RedisClient* ClientFor(const std::string& node);
  int NodeIndex(const std::string& node);

  ClusterOptions options_;
  SleepFn sleep_;
  std::map<std::string, std::unique_ptr<RedisClient>> clients_;  // "host:port" -> connection
  std::vector<std::string> nodes_;                               // index -> "host:port"
  std::vector<int16_t> slot_node_;                               // slot -> index, -1 unknown
  std::vector<uint8_t> slot_replicas_;
  bool loaded_ = false;
  std::chrono::steady_clock::time_point replicas_checked_at_{};
  bool replicas_suspect_ = false;  // a WAIT came back short since the last reload
  std::string last_short_wait_;
  uint64_t commands_sent_ = 0;
  Stats stats_;
};

// A client for `node` alone, or (when `cluster` lists seeds) a ClusterClient
// over them with node's credentials and timeouts, retrying inside one call
// for at most the command timeout. Not connected yet.
std::unique_ptr<RedisCommands> NewRedisCommands(const RedisEndpoint& node,
                                                const std::vector<std::string>& cluster);

}  // namespace apimeter
