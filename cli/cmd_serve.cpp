// `apimeter serve`: the HTTP API and dashboard over the aggregates in Redis,
// and `apimeter hash-token`. Wires config → AuthConfig, QueryEngine →
// QueryBackend and the embedded web files → StaticAssets; the server itself
// lives in server/.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>
#include <memory>

#include "agent/runtime.h"
#include "alerts/serve_alerts.h"
#include "cli/commands.h"
#include "cli/version.h"
#include "report/report_routes.h"
#include "server/http_server.h"
#include "server/session_key.h"
#include "web/web_assets.h"

namespace apimeter {
namespace {

struct ServeArgs {
  std::string config;
  std::string listen;  // overrides server.listen when set
};

class EmbeddedWebAssets final : public StaticAssets {
 public:
  std::optional<StaticAsset> Find(std::string_view path) const override {
    const WebAsset* a = FindWebAsset(path);
    if (a == nullptr) return std::nullopt;
    return StaticAsset{std::string(a->content_type), std::string(a->body)};
  }
};

// What a scoped token or trusted user may see (server/access.h).
Access AccessOf(const AccessGrantConfig& g) {
  Access a;
  a.role = g.role == "admin" ? Role::kAdmin : Role::kViewer;
  a.customer = g.customer_name;
  a.customer_id = g.customer_id;
  return a;
}

// Tokens and trusted-header sign-in; the session key is added by the caller.
AuthConfig AuthOf(const ServerConfig& sc) {
  AuthConfig auth;
  auth.token_hashes = sc.tokens;
  for (const TokenConfig& t : sc.scoped_tokens) auth.grants.push_back({t.hash, AccessOf(t.grant)});
  const TrustedHeaderConfig& th = sc.trusted_header;
  if (!th.header.empty()) {
    for (char c : th.header) {
      auth.trusted_header.header += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auth.trusted_header.proxies = th.proxies;
    for (const TrustedUserConfig& u : th.users) {
      auth.trusted_header.users[u.user] = AccessOf(u.grant);
    }
    if (th.unlisted != "refuse") {
      Access unlisted;
      unlisted.role = th.unlisted == "admin" ? Role::kAdmin : Role::kViewer;
      auth.trusted_header.unlisted = unlisted;
    }
  }
  return auth;
}

int RunServe(const ServeArgs& args) {
  SystemClock clock;
  auto rt = LoadRuntimeOrLog(args.config, &clock);
  if (!rt) return kExitConfig;
  const ServerConfig& sc = rt->config().server;
  if (sc.tokens.empty() && sc.scoped_tokens.empty() && sc.trusted_header.header.empty()) {
    spdlog::error(
        "{}: server.tokens: at least one token hash is required; create one with "
        "apimeter hash-token",
        args.config);
    return kExitConfig;
  }
  if (Status st = rt->CreateRedis(); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitRuntime;
  }
  HttpServerOptions options;
  options.listen = args.listen.empty() ? sc.listen : args.listen;
  options.auth = AuthOf(sc);
  auto session_key = ResolveSessionKey(sc.session_secret, rt->config().agent.state_dir);
  if (!session_key.ok()) {
    spdlog::error("{}: {}", args.config, session_key.status().message());
    return session_key.status().code() == StatusCode::kInvalidArgument ? kExitConfig
                                                                       : kExitRuntime;
  }
  spdlog::info("session cookies are signed with {}{}", session_key->source,
               sc.session_secret.empty() && rt->config().agent.state_dir.empty()
                   ? ": restarting serve signs everyone out (set agent.state_dir to keep "
                     "sign-ins)"
                   : "");
  options.auth.session_key = std::move(session_key->key);
  options.auth.session_ttl_s = sc.session_ttl_s;
  options.log_warning = [](const std::string& line) { spdlog::warn("{}", line); };
  if (!sc.trusted_header.header.empty()) {
    std::string proxies;
    for (const std::string& p : sc.trusted_header.proxies) proxies += (proxies.empty() ? "" : ", ") + p;
    spdlog::info("sign-in by the {} header, believed only from {}", sc.trusted_header.header,
                 proxies);
  }
  options.build_version = APIMETER_VERSION;
  options.build_revision = APIMETER_GIT_COMMIT;
  EmbeddedWebAssets assets;
  options.assets = &assets;
  // One query engine, Redis connection and set of routes per worker thread.
  struct Worker {
    Runtime::QueryConnection connection;
    std::unique_ptr<QueryEngineBackend> backend;
    std::unique_ptr<ReportRoutes> reports;
  };
  auto alerts = StartServeAlerts(rt->config(), &clock);
  std::vector<Worker> workers;
  for (int64_t i = 0; i < sc.workers; ++i) {
    auto connection = rt->NewQueryConnection();
    if (!connection.ok()) {
      spdlog::error("{}", connection.status().message());
      return kExitRuntime;
    }
    Worker w{std::move(*connection), nullptr, nullptr};
    w.backend = std::make_unique<QueryEngineBackend>(w.connection.query.get());
    w.reports = std::make_unique<ReportRoutes>(w.connection.query.get(),
                                               CustomerDirectory(rt->config().customers));
    options.workers.push_back({w.backend.get(), {alerts->NewRoutes(), w.reports.get()}});
    workers.push_back(std::move(w));
  }
  QueryEngineBackend backend(&rt->query());  // unused while there are workers
  options.extra_metrics = [handle = alerts.get()](PrometheusText* out) {
    handle->WriteMetrics(out);
  };

  boost::asio::io_context io(1);
  auto server = HttpServer::Start(io, options, &backend, &clock);
  if (!server.ok()) {
    spdlog::error("{}", server.status().message());
    return server.status().code() == StatusCode::kInvalidArgument ? kExitConfig : kExitRuntime;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("signal {}: stopping", sig);
    (*server)->Stop();
    io.stop();
  });
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  std::cout << "serving on http://" << host << ":" << (*server)->port() << std::endl;
  try {
    io.run();
  } catch (const std::exception& e) {
    spdlog::error("server stopped: {}", e.what());
    return kExitRuntime;
  }
  return kExitOk;
}

int RunHashToken() {
  std::string token;
  if (!std::getline(std::cin, token) || token.empty()) {
    spdlog::error(
        "hash-token: give the token on standard input, e.g. "
        "openssl rand -hex 32 | tee token.txt | apimeter hash-token");
    return kExitUsage;
  }
  if (!token.empty() && token.back() == '\r') token.pop_back();
  std::cout << HashToken(token) << "\n";
  return kExitOk;
}

}  // namespace

Subcommand AddServeCommand(CLI::App& app, const std::string& config_default) {
  auto serve = std::make_shared<ServeArgs>();
  serve->config = config_default;
  auto* sv = app.add_subcommand(
      "serve",
      "Serve the HTTP API (docs/api.md) and the dashboard over the aggregates in Redis. "
      "Needs server.tokens in the config. Runs until SIGTERM.");
  sv->add_option("-c,--config", serve->config, "config file")->capture_default_str();
  sv->add_option("--listen", serve->listen, "host:port (overrides server.listen; port 0 = any)");
  return Subcommand{sv, [serve] { return RunServe(*serve); }};
}

Subcommand AddHashTokenCommand(CLI::App& app, const std::string& /*config_default*/) {
  auto* ht = app.add_subcommand(
      "hash-token",
      "Read an API token on standard input and print its sha256:<hex> hash for server.tokens.");
  return Subcommand{ht, [] { return RunHashToken(); }};
}

}  // namespace apimeter
