#include "config/customers_file.h"

#include "config/yaml_reader.h"

namespace apimeter::config_internal {
namespace {

constexpr std::string_view kCustomersFileKeys[] = {"customers"};

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool HasControlChar(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

Status CheckName(const YamlReader& r, const YAML::Node& node, const std::string& name) {
  if (name.empty() || name.size() > kMaxCustomerNameBytes) {
    return r.ErrorAt(node, "customer name must be 1 to " + std::to_string(kMaxCustomerNameBytes) +
                               " bytes, got " + std::to_string(name.size()) +
                               "; shorten or fill in the name");
  }
  if (HasControlChar(name)) {
    return r.ErrorAt(node, "customer name contains a control character; use printable text only");
  }
  return Status::Ok();
}

}  // namespace

bool IsCustomerId(std::string_view s) {
  if (s.size() != 14 || s.substr(0, 2) != "k_") return false;
  for (char c : s.substr(2)) {
    if (!IsLowerHex(c)) return false;
  }
  return true;
}

Result<std::map<std::string, std::string>> ParseCustomersYaml(const std::string& text,
                                                              const std::string& file_name) {
  const YamlReader r(file_name);
  APIMETER_ASSIGN_OR_RETURN(YAML::Node root, r.Parse(text));
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> top, r.OpenMap(root, "", kCustomersFileKeys));
  std::map<std::string, std::string> out;
  if (top.empty()) {
    return r.ErrorAtLine(1,
                         "the customers file has no 'customers:' mapping; write "
                         "customers: { \"k_3f9a1c2b7d4e\": \"Acme Corp\" }");
  }
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> entries,
                            r.OpenMap(top[0].value, "customers", {}, /*any_key=*/true));
  for (const YamlField& e : entries) {
    if (!IsCustomerId(e.key)) {
      return r.ErrorAt(e.key_node,
                       "customers file must list customer ids (k_...), not raw API keys; get an "
                       "id with `apimeter customer-id`");
    }
    APIMETER_ASSIGN_OR_RETURN(std::string name, r.String(e, "customers." + e.key));
    APIMETER_RETURN_IF_ERROR(CheckName(r, e.value, name));
    out.emplace(e.key, std::move(name));
  }
  return out;
}

}  // namespace apimeter::config_internal
