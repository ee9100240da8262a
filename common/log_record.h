// LogRecord: the fields of one access-log line that apimeter aggregates.
//
// Promise: produced by parsers::LineParser from one line; the string_views
// point into that line's bytes and are valid only while the line is. All
// numbers are already validated and converted: time is UTC, latency and
// bytes are integers. A record never carries the raw API key anywhere but
// customer_key, which callers must map through CustomerResolver before storing.
#pragma once

#include <cstdint>
#include <string_view>

namespace apimeter {

struct LogRecord {
  int64_t time_us = 0;            // request time, UTC microseconds since the Unix epoch
  std::string_view method;        // request method as logged, e.g. "GET"
  std::string_view path;          // request path without the query string, as logged
  int status = 0;                 // HTTP status, 100..599
  uint64_t bytes_in = 0;          // request size ($request_length), 0 when not logged
  uint64_t bytes_out = 0;         // response size ($bytes_sent or $body_bytes_sent)
  int64_t latency_us = -1;        // latency in microseconds; -1 when "-" or not logged
  std::string_view customer_key;  // raw customer identifier (e.g. API key); empty when absent
  // $http_user_agent as logged (untrusted bytes; "-" or empty when the
  // request sent none). user_agent_logged is false when the source's
  // log_format has no $http_user_agent: the client dimension is then absent.
  std::string_view user_agent;
  bool user_agent_logged = false;
};

}  // namespace apimeter
