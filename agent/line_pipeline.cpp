#include "agent/line_pipeline.h"

#include <spdlog/spdlog.h>

namespace apimeter {

void WarnShowRawLines() {
  spdlog::warn(
      "--show-raw-lines: log lines are shown as logged, API keys and other secrets "
      "included; do not share this output");
}

CustomerMask LinePipeline::CustomerMarker(CustomerResolver* customers) {
  return [customers](std::string_view key) {
    return "<customer " + std::string(customers->Resolve(key)) + ">";
  };
}

bool LinePipeline::InFuture(int64_t time_us) {
  if (time_us <= future_limit_us_) return false;
  const int64_t now = clock_->NowMicros();
  future_limit_us_ =
      now > INT64_MAX - options_.max_future_us ? INT64_MAX : now + options_.max_future_us;
  return time_us > future_limit_us_;
}

void LinePipeline::Process(std::string_view line, std::string_view source, uint64_t line_offset) {
  LogRecord record;
  ParseError error{};
  if (!parser_->Parse(line, &record, &error)) {
    Reject(error, line, source, line_offset);
    return;
  }
  if (InFuture(record.time_us)) {
    Reject(ParseError{ParseErrorKind::kFutureTime, 0, {}}, line, source, line_offset);
    return;
  }
  ++parsed_;
  last_time_us_ = record.time_us;
  if (record.time_us < min_time_us_) min_time_us_ = record.time_us;
  if (record.time_us > max_time_us_) max_time_us_ = record.time_us;
  normalizer_->Normalize(record.method, record.path, &endpoint_);
  std::string_view key = record.customer_key;
  CustomerKeyError key_error;
  if (!key.empty() && customer_key_->active() &&
      !customer_key_->Extract(key, &key_scratch_, &key, &key_error)) {
    ++customer_key_errors_[static_cast<int>(key_error)];
    key = {};
  }
  std::string_view customer = customers_->Resolve(key);
  if (options_.clients != nullptr && record.user_agent_logged) {
    client_ = options_.clients->Reduce(record.user_agent);
    const std::string_view client = client_;
    aggregator_->Add(record, endpoint_, customer, &client);
  } else {
    aggregator_->Add(record, endpoint_, customer);
  }
  if (options_.traffic != nullptr) options_.traffic->Add(record, endpoint_, customer);
}

void LinePipeline::ProcessTooLong(std::string_view source, uint64_t line_offset) {
  ParseError error{ParseErrorKind::kTooLong, 0, {}};
  Reject(error, std::string_view(), source, line_offset);
}

void LinePipeline::Reject(const ParseError& error, std::string_view line, std::string_view source,
                          uint64_t line_offset) {
  ++rejected_count_;
  if (rejected_->TakesSample() && !options_.show_raw_lines && !line.empty()) {
    // Masking costs a few passes over the line: only for the lines sampled.
    const RedactOptions redact{false, CustomerMarker(customers_)};
    rejected_->Add(error, RedactLine(line, parser_->SecretSpans(line), redact), source,
                   line_offset);
  } else {
    rejected_->Add(error, line, source, line_offset);
  }
  if (last_time_us_ < 0 && hold_leading_rejects_) {
    ++held_rejects_;
    return;
  }
  aggregator_->AddRejected(last_time_us_ >= 0 ? last_time_us_ : clock_->NowMicros());
}

void LinePipeline::StartSegment() {
  hold_leading_rejects_ = true;
  held_rejects_ = 0;
  last_time_us_ = -1;
}

void LinePipeline::CountHeldRejects(uint64_t n, int64_t last_good_time_us) {
  if (n == 0) return;
  const int64_t t = last_good_time_us >= 0 ? last_good_time_us : clock_->NowMicros();
  for (uint64_t i = 0; i < n; ++i) aggregator_->AddRejected(t);
}

}  // namespace apimeter
