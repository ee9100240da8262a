#include "web/web_assets.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace apimeter {
namespace {

std::string ReadSourceFile(const std::string& relative) {
  const char* root = std::getenv("APIMETER_SOURCE_DIR");
  std::ifstream in(std::string(root ? root : ".") + "/web/" + relative, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(WebAssets, RootServesIndexHtml) {
  const WebAsset* root = FindWebAsset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_NE(root->body.find("<!doctype html>"), std::string_view::npos);
  EXPECT_EQ(FindWebAsset("/index.html"), root);
}

struct AssetCase {
  const char* path;
  const char* file;
  const char* content_type;
};

class EachAsset : public ::testing::TestWithParam<AssetCase> {};

TEST_P(EachAsset, ExistsWithRightTypeAndExactBytes) {
  const AssetCase& c = GetParam();
  const WebAsset* asset = FindWebAsset(c.path);
  ASSERT_NE(asset, nullptr) << c.path;
  EXPECT_EQ(asset->path, c.path);
  EXPECT_EQ(asset->content_type, c.content_type);
  const std::string on_disk = ReadSourceFile(c.file);
  ASSERT_FALSE(on_disk.empty()) << c.file;
  EXPECT_EQ(asset->body, on_disk) << "embedded bytes differ from web/" << c.file;
}

INSTANTIATE_TEST_SUITE_P(
    Dashboard, EachAsset,
    ::testing::Values(AssetCase{"/assets/index.html", "index.html", "text/html; charset=utf-8"},
                      AssetCase{"/assets/app.js", "app.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/util.js", "util.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/report.js", "report.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/alerts.js", "alerts.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/usage.js", "usage.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/clients.js", "clients.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/login.html", "login.html", "text/html; charset=utf-8"},
                      AssetCase{"/assets/login.css", "login.css", "text/css; charset=utf-8"},
                      AssetCase{"/assets/app.css", "app.css", "text/css; charset=utf-8"},
                      AssetCase{"/assets/vendor/uplot/uPlot.iife.min.js",
                                "vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8"},
                      AssetCase{"/assets/vendor/uplot/uPlot.min.css", "vendor/uplot/uPlot.min.css",
                                "text/css; charset=utf-8"},
                      AssetCase{"/assets/vendor/uplot/LICENSE", "vendor/uplot/LICENSE",
                                "text/plain; charset=utf-8"}));

// The server puts a refused sign-in's message in place of this mark.
TEST(WebAssets, LoginPageHasOneErrorMark) {
  const WebAsset* login = FindWebAsset("/assets/login.html");
  ASSERT_NE(login, nullptr);
  const size_t mark = login->body.find("<!--ERROR-->");
  ASSERT_NE(mark, std::string_view::npos);
  EXPECT_EQ(login->body.find("<!--ERROR-->", mark + 1), std::string_view::npos);
  EXPECT_NE(login->body.find("<form method=\"post\" action=\"/login\">"), std::string_view::npos);
}

// The Content-Security-Policy (server/http_util.h) has no 'unsafe-inline':
// the pages may hold no inline script, style or event handler, and their
// scripts are ES modules (no globals, no script order) besides vendored uPlot.
TEST(WebAssets, PagesHaveNothingInline) {
  for (const char* page : {"/assets/index.html", "/assets/login.html"}) {
    const WebAsset* a = FindWebAsset(page);
    ASSERT_NE(a, nullptr) << page;
    std::string html(a->body);
    for (char& c : html) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(html.find("<style"), std::string::npos) << page;
    EXPECT_EQ(html.find(" style="), std::string::npos) << page;
    EXPECT_EQ(html.find("javascript:"), std::string::npos) << page;
    for (size_t at = html.find("<script"); at != std::string::npos;
         at = html.find("<script", at + 1)) {
      const std::string tag = html.substr(at, html.find('>', at) - at);
      EXPECT_NE(tag.find(" src=\"/assets/"), std::string::npos) << page << ": " << tag;
      EXPECT_TRUE(tag.find("type=\"module\"") != std::string::npos ||
                  tag.find("/assets/vendor/") != std::string::npos)
          << page << ": " << tag;
      EXPECT_EQ(html.substr(html.find('>', at) + 1, 9), "</script>") << page << ": " << tag;
    }
    static const std::regex kHandler(R"(<[^>]*\son[a-z]+\s*=)");
    EXPECT_FALSE(std::regex_search(html, kHandler)) << page << ": an inline event handler";
  }
}

TEST(WebAssets, UnknownAndTraversalPathsAreNotFound) {
  EXPECT_EQ(FindWebAsset(""), nullptr);
  EXPECT_EQ(FindWebAsset("/app.js"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/../web_assets.cpp"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/vendor/../app.js"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/app.js?v=1"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/CMakeLists.txt"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/embed_assets.cmake"), nullptr);
  EXPECT_EQ(FindWebAsset("/assets/vendor/README.md"), nullptr);
}

}  // namespace
}  // namespace apimeter
