// How reports write numbers for people (HTML, PDF): thousands separators,
// percentages, milliseconds and byte sizes. null becomes "n/a".
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace apimeter::text {

std::string Count(const nlohmann::json& v);    // 1234567 → "1,234,567"
std::string Percent(const nlohmann::json& v);  // 0.01234 → "1.23%"
std::string Ms(const nlohmann::json& v);       // 12.3456 → "12.3 ms"
std::string Bytes(const nlohmann::json& v);    // 1234567 → "1.23 MB" (SI units)
std::string HourLabel(
    const nlohmann::json& iso);  // "2026-11-26T10:00:00Z" → "2026-11-26 10:00 UTC"
// The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is at least v
// (a chart axis maximum with round quarters); 0 stays 0.
uint64_t NiceCeil(uint64_t v);
// [from, to) as inclusive dates: "2026-10-28 – 2026-11-26 (30 days)".
std::string Period(const nlohmann::json& period);

}  // namespace apimeter::text
