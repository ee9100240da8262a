#include "query/range_plan.h"

#include <random>

#include <gtest/gtest.h>

#include "common/time_util.h"

namespace apimeter {
namespace {

constexpr int64_t kMin = 60, kHour = 3600, kDay = 86400;
// 2026-11-20T00:00:00Z, a Friday; D(n) is n days later.
const int64_t kDay0 = DaysFromCivil(2026, 11, 20) * kDay;
int64_t D(int64_t n) { return kDay0 + n * kDay; }
int64_t At(int64_t day, int h, int m = 0, int s = 0) { return D(day) + h * kHour + m * kMin + s; }

BucketRun Min(int64_t from_s, int64_t to_s) { return {Tier::kMinute, from_s / kMin, to_s / kMin}; }
BucketRun Hr(int64_t from_s, int64_t to_s) { return {Tier::kHour, from_s / kHour, to_s / kHour}; }
BucketRun Dy(int64_t from_s, int64_t to_s) { return {Tier::kDay, from_s / kDay, to_s / kDay}; }

// Now is the end of day 10, so every tier is retained for the days before
// day 9 only through the coarser tiers (minute retention 48h).
const RetentionSeconds kRetention;

TEST(FloorCeilDiv, NegativeAndPositive) {
  EXPECT_EQ(FloorDiv(7, 2), 3);
  EXPECT_EQ(FloorDiv(-7, 2), -4);
  EXPECT_EQ(FloorDiv(-8, 2), -4);
  EXPECT_EQ(CeilDiv(7, 2), 4);
  EXPECT_EQ(CeilDiv(-7, 2), -3);
  EXPECT_EQ(CeilDiv(8, 2), 4);
}

TEST(Decompose, WithinOneHourUsesMinutes) {
  EXPECT_EQ(Decompose(At(0, 10, 5), At(0, 10, 30)),
            (std::vector<BucketRun>{Min(At(0, 10, 5), At(0, 10, 30))}));
}

TEST(Decompose, WholeHoursInTheMiddle) {
  EXPECT_EQ(Decompose(At(0, 10, 5), At(0, 13, 30)),
            (std::vector<BucketRun>{Min(At(0, 10, 5), At(0, 11)), Hr(At(0, 11), At(0, 13)),
                                    Min(At(0, 13), At(0, 13, 30))}));
}

TEST(Decompose, AlignedHoursOnly) {
  EXPECT_EQ(Decompose(At(0, 10), At(0, 13)), (std::vector<BucketRun>{Hr(At(0, 10), At(0, 13))}));
}

TEST(Decompose, SpansDaysWithWholeDayInTheMiddle) {
  EXPECT_EQ(
      Decompose(At(0, 22, 30), At(2, 1, 15)),
      (std::vector<BucketRun>{Min(At(0, 22, 30), At(0, 23)), Hr(At(0, 23), D(1)), Dy(D(1), D(2)),
                              Hr(D(2), At(2, 1)), Min(At(2, 1), At(2, 1, 15))}));
}

TEST(Decompose, CrossesMidnightWithoutAWholeDayUsesHours) {
  EXPECT_EQ(Decompose(At(0, 20), At(1, 4)), (std::vector<BucketRun>{Hr(At(0, 20), At(1, 4))}));
}

TEST(Decompose, AlignedDays) {
  EXPECT_EQ(Decompose(D(0), D(3)), (std::vector<BucketRun>{Dy(D(0), D(3))}));
}

TEST(BucketRetained, ExpiresExactlyAtBucketEndPlusRetention) {
  const int64_t bucket = At(0, 10) / kMin;
  const int64_t expire_at = At(0, 10, 1) + kRetention.minute_s;
  EXPECT_TRUE(BucketRetained(Tier::kMinute, bucket, kRetention, expire_at - 1));
  EXPECT_FALSE(BucketRetained(Tier::kMinute, bucket, kRetention, expire_at));
}

TEST(PlanRange, WidensToWholeMinutes) {
  auto plan = PlanRange(At(5, 10, 5, 30), At(5, 10, 7, 1), kRetention, At(5, 12));
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->from_s, At(5, 10, 5));
  EXPECT_EQ(plan->to_s, At(5, 10, 8));
  EXPECT_TRUE(plan->Adjusted());
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Min(At(5, 10, 5), At(5, 10, 8))}));
  EXPECT_EQ(plan->BucketCount(), 3);
}

TEST(PlanRange, MinuteAlignedRangeIsNotAdjusted) {
  auto plan = PlanRange(At(5, 10, 5), At(5, 10, 8), kRetention, At(5, 12));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->Adjusted());
}

