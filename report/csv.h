// CSV as RFC 4180 says: fields separated by commas, records ended by CRLF, a
// field quoted (with inner quotes doubled) when it holds a comma, a quote, CR
// or LF. Values come from the report JSON: null is an empty field, strings as
// they are, numbers as JSON writes them. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace apimeter::csv {

std::string Field(std::string_view value);
std::string Value(const nlohmann::json& value);  // null → "", string unquoted, number as JSON
// One record: the fields (already converted with Value) joined, CRLF at the end.
std::string Row(const std::vector<std::string>& fields);

}  // namespace apimeter::csv
