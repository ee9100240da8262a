// ClientAddress: which "client" a connection or a sign-in attempt counts
// against, for the per-client connection cap and sign-in throttling.
//
// Promise: pure functions. An IPv4 address (or an IPv4-mapped IPv6 one) is
// its own client; an IPv6 address counts as its /64, the block one host or
// one subscriber usually holds, so that rotating through its own addresses
// does not give an attacker fresh budgets. X-Forwarded-For is believed only
// from a loopback peer (a proxy on this host, such as the nginx of
// docs/operations.md), and then only its last entry, the one that proxy
// added itself; anything a remote client writes there is ignored.
// Thread-safety: stateless.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

namespace apimeter {

// The address as text, an IPv4-mapped IPv6 address as its IPv4 form
// ("::ffff:127.0.0.1" → "127.0.0.1"): what HttpRequest::peer holds and the
// trusted header's proxies are compared with.
std::string CanonicalAddress(const boost::asio::ip::address& address);

// "192.0.2.7", "2001:db8:1:2::/64".
std::string ClientKey(const boost::asio::ip::address& address);

// The client a sign-in from `peer` is attributed to (see above).
std::string SignInClient(const boost::asio::ip::address& peer, std::string_view forwarded_for);

}  // namespace apimeter