TEST(PlanRange, RecentRangeKeepsMinuteEdges) {
  auto plan = PlanRange(At(8, 22, 30), At(10, 1, 15), kRetention, At(10, 1, 15));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->runs, Decompose(At(8, 22, 30), At(10, 1, 15)));
}

TEST(PlanRange, ExpiredMinutesRoundBothEdgesOutwardToHours) {
  // Three days ago: the minute tier (48h) is gone, hours remain.
  auto plan = PlanRange(At(2, 10, 5), At(2, 14, 30), kRetention, At(5, 12));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->from_s, At(2, 10));
  EXPECT_EQ(plan->to_s, At(2, 15));
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Hr(At(2, 10), At(2, 15))}));
}

TEST(PlanRange, ExpiredMinutesInsideOneHour) {
  auto plan = PlanRange(At(2, 10, 5), At(2, 10, 30), kRetention, At(5, 12));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Hr(At(2, 10), At(2, 11))}));
}

TEST(PlanRange, OnlyTheOldEdgeIsRoundedWhenTheRecentEdgeIsRetained) {
  // From 3 days ago to 1 hour ago: the start needs hours, the end keeps minutes.
  auto plan = PlanRange(At(2, 10, 5), At(5, 11, 20), kRetention, At(5, 12));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->from_s, At(2, 10));
  EXPECT_EQ(plan->to_s, At(5, 11, 20));
  EXPECT_EQ(plan->runs,
            (std::vector<BucketRun>{Hr(At(2, 10), D(3)), Dy(D(3), D(5)), Hr(D(5), At(5, 11)),
                                    Min(At(5, 11), At(5, 11, 20))}));
}

TEST(PlanRange, MinuteEdgeJustInsideRetentionIsKept) {
  const int64_t now = At(5, 12);
  // The minute bucket starting at now - 48h ends 60 s later: still retained.
  const int64_t from = now - kRetention.minute_s;
  auto plan = PlanRange(from + 5 * kMin, now, kRetention, now);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->from_s, from + 5 * kMin);
  // One minute earlier the bucket [from - 60, from) has expired.
  auto older = PlanRange(from - 2 * kMin, now, kRetention, now);
  ASSERT_TRUE(older.ok());
  EXPECT_EQ(older->from_s, FloorDiv(from - 2 * kMin, kHour) * kHour);
}

TEST(PlanRange, ExpiredHoursRoundToDays) {
  // 40 days ago: hours (35 d) are gone too.
  const int64_t now = At(50, 12);
  auto plan = PlanRange(At(10, 10, 5), At(12, 14, 30), kRetention, now);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->from_s, D(10));
  EXPECT_EQ(plan->to_s, D(13));
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Dy(D(10), D(13))}));
}

TEST(PlanRange, StartOlderThanEveryTierIsClippedToTheOldestDay) {
  RetentionSeconds r{2 * kHour, 2 * kDay, 10 * kDay};
  const int64_t now = At(20, 12);
  auto plan = PlanRange(At(5, 3), At(12, 0), r, now);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  // Day 10 ends at D(11); D(11) + 10 d > now(day 20, 12:00) -> kept; day 9 ends D(10): gone.
  EXPECT_EQ(plan->from_s, D(10));
  EXPECT_EQ(plan->to_s, D(12));
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Dy(D(10), D(12))}));
}

TEST(PlanRange, RangeEndingBeforeRetentionIsAnError) {
  RetentionSeconds r{2 * kHour, 2 * kDay, 10 * kDay};
  auto plan = PlanRange(At(5, 3), At(6, 0), r, At(20, 12));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("oldest retained"), std::string::npos);
}

TEST(PlanRange, Validation) {
  auto empty = PlanRange(At(5, 3), At(5, 3), kRetention, At(5, 4));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "from must be before to");
  EXPECT_FALSE(PlanRange(At(5, 4), At(5, 3), kRetention, At(5, 4)).ok());
  auto too_long = PlanRange(D(0), D(401), kRetention, D(401));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("day retention"), std::string::npos);
  EXPECT_TRUE(PlanRange(D(0), D(400), kRetention, D(400)).ok());
  auto bad_retention = PlanRange(D(0), D(1), RetentionSeconds{kDay, kHour, 400 * kDay}, D(1));
  ASSERT_FALSE(bad_retention.ok());
  EXPECT_NE(bad_retention.status().message().find("retention"), std::string::npos);
}

