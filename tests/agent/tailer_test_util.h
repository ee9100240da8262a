// Helpers shared by the tailer tests: an in-memory checkpoint store, a line
// collector, fixed-width lines and gzip. Test code only. Not thread-safe.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/tailer.h"

namespace apimeter::testing {

// The live log the tailer tests follow (glob "/log/*.access.log").
constexpr const char* kLive = "/log/api.access.log";
constexpr int64_t kSecond = 1'000'000;  // in the microseconds of Clock

class MapLookup final : public CheckpointLookup {
 public:
  Result<std::string> Read(std::string_view fingerprint) override {
    ++reads;
    if (fail) return Status::Unavailable("redis down (injected)");
    auto it = values.find(std::string(fingerprint));
    return it == values.end() ? std::string() : it->second;
  }
  std::map<std::string, std::string> values;
  bool fail = false;
  int reads = 0;
};

struct Line {
  std::string path, text;
  uint64_t begin = 0, end = 0;
  bool too_long = false;
};

class Collector final : public LineConsumer {
 public:
  void OnLine(std::string_view path, std::string_view line, uint64_t begin, uint64_t end,
              bool too_long) override {
    lines.push_back({std::string(path), std::string(line), begin, end, too_long});
  }
  std::vector<std::string> Texts() const {
    std::vector<std::string> out;
    for (const auto& l : lines) out.push_back(l.text);
    return out;
  }
  std::vector<Line> lines;
};

// A line of exactly `width` bytes including its newline (width >= 8).
inline std::string Padded(const std::string& text, size_t width) {
  std::string s = text + " ";
  s.resize(width - 1, 'x');
  return s + "\n";
}

inline std::string Gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace apimeter::testing
