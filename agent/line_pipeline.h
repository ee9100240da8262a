// LinePipeline: one log line through parse → normalize → resolve → aggregate.
//
// Promise: Process() never throws and never fails: a line that does not
// parse is counted (and sampled) as rejected, in the minute of the last good
// line seen, or of the clock when there was none. The customer key is taken
// from the customer variable's value by the source's CustomerKeyExtractor; a
// value it cannot use counts as anonymous and is counted by CustomerKeyError
// (the line itself is counted as parsed). The raw customer key goes no further
// than CustomerResolver. Shared by backfill and the live agent, so both count
// identically. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/rejected_lines.h"
#include "aggregator/aggregator.h"
#include "aggregator/customer_resolver.h"
#include "common/clock.h"
#include "parsers/customer_key.h"
#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"

namespace apimeter {

class LinePipeline {
 public:
  LinePipeline(const LineParser* parser, const CustomerKeyExtractor* customer_key,
               const EndpointNormalizer* normalizer, CustomerResolver* customers,
               Aggregator* aggregator, RejectedLines* rejected, const Clock* clock)
      : parser_(parser),
        customer_key_(customer_key),
        normalizer_(normalizer),
        customers_(customers),
        aggregator_(aggregator),
        rejected_(rejected),
        clock_(clock) {}

  void Process(std::string_view line, std::string_view source, uint64_t line_offset);
  // A line the splitter dropped for being over the size limit.
  void ProcessTooLong(std::string_view source, uint64_t line_offset);

  uint64_t parsed() const { return parsed_; }
  uint64_t rejected() const { return rejected_count_; }
  // Parsed lines whose customer value gave no key (counted as anonymous), by reason.
  uint64_t customer_key_errors(CustomerKeyError e) const {
    return customer_key_errors_[static_cast<int>(e)];
  }
  int64_t min_time_us() const { return min_time_us_; }
  int64_t max_time_us() const { return max_time_us_; }

 private:
  void Reject(const ParseError& error, std::string_view line, std::string_view source,
              uint64_t line_offset);

  const LineParser* parser_;
  const CustomerKeyExtractor* customer_key_;
  const EndpointNormalizer* normalizer_;
  CustomerResolver* customers_;
  Aggregator* aggregator_;
  RejectedLines* rejected_;
  const Clock* clock_;

  std::string endpoint_;     // reused buffer: no allocation per line
  std::string key_scratch_;  // reused buffer for a decoded JWT payload
  uint64_t parsed_ = 0;
  uint64_t rejected_count_ = 0;
  std::array<uint64_t, kCustomerKeyErrorCount> customer_key_errors_{};
  int64_t last_time_us_ = -1;
  int64_t min_time_us_ = INT64_MAX;
  int64_t max_time_us_ = INT64_MIN;
};

}  // namespace apimeter
