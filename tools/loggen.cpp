// apimeter-loggen: writes realistic nginx API access logs, for tests,
// benchmarks and the demo.
//
// Promise: the same seed and flags give the same bytes. Traffic looks like a
// real API: ~300 endpoint templates with ids in their paths, customers drawn
// from a Zipf distribution, log-normal latencies per endpoint with a heavy
// tail on a few slow ones, realistic status mixes (429s, 5xx bursts) and
// sizes, and, on request, a share of malformed lines of every kind apimeter
// must survive. Lines are written in the nginx format given by --format.
// With --follow it writes live traffic at --rps in real time (time = now).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/time_util.h"

namespace {

struct Rng {  // xoshiro256** seeded by splitmix64: fast and reproducible
  uint64_t s[4];
  explicit Rng(uint64_t seed) {
    for (auto& v : s) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      v = z ^ (z >> 31);
    }
  }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t Next() {
    const uint64_t r = Rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = Rotl(s[3], 45);
    return r;
  }
  double Uniform() { return (Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) { return Next() % n; }
  double Normal() {
    double u1 = Uniform(), u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
};

struct Endpoint {
  std::string method;
  std::string pattern;  // with {id}, {uuid}, {ip}, {hex} placeholders
  double median_ms;
  double sigma;
  double error_5xx;
  double error_4xx;
  double weight;
};

std::vector<Endpoint> MakeEndpoints(int count, Rng& rng) {
  static const char* kResources[] = {"orders", "users", "products", "invoices", "payments",
                                     "customers", "carts", "shipments", "reviews", "coupons",
                                     "accounts", "subscriptions", "webhooks", "files", "reports",
                                     "teams", "projects", "events", "tokens", "addresses"};
  static const char* kSub[] = {"items", "status", "history", "notes", "refunds", "members",
                               "settings", "events", "attachments", "comments"};
  std::vector<Endpoint> eps;
  // A few fixed, recognisable endpoints, including the slow ones.
  eps.push_back({"GET", "/api/search", 420, 0.9, 0.004, 0.01, 40});
  eps.push_back({"GET", "/v1/health", 1, 0.3, 0.0, 0.0, 20});
  eps.push_back({"GET", "/v2/geo/ip/{ip}", 12, 0.5, 0.002, 0.02, 15});
  eps.push_back({"POST", "/v1/reports/export", 1800, 0.6, 0.02, 0.01, 2});
  eps.push_back({"GET", "/v1/users/{uuid}", 18, 0.5, 0.001, 0.03, 25});
  int i = 0;
  while (static_cast<int>(eps.size()) < count) {
    const char* res = kResources[i % 20];
    const int variant = i / 20;
    std::string base = std::string(variant % 2 ? "/v2/" : "/v1/") + res;
    if (variant >= 2) base += "/" + std::string(kSub[(i + variant) % 10]) + std::to_string(variant);
    static const char* kMethods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH"};
    const std::string method = kMethods[rng.Below(7)];
    const int shape = static_cast<int>(rng.Below(4));
    std::string pattern = base;
    if (shape == 1) pattern = base + "/{id}";
    if (shape == 2) pattern = base + "/{id}/" + kSub[rng.Below(10)];
    if (shape == 3) pattern = base + "/{hex}";
    eps.push_back({method, pattern, 5 + 120 * rng.Uniform() * rng.Uniform(), 0.4 + 0.5 * rng.Uniform(),
                   0.001 + 0.004 * rng.Uniform(), 0.01 + 0.04 * rng.Uniform(),
                   1 + 30 * std::pow(rng.Uniform(), 3)});
    ++i;
  }
  return eps;
}

std::string FillPath(const std::string& pattern, Rng& rng) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    size_t close = pattern.find('}', i);
    std::string kind = pattern.substr(i + 1, close - i - 1);
    i = close + 1;
    char buf[64];
    if (kind == "id") {
      std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(rng.Below(9000000) + 1));
    } else if (kind == "uuid") {
      uint64_t a = rng.Next(), b = rng.Next();
      std::snprintf(buf, sizeof buf, "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                    static_cast<unsigned long long>(a >> 32), static_cast<unsigned long long>((a >> 16) & 0xffff),
                    static_cast<unsigned long long>(a & 0xfff), static_cast<unsigned long long>(b >> 52),
                    static_cast<unsigned long long>(b & 0xffffffffffffull));
    } else if (kind == "ip") {
      std::snprintf(buf, sizeof buf, "%llu.%llu.%llu.%llu", static_cast<unsigned long long>(rng.Below(223) + 1),
                    static_cast<unsigned long long>(rng.Below(256)), static_cast<unsigned long long>(rng.Below(256)),
                    static_cast<unsigned long long>(rng.Below(254) + 1));
    } else {
      std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng.Next()),
                    static_cast<unsigned long long>(rng.Next() & 0xffffffff));
    }
    out += buf;
  }
  return out;
}

