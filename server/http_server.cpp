#include "server/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "server/live_stream.h"

namespace apimeter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io_context, HttpServerOptions o, QueryBackend* b, const Clock* c)
      : io(io_context), acceptor(io_context), options(std::move(o)), backend(b), clock(c) {
    inline_worker = {backend, options.extensions};
    if (!options.workers.empty()) {
      pool = std::make_unique<asio::thread_pool>(options.workers.size());
      for (const RequestWorker& w : options.workers) idle.push_back(&w);
    }
  }
  asio::io_context& io;
  tcp::acceptor acceptor;
  HttpServerOptions options;
  QueryBackend* backend;
  const Clock* clock;
  int active = 0;
  bool stopped = false;
  // Bounded: labels come from RouteLabel (a fixed set) and 3-digit statuses.
  std::map<std::pair<std::string, int>, uint64_t> requests;
  uint64_t refused_connections = 0, bad_requests = 0;
  int live_streams = 0;

  // Where answers are computed (see the header): the pool's threads, each
  // taking an idle worker; or this thread with inline_worker.
  RequestWorker inline_worker;
  std::unique_ptr<asio::thread_pool> pool;
  bool joined = false;
  std::mutex idle_mu;
  std::vector<const RequestWorker*> idle;  // guarded by idle_mu

  struct Session {
    explicit Session(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    http::response<http::string_body> response;
  };

  // One open /api/v1/live stream: an event now, then one per interval until
  // the client goes away, a write stalls past the deadline, the stream's
  // lifetime ends (the browser's EventSource reconnects) or the server stops.
  struct LiveStream {
    LiveStream(std::shared_ptr<Session> sess, LiveParams p, int64_t ends)
        : session(std::move(sess)), timer(session->stream.get_executor()), params(p),
          ends_at(ends) {}
    std::shared_ptr<Session> session;
    asio::steady_timer timer;
    LiveParams params;
    int64_t ends_at;
    int64_t next_id = 1;
    std::string pending;  // the bytes being written
  };
  std::set<std::shared_ptr<LiveStream>> lives;

  void Accept() {
    if (stopped) return;
    acceptor.async_accept(asio::make_strand(io),
                          [self = shared_from_this()](beast::error_code ec, tcp::socket sock) {
                            if (ec) {
                              if (!self->stopped && ec != asio::error::operation_aborted)
                                self->Accept();
                              return;
                            }
                            if (self->active >= kMaxConnections) {
                              ++self->refused_connections;
                              beast::error_code ignored;
                              sock.close(ignored);  // over the limit: refuse rather than queue
                            } else {
                              ++self->active;
                              self->Read(std::make_shared<Session>(std::move(sock)));
                            }
                            self->Accept();
                          });
  }

  // Runs work(worker) off this thread, then done(result) back on the
  // session's executor. With as many threads as workers, a thread always
  // finds an idle worker.
  template <typename Work, typename Done>
  void Answer(const std::shared_ptr<Session>& s, Work work, Done done) {
    if (!pool) return done(work(inline_worker));
    asio::post(*pool, [self = shared_from_this(), ex = s->stream.get_executor(),
                        work = std::move(work), done = std::move(done)]() mutable {
      const RequestWorker* worker = nullptr;
      {
        std::lock_guard<std::mutex> lock(self->idle_mu);
        worker = self->idle.back();
        self->idle.pop_back();
      }
      auto result = work(*worker);
      {
        std::lock_guard<std::mutex> lock(self->idle_mu);
        self->idle.push_back(worker);
      }
      asio::post(ex, [done = std::move(done), result = std::move(result)]() mutable {
        done(std::move(result));
      });
    });
  }

  void Read(const std::shared_ptr<Session>& s) {
    s->parser.emplace();
    s->parser->header_limit(kHeaderLimit);
    s->parser->body_limit(kBodyLimit);
    s->stream.expires_after(std::chrono::seconds(kDeadlineSeconds));
    http::async_read(s->stream, s->buffer, *s->parser,
                     [self = shared_from_this(), s](beast::error_code ec, size_t) {
                       if (ec) {
                         self->ReadFailed(s, ec);
                       } else {
                         self->Respond(s);
                       }
                     });
  }

  // A request that broke a limit or the protocol gets a short answer and the
  // connection is closed; a timeout or a closed socket just closes.
  void ReadFailed(const std::shared_ptr<Session>& s, beast::error_code ec) {
    int status = 0;
    if (ec == http::error::body_limit) status = 413;
    if (ec == http::error::header_limit) status = 431;
    if (status == 0 && ec.category() == beast::error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      status = 400;
    }
    if (status == 0 || stopped) return Close(s);
    ++bad_requests;
    HttpResponse r;
    r.status = status;
    r.headers["Content-Type"] = "application/json";
    r.body = status == 413   ? "{\"error\":{\"message\":\"request body over 4 KiB\"}}\n"
             : status == 431 ? "{\"error\":{\"message\":\"request headers over 16 KiB\"}}\n"
                             : "{\"error\":{\"message\":\"malformed HTTP request\"}}\n";
    Write(s, r, 11, /*keep_alive=*/false, "other");
  }

  HttpRequest ToRequest(const http::request<http::string_body>& req) const {
    HttpRequest out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = req.body();
    return out;
  }

  void Respond(const std::shared_ptr<Session>& s) {
    const auto& req = s->parser->get();
    HttpRequest request = ToRequest(req);
    const std::string label = RouteLabel(request.target);
    HttpResponse r;
    const std::string_view path = std::string_view(request.target).substr(
        0, std::string_view(request.target).find('?'));
    if (path == "/api/v1/live" && request.method == "GET" &&
        Authenticated(request, options.auth, *clock)) {
      return StartLive(s, request, req.version());
    }
    if (label == "metrics" && request.method == "GET" &&
        Authenticated(request, options.auth, *clock)) {
      r.status = 200;
      r.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8";
      r.body = RenderMetrics();
      return Write(s, r, req.version(), req.keep_alive(), label);
    }
    Answer(
        s,
        [self = shared_from_this(), request = std::move(request)](const RequestWorker& w) {
          return Handle(request, *w.backend, self->options.auth, *self->clock,
                        self->options.assets, w.extensions);
        },
        [self = shared_from_this(), s, version = req.version(), keep_alive = req.keep_alive(),
         label](const HttpResponse& answer) { self->Write(s, answer, version, keep_alive, label); });
  }

  void StartLive(const std::shared_ptr<Session>& s, const HttpRequest& request, unsigned version) {
    const size_t qmark = request.target.find('?');
    const std::string query = qmark == std::string::npos ? "" : request.target.substr(qmark + 1);
    ParamError perr;
    auto form = ParseForm(query, &perr);
    LiveParams params;
    std::optional<ParamError> bad;
    if (!form.ok()) {
      bad = perr;
    } else {
      bad = ParseLiveParams(*form, &params);
    }
    if (bad) return Write(s, ErrorResponse(400, bad->message, bad->parameter), version, true, "live");
    if (live_streams >= kMaxLiveStreams) {
      return Write(s,
                   ErrorResponse(503, "too many live streams open (at most " +
                                          std::to_string(kMaxLiveStreams) + "); retry later"),
                   version, false, "live");
    }
    const int64_t now = clock->NowSeconds();
    ++live_streams;  // held while the first event is computed
    Answer(
        s, [params, now](const RequestWorker& w) { return LiveSnapshot(*w.backend, params, now); },
        [self = shared_from_this(), s, params, now, version](Result<nlohmann::json> first) {
          self->OpenLive(s, params, now, version, std::move(first));
        });
  }

  void OpenLive(const std::shared_ptr<Session>& s, const LiveParams& params, int64_t now,
                unsigned version, Result<nlohmann::json> first) {
    if (!first.ok()) {
      --live_streams;
      return Write(s, FromResult(first), version, true, "live");
    }
    ++requests[{"live", 200}];
    auto live = std::make_shared<LiveStream>(s, params, now + kLiveLifetimeSeconds);
    lives.insert(live);
    live->pending =
        "HTTP/1.1 200 OK\r\nServer: apimeter\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
        "X-Accel-Buffering: no\r\nConnection: close\r\n\r\n"
        "retry: 5000\n\n" +
        SseEvent("live", live->next_id++, *first);
    WriteLive(live);
  }

  void WriteLive(const std::shared_ptr<LiveStream>& live) {
    auto& stream = live->session->stream;
    stream.expires_after(std::chrono::seconds(kDeadlineSeconds));
    asio::async_write(stream, asio::buffer(live->pending),
                      [self = shared_from_this(), live](beast::error_code ec, size_t) {
                        live->session->stream.expires_never();
                        if (ec || self->stopped || self->clock->NowSeconds() >= live->ends_at) {
                          return self->EndLive(live);
                        }
                        live->timer.expires_after(std::chrono::seconds(live->params.interval_s));
                        live->timer.async_wait([self, live](beast::error_code wait_ec) {
                          if (wait_ec || self->stopped) return self->EndLive(live);
                          self->NextLiveEvent(live);
                        });
                      });
  }

  void NextLiveEvent(const std::shared_ptr<LiveStream>& live) {
    Answer(
        live->session,
        [params = live->params, now = clock->NowSeconds()](const RequestWorker& w) {
          return LiveSnapshot(*w.backend, params, now);
        },
        [self = shared_from_this(), live](Result<nlohmann::json> snap) {
          if (self->stopped) return self->EndLive(live);
          self->SendLiveEvent(live, snap);
        });
  }

  void SendLiveEvent(const std::shared_ptr<LiveStream>& live, const Result<nlohmann::json>& snap) {
    if (snap.ok()) {
      live->pending = SseEvent("live", live->next_id++, *snap);
    } else {
      // Redis trouble is reported in the stream and the stream goes on.
      const bool unavailable = snap.status().code() == StatusCode::kUnavailable;
      live->pending = SseEvent(
          "live-error", live->next_id++,
          nlohmann::json{{"error",
                          {{"message", (unavailable ? "Redis unavailable: " : "") +
                                           snap.status().message()}}}});
    }
    WriteLive(live);
  }

  void EndLive(const std::shared_ptr<LiveStream>& live) {
    if (lives.erase(live) == 0) return;
    --live_streams;
    Close(live->session);
  }

  void Write(const std::shared_ptr<Session>& s, const HttpResponse& r, unsigned version,
             bool keep_alive, const std::string& label) {
    ++requests[{label, r.status}];
    auto& res = s->response;
    res = {};
    res.version(version);
    res.result(static_cast<unsigned>(r.status));
    res.set(http::field::server, "apimeter");
    res.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.body() = r.body;
    res.keep_alive(keep_alive && !stopped);
    res.prepare_payload();
    s->stream.expires_after(std::chrono::seconds(kDeadlineSeconds));
    http::async_write(s->stream, res, [self = shared_from_this(), s](beast::error_code ec, size_t) {
      if (ec || !s->response.keep_alive()) return self->Close(s);
      self->Read(s);
    });
  }

  void Close(const std::shared_ptr<Session>& s) {
    beast::error_code ignored;
    s->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    s->stream.close();
    --active;
  }

  std::string RenderMetrics() const {
    std::ostringstream out;
    out << "# HELP apimeter_http_requests_total HTTP requests answered, by route and status.\n"
           "# TYPE apimeter_http_requests_total counter\n";
    for (const auto& [key, n] : requests) {
      out << "apimeter_http_requests_total{route=\"" << key.first << "\",status=\"" << key.second
          << "\"} " << n << "\n";
    }
    out << "# HELP apimeter_http_refused_connections_total Connections closed over the limit.\n"
           "# TYPE apimeter_http_refused_connections_total counter\n"
           "apimeter_http_refused_connections_total "
        << refused_connections
        << "\n# HELP apimeter_http_bad_requests_total Requests over a size limit or malformed.\n"
           "# TYPE apimeter_http_bad_requests_total counter\n"
           "apimeter_http_bad_requests_total "
        << bad_requests << "\n# HELP apimeter_http_open_connections Connections open now.\n"
        << "# TYPE apimeter_http_open_connections gauge\napimeter_http_open_connections " << active
        << "\n";
    return out.str();
  }
};

