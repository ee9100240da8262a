#include "query/top_n.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

#include "query/redis_reads.h"

namespace apimeter {
namespace {

using query_reads::ParseScore;
using query_reads::ReplyError;
using query_reads::RunChunked;

constexpr size_t kMaxMembersPerCommand = 128;

struct KeyRef {
  size_t group;
  size_t index;  // within the group
  const std::string& Name(const std::vector<std::vector<std::string>>& groups) const {
    return groups[group][index];
  }
};

// Calls add(name, score) for each member of a WITHSCORES reply.
template <typename Add>
Status ForEachScored(const RedisReply& reply, const RedisArgs& command, Add&& add) {
  if (reply.is_error()) return ReplyError(reply, command);
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() % 2 != 0) {
    return Status::ParseError("query: index " + command[1] + " is not a sorted set");
  }
  for (size_t k = 0; k + 1 < reply.elements.size(); k += 2) {
    double score = 0;
    if (!ParseScore(reply.elements[k + 1].str, &score) || score < 0) {
      return Status::ParseError("query: index " + command[1] + " has a bad score");
    }
    add(reply.elements[k].str, static_cast<uint64_t>(std::llround(score)));
  }
  return Status::Ok();
}

bool Before(const ScoredName& a, const ScoredName& b) {
  return a.total != b.total ? a.total > b.total : a.name < b.name;
}

std::vector<ScoredName> TakeTop(std::vector<ScoredName> all, size_t limit) {
  const size_t n = std::min(all.size(), limit);
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), Before);
  all.resize(n);
  return all;
}

std::vector<KeyRef> Flatten(const std::vector<std::vector<std::string>>& groups) {
  std::vector<KeyRef> keys;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t j = 0; j < groups[g].size(); ++j) keys.push_back({g, j});
  }
  return keys;
}

Result<std::vector<ScoredName>> FullSum(RedisCommands* client,
                                        const std::vector<std::vector<std::string>>& groups,
                                        size_t limit, size_t chunk, TopNStats* stats) {
  const std::vector<KeyRef> keys = Flatten(groups);
  auto make = [&](size_t i) -> RedisArgs {
    return {"ZRANGE", keys[i].Name(groups), "0", "-1", "WITHSCORES"};
  };
  std::unordered_map<std::string, uint64_t> sums;
  auto handle = [&](size_t i, const RedisReply& reply) {
    return ForEachScored(reply, make(i),
                         [&](const std::string& name, uint64_t score) { sums[name] += score; });
  };
  // Whole sets can hold thousands of names each: smaller round trips.
  APIMETER_RETURN_IF_ERROR(RunChunked(client, keys.size(), std::min<size_t>(chunk, 64), make, handle));
  stats->path = TopNPath::kFull;
  stats->commands += keys.size();
  std::vector<ScoredName> all;
  all.reserve(sums.size());
  for (auto& [name, total] : sums) all.push_back({name, total});
  return TakeTop(std::move(all), limit);
}

struct Candidate {
  std::string name;
  size_t group = 0;
  uint64_t sum = 0;                // scores read so far
  std::vector<bool> seen;          // per key of the group: score already in `sum`
};

}  // namespace

std::vector<size_t> TopNHeadSizes(size_t limit) { return {limit + 8, 4 * limit + 32}; }