struct Zipf {  // inverse-CDF sampling over precomputed cumulative weights
  std::vector<double> cdf;
  Zipf(int n, double s) {
    double total = 0;
    for (int k = 1; k <= n; ++k) cdf.push_back(total += 1.0 / std::pow(k, s));
    for (auto& c : cdf) c /= total;
  }
  int Sample(Rng& rng) const {
    double u = rng.Uniform();
    return static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
  }
};

struct Options {
  uint64_t lines = 10000;
  std::string start = "2026-11-20T00:00:00Z";
  double rps = 500;
  uint64_t seed = 42;
  std::string format = "api";
  std::string out = "-";
  double bad_ratio = 0;
  int endpoints = 300;
  int customers = 5000;
  bool follow = false;
  int tz_minutes = 0;
  double duration_s = 0;
};

class Generator {
 public:
  explicit Generator(const Options& o)
      : o_(o), rng_(o.seed), eps_(MakeEndpoints(o.endpoints, rng_)), zipf_(o.customers, 1.1) {
    double total = 0;
    for (const auto& e : eps_) ep_cdf_.push_back(total += e.weight);
    for (auto& c : ep_cdf_) c /= total;
    Rng keys(o.seed ^ 0xabcdef);
    static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int i = 0; i < o.customers; ++i) {
      std::string k = "ak_live_";
      for (int j = 0; j < 24; ++j) k += kAlnum[keys.Below(62)];
      keys_.push_back(k);
    }
  }

  // Writes one line for a request at epoch second t into buf; returns length.
  int Line(int64_t t, char* buf, size_t cap) {
    if (o_.bad_ratio > 0 && rng_.Uniform() < o_.bad_ratio) return BadLine(t, buf, cap);
    const double u = rng_.Uniform();
    const Endpoint& ep = eps_[std::lower_bound(ep_cdf_.begin(), ep_cdf_.end(), u) - ep_cdf_.begin()];
    std::string path = FillPath(ep.pattern, rng_);
    if (rng_.Uniform() < 0.15) path += "?page=" + std::to_string(rng_.Below(50)) + "&limit=50";
    const bool has_key = rng_.Uniform() > 0.03;
    const std::string& key = keys_[zipf_.Sample(rng_)];
    int status = ep.method == "POST" ? 201 : 200;
    double lat = ep.median_ms * std::exp(ep.sigma * rng_.Normal());
    if (rng_.Uniform() < 0.002) lat *= 8 + 30 * rng_.Uniform();  // heavy tail
    const double r = rng_.Uniform();
    bool upstream = true;
    if (!has_key && rng_.Uniform() < 0.5) {
      status = 401, upstream = false;
    } else if (r < ep.error_5xx) {
      static const int k5[] = {500, 502, 503, 504};
      status = k5[rng_.Below(4)];
      if (status == 504) lat = 30000 + 100 * rng_.Uniform();
    } else if (r < ep.error_5xx + ep.error_4xx) {
      static const int k4[] = {400, 404, 404, 422, 429, 429, 403};
      status = k4[rng_.Below(7)];
      if (status == 429) upstream = false;
    }
    if (!upstream) lat = rng_.Uniform() * 0.9;
    const long lat_ms = std::lround(lat);
    const uint64_t bytes_out = status >= 400 ? 60 + rng_.Below(200)
                                             : static_cast<uint64_t>(300 * std::exp(1.2 * rng_.Normal())) + 2;
    const uint64_t bytes_in = 180 + rng_.Below(400) + (ep.method == "POST" || ep.method == "PUT" ? rng_.Below(4000) : 0);
    char up[48];
    if (!upstream) {
      std::snprintf(up, sizeof up, "-");
    } else if (status == 502 && rng_.Uniform() < 0.5) {
      std::snprintf(up, sizeof up, "%ld.%03ld, %ld.%03ld", lat_ms / 2000, (lat_ms / 2) % 1000,
                    (lat_ms - lat_ms / 2 - 1 > 0 ? lat_ms - lat_ms / 2 - 1 : 0) / 1000,
                    (lat_ms - lat_ms / 2 - 1 > 0 ? lat_ms - lat_ms / 2 - 1 : 0) % 1000);
    } else {
      long u_ms = lat_ms > 0 ? lat_ms - (lat_ms > 2 ? 1 : 0) : 0;
      std::snprintf(up, sizeof up, "%ld.%03ld", u_ms / 1000, u_ms % 1000);
    }
    char ip[20];
    std::snprintf(ip, sizeof ip, "10.%llu.%llu.%llu", static_cast<unsigned long long>(rng_.Below(255)),
                  static_cast<unsigned long long>(rng_.Below(255)), static_cast<unsigned long long>(rng_.Below(254) + 1));
    static const char* kAgents[] = {"python-requests/2.31.0", "Go-http-client/2.0", "curl/8.4.0",
                                    "axios/1.6.2", "okhttp/4.12.0", "Mozilla/5.0 (X11; Linux x86_64)"};
    const char* agent = kAgents[rng_.Below(6)];
    const std::string tl = TimeLocal(t);
    if (o_.format == "combined") {
      return std::snprintf(buf, cap, "%s - - [%s] \"%s %s HTTP/1.1\" %d %llu \"-\" \"%s\"\n", ip,
                           tl.c_str(), ep.method.c_str(), path.c_str(), status,
                           static_cast<unsigned long long>(bytes_out), agent);
    }
    if (o_.format == "json") {
      return std::snprintf(buf, cap,
                           "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"request\":\"%s %s HTTP/1.1\","
                           "\"status\":%d,\"bytes\":%llu,\"request_time\":%ld.%03ld,"
                           "\"api_key\":\"%s\",\"request_length\":%llu}\n",
                           TimeIso(t).c_str(), ip, ep.method.c_str(), path.c_str(), status,
                           static_cast<unsigned long long>(bytes_out), lat_ms / 1000, lat_ms % 1000,
                           has_key ? key.c_str() : "", static_cast<unsigned long long>(bytes_in));
    }
    return std::snprintf(buf, cap,
                         "%s - - [%s] \"%s %s HTTP/1.1\" %d %llu \"-\" \"%s\" %ld.%03ld %s \"%s\" %llu\n",
                         ip, tl.c_str(), ep.method.c_str(), path.c_str(), status,
                         static_cast<unsigned long long>(bytes_out), agent, lat_ms / 1000, lat_ms % 1000,
                         up, has_key ? key.c_str() : "-", static_cast<unsigned long long>(bytes_in));
  }

 private:
  int BadLine(int64_t t, char* buf, size_t cap) {
    switch (rng_.Below(5)) {
      case 0:  // truncated mid-line (e.g. disk full, crash)
        return std::snprintf(buf, cap, "10.1.2.3 - - [%s] \"GET /v1/ord\n", TimeLocal(t).c_str());
      case 1:  // TLS handshake bytes sent to a plain-HTTP port
        return std::snprintf(buf, cap, "10.9.9.9 - - [%s] \"\\x16\\x03\\x01\\x02\\x00\\x01\\x00\" 400 157 \"-\" \"-\" 0.001 - \"-\" 0\n",
                             TimeLocal(t).c_str());
      case 2:  // empty request
        return std::snprintf(buf, cap, "10.2.2.2 - - [%s] \"\" 400 0 \"-\" \"-\" 0.000 - \"-\" 0\n",
                             TimeLocal(t).c_str());
      case 3:  // an error-log line in the access log
        return std::snprintf(buf, cap, "2026/11/20 10:00:00 [error] 1234#1234: *5 upstream timed out\n");
      default: {  // random binary garbage
        int n = 10 + static_cast<int>(rng_.Below(60));
        for (int i = 0; i < n; ++i) buf[i] = static_cast<char>(1 + rng_.Below(254) == '\n' ? 'x' : 1 + rng_.Below(254));
        for (int i = 0; i < n; ++i) if (buf[i] == '\n') buf[i] = 'x';
        buf[n] = '\n';
        return n + 1;
      }
    }
  }

  std::string TimeLocal(int64_t t) const {
    static const char* kMon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    auto c = apimeter::CivilFromSeconds(t + o_.tz_minutes * 60);
    char buf[40];
    const int tz = o_.tz_minutes < 0 ? -o_.tz_minutes : o_.tz_minutes;
    std::snprintf(buf, sizeof buf, "%02u/%s/%04lld:%02u:%02u:%02u %c%02d%02d", c.day, kMon[c.month - 1],
                  static_cast<long long>(c.year), c.hour, c.minute, c.second, o_.tz_minutes < 0 ? '-' : '+',
                  tz / 60, tz % 60);
    return buf;
  }
  std::string TimeIso(int64_t t) const { return apimeter::FormatIso8601(t).substr(0, 19) + "+00:00"; }

  Options o_;
  Rng rng_;
  std::vector<Endpoint> eps_;
  std::vector<double> ep_cdf_;
  Zipf zipf_;
  std::vector<std::string> keys_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"apimeter-loggen: realistic nginx API access logs"};
  app.add_option("--lines", o.lines, "number of lines (batch mode)");
  app.add_option("--start", o.start, "time of the first line (ISO-8601, batch mode)");
  app.add_option("--rps", o.rps, "average requests per second");
  app.add_option("--seed", o.seed, "random seed");
  app.add_option("--format", o.format, "api | combined | json")->check(CLI::IsMember({"api", "combined", "json"}));
  app.add_option("--out", o.out, "output file ('-' for stdout); appended to");
  app.add_option("--bad-ratio", o.bad_ratio, "share of malformed lines (0..1)");
  app.add_option("--endpoints", o.endpoints, "number of endpoint templates");
  app.add_option("--customers", o.customers, "number of API keys (Zipf)");
  app.add_option("--tz-minutes", o.tz_minutes, "zone offset written in $time_local, in minutes");
  app.add_flag("--follow", o.follow, "write live traffic at --rps in real time until killed");
  app.add_option("--duration", o.duration_s, "with --follow: stop after this many seconds (0 = never)");
  CLI11_PARSE(app, argc, argv);

  FILE* out = o.out == "-" ? stdout : std::fopen(o.out.c_str(), "a");
  if (!out) {
    std::fprintf(stderr, "apimeter-loggen: cannot open %s\n", o.out.c_str());
    return 1;
  }
  Generator gen(o);
  static char line[4096];
  if (!o.follow) {
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    auto start = apimeter::ParseTimePoint(o.start, now_s);
    if (!start.ok()) {
      std::fprintf(stderr, "apimeter-loggen: %s\n", start.status().message().c_str());
      return 2;
    }
    std::vector<char> buf;
    buf.reserve(1 << 20);
    for (uint64_t i = 0; i < o.lines; ++i) {
      const int64_t t = *start + static_cast<int64_t>(static_cast<double>(i) / o.rps);
      int n = gen.Line(t, line, sizeof line);
      std::fwrite(line, 1, static_cast<size_t>(n), out);
    }
    std::fclose(out);
    return 0;
  }
  // Live mode: a tick every 100 ms writes the lines due by then, stamped now.
  using Clock = std::chrono::system_clock;
  const auto begin = Clock::now();
  double due = 0;
  for (uint64_t written = 0;;) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
    if (o.duration_s > 0 && elapsed >= o.duration_s) break;
    due = elapsed * o.rps;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    while (static_cast<double>(written) < due) {
      int n = gen.Line(now, line, sizeof line);
      std::fwrite(line, 1, static_cast<size_t>(n), out);
      ++written;
    }
    std::fflush(out);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // pacing real-time output, not synchronisation
  }
  std::fclose(out);
  return 0;
}
