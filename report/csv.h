// CSV as RFC 4180 says: fields separated by commas, records ended by CRLF, a
// field quoted (with inner quotes doubled) when it holds a comma, a quote, CR
// or LF. Values come from the report JSON: null is an empty field, numbers as
// JSON writes them, strings as they are except that a string starting with
// = + - @ TAB or CR gets a leading ' so a spreadsheet shows it as text instead
// of running it as a formula (endpoint and customer names come from logs,
// which anyone who can send a request writes into). Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace apimeter::csv {

std::string Field(std::string_view value);
// null → "", string unquoted (formula-like ones prefixed with '), number as JSON.
std::string Value(const nlohmann::json& value);
// One record: the fields (already converted with Value) joined, CRLF at the end.
std::string Row(const std::vector<std::string>& fields);

}  // namespace apimeter::csv
