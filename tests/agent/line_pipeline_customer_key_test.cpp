// LinePipeline with customer keys taken from part of a value (customer_jwt_claim,
// customer_match): every line is counted once; a value that gives no key counts as
// anonymous and in customer_key_errors by reason; the raw token reaches no aggregate.
#include "agent/line_pipeline.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "agent/runtime.h"
#include "tests/support/jwt.h"

namespace apimeter {
namespace {

constexpr char kSecret[] = "pipeline-test-secret-0123456789";

using testing::Jwt;

class LinePipelineCustomerKeyTest : public ::testing::Test {
 protected:
  // Requests per customer (minute tier) after processing `authorization` values.
  std::map<std::string, uint64_t> Run(const std::string& keys,
                                      const std::vector<std::string>& authorization) {
    const std::string yaml =
        "sources:\n  - paths: [\"/var/log/nginx/api.log\"]\n"
        "    log_format: '$remote_addr [$time_local] \"$request\" $status "
        "\"$http_authorization\"'\n"
        "    customer: $http_authorization\n" +
        keys + "    host: t1\ncustomer_id_secret: \"" + kSecret + "\"\n";
    auto config = LoadConfigString(yaml, "test.yaml");
    EXPECT_TRUE(config.ok()) << config.status().ToString();
    if (!config.ok()) return {};
    auto rt = Runtime::Create(*config, &clock_);
    EXPECT_TRUE(rt.ok()) << rt.status().ToString();
    if (!rt.ok()) return {};
    Aggregator aggregator((*rt)->aggregator_options());
    SourceRuntime& src = (*rt)->sources().front();
    pipeline_ =
        std::make_unique<LinePipeline>(&src.parser, &src.customer_key, &(*rt)->normalizer(),
                                       &(*rt)->customers(), &aggregator, &rejected_, &clock_);
    for (const std::string& a : authorization) {
      const std::string line =
          "1.2.3.4 [10/Oct/2025:13:55:36 +0000] \"GET /v1/x HTTP/1.1\" 200 \"" + a + "\"";
      pipeline_->Process(line, "api.log", 0);
    }
    std::map<std::string, uint64_t> out;
    for (const SeriesDelta& d : aggregator.TakeBatch().series) {
      for (const std::string& a : authorization) {
        if (a.size() > 30) {
          EXPECT_EQ(d.name.find(a.substr(7)), std::string::npos) << "raw token";
        }
      }
      if (d.tier == Tier::kMinute && d.kind == SeriesKind::kCustomer) {
        out[d.name] += d.rollup.requests;
      }
    }
    return out;
  }
  uint64_t Errors(CustomerKeyError e) const { return pipeline_->customer_key_errors(e); }

  ManualClock clock_{1760104536LL * 1000000};
  RejectedLines rejected_;
  std::unique_ptr<LinePipeline> pipeline_;
};

TEST_F(LinePipelineCustomerKeyTest, JwtClaimIsTheCustomerAndBadTokensAreAnonymous) {
  const std::string a1 = "Bearer " + Jwt(R"({"sub":"client-1","jti":"a"})");
  const std::string a2 = "Bearer " + Jwt(R"({"jti":"b","sub":"client-1"})");
  const std::string b = "Bearer " + Jwt(R"({"sub":"client-2"})");
  const auto counts = Run("    customer_jwt_claim: sub\n",
                          {a1, a1, a2, b, "Bearer not-a-jwt", "Bearer " + Jwt(R"({"aud":"x"})"),
                           "-", "Basic dXNlcjpwYXNz"});
  EXPECT_EQ(pipeline_->parsed(), 8u);
  EXPECT_EQ(pipeline_->rejected(), 0u);
  EXPECT_EQ(Errors(CustomerKeyError::kJwtMalformed), 2u);  // not-a-jwt, Basic
  EXPECT_EQ(Errors(CustomerKeyError::kJwtNoClaim), 1u);
  EXPECT_EQ(Errors(CustomerKeyError::kMatchFailed), 0u);
  const std::map<std::string, uint64_t> want = {
      {CustomerResolver::IdFor(kSecret, "client-1"), 3},
      {CustomerResolver::IdFor(kSecret, "client-2"), 1},
      {"anonymous", 4},  // two malformed, one without the claim, one without the header
  };
  EXPECT_EQ(counts, want);
}

TEST_F(LinePipelineCustomerKeyTest, MatchThenClaimAndNoMatch) {
  const std::string a = "Bearer " + Jwt(R"({"client_id":"svc-9"})");
  const auto counts =
      Run("    customer_match: '^Bearer (.+)$'\n    customer_jwt_claim: client_id\n",
          {a, "Token abc", a});
  EXPECT_EQ(pipeline_->parsed(), 3u);
  EXPECT_EQ(Errors(CustomerKeyError::kMatchFailed), 1u);
  const std::map<std::string, uint64_t> want = {{CustomerResolver::IdFor(kSecret, "svc-9"), 2},
                                                {"anonymous", 1}};
  EXPECT_EQ(counts, want);
}

TEST_F(LinePipelineCustomerKeyTest, WithoutExtractionTheWholeValueIsTheKey) {
  const auto counts = Run("", {"Bearer abc", "Bearer abc", "-"});
  const std::map<std::string, uint64_t> want = {{CustomerResolver::IdFor(kSecret, "Bearer abc"), 2},
                                                {"anonymous", 1}};
  EXPECT_EQ(counts, want);
}

}  // namespace
}  // namespace apimeter
