// Access: who a request is (a role and, optionally, one customer it is
// limited to) and what each route lets it see. This is the one place where
// customer scope is enforced (docs/api.md, "Roles and customer scope").
//
// Promise: ApplyAccess() runs on the parameters of every authenticated
// request under /api/ and on /metrics, before any route (core, extension or
// the live stream) reads them. For a caller scoped to customer C:
//   - naming any other customer in the customer parameter is a 403 on
//     every route;
//   - a route listed in kRouteAccess with kForceCustomer gets customer=C
//     (added when absent);
//   - a route listed with kAllCustomers (answers across customers: heatmap,
//     attribution, alerts) is a 403;
//   - a route NOT listed is a 403 too (deny by default): a new route is
//     open to scoped callers only once it is registered here.
// Viewers get 403 on admin-only routes (/metrics). Unscoped callers pass
// unchanged. ScrubAnswer() is a second line of defence on the way out: a
// scoped caller's JSON answer loses every array element whose "customer"
// is another customer, and the customers answer's totals become the
// caller's own. Pure functions, no I/O.
// Thread-safety: stateless; the route table is a constant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "server/http_types.h"
#include "server/http_util.h"

namespace apimeter {

enum class Role { kAdmin, kViewer };

// "admin" / "viewer".
std::string_view RoleName(Role role);

struct Access {
  Role role = Role::kAdmin;
  std::string customer;     // the stored customer name it is limited to; "" = every customer
  std::string customer_id;  // that customer's k_ id when known, else ""
  std::string user;         // the trusted-header user; "" for tokens and sessions of tokens
  bool scoped() const { return !customer.empty(); }
  // `name` is this access's customer, by stored name or by id.
  bool IsOwnCustomer(std::string_view name) const {
    return scoped() && (name == customer || (!customer_id.empty() && name == customer_id));
  }
};

// How a route treats a customer-scoped caller.
enum class ScopeRule {
  kNoTraffic,      // the answer holds no traffic numbers (openapi, me): open to every caller
  kForceCustomer,  // `customer` is forced to the caller's; another is a 403
  kAllCustomers,   // the answer spans customers: 403 for a scoped caller
};

struct RouteAccess {
  std::string_view path;  // exact path, e.g. "/api/v1/overview"
  ScopeRule scope;
  bool admin_only = false;  // 403 for viewers
};

// Every route a caller with a role or scope may reach. To open a new route to
// customer-scoped callers, add it here with kForceCustomer; its customer
// parameter must be named "customer" and filter the whole answer to it.
inline constexpr RouteAccess kRouteAccess[] = {
    {"/api/v1/overview", ScopeRule::kForceCustomer},
    {"/api/v1/endpoints", ScopeRule::kForceCustomer},
    {"/api/v1/customers", ScopeRule::kForceCustomer},
    {"/api/v1/timeseries", ScopeRule::kForceCustomer},
    {"/api/v1/slow", ScopeRule::kForceCustomer},
    {"/api/v1/live", ScopeRule::kForceCustomer},
    {"/api/v1/report", ScopeRule::kForceCustomer},
    {"/api/v1/clients", ScopeRule::kForceCustomer},  // issue 18 part 2 (whocalls branch)
    {"/api/v1/heatmap", ScopeRule::kAllCustomers},   // rows are whole endpoint series
    {"/api/v1/attribution", ScopeRule::kAllCustomers},
    {"/api/v1/alerts", ScopeRule::kAllCustomers},
    {"/api/v1/openapi.json", ScopeRule::kNoTraffic},
    {"/api/v1/me", ScopeRule::kNoTraffic},
    {"/metrics", ScopeRule::kAllCustomers, /*admin_only=*/true},
};

// The parameter every kForceCustomer route names its customer with.
inline constexpr std::string_view kCustomerParam = "customer";

// nullopt: go on with `params` (possibly rewritten); otherwise the 403 to send.
std::optional<HttpResponse> ApplyAccess(const Access& who, std::string_view path,
                                        FormParams* params);

// The answer as a scoped caller may see it (see above); unchanged for an
// unscoped caller or a body that is not JSON.
void ScrubAnswer(const Access& who, std::string_view path, HttpResponse* response);

}  // namespace apimeter