namespace {

// Steps 1-3 with heads of `head` names: the answer, or nullopt when the
// bound does not prove it.
const std::optional<std::vector<ScoredName>> kUnproven;

Result<std::optional<std::vector<ScoredName>>> FromHeads(
    RedisCommands* client, const std::vector<std::vector<std::string>>& groups, size_t limit,
    size_t head, const TopNOptions& options, TopNStats* stats) {
  // Step 1: the head of every set.
  const std::vector<KeyRef> keys = Flatten(groups);
  std::vector<std::vector<uint64_t>> threshold(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) threshold[g].assign(groups[g].size(), 0);
  std::vector<Candidate> cands;
  std::unordered_map<std::string, size_t> index;
  bool mixed_groups = false, truncated = false;
  auto make_head = [&](size_t i) -> RedisArgs {
    return {"ZREVRANGE", keys[i].Name(groups), "0", std::to_string(head - 1), "WITHSCORES"};
  };
  auto handle_head = [&](size_t i, const RedisReply& reply) {
    const KeyRef& key = keys[i];
    size_t n = 0;
    uint64_t last = 0;
    Status st = ForEachScored(reply, make_head(i), [&](const std::string& name, uint64_t score) {
      auto [it, fresh] = index.try_emplace(name, cands.size());
      if (fresh) {
        cands.push_back({name, key.group, 0, std::vector<bool>(groups[key.group].size(), false)});
      }
      Candidate& c = cands[it->second];
      if (c.group != key.group) {
        mixed_groups = true;
        return;
      }
      c.sum += score;
      c.seen[key.index] = true;
      last = score;
      ++n;
    });
    if (st.ok() && n >= head) {
      threshold[key.group][key.index] = last;
      truncated = true;
    }
    return st;
  };
  APIMETER_RETURN_IF_ERROR(RunChunked(client, keys.size(), options.chunk, make_head, handle_head));
  stats->commands += keys.size();
  if (mixed_groups) return kUnproven;

  // A name seen in no head sums to at most the unseen bound.
  uint64_t unseen_bound = 0;
  for (const auto& t : threshold) {
    uint64_t s = 0;
    for (uint64_t v : t) s += v;
    unseen_bound = std::max(unseen_bound, s);
  }
  if (!truncated) {  // every head was its whole set
    stats->path = TopNPath::kHeads;
    std::vector<ScoredName> all;
    all.reserve(cands.size());
    for (Candidate& c : cands) all.push_back({std::move(c.name), c.sum});
    return std::optional(TakeTop(std::move(all), limit));
  }

  // Step 2: candidates whose upper bound reaches the limit-th largest lower
  // bound get their missing scores read.
  std::vector<uint64_t> upper(cands.size());
  std::vector<uint64_t> lower;
  lower.reserve(cands.size());
  for (size_t c = 0; c < cands.size(); ++c) {
    uint64_t missing = 0;
    for (size_t j = 0; j < cands[c].seen.size(); ++j) {
      if (!cands[c].seen[j]) missing += threshold[cands[c].group][j];
    }
    upper[c] = cands[c].sum + missing;
    lower.push_back(cands[c].sum);
  }
  if (cands.size() < limit) return kUnproven;
  std::nth_element(lower.begin(), lower.begin() + static_cast<std::ptrdiff_t>(limit - 1),
                   lower.end(), std::greater<>());
  const uint64_t floor = lower[limit - 1];
  std::vector<size_t> needed;
  for (size_t c = 0; c < cands.size(); ++c) {
    if (upper[c] >= floor) needed.push_back(c);
  }
  // The limit-th exact sum is at most the limit-th upper bound: if that
  // cannot beat the unseen bound, step 3 would fail, so read in full now.
  {
    std::vector<uint64_t> ub;
    ub.reserve(needed.size());
    for (size_t c : needed) ub.push_back(upper[c]);
    std::nth_element(ub.begin(), ub.begin() + static_cast<std::ptrdiff_t>(limit - 1), ub.end(),
                     std::greater<>());
    if (ub[limit - 1] <= unseen_bound) return kUnproven;
  }
  struct ScoreRead {
    KeyRef key;
    std::vector<size_t> cands;
  };
  std::vector<ScoreRead> reads;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t j = 0; j < groups[g].size(); ++j) {
      if (threshold[g][j] == 0) continue;  // nothing above 0 is missing there
      ScoreRead read{{g, j}, {}};
      for (size_t c : needed) {
        if (cands[c].group != g || cands[c].seen[j]) continue;
        read.cands.push_back(c);
        if (read.cands.size() == kMaxMembersPerCommand) {
          reads.push_back(std::move(read));
          read = ScoreRead{{g, j}, {}};
        }
      }
      if (!read.cands.empty()) reads.push_back(std::move(read));
    }
  }
  auto make_scores = [&](size_t i) -> RedisArgs {
    RedisArgs args{"ZMSCORE", reads[i].key.Name(groups)};
    for (size_t c : reads[i].cands) args.push_back(cands[c].name);
    return args;
  };
  auto handle_scores = [&](size_t i, const RedisReply& reply) -> Status {
    if (reply.is_error()) return ReplyError(reply, make_scores(i));
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() != reads[i].cands.size()) {
      return Status::ParseError("query: ZMSCORE " + reads[i].key.Name(groups) +
                                " did not return one score per member");
    }
    for (size_t k = 0; k < reply.elements.size(); ++k) {
      if (reply.elements[k].is_nil()) continue;
      double score = 0;
      if (!ParseScore(reply.elements[k].str, &score) || score < 0) {
        return Status::ParseError("query: index " + reads[i].key.Name(groups) +
                                  " has a bad score");
      }
      cands[reads[i].cands[k]].sum += static_cast<uint64_t>(std::llround(score));
    }
    return Status::Ok();
  };
  APIMETER_RETURN_IF_ERROR(
      RunChunked(client, reads.size(), options.chunk, make_scores, handle_scores));
  stats->commands += reads.size();
  stats->candidates = needed.size();

  // Step 3: exact sums of the candidates; proven if the limit-th beats every
  // name that was never seen.
  std::vector<ScoredName> exact;
  exact.reserve(needed.size());
  for (size_t c : needed) exact.push_back({cands[c].name, cands[c].sum});
  std::vector<ScoredName> top = TakeTop(std::move(exact), limit);
  if (top.size() < limit || top.back().total <= unseen_bound) return kUnproven;
  stats->path = TopNPath::kBounded;
  return std::optional(std::move(top));
}

}  // namespace

Result<std::vector<ScoredName>> SummedTopN(RedisCommands* client,
                                           const std::vector<std::vector<std::string>>& groups,
                                           size_t limit, TopNStats* stats,
                                           const TopNOptions& options) {
  TopNStats local;
  if (stats == nullptr) stats = &local;
  *stats = TopNStats{};
  if (limit == 0) return std::vector<ScoredName>();
  if (limit <= options.max_bounded_limit) {
    for (size_t head : TopNHeadSizes(limit)) {
      ++stats->head_rounds;
      APIMETER_ASSIGN_OR_RETURN(auto top, FromHeads(client, groups, limit, head, options, stats));
      if (top) return std::move(*top);
    }
  }
  return FullSum(client, groups, limit, options.chunk, stats);
}

}  // namespace apimeter
