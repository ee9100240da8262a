// HtmlEscape: text made safe for HTML element content and quoted attribute
// values (& < > " ' become entities). Used by the sign-in page and the HTML
// reports, so both escape names from logs the same way. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace apimeter {

std::string HtmlEscape(std::string_view text);

}  // namespace apimeter
