// SignInThrottle: slows token guessing down per client (client_address.h)
// and decides which failed sign-ins are worth a log line.
//
// Policy (a GCRA token bucket per client): a client may fail `burst` times
// in a row; after that it may try a token again only once every `refill`
// (10 tries, then one per 6 s, by default): RetryAfterMs() says how long it
// must wait. A success changes nothing (a valid token needs no retries).
// Memory is bounded: at most `max_clients` are remembered, the one that
// failed least recently is forgotten first.
// Logging: Failure() asks for a line for a client at most once per
// `log_period`, carrying how many failures it had since its last line, and
// for at most `max_lines_per_period` lines over all clients per period;
// lines left out are counted and reported with the next line.
// Thread-safety: none; one thread (the server's) owns it. Time is passed in.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace apimeter {

class SignInThrottle {
 public:
  struct Options {
    int64_t burst = 10;
    int64_t refill_ms = 6000;
    size_t max_clients = 10000;
    int64_t log_period_ms = 60000;
    int64_t max_lines_per_period = 20;
  };
  // What to do about one failure.
  struct Note {
    bool log = false;             // write a line now
    uint64_t failures = 0;        // for the line: this client's failures since its last line
    uint64_t lines_left_out = 0;  // for the line: lines suppressed (all clients) since the last
    int64_t retry_after_ms = 0;   // how long this client must now wait (0: it may try again)
  };

  SignInThrottle() : SignInThrottle(Options{}) {}
  explicit SignInThrottle(Options options) : options_(options) {}

  // How long `client` must wait before it may present a token; 0 = now.
  int64_t RetryAfterMs(const std::string& client, int64_t now_ms) const;
  // Records a failed sign-in by `client`.
  Note Failure(const std::string& client, int64_t now_ms);

  size_t clients() const { return by_client_.size(); }

 private:
  struct Entry {
    std::string client;
    int64_t tat_ms = 0;  // when the bucket is full again ("theoretical arrival time")
    int64_t logged_at_ms = 0;
    bool logged = false;
    uint64_t unlogged = 0;
  };
  int64_t Wait(const Entry& e, int64_t now_ms) const;

  Options options_;
  std::list<Entry> lru_;  // most recent failure first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_client_;
  int64_t period_start_ms_ = 0;
  int64_t lines_in_period_ = 0;
  uint64_t lines_left_out_ = 0;
};

}  // namespace apimeter
