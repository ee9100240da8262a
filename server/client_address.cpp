// Client keys for limits (see client_address.h).
#include "server/client_address.h"

namespace apimeter {

namespace ip = boost::asio::ip;

std::string CanonicalAddress(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

std::string ClientKey(const ip::address& address) {
  if (address.is_v4()) return address.to_v4().to_string();
  const ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6).to_string();
  ip::address_v6::bytes_type bytes = v6.to_bytes();
  for (size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return ip::address_v6(bytes).to_string() + "/64";
}

std::string SignInClient(const ip::address& peer, std::string_view forwarded_for) {
  if (!peer.is_loopback() || forwarded_for.empty()) return ClientKey(peer);
  const size_t comma = forwarded_for.rfind(',');
  std::string_view last =
      comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  boost::system::error_code ec;
  const ip::address forwarded = ip::make_address(std::string(last), ec);
  return ec ? ClientKey(peer) : ClientKey(forwarded);
}

}  // namespace apimeter
