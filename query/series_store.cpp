#include "query/series_store.h"

namespace apimeter {

void AppendReads(size_t group, size_t series, const std::vector<BucketRun>& runs,
                 std::vector<BucketRead>* reads) {
  for (const BucketRun& run : runs) {
    for (int64_t b = run.first; b < run.last; ++b) reads->push_back({group, series, run.tier, b});
  }
}

}  // namespace apimeter
