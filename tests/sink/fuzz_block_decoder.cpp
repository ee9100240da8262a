// libFuzzer target for the block decoder. The first input byte picks the mode:
// even, the rest is decoded as a whole block (the checksums reject almost
// everything); odd, the rest is a payload sealed under a valid header of the
// kind the byte names, so the fuzzer reaches the column parser. Whatever
// decodes must be valid and survive encode + decode unchanged.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sink/block_codec.h"

namespace {

void PutLE(std::string& s, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}

uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// A raw (uncompressed) block around `payload`, valid up to the payload.
std::string Seal(uint8_t selector, std::string_view payload, uint32_t series) {
  static const char kKinds[] = {'a', 'e', 'c', 'x'};
  std::string h(apimeter::kBlockHeaderBytes, '\0');
  h.replace(0, 4, "AMB2");
  h[4] = 1;
  h[5] = kKinds[(selector >> 1) & 3];
  h[6] = "mhd"[(selector >> 3) % 3];
  h[7] = 0;
  PutLE(h, 8, 480000, 8);
  PutLE(h, 20, series, 4);
  PutLE(h, 24, payload.size(), 4);
  PutLE(h, 28, payload.size(), 4);
  PutLE(h, 32, Crc(payload), 4);
  PutLE(h, 36, Crc(std::string_view(h).substr(0, 36)), 4);
  return h + std::string(payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string block;
  if (data[0] & 1) {
    if (rest.empty()) return 0;
    // The series count comes from the payload's first byte (small counts).
    block = Seal(data[0], rest.substr(1), static_cast<uint8_t>(rest[0]) % 64);
  } else {
    block = std::string(rest);
  }
  apimeter::BlockDecoder decoder;
  apimeter::DecodedBlock out;
  if (!decoder.Decode(block, &out).ok()) return 0;
  if (!out.Validate().ok()) std::abort();
  auto again = apimeter::EncodeBlock(out);
  if (!again.ok()) std::abort();
  apimeter::DecodedBlock back;
  if (!decoder.Decode(*again, &back).ok() || !(back == out)) std::abort();
  return 0;
}