// Property: for random ranges and clocks, the runs are contiguous, ascending,
// retained, cover [from_s, to_s) exactly, and that range contains the
// requested one (or starts at the oldest retained day).
TEST(PlanRange, RandomRangesAreCoveredExactlyByRetainedBuckets) {
  std::mt19937_64 rng(42);
  const int64_t now = At(100, 13, 27, 11);
  std::uniform_int_distribution<int64_t> start(now - 420 * kDay, now);
  std::uniform_int_distribution<int64_t> length(1, 60 * kDay);
  for (int i = 0; i < 20000; ++i) {
    const int64_t from = start(rng);
    int64_t len = length(rng);
    if (i % 3 == 0) len %= 4 * kHour;  // many short ranges too
    const int64_t to = from + std::max<int64_t>(len, 1);
    auto plan = PlanRange(from, to, kRetention, now);
    if (!plan.ok()) {
      // Only a range entirely before the oldest retained day may fail.
      EXPECT_LE(to, FloorDiv(now - kRetention.day_s, kDay) * kDay) << from << " " << to;
      continue;
    }
    ASSERT_FALSE(plan->runs.empty());
    EXPECT_EQ(plan->runs.front().FromSeconds(), plan->from_s);
    EXPECT_EQ(plan->runs.back().ToSeconds(), plan->to_s);
    for (size_t k = 0; k < plan->runs.size(); ++k) {
      const BucketRun& run = plan->runs[k];
      EXPECT_LT(run.first, run.last);
      EXPECT_TRUE(BucketRetained(run.tier, run.first, kRetention, now));
      if (k > 0) {
        EXPECT_EQ(plan->runs[k - 1].ToSeconds(), run.FromSeconds());
      }
    }
    EXPECT_GE(plan->to_s, to);
    EXPECT_LT(plan->to_s - to, kDay);
    if (plan->from_s > from) {
      EXPECT_EQ(plan->from_s % kDay, 0);  // clipped to the oldest retained day
      EXPECT_FALSE(BucketRetained(Tier::kDay, plan->from_s / kDay - 1, kRetention, now));
    } else {
      EXPECT_LT(from - plan->from_s, kDay);
    }
    EXPECT_LE(plan->runs.size(), 5u);
  }
}

TEST(ChooseStep, FollowsTheDocumentedRule) {
  const int64_t now = At(30, 0);
  const int64_t to = At(29, 23);
  EXPECT_EQ(ChooseStep(to - kHour, to, kRetention, now), 60);
  EXPECT_EQ(ChooseStep(to - 6 * kHour, to, kRetention, now), 60);
  EXPECT_EQ(ChooseStep(to - 6 * kHour - kMin, to, kRetention, now), 3600);
  EXPECT_EQ(ChooseStep(to - kDay, to, kRetention, now), 3600);
  EXPECT_EQ(ChooseStep(to - 14 * kDay, to, kRetention, now), 3600);
  EXPECT_EQ(ChooseStep(to - 14 * kDay - kMin, to, kRetention, now), 86400);
}

TEST(ChooseStep, CoarsensWhenTheTierHasExpired) {
  const int64_t now = At(60, 0);
  // A 1h range three days ago: minutes are gone -> hourly points.
  EXPECT_EQ(ChooseStep(At(57, 10), At(57, 11), kRetention, now), 3600);
  // A 1h range 40 days ago: hours are gone too -> daily points.
  EXPECT_EQ(ChooseStep(At(20, 10), At(20, 11), kRetention, now), 86400);
}

TEST(PlanTimeseries, AutoStepPointsAreWholeBucketsOfOneTier) {
  const int64_t now = At(10, 12);
  auto plan = PlanTimeseries(At(9, 12, 0, 30), At(10, 12), 0, kRetention, now);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->step_chosen);
  EXPECT_EQ(plan->step_s, 3600);
  EXPECT_EQ(plan->from_s, At(9, 12));
  EXPECT_EQ(plan->to_s, At(10, 12));
  ASSERT_EQ(plan->points.size(), 24u);
  for (const SeriesPoint& p : plan->points) {
    ASSERT_EQ(p.runs.size(), 1u);
    EXPECT_EQ(p.runs[0], Hr(p.t, p.t + 3600));
  }
  auto minutes = PlanTimeseries(At(10, 6, 0, 30), At(10, 12), 0, kRetention, now);
  ASSERT_TRUE(minutes.ok());
  EXPECT_EQ(minutes->step_s, 60);
  for (const SeriesPoint& p : minutes->points) EXPECT_EQ(p.runs[0], Min(p.t, p.t + 60));
}

