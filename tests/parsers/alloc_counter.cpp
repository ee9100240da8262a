#include "tests/parsers/alloc_counter.h"

#include <cstdlib>
#include <new>

namespace {
thread_local bool g_counting = false;
thread_local int g_allocations = 0;
}  // namespace

void* operator new(size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace apimeter::testing {

void StartCountingAllocations() {
  g_allocations = 0;
  g_counting = true;
}

int StopCountingAllocations() {
  g_counting = false;
  return g_allocations;
}

}  // namespace apimeter::testing
