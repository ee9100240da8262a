// SummedTopN against a real redis-server: sorted sets written with ZADD, and
// every answer compared with the top-N of sums computed here from the same
// scores (ties by name). Each test also checks which path answered, so the
// bounded path is known to be exercised, not merely correct by falling back.
#include "query/top_n.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_redis.h"

namespace apimeter {
namespace {

using testing::TestRedis;

// scores[g][j][name]: the sorted set groups[g][j].
using Sets = std::vector<std::vector<std::map<std::string, uint64_t>>>;

class TopNTest : public ::testing::Test {
 protected:
  TopNTest() : client_(TestRedis::Get().endpoint()), prefix_(TestRedis::Get().UniquePrefix("topn")) {}
  void SetUp() override { ASSERT_TRUE(client_.Connect().ok()); }

  // Writes the sets and returns their keys, grouped like `sets`.
  std::vector<std::vector<std::string>> Write(const Sets& sets) {
    std::vector<std::vector<std::string>> keys(sets.size());
    std::vector<RedisArgs> commands;
    for (size_t g = 0; g < sets.size(); ++g) {
      for (size_t j = 0; j < sets[g].size(); ++j) {
        keys[g].push_back(prefix_ + ":" + std::to_string(++written_) + ":" + std::to_string(g));
        if (sets[g][j].empty()) continue;
        RedisArgs zadd{"ZADD", keys[g].back()};
        for (const auto& [name, score] : sets[g][j]) {
          zadd.push_back(std::to_string(score));
          zadd.push_back(name);
        }
        commands.push_back(std::move(zadd));
      }
    }
    if (!commands.empty()) {
      auto replies = client_.Pipeline(commands);
      EXPECT_TRUE(replies.ok());
    }
    return keys;
  }

  static std::vector<ScoredName> Truth(const Sets& sets, size_t limit) {
    std::map<std::string, uint64_t> sums;
    for (const auto& group : sets) {
      for (const auto& set : group) {
        for (const auto& [name, score] : set) sums[name] += score;
      }
    }
    std::vector<ScoredName> all;
    for (const auto& [name, total] : sums) all.push_back({name, total});
    std::stable_sort(all.begin(), all.end(),
                     [](const ScoredName& a, const ScoredName& b) { return a.total > b.total; });
    all.resize(std::min(all.size(), limit));
    return all;
  }

  std::vector<ScoredName> Top(const Sets& sets, size_t limit, TopNStats* stats,
                              const TopNOptions& options = {}) {
    auto r = SummedTopN(&client_, Write(sets), limit, stats, options);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<ScoredName>();
  }

