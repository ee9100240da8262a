#include "query/series_store.h"

namespace apimeter {

void AppendReads(size_t group, size_t series, const std::vector<BucketRun>& runs,
                 std::vector<BucketRead>* reads) {
  for (const BucketRun& run : runs) {
    for (int64_t b = run.first; b < run.last; ++b) reads->push_back({group, series, run.tier, b});
  }
}

Status SeriesStore::ForEachEndpointCustomer(const std::vector<BucketRun>&, const std::string&,
                                            const EndpointCustomerFn&, ReadDamage*) {
  return Status::InvalidArgument(
      "the customers of one endpoint need storage v2 (redis.schema: 2); storage v1 keeps only "
      "a customer's endpoints. Run `apimeter migrate`, or query endpoints with filter customer");
}

Status SeriesStore::ForEachClient(const std::vector<BucketRun>&, const ClientScope&,
                                  const ClientFn&, bool* logged, ReadDamage*) {
  *logged = false;
  return Status::Ok();
}

}  // namespace apimeter
