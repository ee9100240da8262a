#include "sink/storage_schema.h"

#include <string>
#include <vector>

namespace apimeter {
namespace {

// OK for "2"; nil sets *missing; anything else refuses.
Status CheckMarker(const RedisReply& r, const std::string& key, bool* missing) {
  if (r.is_error()) return Status::Internal("reading " + key + ": " + r.str);
  if (r.is_nil()) {
    *missing = true;
    return Status::Ok();
  }
  if (r.type == RedisReply::Type::kString && r.str == kStorageSchemaVersion) return Status::Ok();
  if (r.type == RedisReply::Type::kString && r.str == kMigratingSchemaMarker) {
    return Status::InvalidArgument(key + " says `apimeter migrate` is converting this Redis from " +
                                   "schema 1 (or was interrupted); run `apimeter migrate` again " +
                                   "to finish before starting writers or readers");
  }
  return Status::InvalidArgument(key + " holds schema '" + r.str + "', but this binary reads and " +
                                 "writes schema " + std::string(kStorageSchemaVersion) +
                                 " only; use the apimeter release that wrote it");
}

}  // namespace

Status CheckStorageSchema(RedisCommands& client, const BlockKeys& keys, int64_t today,
                          int64_t retained_days, bool* missing) {
  *missing = false;
  const std::string key = keys.SchemaKey();
  auto marker = client.Command({"GET", key});
  if (!marker.ok()) return marker.status().WithContext("schema check");
  APIMETER_RETURN_IF_ERROR(CheckMarker(*marker, key, missing));
  if (!*missing) return Status::Ok();

  std::vector<RedisArgs> types;
  for (int64_t day = today - retained_days; day <= today; ++day) {
    for (NameKind kind : {NameKind::kEndpoint, NameKind::kCustomer}) {
      types.push_back({"TYPE", keys.RegistryKey(day, kind)});
    }
  }
  auto replies = client.Pipeline(types);
  if (!replies.ok()) return replies.status().WithContext("schema check");
  if (replies->size() != types.size()) {
    return Status::Internal("schema check: " + std::to_string(replies->size()) + " replies to " +
                            std::to_string(types.size()) + " TYPE commands");
  }
  for (size_t i = 0; i < types.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    if (r.is_error()) return Status::Internal("schema check: TYPE " + types[i][1] + ": " + r.str);
    if (r.str == "set") {
      return Status::InvalidArgument(
          types[i][1] + " is a v1 registry (a set): this Redis holds schema-1 data under prefix '" +
          keys.prefix() + "'; run `apimeter migrate` to convert it before using storage v2");
    }
  }
  return Status::Ok();
}

Status EnsureStorageSchema(RedisCommands& client, const BlockKeys& keys, int64_t today,
                           int64_t retained_days) {
  bool missing = false;
  APIMETER_RETURN_IF_ERROR(CheckStorageSchema(client, keys, today, retained_days, &missing));
  if (!missing) return Status::Ok();
  const std::string key = keys.SchemaKey();
  auto set = client.Command({"SET", key, std::string(kStorageSchemaVersion), "NX", "GET"});
  if (!set.ok()) return set.status().WithContext("schema check");
  missing = false;
  // nil: this call set it; "2": another process did meanwhile.
  return CheckMarker(*set, key, &missing);
}

}  // namespace apimeter
