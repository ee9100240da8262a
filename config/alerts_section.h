// The loader of the `alerts:` section (config/alerts_config.h), used only
// inside config/.
//
// Promise: either fills *out with validated rules, webhooks and settings, or
// returns the first problem as "<file>:<line>: <what>; <how to fix>": unknown
// metric, threshold without its unit ("500" instead of "500ms" or "2%"), a
// regex that does not compile, a rule naming an unknown webhook, duplicate
// names. No I/O. Thread-safety: stateless.
#pragma once

#include <string_view>

#include "common/result.h"
#include "config/alerts_config.h"
#include "config/yaml_reader.h"

namespace apimeter::config_internal {

Status LoadAlerts(const YamlReader& r, const YamlField& f, AlertsConfig* out);

// Threshold text → canonical value (see AlertRuleConfig::threshold). Fails
// with a message (no position) saying which unit to write.
Result<double> ParseAlertThreshold(std::string_view text, AlertMetric metric, bool baseline);

}  // namespace apimeter::config_internal
