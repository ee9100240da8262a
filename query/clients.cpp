// QueryEngine::Clients (issue 18 part 2): the clients of a range, of one
// endpoint or of one customer, summed from the day-tier client series
// (kinds u, v and w of storage v2). The contract is ClientsAnswer
// (query/answers.h): rows most requests first, ties by name; shares of the
// total of every client in the scope; `logged` only where client series exist.
#include <algorithm>
#include <map>
#include <utility>

#include "query/query_engine.h"

namespace apimeter {

Result<ClientsAnswer> QueryEngine::Clients(const QueryParams& p) {
  APIMETER_RETURN_IF_ERROR(Begin());
  const QueryFilter& f = p.filter;
  if (!f.host.empty()) {
    return Status::InvalidArgument(
        "filter host cannot be used with clients: client series are kept for all hosts together");
  }
  if (!f.endpoint.empty() && !f.customer.empty()) {
    return Status::InvalidArgument(
        "clients take filter endpoint or filter customer, not both (there is no client x "
        "customer x endpoint series)");
  }
  if (p.limit < 1 || p.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit) +
                                   " (got " + std::to_string(p.limit) + ")");
  }
  APIMETER_ASSIGN_OR_RETURN(RangePlan plan, Plan(p, Tier::kDay));
  std::map<std::string, Rollup> sums;
  bool logged = false;
  APIMETER_RETURN_IF_ERROR(store_->ForEachClient(
      plan.runs, ClientScope{f.endpoint, f.customer},
      [&](int64_t, const std::string& client, Rollup&& r) {
        sums[client].Merge(r);
        return Status::Ok();
      },
      &logged, &damage_));

  ClientsAnswer a;
  a.range = AnswerRange{plan.from_s, plan.to_s, plan.requested_from_s, plan.requested_to_s,
                        plan.Adjusted(), plan.runs};
  a.filter = f;
  a.logged = logged;
  a.limit = p.limit;
  std::vector<std::pair<const std::string*, const Rollup*>> order;
  order.reserve(sums.size());
  for (const auto& [name, r] : sums) {
    if (r.requests == 0) continue;
    a.total_requests += r.requests;
    order.emplace_back(&name, &r);
  }
  a.client_count = order.size();
  const size_t n = std::min(order.size(), static_cast<size_t>(p.limit));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [](const auto& x, const auto& y) {
                      return x.second->requests != y.second->requests
                                 ? x.second->requests > y.second->requests
                                 : *x.first < *y.first;
                    });
  order.resize(n);
  const double total = static_cast<double>(a.total_requests);
  for (const auto& [name, r] : order) {
    ClientRow row;
    row.client = *name;
    row.requests = r->requests;
    row.share = RoundedRatio(static_cast<double>(r->requests), total, 6);
    row.errors_4xx = r->StatusRange(400, 499);
    row.errors_5xx = r->StatusRange(500, 599);
    row.error_rate = RoundedRatio(static_cast<double>(row.errors_4xx + row.errors_5xx),
                                  static_cast<double>(r->requests), 6);
    row.latency_ms = SummarizeLatency(*r);
    row.bytes_in = r->bytes_in;
    row.bytes_out = r->bytes_out;
    a.rows.push_back(std::move(row));
  }
  a.quality = Quality(Tier::kDay);
  return a;
}

}  // namespace apimeter
