// Route access by role and customer scope (see access.h).
#include "server/access.h"

#include <nlohmann/json.hpp>

namespace apimeter {
namespace {

using nlohmann::json;

const RouteAccess* FindRoute(std::string_view path) {
  for (const RouteAccess& r : kRouteAccess) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

HttpResponse Forbidden(const std::string& message, const std::string& parameter = "") {
  return ErrorResponse(403, message, parameter);
}

// Drops, at any depth, array elements that are objects naming another
// customer in a string "customer" field. Returns how many were dropped.
size_t DropOtherCustomers(const Access& who, json* j) {
  size_t dropped = 0;
  if (j->is_array()) {
    json kept = json::array();
    for (json& e : *j) {
      if (e.is_object()) {
        auto c = e.find("customer");
        if (c != e.end() && c->is_string() && !who.IsOwnCustomer(c->get<std::string>())) {
          ++dropped;
          continue;
        }
      }
      dropped += DropOtherCustomers(who, &e);
      kept.push_back(std::move(e));
    }
    *j = std::move(kept);
  } else if (j->is_object()) {
    for (auto& [k, v] : j->items()) dropped += DropOtherCustomers(who, &v);
  }
  return dropped;
}

}  // namespace

std::string_view RoleName(Role role) { return role == Role::kAdmin ? "admin" : "viewer"; }

std::optional<HttpResponse> ApplyAccess(const Access& who, std::string_view path,
                                        FormParams* params) {
  const RouteAccess* route = FindRoute(path);
  if (route != nullptr && route->admin_only && who.role != Role::kAdmin) {
    return Forbidden("this route is for admin tokens only; this token's role is " +
                     std::string(RoleName(who.role)));
  }
  if (!who.scoped()) return std::nullopt;
  // Naming another customer is refused on every route, listed or not.
  const std::string param(kCustomerParam);
  auto it = params->find(param);
  if (it != params->end() && !who.IsOwnCustomer(it->second)) {
    return Forbidden("this token may read only its own customer's numbers", param);
  }
  if (route == nullptr || route->scope == ScopeRule::kAllCustomers) {
    return Forbidden(
        "this route is not open to a customer-scoped token: its answer covers other customers");
  }
  if (route->scope == ScopeRule::kNoTraffic) return std::nullopt;
  (*params)[param] = who.customer;
  return std::nullopt;
}

void ScrubAnswer(const Access& who, std::string_view path, HttpResponse* response) {
  if (!who.scoped() || response->status != 200) return;
  auto type = response->headers.find("Content-Type");
  if (type == response->headers.end() || type->second.rfind("application/json", 0) != 0) return;
  json j = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return;
  size_t dropped = DropOtherCustomers(who, &j);
  // The customers answer's denominator is all requests: a scoped caller's
  // share is of its own requests only.
  if (path == "/api/v1/customers" && j.is_object() && j.contains("customers")) {
    uint64_t own = 0;
    for (const json& row : j["customers"]) own += row.value("requests", uint64_t{0});
    j["total_requests"] = own;
    for (json& row : j["customers"]) {
      if (row.contains("share")) row["share"] = own > 0 ? json(1.0) : json(nullptr);
    }
    ++dropped;
  }
  if (dropped == 0) return;
  response->body = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace apimeter