TEST(PlanTimeseries, HourAndDayStepsAlignToUtcBoundaries) {
  const int64_t now = At(20, 12);
  auto hourly = PlanTimeseries(At(10, 10, 30), At(12, 9, 10), 3600, kRetention, now);
  ASSERT_TRUE(hourly.ok());
  EXPECT_EQ(hourly->from_s, At(10, 10));
  EXPECT_EQ(hourly->to_s, At(12, 10));
  EXPECT_EQ(hourly->points.size(), 48u);
  EXPECT_EQ(hourly->points[1].runs, (std::vector<BucketRun>{Hr(At(10, 11), At(10, 12))}));
  auto daily = PlanTimeseries(At(10, 10), At(15, 1), 86400, kRetention, now);
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(daily->from_s, D(10));
  EXPECT_EQ(daily->to_s, D(16));
  EXPECT_EQ(daily->points.size(), 6u);
  EXPECT_EQ(daily->points[0].runs, (std::vector<BucketRun>{Dy(D(10), D(11))}));
}

TEST(PlanTimeseries, OddExplicitStepMixesTiersExactly) {
  const int64_t now = At(10, 12);
  auto plan = PlanTimeseries(At(10, 0), At(10, 3), 5400, kRetention, now);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->points.size(), 2u);
  EXPECT_EQ(plan->points[0].runs,
            (std::vector<BucketRun>{Hr(At(10, 0), At(10, 1)), Min(At(10, 1), At(10, 1, 30))}));
  EXPECT_EQ(plan->points[1].runs,
            (std::vector<BucketRun>{Min(At(10, 1, 30), At(10, 2)), Hr(At(10, 2), At(10, 3))}));
}

TEST(PlanTimeseries, RejectsBadSteps) {
  const int64_t now = At(10, 12);
  for (int64_t step : {-60, 30, 90}) {
    auto plan = PlanTimeseries(At(10, 0), At(10, 3), step, kRetention, now);
    ASSERT_FALSE(plan.ok());
    EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(plan.status().message().find("step_s"), std::string::npos);
  }
  // 2 days of minutes = 2880 points.
  auto too_many = PlanTimeseries(At(8, 0), At(10, 0), 60, kRetention, now);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("1500"), std::string::npos);
  // Exactly 1500 points is fine.
  EXPECT_TRUE(PlanTimeseries(At(9, 0), At(9, 0) + 1500 * kMin, 60, kRetention, now).ok());
  // Minute steps over expired minutes.
  auto expired = PlanTimeseries(At(5, 0), At(5, 3), 60, kRetention, now);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  EXPECT_NE(expired.status().message().find("step_s"), std::string::npos);
}

// --- Series kept at the day tier only (customer × endpoint) ---

TEST(PlanRangeDayOnly, UnalignedRangeWithinADayBecomesThatWholeDay) {
  const int64_t now = At(10, 20);
  auto plan = PlanRange(At(10, 10, 7, 30), At(10, 13, 42, 10), kRetention, now, Tier::kDay);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->from_s, D(10));
  EXPECT_EQ(plan->to_s, D(11));  // the current day is read whole, even before it ends
  EXPECT_EQ(plan->requested_from_s, At(10, 10, 7, 30));
  EXPECT_EQ(plan->requested_to_s, At(10, 13, 42, 10));
  EXPECT_TRUE(plan->Adjusted());
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Dy(D(10), D(11))}));
}

TEST(PlanRangeDayOnly, RangeAcrossMidnightCoversBothDays) {
  auto plan = PlanRange(At(9, 22), At(10, 2), kRetention, At(10, 3), Tier::kDay);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->from_s, D(9));
  EXPECT_EQ(plan->to_s, D(11));
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Dy(D(9), D(11))}));
}

TEST(PlanRangeDayOnly, AlignedDaysAreNotAdjusted) {
  auto plan = PlanRange(D(3), D(7), kRetention, At(10, 3), Tier::kDay);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->Adjusted());
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Dy(D(3), D(7))}));
  // The same range for minute-tier series is planned exactly as before.
  auto minute = PlanRange(D(3), D(7), kRetention, At(10, 3));
  ASSERT_TRUE(minute.ok());
  EXPECT_EQ(minute->runs, plan->runs);
  auto unaligned = PlanRange(At(9, 10, 7, 30), At(9, 13, 42, 10), kRetention, At(10, 3));
  ASSERT_TRUE(unaligned.ok());
  EXPECT_EQ(unaligned->from_s, At(9, 10, 7));
  EXPECT_EQ(unaligned->to_s, At(9, 13, 43));
}

TEST(PlanRangeDayOnly, OneSecondRangeIsOneDay) {
  auto plan = PlanRange(At(10, 23, 59, 59), At(10, 24), kRetention, At(11, 1), Tier::kDay);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->runs, (std::vector<BucketRun>{Dy(D(10), D(11))}));
}

