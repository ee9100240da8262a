// The C++ writers the page must agree with (report text::Ms, alerts
// FormatMetricValue) against tests/web/number_cases.json, which
// util.test.mjs holds web/util.js to as well: together they show the page,
// the reports and `apimeter alerts` write each number the same way.
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "alerts/notifier.h"
#include "report/text_format.h"

namespace apimeter {
namespace {

nlohmann::json Cases() {
  const char* root = std::getenv("APIMETER_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/tests/web/number_cases.json");
  return nlohmann::json::parse(in);
}

TEST(PageNumbers, ReportsWriteMillisecondsAsThePage) {
  const nlohmann::json cases = Cases();
  ASSERT_FALSE(cases.at("ms").empty());
  for (const auto& c : cases.at("ms")) {
    EXPECT_EQ(text::Ms(c[0]), c[1].get<std::string>()) << c.dump();
  }
}

TEST(PageNumbers, AlertsWriteValuesAsThePage) {
  const nlohmann::json cases = Cases();
  ASSERT_FALSE(cases.at("metric").empty());
  for (const auto& c : cases.at("metric")) {
    EXPECT_EQ(FormatMetricValue(c[0].get<std::string>(), c[1].get<double>()),
              c[2].get<std::string>())
        << c.dump();
  }
}

}  // namespace
}  // namespace apimeter
