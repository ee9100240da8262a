// The loader of the `prometheus:` section (config/prometheus_config.h), used
// only inside config/.
//
// Promise: either fills *out with validated values or returns the first
// problem as "<file>:<line>: <what>; <how to fix>". No I/O. Thread-safety:
// stateless.
#pragma once

#include "common/result.h"
#include "config/prometheus_config.h"
#include "config/yaml_reader.h"

namespace apimeter::config_internal {

Status LoadPrometheus(const YamlReader& r, const YamlField& f, PrometheusConfig* out);

}  // namespace apimeter::config_internal
