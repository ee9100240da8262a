// HttpPostJson over Boost.Beast: async operations driven by a private
// io_context that runs for at most the timeout.
#include "alerts/http_post.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

namespace apimeter {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct ParsedUrl {
  bool tls = false;
  std::string host, port, target;
};

bool ParseUrl(const std::string& url, ParsedUrl* out) {
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
    out->port = "80";
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
    out->tls = true;
    out->port = "443";
  } else {
    return false;
  }
  const size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  out->target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (out->target[0] == '?') out->target = "/" + out->target;
  if (size_t at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      out->port = authority.substr(close + 2);
    }
    authority = authority.substr(1, close - 1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    out->port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  out->host = authority;
  return !out->host.empty() && !out->port.empty();
}

// Runs resolve → connect → (handshake) → write → read on `stream`; the
// lowest layer must be a beast::tcp_stream.
template <class Stream, class Handshake>
HttpPostResult Exchange(net::io_context& ioc, Stream& stream, const ParsedUrl& u,
                        const std::string& body, const HttpHeaders& headers, int64_t timeout_ms,
                        Handshake handshake) {
  HttpPostResult result;
  result.error = "timed out after " + std::to_string(timeout_ms) + " ms";
  http::request<http::string_body> req{http::verb::post, u.target, 11};
  req.set(http::field::host, u.host);
  req.set(http::field::user_agent, "apimeter-alerts");
  req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buf;
  tcp::resolver resolver(ioc);
  auto fail = [&](const char* what, beast::error_code ec) {
    result.error = std::string(what) + ": " + ec.message();
  };
  auto read = [&] {
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) return fail("sending", ec);
      http::async_read(stream, buf, res, [&](beast::error_code ec2, size_t) {
        if (ec2) return fail("reading the response", ec2);
        result.status = static_cast<int>(res.result_int());
        result.error.clear();
      });
    });
  };
  resolver.async_resolve(u.host, u.port, [&](beast::error_code ec, tcp::resolver::results_type r) {
    if (ec) return fail("resolving the host", ec);
    beast::get_lowest_layer(stream).async_connect(r,
                                                  [&](beast::error_code ec2, const tcp::endpoint&) {
                                                    if (ec2) return fail("connecting", ec2);
                                                    handshake([&](beast::error_code ec3) {
                                                      if (ec3) return fail("TLS handshake", ec3);
                                                      read();
                                                    });
                                                  });
  });
  ioc.run_for(std::chrono::milliseconds(timeout_ms));
  return result;
}

}  // namespace

HttpPostResult HttpPostJson(const std::string& url, const std::string& body,
                            const HttpHeaders& headers, int64_t timeout_ms) {
  ParsedUrl u;
  if (!ParseUrl(url, &u)) return HttpPostResult{0, "not an http:// or https:// URL"};
  for (const auto& [name, value] : headers) {
    if ((name + value).find_first_of("\r\n") != std::string::npos) {
      return HttpPostResult{0, "a header holds CR or LF"};
    }
  }
  try {
    net::io_context ioc;
    if (!u.tls) {
      beast::tcp_stream stream(ioc);
      return Exchange(ioc, stream, u, body, headers, timeout_ms,
                      [](auto&& next) { next(beast::error_code{}); });
    }
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(net::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str())) {
      return HttpPostResult{0, "TLS: cannot set the server name"};
    }
    stream.set_verify_callback(net::ssl::host_name_verification(u.host));
    return Exchange(ioc, stream, u, body, headers, timeout_ms, [&](auto&& next) {
      stream.async_handshake(net::ssl::stream_base::client, next);
    });
  } catch (const std::exception& e) {
    return HttpPostResult{0, std::string("HTTP client: ") + e.what()};
  }
}

}  // namespace apimeter
