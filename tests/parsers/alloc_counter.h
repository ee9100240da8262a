// Counts heap allocations made on the calling thread between Start and Stop, through a
// replaced global operator new (alloc_counter.cpp; one per test binary).
#pragma once

namespace apimeter::testing {

void StartCountingAllocations();
// Allocations on this thread since StartCountingAllocations.
int StopCountingAllocations();

}  // namespace apimeter::testing
