#include "agent/metrics_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace apimeter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr int kMaxConnections = 16;
constexpr auto kDeadline = std::chrono::seconds(5);
}  // namespace

struct MetricsServer::Impl : std::enable_shared_from_this<MetricsServer::Impl> {
  Impl(asio::io_context& io, BodyFn b) : acceptor(io), body(std::move(b)) {}
  tcp::acceptor acceptor;
  BodyFn body;
  int active = 0;
  bool stopped = false;

  void Accept() {
    if (stopped) return;
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket sock) {
      if (ec) {
        if (!self->stopped && ec != asio::error::operation_aborted) self->Accept();
        return;
      }
      if (self->active >= kMaxConnections) {
        beast::error_code ignored;
        sock.close(ignored);  // over the limit: refuse rather than queue
      } else {
        self->Serve(std::move(sock));
      }
      self->Accept();
    });
  }

  struct Session {
    explicit Session(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer{8192};
    http::request_parser<http::empty_body> parser;
    http::response<http::string_body> response;
  };

  void Serve(tcp::socket sock) {
    ++active;
    auto session = std::make_shared<Session>(std::move(sock));
    session->parser.header_limit(8 * 1024);
    session->parser.body_limit(0);
    session->stream.expires_after(kDeadline);
    http::async_read(session->stream, session->buffer, session->parser,
                     [self = shared_from_this(), session](beast::error_code ec, size_t) {
                       if (ec) {
                         self->Finish(session);
                         return;
                       }
                       self->Respond(session);
                     });
  }

  void Respond(const std::shared_ptr<Session>& session) {
    const auto& req = session->parser.get();
    auto& res = session->response;
    res.version(req.version());
    res.keep_alive(false);
    res.set(http::field::server, "apimeter-agent");
    const std::string target(req.target());
    if (req.method() == http::verb::get && target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = body();
    } else if (req.method() == http::verb::get && target == "/healthz") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain");
      res.body() = "ok\n";
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain");
      res.body() = "not found: try /metrics\n";
    }
    res.prepare_payload();
    http::async_write(session->stream, res,
                      [self = shared_from_this(), session](beast::error_code, size_t) {
                        self->Finish(session);
                      });
  }

  void Finish(const std::shared_ptr<Session>& session) {
    beast::error_code ignored;
    session->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    session->stream.close();
    --active;
  }
};

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(asio::io_context& io,
                                                            const std::string& listen,
                                                            BodyFn body) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("metrics_listen '" + listen + "' must be host:port");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("metrics_listen '" + listen + "' has a bad port");
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("metrics_listen '" + listen + "': bad address '" + host + "'");
  auto impl = std::make_shared<Impl>(io, std::move(body));
  tcp::endpoint ep(address, static_cast<uint16_t>(port));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + listen + " for metrics: " + ec.message());
  }
  impl->Accept();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

uint16_t MetricsServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void MetricsServer::Stop() {
  impl_->stopped = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

MetricsServer::~MetricsServer() { Stop(); }

}  // namespace apimeter
