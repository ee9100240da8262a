// Customers file: the optional mapping from apimeter customer ids to display
// names, used only inside config/.
//
// Promise: ParseCustomersYaml accepts exactly
//   customers: { "k_<12 lowercase hex>": "Display Name", ... }
// and refuses anything else with "<file>:<line>: <what>; <how to fix>". Keys
// must be customer ids, never raw API keys (the file is shown to people and
// stored in config management, so a raw key there would leak it). Names are
// 1..64 bytes without control characters. Pure: no I/O.
// Thread-safety: stateless.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace apimeter::config_internal {

inline constexpr size_t kMaxCustomerNameBytes = 64;

// "k_" followed by exactly 12 lowercase hex digits.
bool IsCustomerId(std::string_view s);

Result<std::map<std::string, std::string>> ParseCustomersYaml(const std::string& text,
                                                              const std::string& file_name);

}  // namespace apimeter::config_internal
