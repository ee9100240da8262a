// Customer keys from part of a value: customer_match (RE2, one group) and
// customer_jwt_claim (JwtClaim's allocation-free scanner), against decoding the same
// payload with nlohmann::json, the obvious alternative. items_per_second = values/s.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "parsers/customer_key.h"
#include "tests/support/jwt.h"

namespace {

using apimeter::CustomerKeyError;
using apimeter::CustomerKeyExtractor;

using apimeter::testing::Base64Url;

// Realistic access tokens: an OIDC provider's claims, ~600 bytes of JSON.
std::vector<std::string> Tokens() {
  std::vector<std::string> out;
  for (int i = 0; i < 4; ++i) {
    const std::string payload =
        R"({"iss":"https://auth.example.com/realms/prod","aud":["api","account"],)"
        R"("exp":1760000000,"iat":1759996400,"auth_time":1759996399,"jti":"b6f1c8e2-)" +
        std::to_string(1000 + i) +
        R"(","typ":"Bearer","azp":"web-app","session_state":"0c9a5f3e-7d1b-4e2a-9f6c-)"
        R"(3b8d2e1a4c5f","acr":"1","allowed-origins":["https://app.example.com"],)"
        R"("realm_access":{"roles":["offline_access","uma_authorization","user"]},)"
        R"("scope":"openid email profile","sid":"0c9a5f3e","email_verified":true,)"
        R"("name":"Jane Doe","preferred_username":"jane","email":"jane@example.com",)"
        R"("client_id":"svc-)" +
        std::to_string(i) + R"(","sub":"5f2b7c1e-8a3d-4f6b-9c2e-1d7a8b3c4e5)" + std::to_string(i) +
        R"("})";
    out.push_back("Bearer " + Base64Url(R"({"alg":"RS256","typ":"JWT","kid":"abc123"})") + "." +
                  Base64Url(payload) + "." + std::string(342, 'S'));
  }
  return out;
}

CustomerKeyExtractor Make(const char* match, const char* claim) {
  auto x = CustomerKeyExtractor::Compile({match, claim});
  if (!x.ok()) std::abort();
  return *x;
}

void Run(benchmark::State& state, const CustomerKeyExtractor& x) {
  const std::vector<std::string> tokens = Tokens();
  std::string scratch;
  std::string_view key;
  CustomerKeyError error;
  size_t i = 0;
  for (auto _ : state) {
    if (!x.Extract(tokens[i++ % tokens.size()], &scratch, &key, &error)) {
      state.SkipWithError("no key");
    }
    benchmark::DoNotOptimize(key.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_CustomerMatch_Bearer(benchmark::State& s) { Run(s, Make("^Bearer (.+)$", "")); }
void BM_JwtClaim_Scanner(benchmark::State& s) { Run(s, Make("", "sub")); }
void BM_JwtClaim_MatchThenScanner(benchmark::State& s) { Run(s, Make("^Bearer (.+)$", "sub")); }

// The same work with nlohmann::json: split, base64url-decode by hand into a reused string,
// parse the whole payload into a DOM, look the claim up and copy it out.
void BM_JwtClaim_Nlohmann(benchmark::State& state) {
  const std::vector<std::string> tokens = Tokens();
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int j = 0; j < 64; ++j) t[static_cast<unsigned char>(k[j])] = static_cast<int8_t>(j);
    return t;
  }();
  std::string decoded, key;
  size_t i = 0;
  for (auto _ : state) {
    std::string_view t = tokens[i++ % tokens.size()];
    t.remove_prefix(7);
    const size_t a = t.find('.'), b = t.find('.', a + 1);
    const std::string_view payload = t.substr(a + 1, b - a - 1);
    decoded.clear();
    uint32_t acc = 0;
    int bits = 0;
    for (char c : payload) {
      acc = acc << 6 | static_cast<uint32_t>(table[static_cast<unsigned char>(c)]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        decoded += static_cast<char>((acc >> bits) & 0xff);
      }
    }
    const nlohmann::json j = nlohmann::json::parse(decoded, nullptr, false);
    if (j.is_discarded() || !j.contains("sub")) state.SkipWithError("no key");
    key = j["sub"].get<std::string>();
    benchmark::DoNotOptimize(key.data());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_CustomerMatch_Bearer);
BENCHMARK(BM_JwtClaim_Scanner);
BENCHMARK(BM_JwtClaim_MatchThenScanner);
BENCHMARK(BM_JwtClaim_Nlohmann);

}  // namespace

BENCHMARK_MAIN();
