// HtmlEscape: every character that could open markup or end an attribute
// becomes an entity; everything else (UTF-8 included) passes unchanged.
#include "common/html_escape.h"

#include <gtest/gtest.h>

namespace apimeter {
namespace {

TEST(HtmlEscapeTest, MarkupAndQuotesBecomeEntities) {
  EXPECT_EQ(HtmlEscape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("a=\"b\" & c"), "a=&quot;b&quot; &amp; c");
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");  // escaped again, not taken as an entity
}

TEST(HtmlEscapeTest, OtherTextIsUnchanged) {
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("GET /v1/orders/:id Ünïcode"), "GET /v1/orders/:id Ünïcode");
}

}  // namespace
}  // namespace apimeter
