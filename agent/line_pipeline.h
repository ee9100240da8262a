// LinePipeline: one log line through parse → normalize → resolve → aggregate.
//
// Promise: Process() never throws and never fails: a line that does not
// parse is counted (and sampled) as rejected, in the minute of the last good
// line seen, or of the clock when there was none. The raw customer key goes
// no further than CustomerResolver. Shared by backfill and the live agent, so
// both count identically. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/rejected_lines.h"
#include "aggregator/aggregator.h"
#include "aggregator/customer_resolver.h"
#include "common/clock.h"
#include "parsers/endpoint_normalizer.h"
#include "parsers/line_parser.h"

namespace apimeter {

class LinePipeline {
 public:
  LinePipeline(const LineParser* parser, const EndpointNormalizer* normalizer,
               CustomerResolver* customers, Aggregator* aggregator, RejectedLines* rejected,
               const Clock* clock)
      : parser_(parser),
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
  int64_t min_time_us() const { return min_time_us_; }
  int64_t max_time_us() const { return max_time_us_; }

 private:
  void Reject(const ParseError& error, std::string_view line, std::string_view source,
              uint64_t line_offset);

  const LineParser* parser_;
  const EndpointNormalizer* normalizer_;
  CustomerResolver* customers_;
  Aggregator* aggregator_;
  RejectedLines* rejected_;
  const Clock* clock_;

  std::string endpoint_;  // reused buffer: no allocation per line
  uint64_t parsed_ = 0;
  uint64_t rejected_count_ = 0;
  int64_t last_time_us_ = -1;
  int64_t min_time_us_ = INT64_MAX;
  int64_t max_time_us_ = INT64_MIN;
};

}  // namespace apimeter
