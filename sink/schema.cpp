#include "sink/schema.h"

#include <charconv>

namespace apimeter {
namespace {

uint32_t Fnv1a32(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

bool ToInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string KeySchema::MemberId(SeriesKind kind, std::string_view name) {
  switch (kind) {
    case SeriesKind::kAll: return "all";
    case SeriesKind::kHost: return "h:" + std::string(name);
    case SeriesKind::kEndpoint: return "e:" + std::string(name);
    case SeriesKind::kCustomer: return "c:" + std::string(name);
    case SeriesKind::kCustomerEndpoint: return "ce:" + std::string(name);
    case SeriesKind::kClient:
    case SeriesKind::kClientEndpoint:
    case SeriesKind::kCustomerClient: break;  // v1 keeps no client series
  }
  return "all";
}

int KeySchema::ShardOfEntity(std::string_view entity) {
  return static_cast<int>(Fnv1a32(entity) % kShards);
}

int KeySchema::ShardOf(SeriesKind kind, std::string_view name) {
  switch (kind) {
    case SeriesKind::kAll: return ShardOfEntity("all");
    case SeriesKind::kHost:
    case SeriesKind::kEndpoint:
    case SeriesKind::kCustomer: return ShardOfEntity(name);
    case SeriesKind::kCustomerEndpoint:
      return ShardOfEntity(name.substr(0, name.find(kNameSeparator)));
    case SeriesKind::kClient:
    case SeriesKind::kClientEndpoint:
    case SeriesKind::kCustomerClient: break;  // v1 keeps no client series
  }
  return 0;
}

std::string KeySchema::BucketTag(Tier tier, int64_t bucket, int shard) const {
  std::string s = prefix_;
  s += ":{";
  s += TierLetter(tier);
  s += std::to_string(bucket);
  s += '.';
  s += std::to_string(shard);
  s += '}';
  return s;
}

std::string KeySchema::SeriesKey(Tier tier, int64_t bucket, SeriesKind kind,
                                 std::string_view name) const {
  return BucketTag(tier, bucket, ShardOf(kind, name)) + ":" + MemberId(kind, name);
}

std::string KeySchema::MaxKey(Tier tier, int64_t bucket, int shard) const {
  return BucketTag(tier, bucket, shard) + ":max";
}

std::string KeySchema::IndexKey(Tier tier, int64_t bucket, int shard, IndexKind kind) const {
  const char* suffix = ":ie";
  switch (kind) {
    case IndexKind::kEndpoints: suffix = ":ie"; break;
    case IndexKind::kCustomers: suffix = ":ic"; break;
    case IndexKind::kCustomerBytesOut: suffix = ":icb"; break;
    case IndexKind::kHosts: suffix = ":ih"; break;
  }
  return BucketTag(tier, bucket, shard) + suffix;
}

std::string KeySchema::CustomerEndpointIndexKey(Tier tier, int64_t bucket,
                                                std::string_view customer) const {
  return BucketTag(tier, bucket, ShardOfEntity(customer)) + ":ice:" + std::string(customer);
}

std::string KeySchema::SlowKey(int64_t day) const {
  return prefix_ + ":{d" + std::to_string(day) + "}:slow";
}

std::string KeySchema::RegistryKey(int64_t day, char kind) const {
  return prefix_ + ":{reg" + std::to_string(day) + "}:" + kind;
}

std::string KeySchema::CheckpointKey(std::string_view host, std::string_view fingerprint) const {
  return prefix_ + ":ckpt:" + std::string(host) + ":" + std::string(fingerprint);
}

std::string KeySchema::HostTag(std::string_view host) const {
  return prefix_ + ":{ckpt:" + std::string(host) + "}";
}

std::string KeySchema::ClusterCheckpointKey(std::string_view host,
                                            std::string_view fingerprint) const {
  return HostTag(host) + ":" + std::string(fingerprint);
}

std::vector<std::pair<std::string, int64_t>> EncodeRollupFields(const Rollup& r) {
  std::vector<std::pair<std::string, int64_t>> f;
  f.reserve(8 + r.status_counts.size());
  auto put = [&](std::string name, uint64_t v) {
    if (v != 0) f.emplace_back(std::move(name), static_cast<int64_t>(v));
  };
  put("n", r.requests);
  put("bi", r.bytes_in);
  put("bo", r.bytes_out);
  put("lc", r.latency_count);
  put("ls", r.latency_sum_us);
  put("rej", r.rejected);
  for (const auto& [status, n] : r.status_counts) put("s" + std::to_string(status), n);
  r.histogram.ForEachBucket([&](int index, uint64_t n) { put("h" + std::to_string(index), n); });
  return f;
}

Status DecodeRollupFields(const RedisReply& reply, Rollup* out) {
  if (reply.is_nil()) return Status::Ok();
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() % 2 != 0) {
    return Status::ParseError("series hash: expected a field/value array from HGETALL");
  }
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    int64_t v = 0;
    if (!ToInt(reply.elements[i + 1].str, &v) || v < 0) {
      return Status::ParseError("series hash: field '" + field + "' is not a count");
    }
    const uint64_t n = static_cast<uint64_t>(v);
    int64_t num = 0;
    // Histogram buckets are most of the fields: test for them first.
    if (field.size() > 1 && field[0] == 'h') {
      if (!ToInt(std::string_view(field).substr(1), &num) || num < 0 ||
          num > LatencyHistogram::kMaxIndex) {
        return Status::ParseError("series hash: unknown field '" + field + "'");
      }
      out->histogram.AddBucket(static_cast<int>(num), n);
    } else if (field.size() > 1 && field[0] == 's' && ToInt(std::string_view(field).substr(1), &num)) {
      out->AddStatus(static_cast<int>(num), n);
    } else if (field == "n") {
      out->requests += n;
    } else if (field == "bi") {
      out->bytes_in += n;
    } else if (field == "bo") {
      out->bytes_out += n;
    } else if (field == "lc") {
      out->latency_count += n;
    } else if (field == "ls") {
      out->latency_sum_us += n;
    } else if (field == "rej") {
      out->rejected += n;
    } else {
      return Status::ParseError("series hash: unknown field '" + field + "'");
    }
  }
  return Status::Ok();
}

std::string EncodeSlowMember(const SlowRequest& s) {
  std::string m = std::to_string(s.time_us);
  m += kNameSeparator;
  m += s.host;
  m += kNameSeparator;
  m += s.endpoint;
  m += kNameSeparator;
  m += s.customer;
  m += kNameSeparator;
  m += std::to_string(s.status);
  return m;
}

bool DecodeSlowMember(std::string_view m, int64_t latency_us, SlowRequest* out) {
  std::string_view parts[5];
  for (int i = 0; i < 4; ++i) {
    size_t p = m.find(kNameSeparator);
    if (p == std::string_view::npos) return false;
    parts[i] = m.substr(0, p);
    m.remove_prefix(p + 1);
  }
  parts[4] = m;
  int64_t t = 0, status = 0;
  if (!ToInt(parts[0], &t) || !ToInt(parts[4], &status)) return false;
  out->time_us = t;
  out->host = std::string(parts[1]);
  out->endpoint = std::string(parts[2]);
  out->customer = std::string(parts[3]);
  out->status = static_cast<int>(status);
  out->latency_us = latency_us;
  return true;
}

}  // namespace apimeter
