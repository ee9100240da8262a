// LinePipeline: one log line through parse → normalize → resolve → aggregate.
//
// Promise: Process() never throws and never fails: a line that does not
// parse, or that is dated more than options.max_future_us after the clock's
// now (`future_time`: it would be stored for millennia), is counted (and
// sampled) as rejected, in the minute of the last good line seen, or of the
// clock when there was none. The customer key is taken from the customer
// variable's value by the source's CustomerKeyExtractor; a value it cannot
// use counts as anonymous and is counted by CustomerKeyError (the line itself
// is counted as parsed). The raw customer key goes no further than
// CustomerResolver: a rejected line's sample shows each key as
// "<customer ID>" and other secret-looking values as "<masked>"
// (parsers/redact.h) unless options.show_raw_lines. Shared by backfill and
// the live agent, so both count identically. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/rejected_lines.h"
#include "agent/traffic_metrics.h"
#include "aggregator/aggregator.h"
#include "aggregator/customer_resolver.h"
#include "common/clock.h"
#include "parsers/client_agent.h"
#include "parsers/customer_key.h"
#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"

namespace apimeter {

inline constexpr int64_t kDefaultMaxFutureUs = int64_t{86400} * 1000000;  // limits.max_future

struct LinePipelineOptions {
  int64_t max_future_us = kDefaultMaxFutureUs;  // later lines are rejected as future_time
  bool show_raw_lines = false;                  // samples unmasked (--show-raw-lines)
  TrafficMetrics* traffic = nullptr;            // also counts parsed lines here (the live agent)
  // Reduces $http_user_agent to a client (issue 18 part 2) for the lines of
  // a format that logs it; null: no client series at all.
  const ClientReducer* clients = nullptr;
};

// The warning every command logs when show_raw_lines is chosen: what it
// prints from now on may hold API keys.
void WarnShowRawLines();

class LinePipeline {
 public:
  LinePipeline(const LineParser* parser, const CustomerKeyExtractor* customer_key,
               const EndpointNormalizer* normalizer, CustomerResolver* customers,
               Aggregator* aggregator, RejectedLines* rejected, const Clock* clock,
               LinePipelineOptions options = {})
      : parser_(parser),
        customer_key_(customer_key),
        normalizer_(normalizer),
        customers_(customers),
        aggregator_(aggregator),
        rejected_(rejected),
        clock_(clock),
        options_(options) {}

  // How a customer key is shown in place of the key: "<customer NAME-OR-ID>".
  static CustomerMask CustomerMarker(CustomerResolver* customers);

  void Process(std::string_view line, std::string_view source, uint64_t line_offset);
  // A line the splitter dropped for being over the size limit.
  void ProcessTooLong(std::string_view source, uint64_t line_offset);

  // The aggregator the next lines go to. A backfill that flushes on a thread
  // of its own switches between two (agent/backfill.h); the caller keeps the
  // one it switched away from out of this pipeline's reach.
  void set_aggregator(Aggregator* aggregator) { aggregator_ = aggregator; }

  uint64_t parsed() const { return parsed_; }
  uint64_t rejected() const { return rejected_count_; }
  // Parsed lines whose customer value gave no key (counted as anonymous), by reason.
  uint64_t customer_key_errors(CustomerKeyError e) const {
    return customer_key_errors_[static_cast<int>(e)];
  }
  int64_t min_time_us() const { return min_time_us_; }
  int64_t max_time_us() const { return max_time_us_; }

  // Segments, for a backfill that hands consecutive runs of a file's lines
  // to several pipelines (agent/backfill_lanes.h). After StartSegment, a
  // rejected line met before the segment's first good line is counted in
  // rejected() and sampled as usual, but its minute is not known here (the
  // line before it went to another pipeline): it is held, and the caller
  // counts the held lines with CountHeldRejects once it knows the time of
  // the last good line before the segment. segment_last_time_us() is the
  // time of the segment's last good line, -1 when it had none.
  void StartSegment();
  uint64_t held_rejects() const { return held_rejects_; }
  int64_t segment_last_time_us() const { return last_time_us_; }
  // Counts n held rejected lines in the minute of last_good_time_us, or of
  // the clock when it is negative (no good line before them).
  void CountHeldRejects(uint64_t n, int64_t last_good_time_us);

 private:
  void Reject(const ParseError& error, std::string_view line, std::string_view source,
              uint64_t line_offset);
  bool InFuture(int64_t time_us);

  const LineParser* parser_;
  const CustomerKeyExtractor* customer_key_;
  const EndpointNormalizer* normalizer_;
  CustomerResolver* customers_;
  Aggregator* aggregator_;
  RejectedLines* rejected_;
  const Clock* clock_;
  LinePipelineOptions options_;

  // Lines dated up to here are not in the future; recomputed from the clock
  // only when a line passes it, so the clock is not read for every line.
  int64_t future_limit_us_ = INT64_MIN;
  std::string endpoint_;     // reused buffer: no allocation per line
  std::string key_scratch_;  // reused buffer for a decoded JWT payload
  std::string client_;       // the reduced user agent of the current line
  uint64_t parsed_ = 0;
  uint64_t rejected_count_ = 0;
  std::array<uint64_t, kCustomerKeyErrorCount> customer_key_errors_{};
  int64_t last_time_us_ = -1;
  bool hold_leading_rejects_ = false;  // in a segment (StartSegment)
  uint64_t held_rejects_ = 0;
  int64_t min_time_us_ = INT64_MAX;
  int64_t max_time_us_ = INT64_MIN;
};

}  // namespace apimeter
