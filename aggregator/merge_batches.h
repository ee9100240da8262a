// MergeFlushBatches: the one batch several aggregators' batches add up to,
// for a backfill that aggregates a file's lines in several lanes
// (agent/backfill_lanes.h).
//
// Promise: deltas of the same (tier, bucket, kind, name) are merged with
// Rollup::Merge (exact addition), so the result holds what one aggregator
// that had seen every line would hand over, in its order (tier, bucket,
// kind, name). Slow-request candidates are concatenated (the sink keeps the
// top N per day; each input already holds at most N per day), `lines` are
// summed; id, host and checkpoints come from the first batch. Names that one
// lane counted as "other" stay "other" (each lane applies the aggregator's
// caps on its own, so together they may pass more distinct names to the
// sink, whose per-day registry is what bounds cardinality). Pure; the
// inputs are consumed.
#pragma once

#include <vector>

#include "aggregator/flush_batch.h"

namespace apimeter {

FlushBatch MergeFlushBatches(std::vector<FlushBatch> batches);

}  // namespace apimeter
