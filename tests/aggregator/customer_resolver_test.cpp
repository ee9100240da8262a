// CustomerResolver: SipHash-2-4 reference vectors, id format and stability,
// mapping to display names, anonymous, and a bounded cache under 1M keys.
#include "aggregator/customer_resolver.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace apimeter {
namespace {

// vectors_sip64 of the SipHash reference implementation: key 00..0f,
// message i = bytes 00..(i-1), output read as a little-endian 64-bit word.
TEST(SipHashTest, ReferenceVectors) {
  const uint64_t expected[] = {
      0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
      0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
      0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
      0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
      0x3f2acc7f57c29bdb,
  };
  uint8_t key[16];
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  std::string msg;
  for (size_t n = 0; n < std::size(expected); ++n) {
    EXPECT_EQ(SipHash24(key, msg), expected[n]) << "length " << n;
    msg.push_back(static_cast<char>(n));
  }
}

TEST(CustomerResolverTest, IdFormatAndStability) {
  const std::string id = CustomerResolver::IdFor("s3cret", "key-123");
  ASSERT_EQ(id.size(), 14u);
  EXPECT_EQ(id.substr(0, 2), "k_");
  for (char c : id.substr(2)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_EQ(CustomerResolver::IdFor("s3cret", "key-123"), id);
  EXPECT_NE(CustomerResolver::IdFor("other-secret", "key-123"), id);
  EXPECT_NE(CustomerResolver::IdFor("s3cret", "key-124"), id);
  // "" means the documented default secret.
  EXPECT_EQ(CustomerResolver::IdFor("", "key-123"),
            CustomerResolver::IdFor(CustomerResolver::kDefaultSecret, "key-123"));
  // Pinned value: ids are stored in Redis, so they must never change between
  // versions. (A change here is a schema migration.)
  EXPECT_EQ(CustomerResolver::IdFor("", "test-key"), "k_52333f235e3c");
  EXPECT_EQ(id, "k_e03c16c95fe8");
}

TEST(CustomerResolverTest, ResolvesNamesIdsAndAnonymous) {
  const std::string acme_id = CustomerResolver::IdFor("s", "acme-key");
  CustomerResolver r("s", {{acme_id, "Acme\x1f Corp\n"}});
  EXPECT_EQ(r.Resolve(""), "anonymous");
  EXPECT_EQ(r.Resolve("-"), "anonymous");
  EXPECT_EQ(r.Resolve("acme-key"), "Acme_ Corp_");  // control characters replaced
  EXPECT_EQ(r.Resolve("acme-key"), "Acme_ Corp_");  // cached
  EXPECT_EQ(r.Resolve("unknown"), CustomerResolver::IdFor("s", "unknown"));
  EXPECT_EQ(r.Resolve("unknown"), CustomerResolver::IdFor("s", "unknown"));
  EXPECT_EQ(r.cache_size(), 2u);
  // The raw key never appears in what is returned.
  EXPECT_EQ(r.Resolve("unknown").find("unknown"), std::string_view::npos);
}

TEST(CustomerResolverTest, CacheIsBoundedUnderMillionRandomKeys) {
  CustomerResolver r("s", {}, 100000);
  const size_t bytes = r.MemoryBytes();
  std::mt19937_64 rng(3);
  std::string_view recent;
  std::string recent_key;
  for (int i = 0; i < 1000000; ++i) {
    const std::string key = "key-" + std::to_string(rng());
    std::string_view got = r.Resolve(key);
    ASSERT_LE(r.cache_size(), 100000u);
    if (i % 99991 == 0) {
      EXPECT_EQ(got, CustomerResolver::IdFor("s", key));
    }
    if (i == 999000) {
      recent = got;
      recent_key = key;
    }
  }
  EXPECT_EQ(r.MemoryBytes(), bytes);
  EXPECT_GE(r.cache_clears(), 9u);
  // A view handed out recently is still intact.
  EXPECT_EQ(recent, CustomerResolver::IdFor("s", recent_key));
}

TEST(CustomerResolverTest, HugeAndBinaryKeysAreHandled) {
  CustomerResolver r("", {});
  const std::string huge(1 << 16, 'x');
  EXPECT_EQ(r.Resolve(huge), CustomerResolver::IdFor("", huge));
  const std::string binary("\0\xff\n\x1f", 4);
  EXPECT_EQ(r.Resolve(binary), CustomerResolver::IdFor("", binary));
}

}  // namespace
}  // namespace apimeter
