// The JSON of the "who calls what" answers (issue 18: the customers of an
// endpoint; clients), written from their typed structs (query/
// endpoint_customers.h), for the HTTP API and `apimeter query --json`
// alike (docs/api.md). Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "query/endpoint_customers.h"

namespace apimeter {

// /api/v1/customers?endpoint=...: the customers answer's header and rows,
// each row with first_seen / last_seen (ISO minute or null).
nlohmann::json EndpointCustomersJson(const EndpointCustomersAnswer& a);

// A typed answer as a JSON Result: its error, or writer(answer).
template <typename T, typename Writer>
Result<nlohmann::json> ToJson(const Result<T>& answer, Writer writer) {
  if (!answer.ok()) return answer.status();
  return writer(*answer);
}

}  // namespace apimeter
