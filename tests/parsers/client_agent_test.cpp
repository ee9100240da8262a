// The user-agent reduction table (issue 18 part 2) on the user agents people
// actually send, on junk, and with config rules that add and override.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "parsers/client_agent.h"

namespace apimeter {
namespace {

TEST(ClientAgent, ReducesTheFormatsPeopleSend) {
  const ClientReducer r;
  const std::vector<std::pair<std::string, std::string>> cases = {
      // browsers: one client, whatever the engine and version
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0.0.0 Safari/537.36",
       "Mozilla"},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
       "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
       "Mozilla"},
      {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Mozilla"},
      // command-line tools: by major version
      {"curl/8.4.0", "curl/8"},
      {"curl/7.88.1", "curl/7"},
      {"Wget/1.21.3", "Wget/1"},
      // libraries and SDKs: product/major.minor
      {"okhttp/4.12.0", "okhttp/4.12"},
      {"python-requests/2.31.0", "python-requests/2.31"},
      {"Go-http-client/1.1", "Go-http-client/1.1"},
      {"Go-http-client/2.0", "Go-http-client/2.0"},
      {"aws-sdk-go/1.44.122 (go1.20.4; linux; amd64)", "aws-sdk-go/1.44"},
      {"aws-sdk-java/2.20.43 Linux/5.10.186 OpenJDK_64-Bit_Server_VM/17.0.8+7-LTS Java/17.0.8",
       "aws-sdk-java/2.20"},
      {"Boto3/1.28.57 md/Botocore#1.31.57 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.11.4",
       "Boto3/1.28"},
      {"aws-cli/2.13.25 Python/3.11.6 Linux/6.2.0 exe/x86_64.ubuntu.22 prompt/off", "aws-cli/2.13"},
      {"acme-python/2.3.1 (Linux; CPython 3.12)", "acme-python/2.3"},
      {"Apache-HttpClient/4.5.13 (Java/11.0.19)", "Apache-HttpClient/4.5"},
      {"PostmanRuntime/7.36.0", "PostmanRuntime/7.36"},
      {"axios/1.6.2", "axios/1.6"},
      {"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "node-fetch/1.0"},
      {"Dart/3.2 (dart:io)", "Dart/3.2"},
      {"grpc-java-netty/1.58.0", "grpc-java-netty/1.58"},
      // versions that are not numbers, or only a major
      {"MyApp/7", "MyApp/7"},
      {"MyApp/beta", "MyApp"},
      {"MyApp", "MyApp"},
      {"MyApp (compatible)", "MyApp"},
      {"Java/17.0.8", "Java/17.0"},
      // not sent
      {"", "none"},
      {"-", "none"},
      {"   ", "none"},
  };
  for (const auto& [ua, want] : cases) EXPECT_EQ(r.Reduce(ua), want) << ua;
}

TEST(ClientAgent, UntrustedInputGivesABoundedPrintableName) {
  const ClientReducer r;
  EXPECT_EQ(r.Reduce(std::string(100000, 'A')), "other");  // product over the bound
  EXPECT_EQ(r.Reduce("x/" + std::string(100000, '9')), "x/9999999");
  EXPECT_EQ(r.Reduce("x/1." + std::string(5000, '2')), "x/1.22222");
  EXPECT_EQ(r.Reduce("evil\x01/1.0"), "other");     // a control byte in the product
  EXPECT_EQ(r.Reduce("\x1b[31mred/1.0"), "other");  // terminal escapes
  EXPECT_EQ(r.Reduce("caf\xc3\xa9/1.0"), "other");  // not ASCII
  EXPECT_EQ(r.Reduce("\"quoted\"/1.0"), "other");
  EXPECT_EQ(r.Reduce("a/1\n2"), "a/1");
  EXPECT_EQ(r.Reduce(std::string("nul\0/1", 6)), "other");
  for (const std::string ua : {std::string(3000, '/'), std::string("a/") + std::string(600, '.'),
                               std::string(300, 'z') + "/1.2"}) {
    const std::string name = r.Reduce(ua);
    EXPECT_LE(name.size(), kMaxClientNameBytes) << name;
    for (char c : name) EXPECT_TRUE(c >= 0x21 && c < 0x7f) << name;
  }
}

TEST(ClientAgent, ConfigRulesAddAndOverride) {
  const ClientReducer r({{"acme-python", ClientVersion::kMajor, ""},
                         {"curl", ClientVersion::kMajorMinor, ""},
                         {"ACME-Java", ClientVersion::kMajorMinor, "acme-java-sdk"},
                         {"Mozilla", ClientVersion::kNone, "browser"}});
  EXPECT_EQ(r.Reduce("acme-python/2.3.1"), "acme-python/2");
  EXPECT_EQ(r.Reduce("curl/8.4.0"), "curl/8.4");  // overrides the built-in rule
  EXPECT_EQ(r.Reduce("acme-java/5.1.0"), "acme-java-sdk/5.1");  // products match without case
  EXPECT_EQ(r.Reduce("Mozilla/5.0 (X11)"), "browser");
  EXPECT_EQ(ClientReducer().Reduce("acme-python/2.3.1"), "acme-python/2.3");
}

TEST(ClientAgent, RulesFromTheConfigAreChecked) {
  EXPECT_TRUE(CheckClientRule({"acme-python", ClientVersion::kMajor, ""}).ok());
  EXPECT_TRUE(CheckClientRule({"acme", ClientVersion::kMajor, "acme-sdk"}).ok());
  EXPECT_FALSE(CheckClientRule({"", ClientVersion::kMajor, ""}).ok());
  EXPECT_FALSE(CheckClientRule({"acme python", ClientVersion::kMajor, ""}).ok());
  EXPECT_FALSE(CheckClientRule({"acme/2", ClientVersion::kMajor, ""}).ok());
  EXPECT_FALSE(CheckClientRule({std::string(49, 'a'), ClientVersion::kMajor, ""}).ok());
  EXPECT_FALSE(CheckClientRule({"acme", ClientVersion::kMajor, "bad\x01name"}).ok());
  EXPECT_EQ(*ParseClientVersion("major"), ClientVersion::kMajor);
  EXPECT_EQ(*ParseClientVersion("none"), ClientVersion::kNone);
  EXPECT_EQ(*ParseClientVersion("major.minor"), ClientVersion::kMajorMinor);
  EXPECT_NE(ParseClientVersion("minor").status().message().find("major.minor, major or none"),
            std::string::npos);
}

}  // namespace
}  // namespace apimeter