Result<ListenAddress> ParseListen(const std::string& listen, const std::string& what) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument(what + " '" + listen + "' must be host:port");
  }
  ListenAddress out;
  out.host = listen.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Status::InvalidArgument(what + " '" + listen + "' has a bad port");
  }
  out.port = static_cast<uint16_t>(std::stoi(port));
  return out;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(asio::io_context& io,
                                                      HttpServerOptions options,
                                                      QueryBackend* backend, const Clock* clock) {
  const std::string listen = options.listen;
  APIMETER_ASSIGN_OR_RETURN(ListenAddress where, ParseListen(listen, "server.listen"));
  beast::error_code ec;
  auto address = asio::ip::make_address(where.host, ec);
  if (ec) {
    return Status::InvalidArgument("server.listen '" + listen + "': bad address '" + where.host +
                                   "' (use an IP address, e.g. 127.0.0.1)");
  }
  auto impl = std::make_shared<Impl>(io, std::move(options), backend, clock);
  tcp::endpoint ep(address, where.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + listen + ": " + ec.message());
  impl->Accept();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::Stop() {
  impl_->stopped = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  for (const auto& live : impl_->lives) live->timer.cancel();  // each ends in its handler
  if (impl_->pool && !impl_->joined) {
    impl_->joined = true;
    impl_->pool->join();  // the answers in progress finish; their replies are not sent
  }
}

std::string HttpServer::MetricsText() const { return impl_->RenderMetrics(); }

HttpServer::~HttpServer() { Stop(); }

}  // namespace apimeter
