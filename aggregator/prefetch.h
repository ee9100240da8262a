// PrefetchLine: a hint to start loading the cache line holding `p` (internal
// to aggregator/). No effect on any value; `p` may point anywhere inside a
// live object.
//
// Why not __builtin_prefetch alone: GCC 12 at -O2 silently dropped some of
// our __builtin_prefetch calls (e.g. after a bounds computation on a
// std::vector), which made the aggregator's software pipeline a no-op. A
// volatile asm statement is never removed. Thread-safe (no state).
#pragma once

namespace apimeter::aggregator_internal {

inline void PrefetchLine(const void* p) {
#if defined(__x86_64__) && defined(__GNUC__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

}  // namespace apimeter::aggregator_internal
