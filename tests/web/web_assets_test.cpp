#include "web/web_assets.h"

#include <cstdlib>
#include <fstream>
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