TEST(PlanRangeDayOnly, RetentionClipsToTheOldestDayAndRejectsOlderRanges) {
  const int64_t now = At(500, 6);
  const int64_t oldest_day = FloorDiv(now - kRetention.day_s, kDay);
  // The hour before the oldest retained day is gone: clipped inward to that day.
  auto plan = PlanRange(oldest_day * kDay - kHour, At(300, 5), kRetention, now, Tier::kDay);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->from_s, oldest_day * kDay);
  EXPECT_EQ(plan->to_s, D(301));
  for (const BucketRun& run : plan->runs) EXPECT_EQ(run.tier, Tier::kDay);
  auto old =
      PlanRange(oldest_day * kDay - kDay, oldest_day * kDay - 1, kRetention, now, Tier::kDay);
  // Rounded up, that range ends on the oldest retained day's start: nothing left.
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(old.status().message().find("oldest retained"), std::string::npos);
}

TEST(PlanRangeDayOnly, RandomRangesUseOnlyWholeRetainedDaysContainingTheRequest) {
  std::mt19937_64 rng(7);
  const int64_t now = At(100, 13, 27, 11);
  std::uniform_int_distribution<int64_t> start(now - 420 * kDay, now + kDay);
  std::uniform_int_distribution<int64_t> length(1, 60 * kDay);
  for (int i = 0; i < 20000; ++i) {
    const int64_t from = start(rng);
    int64_t len = length(rng);
    if (i % 3 == 0) len %= 4 * kHour;
    const int64_t to = from + std::max<int64_t>(len, 1);
    auto plan = PlanRange(from, to, kRetention, now, Tier::kDay);
    if (!plan.ok()) {
      EXPECT_LE(to, FloorDiv(now - kRetention.day_s, kDay) * kDay) << from << " " << to;
      continue;
    }
    ASSERT_EQ(plan->runs.size(), 1u);
    const BucketRun& run = plan->runs[0];
    EXPECT_EQ(run.tier, Tier::kDay);
    EXPECT_EQ(run.FromSeconds(), plan->from_s);
    EXPECT_EQ(run.ToSeconds(), plan->to_s);
    EXPECT_TRUE(BucketRetained(Tier::kDay, run.first, kRetention, now));
    EXPECT_EQ(plan->to_s, CeilDiv(to, kDay) * kDay);
    EXPECT_EQ(plan->from_s,
              std::max(FloorDiv(from, kDay) * kDay, FloorDiv(now - kRetention.day_s, kDay) * kDay));
  }
}

TEST(PlanTimeseriesDayOnly, AutoStepIsOneDayEvenForAShortRange) {
  const int64_t now = At(10, 12);
  auto plan = PlanTimeseries(At(10, 9, 30), At(10, 11), 0, kRetention, now, Tier::kDay);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->step_chosen);
  EXPECT_EQ(plan->step_s, kDay);
  EXPECT_EQ(plan->from_s, D(10));
  EXPECT_EQ(plan->to_s, D(11));
  ASSERT_EQ(plan->points.size(), 1u);
  EXPECT_EQ(plan->points[0].runs, (std::vector<BucketRun>{Dy(D(10), D(11))}));
  // The same range for minute series keeps its minute points.
  auto minute = PlanTimeseries(At(10, 9, 30), At(10, 11), 0, kRetention, now);
  ASSERT_TRUE(minute.ok());
  EXPECT_EQ(minute->step_s, 60);
}

TEST(PlanTimeseriesDayOnly, StepsFinerThanADayAreRejectedNamingStep) {
  const int64_t now = At(10, 12);
  for (int64_t step : {60, 300, 3600, 43200, 86400 + 3600}) {
    auto plan = PlanTimeseries(At(8, 0), At(10, 0), step, kRetention, now, Tier::kDay);
    ASSERT_FALSE(plan.ok()) << step;
    EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(plan.status().message().find("step_s must be a multiple of 86400"), std::string::npos)
        << plan.status().message();
    EXPECT_NE(plan.status().message().find("per day only"), std::string::npos);
  }
  auto two_days = PlanTimeseries(At(3, 5), At(9, 1), 2 * kDay, kRetention, now, Tier::kDay);
  ASSERT_TRUE(two_days.ok()) << two_days.status().ToString();
  EXPECT_EQ(two_days->from_s, FloorDiv(At(3, 5), 2 * kDay) * 2 * kDay);
  for (const SeriesPoint& p : two_days->points) {
    for (const BucketRun& run : p.runs) EXPECT_EQ(run.tier, Tier::kDay);
  }
}

}  // namespace
}  // namespace apimeter