  RedisClient client_;
  std::string prefix_;
  int written_ = 0;
};

// Zipf-like traffic: `names` names spread over `groups` groups by index,
// `sets_per_group` sets (buckets), weight 1/(rank+1)^s with noise per bucket.
Sets Zipf(size_t groups, size_t sets_per_group, size_t names, double s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> noise(0.5, 1.5);
  Sets sets(groups, std::vector<std::map<std::string, uint64_t>>(sets_per_group));
  for (size_t j = 0; j < sets_per_group; ++j) {
    for (size_t n = 0; n < names; ++n) {
      const double w = 100000.0 / std::pow(static_cast<double>(n + 1), s) * noise(rng);
      const auto score = static_cast<uint64_t>(w);
      if (score == 0) continue;
      sets[n % groups][j]["c" + std::to_string(n)] = score;
    }
  }
  return sets;
}

// Nearly flat traffic: 4 groups x 10 sets, `names` names per set, each
// scoring 90..110.
Sets Flat(size_t names) {
  Sets sets(4, std::vector<std::map<std::string, uint64_t>>(10));
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint64_t> score(90, 110);
  for (size_t g = 0; g < 4; ++g) {
    for (size_t j = 0; j < 10; ++j) {
      for (size_t n = 0; n < names; ++n) {
        sets[g][j]["g" + std::to_string(g) + "n" + std::to_string(n)] = score(rng);
      }
    }
  }
  return sets;
}

TEST_F(TopNTest, ZipfTrafficIsAnsweredFromTheHeadsAndIsExact) {
  const Sets sets = Zipf(8, 24, 3000, 1.1, 1);
  TopNStats stats;
  EXPECT_EQ(Top(sets, 20, &stats), Truth(sets, 20));
  EXPECT_EQ(stats.path, TopNPath::kBounded);
  EXPECT_EQ(stats.head_rounds, 1u);  // the short heads were enough
  // The heads (8 x 24 ZREVRANGE) and a few score reads, not 8 x 24 full sets.
  EXPECT_GE(stats.commands, 8u * 24u);
  EXPECT_LT(stats.commands, 2u * 8u * 24u);
}

TEST_F(TopNTest, SetsSmallerThanTheirHeadsAreReadOnce) {
  const Sets sets = Zipf(8, 24, 100, 1.1, 2);  // ~13 names per group < head
  TopNStats stats;
  EXPECT_EQ(Top(sets, 20, &stats), Truth(sets, 20));
  EXPECT_EQ(stats.path, TopNPath::kHeads);
  EXPECT_EQ(stats.commands, 8u * 24u);
}

TEST_F(TopNTest, ANameThatNeverReachesAHeadButWinsOnTheSumIsFound) {
  // Per set: `head` names score 100 each, a different crowd in every set;
  // "steady" scores 99 everywhere, just below every head. It wins overall
  // (24 x 99) though no head ever shows it.
  const size_t limit = 3, head = TopNHeadSizes(limit).back();
  Sets sets(1, std::vector<std::map<std::string, uint64_t>>(24));
  for (size_t j = 0; j < 24; ++j) {
    for (size_t n = 0; n < head; ++n) sets[0][j]["b" + std::to_string(j) + "_" + std::to_string(n)] = 100;
    sets[0][j]["steady"] = 99;
  }
  TopNStats stats;
  const std::vector<ScoredName> top = Top(sets, limit, &stats);
  EXPECT_EQ(top, Truth(sets, limit));
  ASSERT_FALSE(top.empty());
  EXPECT_EQ(top[0].name, "steady");
  EXPECT_EQ(stats.path, TopNPath::kFull);
}

TEST_F(TopNTest, FlatTrafficFallsBackToTheFullSumAndIsExact) {
  // 1,000 names per set with nearly equal scores: no head can bound the rest.
  const Sets sets = Flat(1000);
  TopNStats stats;
  EXPECT_EQ(Top(sets, 10, &stats), Truth(sets, 10));
  EXPECT_EQ(stats.path, TopNPath::kFull);
  EXPECT_EQ(stats.head_rounds, TopNHeadSizes(10).size());  // both head sizes were tried
}

TEST_F(TopNTest, ShortHeadsThatCannotProveItAreFollowedByLongerOnes) {
  // 200 names per set, nearly flat: the short heads (limit + 8) cannot
  // bound the rest, the long ones can.
  const Sets sets = Flat(200);
  TopNStats stats;
  EXPECT_EQ(Top(sets, 10, &stats), Truth(sets, 10));
  EXPECT_EQ(stats.path, TopNPath::kBounded);
  EXPECT_EQ(stats.head_rounds, 2u);
}

TEST_F(TopNTest, TiesAtTheCutAreBrokenByName) {
  // Many names with the same total: the cut falls inside the tie.
  Sets sets(2, std::vector<std::map<std::string, uint64_t>>(3));
  for (size_t n = 0; n < 150; ++n) {
    const std::string name = "t" + std::to_string(1000 - n);
    for (size_t j = 0; j < 3; ++j) sets[n % 2][j][name] = n < 5 ? 500 : 7;
  }
  for (size_t limit : {1, 5, 6, 12, 149, 150, 400}) {
    TopNStats stats;
    EXPECT_EQ(Top(sets, limit, &stats), Truth(sets, limit)) << "limit " << limit;
  }
}

TEST_F(TopNTest, RandomShapesAgreeWithTheFullSum) {
  std::mt19937 rng(7);
  int bounded = 0;
  for (int round = 0; round < 14; ++round) {
    const size_t groups = 1 + rng() % 8, per_group = 1 + rng() % 30, names = 1 + rng() % 1500;
    const double s = 0.3 + static_cast<double>(rng() % 15) / 10.0;
    const Sets sets = Zipf(groups, per_group, names, s, static_cast<uint32_t>(rng()));
    for (size_t limit : {1, 7, 20, 100}) {
      TopNStats stats;
      EXPECT_EQ(Top(sets, limit, &stats), Truth(sets, limit))
          << "round " << round << " limit " << limit;
      bounded += stats.path == TopNPath::kBounded ? 1 : 0;
    }
  }
  EXPECT_GT(bounded, 6);  // the bounded path was really taken, and agreed
}

TEST_F(TopNTest, LargeLimitsAndEmptySetsReadEverything) {
  const Sets sets = Zipf(3, 5, 500, 1.0, 4);
  TopNStats stats;
  EXPECT_EQ(Top(sets, 300, &stats), Truth(sets, 300));
  EXPECT_EQ(stats.path, TopNPath::kFull);
  EXPECT_EQ(Top(sets, SIZE_MAX, &stats).size(), Truth(sets, SIZE_MAX).size());

  const Sets empty(8, std::vector<std::map<std::string, uint64_t>>(4));
  EXPECT_TRUE(Top(empty, 20, &stats).empty());
  EXPECT_EQ(stats.path, TopNPath::kHeads);
}

TEST_F(TopNTest, AKeyThatIsNotASortedSetIsAParseError) {
  const std::string key = prefix_ + ":string";
  ASSERT_TRUE(client_.Command({"SET", key, "x"}).ok());
  auto r = SummedTopN(&client_, {{key}}, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kParseError) << r.status().ToString();
  EXPECT_NE(r.status().message().find(key), std::string::npos);
}

TEST_F(TopNTest, LostRedisIsUnavailable) {
  RedisEndpoint nowhere;
  nowhere.host = "127.0.0.1";
  nowhere.port = 1;  // nothing listens there
  RedisClient down(nowhere);
  auto r = SummedTopN(&down, {{"k"}}, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace apimeter
