// The loader of the `server:` section (apimeter serve): listen address,
// tokens (plain hashes, or mappings with a role and a customer scope),
// sessions, workers and trusted-header sign-in. Used only inside config/.
//
// Promise: LoadServer either fills *out with validated values or returns the
// first problem as "<file>:<line>: <what>; <how to fix>". Customer scopes are
// resolved by ResolveServerCustomers once the customers file is read: a
// scope is a customer id (k_...) or a name of the customers file, and ends
// up as the name stored in Redis plus its id. No I/O.
// Thread-safety: stateless functions.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace apimeter::config_internal {

// "host:port" with a port in 1..65535 ("[::1]:9465" works too).
bool IsHostPort(std::string_view s);

Status LoadServer(const YamlReader& r, const YamlField& f, ServerConfig* out);

// Fills customer_name / customer_id of every grant from `customers` (id →
// display name); an unknown customer is an error at the grant's line.
Status ResolveServerCustomers(const YamlReader& r, const std::map<std::string, std::string>& customers,
                              ServerConfig* server);

}  // namespace apimeter::config_internal
