// The JSON of the query API (docs/api.md), written from the typed answers of
// QueryEngine (query/answers.h). The one place an answer becomes JSON: the
// HTTP API (QueryEngineBackend, server/api_handler.h) and `apimeter query
// --json` both call it, so they cannot drift apart.
//
// Promise: pure functions, thread-safe. Each writes exactly the keys and
// numbers docs/api.md lists: an empty std::optional becomes null, never 0;
// "resolution"/"note" appear only for day-resolution answers and
// "partial"/"damaged" only when blocks were left out. Strings are valid
// UTF-8 (invalid bytes of untrusted names become U+FFFD), so dumping the
// JSON never throws.
#pragma once

#include <utility>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "query/answers.h"

namespace apimeter {

nlohmann::json ToJson(const OverviewAnswer& a);
nlohmann::json ToJson(const TopListAnswer& a);
nlohmann::json ToJson(const ClientsAnswer& a);
nlohmann::json ToJson(const SeriesAnswer& a);
nlohmann::json ToJson(const SlowAnswer& a);
nlohmann::json ToJson(const HeatmapAnswer& a);

// An answer or its error, as JSON or the same error.
template <class Answer>
Result<nlohmann::json> ToJson(const Result<Answer>& r) {
  if (!r.ok()) return r.status();
  return ToJson(*r);
}

}  // namespace apimeter
