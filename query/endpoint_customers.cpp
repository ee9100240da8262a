#include "query/endpoint_customers.h"

#include <algorithm>
#include <map>
#include <utility>

#include "query/query_engine.h"

namespace apimeter {
namespace {

// One customer being folded: the sum over days, and the seen minutes of its
// earliest and latest day.
struct Fold {
  Rollup sum;
  int64_t first_day = INT64_MAX, last_day = INT64_MIN;
  std::optional<int64_t> first_minute, last_minute;
};

void AddDay(int64_t day, Rollup&& r, Fold* f) {
  const bool known = r.SeenKnown();
  const std::optional<int64_t> first = known ? std::optional(r.first_seen_minute) : std::nullopt;
  const std::optional<int64_t> last = known ? std::optional(r.last_seen_minute) : std::nullopt;
  if (day < f->first_day) {
    f->first_day = day;
    f->first_minute = first;
  } else if (day == f->first_day) {  // one read gives a (day, customer) once; be safe
    f->first_minute = first && f->first_minute ? std::optional(std::min(*first, *f->first_minute))
                                               : std::nullopt;
  }
  if (day > f->last_day) {
    f->last_day = day;
    f->last_minute = last;
  } else if (day == f->last_day) {
    f->last_minute = last && f->last_minute ? std::optional(std::max(*last, *f->last_minute))
                                            : std::nullopt;
  }
  f->sum.Merge(r);
}

std::optional<int64_t> MinuteStart(const std::optional<int64_t>& minute) {
  return minute ? std::optional(*minute * 60) : std::nullopt;
}

}  // namespace

Result<EndpointCustomersAnswer> ReadEndpointCustomers(SeriesStore& store, const RangePlan& plan,
                                                      const std::string& endpoint, int64_t limit,
                                                      ReadDamage* damage) {
  std::map<std::string, Fold> folds;
  APIMETER_RETURN_IF_ERROR(store.ForEachEndpointCustomer(
      plan.runs, endpoint,
      [&](int64_t day, const std::string& customer, Rollup&& r) {
        AddDay(day, std::move(r), &folds[customer]);
        return Status::Ok();
      },
      damage));
  EndpointCustomersAnswer a;
  a.endpoint = endpoint;
  a.plan = plan;
  a.limit = limit;
  std::vector<std::pair<const std::string*, const Fold*>> order;
  order.reserve(folds.size());
  for (const auto& [name, f] : folds) {
    if (f.sum.requests == 0) continue;
    a.total_requests += f.sum.requests;
    order.emplace_back(&name, &f);
  }
  a.customer_count = order.size();
  const size_t n = std::min(order.size(), static_cast<size_t>(std::max<int64_t>(limit, 0)));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [](const auto& x, const auto& y) {
                      return x.second->sum.requests != y.second->sum.requests
                                 ? x.second->sum.requests > y.second->sum.requests
                                 : *x.first < *y.first;
                    });
  order.resize(n);
  for (const auto& [name, f] : order) {
    const Rollup& r = f->sum;
    EndpointCustomerRow row;
    row.customer = *name;
    row.requests = r.requests;
    row.errors_4xx = r.StatusRange(400, 499);
    row.errors_5xx = r.StatusRange(500, 599);
    row.bytes_in = r.bytes_in;
    row.bytes_out = r.bytes_out;
    row.p50_us = r.histogram.PercentileMicros(50);
    row.p95_us = r.histogram.PercentileMicros(95);
    row.p99_us = r.histogram.PercentileMicros(99);
    if (r.latency_max_us >= 0) row.max_us = r.latency_max_us;
    row.first_seen_s = MinuteStart(f->first_minute);
    row.last_seen_s = MinuteStart(f->last_minute);
    a.customers.push_back(std::move(row));
  }
  a.damaged.assign(damage->begin(), damage->end());
  return a;
}

Result<EndpointCustomersAnswer> QueryEngine::EndpointCustomers(const QueryParams& p) {
  APIMETER_RETURN_IF_ERROR(Begin());
  if (p.filter.endpoint.empty()) {
    return Status::InvalidArgument("endpoint: the customers of an endpoint need filter endpoint");
  }
  if (!p.filter.host.empty() || !p.filter.customer.empty()) {
    return Status::InvalidArgument(
        "filter endpoint with customers cannot be combined with host or customer");
  }
  if (p.limit < 1 || p.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit) +
                                   " (got " + std::to_string(p.limit) + ")");
  }
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, Tier::kDay));
  return ReadEndpointCustomers(*store_, plan, p.filter.endpoint, p.limit, &damage_);
}

}  // namespace apimeter
