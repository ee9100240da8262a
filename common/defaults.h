// Defaults that several layers share: how long each tier is kept and the
// cardinality bounds. The one place they are written; config/ fills them into
// a Config, and the sink, query and aggregator option structs start from them
// so that a program or test that builds those structs without a Config gets
// the same numbers an empty config file gives (docs/config.md).
//
// Promise: compile-time constants only; no code, no state.
// Thread-safety: constants, safe everywhere.
#pragma once

#include <cstdint>
#include <string_view>

namespace apimeter::defaults {

// retention: a bucket of a tier exists until its end plus this (docs/config.md, "retention").
inline constexpr int64_t kMinuteRetentionS = 48 * 3600;
inline constexpr int64_t kHourRetentionS = 35 * 86400;
inline constexpr int64_t kDayRetentionS = 400 * 86400;

// limits: distinct names admitted per UTC day before "other" (docs/config.md, "limits").
inline constexpr int64_t kEndpointsPerDay = 2000;
inline constexpr int64_t kCustomersPerDay = 50000;

// redis.schema: the storage schema written and read (docs/storage-v2.md).
inline constexpr int64_t kRedisSchema = 2;

// aggregation: slowest requests kept per UTC day.
inline constexpr int64_t kSlowTopN = 100;

// The customer id secret of a config that sets none (documented, public);
// postinst writes it into the secret file on an upgrade from versions that
// ran on it, so customer ids do not change (packaging/debian/postinst).
inline constexpr std::string_view kCustomerIdSecret = "apimeter-default-customer-id-secret";

}  // namespace apimeter::defaults
