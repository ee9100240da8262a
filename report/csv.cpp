// RFC 4180 CSV writing (see csv.h).
#include "report/csv.h"

namespace apimeter::csv {

std::string Field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string Value(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    const bool formula = !text.empty() && std::string_view("=+-@\t\r").find(text[0]) !=
                                              std::string_view::npos;
    return formula ? "'" + text : text;
  }
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

std::string Row(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += Field(fields[i]);
  }
  out += "\r\n";
  return out;
}

}  // namespace apimeter::csv
