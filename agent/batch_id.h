// NewBatchId: a random 128-bit id (32 hex) for one FlushBatch, so a retry
// after an unknown outcome is recognised by the sink (docs/redis-schema.md).
#pragma once

#include <string>

namespace apimeter {

std::string NewBatchId();

}  // namespace apimeter
