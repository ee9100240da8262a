#include "server/http_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>

#include "common/process_metrics.h"
#include "common/prometheus_text.h"
#include "server/client_address.h"
#include "server/live_stream.h"

namespace apimeter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Why a request's framing is refused, or nullptr. Beast reads a
// Transfer-Encoding whose last coding is not "chunked" as "no body", so the
// body would be parsed as the next request: only exactly "chunked", once, in
// HTTP/1.1 is accepted (RFC 9112 6.1, 6.3).
const char* FramingError(const http::request<http::string_body>& req) {
  int fields = 0;
  bool chunked = true;
  for (const auto& f : req) {
    if (f.name() != http::field::transfer_encoding) continue;
    ++fields;
    std::string_view v(f.value().data(), f.value().size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    chunked = chunked && beast::iequals(beast::string_view(v.data(), v.size()), "chunked");
  }
  if (fields == 0) return nullptr;
  if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
  if (fields > 1 || !chunked) return "Transfer-Encoding other than \"chunked\" is not supported";
  return nullptr;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io_context, HttpServerOptions o, QueryBackend* b, const Clock* c)
      : io(io_context), acceptor(io_context), options(std::move(o)), backend(b), clock(c),
        throttle(options.limits.sign_in) {
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
  std::map<std::string, int> per_client;  // open connections by ClientKey; no zero entries
  bool stopped = false;
  // Bounded: labels come from RouteLabel (a fixed set) and 3-digit statuses.
  std::map<std::pair<std::string, int>, uint64_t> requests;
  uint64_t refused_connections = 0, evicted_connections = 0, bad_requests = 0,
           request_timeouts = 0;
  uint64_t failed_sign_ins = 0, throttled_sign_ins = 0;
  uint64_t failed_answers = 0;  // answers that threw (answered 500)
  uint64_t ignored_trusted_headers = 0, ignored_since_log = 0;
  int64_t ignored_logged_at_ms = -1;
  int live_streams = 0;
  SignInThrottle throttle;

  // Where answers are computed (see the header): the pool's threads, each
  // taking an idle worker; or this thread with inline_worker.
  RequestWorker inline_worker;
  std::unique_ptr<asio::thread_pool> pool;
  bool joined = false;
  std::mutex idle_mu;
  std::vector<const RequestWorker*> idle;  // guarded by idle_mu

  struct Session {
    Session(tcp::socket s, asio::ip::address p, std::string c)
        : stream(std::move(s)), peer(std::move(p)), client(std::move(c)) {}
    beast::tcp_stream stream;
    asio::ip::address peer;
    std::string client;  // ClientKey(peer)
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    http::response<http::string_body> response;
    bool waiting = false;  // for a request to start or to arrive whole: in `waiting`
    std::list<Session*>::iterator waiting_at;
    bool released = false;  // closed and no longer counted (Release)
  };
  // Connections waiting for a request, oldest first: what a connection cap
  // evicts to make room. A Session is listed only while its read handler
  // (which owns it) is pending, and unlisted before that handler runs on.
  std::list<Session*> waiting;

  // One open /api/v1/live stream: an event now, then one per interval until
  // the client goes away (noticed at once: a read is always pending), a write
  // stalls past the deadline, the stream's lifetime ends (the browser's
  // EventSource reconnects) or the server stops.
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
    char probe[64];       // what a client sends after its request (nothing, or EOF)
  };
  std::set<std::shared_ptr<LiveStream>> lives;

  int64_t NowMs() const { return clock->NowMicros() / 1000; }

  void Accept() {
    if (stopped) return;
    acceptor.async_accept(asio::make_strand(io),
                          [self = shared_from_this()](beast::error_code ec, tcp::socket sock) {
                            if (ec) {
                              if (!self->stopped && ec != asio::error::operation_aborted)
                                self->Accept();
                              return;
                            }
                            self->Admit(std::move(sock));
                            self->Accept();
                          });
  }

  // Over a limit, a connection is closed at once rather than queued.
  void Admit(tcp::socket sock) {
    beast::error_code ec;
    const asio::ip::address peer = sock.remote_endpoint(ec).address();
    if (ec) return;  // already gone
    std::string client = ClientKey(peer);
    auto it = per_client.find(client);
    const int from_client = it == per_client.end() ? 0 : it->second;
    const bool room = from_client >= options.limits.max_connections_per_client
                          ? Evict(&client)
                          : active < options.limits.max_connections || Evict(nullptr);
    if (!room) {
      ++refused_connections;
      sock.close(ec);
      return;
    }
    ++active;
    ++per_client[client];
    Read(std::make_shared<Session>(std::move(sock), peer, std::move(client)));
  }

  // At a cap, the connection (of `client`, or any) that has waited longest
  // for its request is closed to make room, so connections that dribble or
  // idle cannot hold out new ones that are quick (slowloris). False when
  // every connection there has a request in hand (the new one is refused).
  // The evicted one is closed and uncounted now (its place is free before
  // the new one takes it); its read handler then finds it closed.
  bool Evict(const std::string* client) {
    for (Session* s : waiting) {
      if (client != nullptr && s->client != *client) continue;
      StopWaiting(s);
      ++evicted_connections;
      CloseSocket(s);
      return true;
    }
    return false;
  }
  void StartWaiting(Session* s) {
    if (s->waiting) return;
    s->waiting = true;
    s->waiting_at = waiting.insert(waiting.end(), s);
  }
  void StopWaiting(Session* s) {
    if (!s->waiting) return;
    s->waiting = false;
    waiting.erase(s->waiting_at);
  }

  // Runs work(worker) off this thread, then done(result) back on the
  // session's executor. With as many threads as workers, a thread always
  // finds an idle worker.
  // An exception from work (a bug, std::bad_alloc, a library throwing)
  // never leaves the worker thread: the answer is a 500 (an error event on a
  // live stream), the worker goes back to the idle list and the reason is
  // logged through log_warning on this thread.
  template <typename Work, typename Done>
  void Answer(const std::shared_ptr<Session>& s, Work work, Done done) {
    if (!pool) {
      std::string failure;
      auto result = Guarded(work, inline_worker, &failure);
      if (!failure.empty()) AnswerFailed(failure);
      return done(std::move(result));
    }
    asio::post(*pool, [self = shared_from_this(), ex = s->stream.get_executor(),
                        work = std::move(work), done = std::move(done)]() mutable {
      const RequestWorker* worker = nullptr;
      {
        std::lock_guard<std::mutex> lock(self->idle_mu);
        worker = self->idle.back();
        self->idle.pop_back();
      }
      std::string failure;
      auto result = Guarded(work, *worker, &failure);
      {
        std::lock_guard<std::mutex> lock(self->idle_mu);
        self->idle.push_back(worker);
      }
      asio::post(ex, [self, done = std::move(done), result = std::move(result),
                      failure = std::move(failure)]() mutable {
        if (!failure.empty()) self->AnswerFailed(failure);
        done(std::move(result));
      });
    });
  }

  // work(worker), or on an exception the failure answer of its type, with
  // the exception's text in *failure (never sent to the client).
  template <typename Work>
  static auto Guarded(Work& work, const RequestWorker& worker, std::string* failure)
      -> decltype(work(worker)) {
    using Answered = decltype(work(worker));
    try {
      return work(worker);
    } catch (const std::exception& e) {
      *failure = e.what();
    } catch (...) {
      *failure = "an exception that is not a std::exception";
    }
    if (failure->empty()) *failure = "an exception with no message";
    if constexpr (std::is_same_v<Answered, HttpResponse>) {
      return ErrorResponse(500, "internal error while answering; the reason is in the server log");
    } else {
      return Answered(
          Status::Internal("internal error while answering; the reason is in the server log"));
    }
  }

  void AnswerFailed(const std::string& failure) {
    ++failed_answers;
    if (options.log_warning) {
      options.log_warning("an answer failed with an exception and was answered 500: " + failure);
    }
  }

  // Waits (idle_timeout) for the next request's first byte, unless it is
  // already buffered.
  void Read(const std::shared_ptr<Session>& s) {
    s->parser.emplace();
    s->parser->header_limit(kHeaderLimit);
    s->parser->body_limit(kBodyLimit);
    StartWaiting(s.get());
    if (s->buffer.size() > 0) return ReadRequest(s);
    s->stream.expires_after(options.limits.idle_timeout);
    s->stream.async_read_some(s->buffer.prepare(4096),
                              [self = shared_from_this(), s](beast::error_code ec, size_t n) {
                                if (ec) {  // idle, evicted, or the client left
                                  self->StopWaiting(s.get());
                                  return self->Close(s);
                                }
                                s->buffer.commit(n);
                                self->ReadRequest(s);
                              });
  }

  // The head, then the body, within one request_timeout.
  void ReadRequest(const std::shared_ptr<Session>& s) {
    StartWaiting(s.get());
    s->stream.expires_after(options.limits.request_timeout);
    http::async_read_header(
        s->stream, s->buffer, *s->parser,
        [self = shared_from_this(), s](beast::error_code ec, size_t) {
          if (ec) return self->ReadFailed(s, ec);
          if (s->parser->is_done()) self->StopWaiting(s.get());
          if (const char* why = FramingError(s->parser->get())) {
            self->StopWaiting(s.get());
            return self->Refuse(s, 400, std::string(why) + "; the connection is closed");
          }
          if (s->parser->is_done()) return self->Respond(s);
          http::async_read(s->stream, s->buffer, *s->parser,
                           [self, s](beast::error_code body_ec, size_t) {
                             if (body_ec) return self->ReadFailed(s, body_ec);
                             self->StopWaiting(s.get());
                             self->Respond(s);
                           });
        });
  }

  // A request that broke a limit or the protocol gets a short answer and the
  // connection is closed; a timeout or a closed socket just closes.
  void ReadFailed(const std::shared_ptr<Session>& s, beast::error_code ec) {
    StopWaiting(s.get());
    if (ec == beast::error::timeout) ++request_timeouts;
    int status = 0;
    if (ec == http::error::body_limit) status = 413;
    if (ec == http::error::header_limit) status = 431;
    if (status == 0 && ec.category() == beast::error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      status = 400;
    }
    if (status == 0 || stopped) return Close(s);
    Refuse(s, status,
           status == 413   ? "request body over 4 KiB"
           : status == 431 ? "request headers over 16 KiB"
                           : "malformed HTTP request");
  }

  void Refuse(const std::shared_ptr<Session>& s, int status, const std::string& message) {
    ++bad_requests;
    Write(s, ErrorResponse(status, message), 11, /*keep_alive=*/false, "other");
  }

  HttpRequest ToRequest(const http::request<http::string_body>& req,
                        const asio::ip::address& peer) const {
    HttpRequest out;
    out.peer = CanonicalAddress(peer);
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
    HttpRequest request = ToRequest(req, s->peer);
    NoteIgnoredTrustedHeader(request);
    const std::string label = RouteLabel(request.target);
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    // A client throttled after failed sign-ins: its token is not even checked.
    std::string sign_in_client;
    if (PresentsToken(request)) {
      auto fwd = request.headers.find("x-forwarded-for");
      sign_in_client =
          SignInClient(s->peer, fwd == request.headers.end() ? "" : std::string_view(fwd->second));
      const int64_t wait_ms = throttle.RetryAfterMs(sign_in_client, NowMs());
      if (wait_ms > 0) {
        ++throttled_sign_ins;
        return Write(s, SignInThrottled(request, (wait_ms + 999) / 1000, options.assets), version,
                     keep_alive, label);
      }
    }
    const std::string_view path = std::string_view(request.target).substr(
        0, std::string_view(request.target).find('?'));
    const bool identified = (path == "/api/v1/live" || label == "metrics") &&
                            request.method == "GET";
    const Caller caller = identified ? Identify(request, options.auth, *clock) : Caller{};
    if (path == "/api/v1/live" && caller.access) return StartLive(s, request, version, *caller.access);
    if (label == "metrics" && caller.access) {
      FormParams none;
      if (auto denied = ApplyAccess(*caller.access, "/metrics", &none)) {
        return Write(s, *denied, version, keep_alive, label);
      }
      HttpResponse r;
      r.status = 200;
      r.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8";
      r.body = RenderMetrics();
      return Write(s, r, version, keep_alive, label);
    }
    Answer(
        s,
        [self = shared_from_this(), request = std::move(request)](const RequestWorker& w) {
          return Handle(request, *w.backend, self->options.auth, *self->clock,
                        self->options.assets, w.extensions);
        },
        [self = shared_from_this(), s, version, keep_alive, label,
         sign_in_client](const HttpResponse& answer) {
          if (!sign_in_client.empty() && answer.status == 401) self->SignInFailed(sign_in_client);
          self->Write(s, answer, version, keep_alive, label);
        });
  }

  // A trusted header from a peer that is not a configured proxy is not
  // believed (server/auth.h); it is counted, and logged at most once a minute
  // with the number seen since the last line.
  void NoteIgnoredTrustedHeader(const HttpRequest& request) {
    if (ReadTrustedHeader(request, options.auth).kind != TrustedHeaderResult::kIgnored) return;
    ++ignored_trusted_headers;
    ++ignored_since_log;
    const int64_t now = NowMs();
    if (!options.log_warning || (ignored_logged_at_ms >= 0 && now - ignored_logged_at_ms < 60000)) {
      return;
    }
    options.log_warning("ignored the trusted header " + options.auth.trusted_header.header +
                        " from " + request.peer +
                        ", which is not one of server.trusted_header.proxies (" +
                        std::to_string(ignored_since_log) +
                        " such requests since the last line; see "
                        "apimeter_http_ignored_trusted_headers_total)");
    ignored_logged_at_ms = now;
    ignored_since_log = 0;
  }

  void SignInFailed(const std::string& client) {
    ++failed_sign_ins;
    const SignInThrottle::Note note = throttle.Failure(client, NowMs());
    if (!note.log || !options.log_warning) return;
    std::string line = "failed sign-in from " + client + " (" + std::to_string(note.failures) +
                       (note.failures == 1 ? " failure" : " failures") +
                       " since the last line for it)";
    if (note.retry_after_ms > 0) {
      line += "; its next token attempt is refused for " +
              std::to_string((note.retry_after_ms + 999) / 1000) + " s";
    }
    if (note.lines_left_out > 0) {
      line += "; " + std::to_string(note.lines_left_out) +
              " more such lines were left out (see apimeter_http_failed_sign_ins_total)";
    }
    options.log_warning(line);
  }

  void StartLive(const std::shared_ptr<Session>& s, const HttpRequest& request, unsigned version,
                 const Access& who) {
    const size_t qmark = request.target.find('?');
    const std::string query = qmark == std::string::npos ? "" : request.target.substr(qmark + 1);
    ParamError perr;
    auto form = ParseForm(query, &perr);
    LiveParams params;
    std::optional<ParamError> bad;
    if (!form.ok()) {
      bad = perr;
    } else {
      // The scope is forced here as on every other route (server/access.h).
      if (auto denied = ApplyAccess(who, "/api/v1/live", &*form)) {
        return Write(s, *denied, version, true, "live");
      }
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
        "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\nConnection: close\r\n";
    for (const HeaderField& h : kSecurityHeaders) {
      live->pending += std::string(h.name) + ": " + std::string(h.value) + "\r\n";
    }
    live->pending += "\r\nretry: 5000\n\n" + SseEvent("live", live->next_id++, *first);
    WriteLive(live);
    WatchLive(live);
  }

  // EventSource sends nothing after its request, so any read completing
  // (EOF, a reset, or stray bytes) means the client is done: the slot is
  // freed now, not at the next event.
  void WatchLive(const std::shared_ptr<LiveStream>& live) {
    live->session->stream.socket().async_read_some(
        asio::buffer(live->probe),
        [self = shared_from_this(), live](beast::error_code, size_t) { self->EndLive(live); });
  }

  void WriteLive(const std::shared_ptr<LiveStream>& live) {
    auto& stream = live->session->stream;
    stream.expires_after(options.limits.write_timeout);
    asio::async_write(stream, asio::buffer(live->pending),
                      [self = shared_from_this(), live](beast::error_code ec, size_t) {
                        if (self->lives.count(live) == 0) return;  // ended meanwhile
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
          if (self->lives.count(live) == 0) return;  // the client left meanwhile
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
    live->timer.cancel();
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
    for (const HeaderField& h : kSecurityHeaders) {
      res.set(beast::string_view(h.name.data(), h.name.size()),
              beast::string_view(h.value.data(), h.value.size()));
    }
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.body() = r.body;
    res.keep_alive(keep_alive && !stopped);
    res.prepare_payload();
    s->stream.expires_after(options.limits.write_timeout);
    http::async_write(s->stream, res, [self = shared_from_this(), s](beast::error_code ec, size_t) {
      if (ec || !s->response.keep_alive()) return self->Close(s);
      self->Read(s);
    });
  }

  void Close(const std::shared_ptr<Session>& s) { CloseSocket(s.get()); }
  // Closes the connection and stops counting it, once (a handler that runs
  // after an eviction closed it finds nothing left to do).
  void CloseSocket(Session* s) {
    if (s->released) return;
    s->released = true;
    beast::error_code ignored;
    s->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    s->stream.close();
    --active;
    auto it = per_client.find(s->client);
    if (it != per_client.end() && --it->second <= 0) per_client.erase(it);
  }

  std::string RenderMetrics() const {
    PrometheusText out;
    out.Family("apimeter_http_requests_total", "counter",
               "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests) {
      out.Sample("apimeter_http_requests_total",
                 PrometheusText::Label("route", key.first) + "," +
                     PrometheusText::Label("status", std::to_string(key.second)),
                 static_cast<double>(n));
    }
    auto metric = [&out](const char* name, const char* type, const char* help, uint64_t value) {
      out.Metric(name, type, help, "", static_cast<double>(value));
    };
    metric("apimeter_http_refused_connections_total", "counter",
           "Connections closed over the total or the per-client limit.", refused_connections);
    metric("apimeter_http_evicted_connections_total", "counter",
           "Connections still waiting for their request, closed at a connection cap to make "
           "room for a new one.",
           evicted_connections);
    metric("apimeter_http_bad_requests_total", "counter",
           "Requests over a size limit or malformed.", bad_requests);
    metric("apimeter_http_request_timeouts_total", "counter",
           "Requests not received whole within the request deadline (slow clients).",
           request_timeouts);
    metric("apimeter_http_open_connections", "gauge", "Connections open now.",
           static_cast<uint64_t>(active));
    metric("apimeter_http_live_streams", "gauge", "Live streams (/api/v1/live) open now.",
           static_cast<uint64_t>(live_streams));
    metric("apimeter_http_failed_sign_ins_total", "counter",
           "Tokens refused (POST /login or Authorization), from any client.", failed_sign_ins);
    metric("apimeter_http_throttled_sign_ins_total", "counter",
           "Token attempts refused unchecked (429) from clients throttled after failures.",
           throttled_sign_ins);
    metric("apimeter_http_failed_answers_total", "counter",
           "Answers that failed with an exception (answered 500; the reason is logged).",
           failed_answers);
    metric("apimeter_http_ignored_trusted_headers_total", "counter",
           "Requests carrying the trusted sign-in header from a peer that is not one of "
           "server.trusted_header.proxies (not believed).",
           ignored_trusted_headers);
    if (options.extra_metrics) options.extra_metrics(&out);
    WriteProcessMetrics(ReadProcessStats(), &out);
    WriteBuildInfo(options.build_version, options.build_revision, "serve", &out);
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
