// The OpenAPI 3 description of the HTTP API, kept by hand next to the
// handler (tests check it parses and names every route).
#include "server/api_handler.h"

namespace apimeter {

std::string_view OpenApiDocument() {
  static constexpr std::string_view kDoc = R"json({
  "openapi": "3.0.3",
  "info": {"title": "apimeter HTTP API", "version": "1",
           "description": "Exact per-minute API usage aggregates. Answers are the JSON contract of docs/api.md."},
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer"},
      "session": {"type": "apiKey", "in": "cookie", "name": "apimeter_session"}
    },
    "parameters": {
      "from": {"name": "from", "in": "query", "schema": {"type": "string", "default": "24h"},
               "description": "start (inclusive): now, 15m, 1h, 24h, 7d, 30d, ISO-8601 or epoch seconds"},
      "to": {"name": "to", "in": "query", "schema": {"type": "string", "default": "now"},
             "description": "end (exclusive), same forms as from; the range may not exceed 400 days"},
      "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20}},
      "step": {"name": "step", "in": "query", "schema": {"type": "string"},
               "description": "timeseries step: a duration (1m, 1h, 1d) or seconds"},
      "host": {"name": "host", "in": "query", "schema": {"type": "string"}},
      "endpoint": {"name": "endpoint", "in": "query", "schema": {"type": "string"},
                   "description": "e.g. GET /v1/orders/:id"},
      "customer": {"name": "customer", "in": "query", "schema": {"type": "string"}}
    },
    "schemas": {
      "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "parameter": {"type": "string"}, "message": {"type": "string"}}, "required": ["message"]}}}
    },
    "responses": {
      "Answer": {"description": "the answer (docs/api.md)", "content": {"application/json": {"schema": {"type": "object"}}}},
      "BadRequest": {"description": "a bad parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "no valid token or session", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unavailable": {"description": "Redis unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"bearer": []}, {"session": []}],
  "paths": {
    "/api/v1/overview": {"get": {"summary": "totals, status codes and latency percentiles",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/host"}, {"$ref": "#/components/parameters/endpoint"},
        {"$ref": "#/components/parameters/customer"}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/endpoints": {"get": {"summary": "top endpoints",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/customer"}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/customers": {"get": {"summary": "top customers; with endpoint: the customers of that endpoint with first_seen and last_seen (whole UTC days)",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/endpoint"}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/clients": {"get": {"summary": "the clients (user agents reduced to product/version) of all traffic, one endpoint or one customer (whole UTC days; logged false when no source logged $http_user_agent)",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/endpoint"},
        {"$ref": "#/components/parameters/customer"}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/timeseries": {"get": {"summary": "requests, errors and latency per step",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/step"}, {"$ref": "#/components/parameters/host"},
        {"$ref": "#/components/parameters/endpoint"}, {"$ref": "#/components/parameters/customer"}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/slow": {"get": {"summary": "slowest requests",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/limit"}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/heatmap": {"get": {"summary": "endpoint x hour/day grid of one metric",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"$ref": "#/components/parameters/limit"},
        {"name": "metric", "in": "query", "schema": {"type": "string", "default": "requests",
          "enum": ["p99", "p95", "p50", "requests", "error_rate"]}}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/api/v1/live": {"get": {"summary": "Server-Sent Events: the last window per minute, pushed every interval seconds",
      "parameters": [{"$ref": "#/components/parameters/host"}, {"$ref": "#/components/parameters/endpoint"},
        {"$ref": "#/components/parameters/customer"},
        {"name": "window", "in": "query", "schema": {"type": "string", "default": "15m"}, "description": "1m..6h, whole minutes"},
        {"name": "interval", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 60, "default": 5}}],
      "responses": {"200": {"description": "event stream: 'live' events (JSON data), 'live-error' when Redis cannot be read",
          "content": {"text/event-stream": {}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/alerts": {"get": {"summary": "alerts pending or firing now and the recent history, newest first (docs/alerts.md)",
      "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}],
      "responses": {"200": {"description": "evaluated_minute, rules, active[], history[]", "content": {"application/json": {}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/report": {"get": {"summary": "a customer's usage report over whole UTC days (docs/reports.md); default the last 30 full days",
      "parameters": [{"name": "customer", "in": "query", "required": true, "schema": {"type": "string"}},
        {"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"name": "format", "in": "query", "schema": {"type": "string", "default": "json", "enum": ["json", "csv", "html", "pdf"]}},
        {"name": "top", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}}],
      "responses": {"200": {"description": "the report; csv/html/pdf as an attachment (Content-Disposition)",
          "content": {"application/json": {}, "text/csv": {}, "text/html": {}, "application/pdf": {}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"description": "unknown customer"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/attribution": {"get": {"summary": "cost attribution: customers by share of calls and bytes, cumulative share, customer x endpoint matrix",
      "parameters": [{"$ref": "#/components/parameters/from"}, {"$ref": "#/components/parameters/to"},
        {"name": "format", "in": "query", "schema": {"type": "string", "default": "json", "enum": ["json", "csv"]}},
        {"name": "section", "in": "query", "schema": {"type": "string", "default": "customers", "enum": ["customers", "curve", "matrix"]}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
        {"name": "matrix_customers", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}},
        {"name": "matrix_endpoints", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 15}}],
      "responses": {"200": {"$ref": "#/components/responses/Answer"}, "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/api/v1/me": {"get": {"summary": "who the caller is: role (admin or viewer), customer (its scope, or null for every customer), customer_id, user (trusted-header sign-in)",
      "responses": {"200": {"description": "role, customer, customer_id, user", "content": {"application/json": {}}},
        "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/healthz": {"get": {"summary": "liveness; no auth", "security": [],
      "responses": {"200": {"description": "ok", "content": {"text/plain": {}}}}}}
  }
}
)json";
  return kDoc;
}

}  // namespace apimeter
