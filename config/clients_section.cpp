#include "config/clients_section.h"

#include <string>

#include "config/config_keys.h"

namespace apimeter::config_internal {
namespace {

constexpr const char* kExample =
    "write e.g.\nclients:\n  rules:\n    - product: acme-python\n      version: major";

Result<ClientRule> LoadRule(const YamlReader& r, const YAML::Node& node) {
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                            r.OpenMap(node, "clients.rules[]", config_keys::kClientRule));
  ClientRule rule;
  for (const YamlField& x : fields) {
    const std::string name = "clients.rules[]." + x.key;
    APIMETER_ASSIGN_OR_RETURN(std::string v, r.String(x, name));
    if (x.key == "product") {
      rule.product = v;
    } else if (x.key == "name") {
      rule.name = v;
    } else {
      Result<ClientVersion> version = ParseClientVersion(v);
      if (!version.ok()) return r.ErrorAt(x, name + ": " + version.status().message());
      rule.version = *version;
    }
  }
  if (Status st = CheckClientRule(rule); !st.ok()) {
    return r.ErrorAt(node, "clients.rules[]: " + st.message());
  }
  return rule;
}

}  // namespace

Status LoadClients(const YamlReader& r, const YamlField& f, std::vector<ClientRule>* rules) {
  APIMETER_ASSIGN_OR_RETURN(std::vector<YamlField> fields,
                            r.OpenMap(f.value, "clients", config_keys::kClients));
  for (const YamlField& x : fields) {  // "rules", the one key
    if (x.value.IsNull()) continue;
    if (!x.value.IsSequence()) {
      return r.ErrorAt(x, std::string("clients.rules must be a list of {product, version, name}; ") +
                              kExample);
    }
    if (x.value.size() > kMaxClientRules) {
      return r.ErrorAt(x, "too many clients.rules (at most " + std::to_string(kMaxClientRules) +
                              ")");
    }
    for (const YAML::Node& item : x.value) {
      if (!item.IsMap()) {
        return r.ErrorAt(item.IsNull() ? x.key_node : item,
                         std::string("a client rule must be a mapping; ") + kExample);
      }
      APIMETER_ASSIGN_OR_RETURN(ClientRule rule, LoadRule(r, item));
      rules->push_back(std::move(rule));
    }
  }
  return Status::Ok();
}

}  // namespace apimeter::config_internal
