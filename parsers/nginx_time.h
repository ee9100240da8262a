// Fixed-position parsers for nginx's time variables.
//
// Promise: pure functions with no allocation, no locale and no time zone database.
// Each takes exactly the text its value class admits (see compiled_format.h) and returns
// UTC microseconds since the epoch, or false when a field is out of range (month name,
// day of month, hour, minute, second, zone offset, year outside 1970..9999).
// Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace apimeter::parsers_internal {

// "10/Oct/2000:13:55:36 -0700"
bool ParseTimeLocal(std::string_view s, int64_t* time_us);
// "2000-10-10T13:55:36-07:00" or "...Z"
bool ParseTimeIso8601(std::string_view s, int64_t* time_us);
// "1700000000.123"
bool ParseMsec(std::string_view s, int64_t* time_us);

}  // namespace apimeter::parsers_internal
