// Per-client sign-in throttling (see sign_in_throttle.h).
#include "server/sign_in_throttle.h"

#include <algorithm>

namespace apimeter {

int64_t SignInThrottle::Wait(const Entry& e, int64_t now_ms) const {
  // Blocked while more than burst-1 failures' worth of refill is outstanding.
  const int64_t allowed_at = e.tat_ms - (options_.burst - 1) * options_.refill_ms;
  return std::max<int64_t>(0, allowed_at - now_ms);
}

int64_t SignInThrottle::RetryAfterMs(const std::string& client, int64_t now_ms) const {
  auto it = by_client_.find(client);
  return it == by_client_.end() ? 0 : Wait(*it->second, now_ms);
}

SignInThrottle::Note SignInThrottle::Failure(const std::string& client, int64_t now_ms) {
  auto it = by_client_.find(client);
  if (it == by_client_.end()) {
    if (by_client_.size() >= options_.max_clients && !lru_.empty()) {
      by_client_.erase(lru_.back().client);
      lru_.pop_back();
    }
    lru_.push_front(Entry{client, now_ms, 0, false, 0});
    it = by_client_.emplace(client, lru_.begin()).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second);
  }
  Entry& e = *it->second;
  e.tat_ms = std::max(e.tat_ms, now_ms) + options_.refill_ms;
  ++e.unlogged;

  Note note;
  note.retry_after_ms = Wait(e, now_ms);
  if (now_ms - period_start_ms_ >= options_.log_period_ms) {
    period_start_ms_ = now_ms;
    lines_in_period_ = 0;
  }
  const bool due = !e.logged || now_ms - e.logged_at_ms >= options_.log_period_ms;
  if (!due) return note;
  if (lines_in_period_ >= options_.max_lines_per_period) {
    ++lines_left_out_;
    return note;
  }
  ++lines_in_period_;
  note.log = true;
  note.failures = e.unlogged;
  note.lines_left_out = lines_left_out_;
  lines_left_out_ = 0;
  e.unlogged = 0;
  e.logged = true;
  e.logged_at_ms = now_ms;
  return note;
}

}  // namespace apimeter
