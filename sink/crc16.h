// Redis Cluster key slots: CRC16 (XMODEM, as the cluster spec defines it) and
// the hash-tag rule.
//
// Promise: pure functions, thread-safe. HashSlot(key) equals what Redis
// answers for CLUSTER KEYSLOT key: if the key has a '{' followed later by a
// '}' with at least one character between them, only the bytes between the
// first '{' and the first '}' after it are hashed; otherwise the whole key.
#pragma once

#include <cstdint>
#include <string_view>

namespace apimeter {

inline constexpr int kClusterSlots = 16384;

// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection.
uint16_t Crc16(std::string_view data);

// The part of `key` that decides its slot (the hash tag, or the whole key).
std::string_view HashTagOf(std::string_view key);

// The cluster slot of `key`, in [0, 16384).
int HashSlot(std::string_view key);

}  // namespace apimeter
