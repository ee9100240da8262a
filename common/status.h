// Status: the error value that crosses module boundaries.
//
// Promise: a Status is either OK or carries a code and a human-readable message
// that already says what went wrong and, where possible, what to fix. Modules
// return Status (or Result<T>) instead of throwing; exceptions are caught at the
// adapter edges (yaml-cpp, hiredis, Boost) and turned into a Status there.
// Thread-safety: a value type; distinct objects may be used from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace apimeter {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input from the user: config, CLI flag, query parameter
  kNotFound,          // a named thing (file, customer) does not exist
  kParseError,        // bytes that do not have the expected shape
  kUnavailable,       // a dependency (Redis, a file) could not be reached; retrying may help
  kAborted,           // a concurrent change (e.g. a checkpoint moved); retry from fresh state
  kResourceExhausted, // a bound was hit (memory, size limit)
  kInternal,          // a bug: an invariant did not hold
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status ParseError(std::string m) { return {StatusCode::kParseError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "context: message", keeping the code. Used to add file/line or key names.
  Status WithContext(std::string_view context) const {
    if (ok()) return *this;
    return Status(code_, std::string(context) + ": " + message_);
  }

  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::string_view StatusCodeName(StatusCode code);

}  // namespace apimeter

#define APIMETER_RETURN_IF_ERROR(expr)          \
  do {                                          \
    ::apimeter::Status _st = (expr);            \
    if (!_st.ok()) return _st;                  \
  } while (0)
