// ProgressBar: one status line on a terminal, redrawn at most 5 times a
// second: a 30-character bar, the percentage, the caller's detail and an
// ETA. Disabled (draws nothing) when stderr is not a terminal; the caller
// then prints plain progress lines if it wants any.
// Not thread-safe: one owner.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace apimeter {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled), start_(Now()) {}

  // `fraction` of the work done (0..1); `detail` e.g. "1200 lines  300 lines/s".
  void Update(double fraction, const std::string& detail) {
    if (!enabled_) return;
    const double now = Now();
    if (now - last_ < 0.2) return;
    last_ = now;
    const double elapsed = now - start_;
    const double frac = std::clamp(fraction, 0.0, 1.0);
    const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    char bar[31];
    const int filled = static_cast<int>(frac * 30);
    for (int i = 0; i < 30; ++i) bar[i] = i < filled ? '#' : '-';
    bar[30] = 0;
    std::fprintf(stderr, "\r[%s] %5.1f%%  %s  ETA %.0fs ", bar, frac * 100, detail.c_str(), eta);
    std::fflush(stderr);
  }
  void Done() {
    if (enabled_) std::fprintf(stderr, "\r%100s\r", "");
  }
  // Seconds since construction.
  double Elapsed() const { return Now() - start_; }

 private:
  static double Now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  bool enabled_;
  double start_;
  double last_ = 0;
};

}  // namespace apimeter
