// The loader of the `clients:` section (issue 18 part 2: the client / SDK
// dimension from the user agent), used only inside config/.
//
// Promise: either fills *out with validated rules (parsers/client_agent.h
// CheckClientRule) or returns the first problem as "<file>:<line>: <what>;
// <how to fix>". No I/O. Thread-safety: stateless.
#pragma once

#include <vector>

#include "common/result.h"
#include "config/yaml_reader.h"
#include "parsers/client_agent.h"

namespace apimeter::config_internal {

// At most this many config rules (the table is looked up per distinct user agent).
inline constexpr size_t kMaxClientRules = 1000;

Status LoadClients(const YamlReader& r, const YamlField& f, std::vector<ClientRule>* rules);

}  // namespace apimeter::config_internal
