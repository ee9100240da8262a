// SummedTopN: the exact N names with the largest summed score over many
// sorted sets (the endpoint and customer indexes of every bucket in a range),
// reading as little of them as the data allows.
//
// The sets come in groups: a name appears only in the sets of one group (the
// index shards of docs/redis-schema.md). Scores are non-negative integers.
//
// Promise: the answer is exactly what summing every set in full gives: the
// `limit` largest sums, ties broken by name ascending, each with its exact
// sum. How (docs/redis-schema.md, "Top-N reads"):
//   1. Read the head of every set (ZREVRANGE 0 head-1 WITHSCORES). A name not
//      in a set's head scores at most that head's last score there (0 when
//      the head is the whole set). So a name seen nowhere sums to at most
//      max over groups of the sum of those thresholds: the unseen bound.
//   2. Names whose upper bound can still reach the top get their missing
//      scores exactly (ZMSCORE on the sets where they were not in the head).
//   3. If the limit-th exact sum is strictly above the unseen bound, no name
//      outside the candidates can enter the top: done. Otherwise steps 1-3
//      run again with longer heads (TopNHeadSizes), and if that does not
//      prove it either, or for large limits, every set is read in full, as
//      a plain sum would.
// Skewed (Zipf-like) traffic, the usual case, ends at the first step 3 with
// a few percent of the reads of a full sum; flat traffic costs two extra
// head reads.
// Errors: Redis trouble gives Unavailable; a reply that is not a sorted set
// with non-negative scores gives ParseError. Not thread-safe (one client).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "sink/redis_client.h"

namespace apimeter {

struct ScoredName {
  std::string name;
  uint64_t total = 0;
  bool operator==(const ScoredName&) const = default;
};

enum class TopNPath {
  kHeads,    // every set fit in its head: the heads are the whole sets
  kBounded,  // heads + exact scores of the candidates, proven by the bound
  kFull,     // every set read in full
};

struct TopNStats {
  TopNPath path = TopNPath::kFull;
  size_t commands = 0;    // Redis commands sent
  size_t candidates = 0;  // names whose missing scores were read (kBounded)
  size_t head_rounds = 0; // how many head sizes were tried
};

struct TopNOptions {
  // Above this limit every set is read in full (heads would be most of it).
  size_t max_bounded_limit = 250;
  // Pipelined commands per round trip.
  size_t chunk = 256;
};

// groups[g] are the keys of group g. limit >= 1; SIZE_MAX asks for every name.
// stats may be null.
Result<std::vector<ScoredName>> SummedTopN(RedisCommands* client,
                                           const std::vector<std::vector<std::string>>& groups,
                                           size_t limit, TopNStats* stats = nullptr,
                                           const TopNOptions& options = {});

// The head lengths tried in turn for a given limit: short first.
std::vector<size_t> TopNHeadSizes(size_t limit);

}  // namespace apimeter
