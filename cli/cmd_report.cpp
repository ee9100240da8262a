// `apimeter report`: a customer's usage report (CSV, JSON, HTML or PDF) from
// the aggregates in Redis, or one report per active customer with --all plus
// a summary CSV (docs/reports.md, docs/cli.md). The report itself is built
// by report/ from QueryEngine answers, exactly as GET /api/v1/report does.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>

#include "agent/runtime.h"
#include "cli/commands.h"
#include "common/time_util.h"
#include "report/report_model.h"
#include "report/report_render.h"

namespace apimeter {
namespace {

struct ReportArgs {
  std::string config;
  std::string customer;
  bool all = false;
  std::string from, to;
  int64_t days = 0;
  std::string format = "pdf";
  std::string output;
  int64_t top = kReportDefaultTopEndpoints;
};

// The requested [from, to) from --from/--to/--days; an error message otherwise.
std::optional<std::string> ResolveRange(const ReportArgs& a, int64_t now, int64_t* from,
                                        int64_t* to) {
  const bool explicit_range = !a.from.empty() || !a.to.empty();
  if (explicit_range && a.days != 0) return "--days cannot be combined with --from/--to";
  if (!explicit_range) {
    const int64_t days = a.days == 0 ? kReportDefaultDays : a.days;
    if (days < 1 || days > 400) return "--days must be between 1 and 400";
    std::tie(*from, *to) = LastFullDays(now, days);
    return std::nullopt;
  }
  auto f = ParseTimePoint(a.from.empty() ? "30d" : a.from, now);
  if (!f.ok()) return "--from: " + f.status().message();
  auto t = ParseTimePoint(a.to.empty() ? "now" : a.to, now);
  if (!t.ok()) return "--to: " + t.status().message();
  if (*f >= *t) return "--from must be before --to (the range is empty or inverted)";
  *from = *f;
  *to = *t;
  return std::nullopt;
}

int ExitFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return kExitConfig;
    case StatusCode::kNotFound:
      return kExitData;
    default:
      return kExitRuntime;
  }
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  if (path == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    return static_cast<bool>(std::cout);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) spdlog::error("cannot write {}", path);
  return static_cast<bool>(out);
}

// A report built from partial data says so in its body (first note, CSV
// rows); the terminal gets the same warning.
void WarnIfPartial(const nlohmann::json& report, const std::string& customer) {
  if (!report.value("partial", false)) return;
  spdlog::warn("report for '{}': {}", customer, report.at("notes").at(0).get<std::string>());
}

int RunOne(QueryEngine& engine, const CustomerDirectory& dir, const ReportRequest& req,
           ReportFormat format, const std::string& output, int64_t now) {
  Result<nlohmann::json> report = BuildCustomerReport(engine, dir, req, now);
  if (!report.ok()) {
    spdlog::error("report: {}", report.status().message());
    return ExitFor(report.status());
  }
  WarnIfPartial(*report, req.customer);
  Result<std::string> body = RenderReport(*report, format);
  if (!body.ok()) {
    spdlog::error("report: {}", body.status().message());
    return kExitRuntime;
  }
  return WriteFile(output, *body) ? kExitOk : kExitRuntime;
}

int RunAll(QueryEngine& engine, const CustomerDirectory& dir, ReportRequest req,
           ReportFormat format, const std::string& output, int64_t now) {
  std::error_code ec;
  std::filesystem::create_directories(output, ec);
  if (ec) {
    spdlog::error("report --all: cannot create {}: {}", output, ec.message());
    return kExitRuntime;
  }
  auto days = ReportDays(req.from_s, req.to_s);
  if (!days.ok()) {
    spdlog::error("report: {}", days.status().message());
    return kExitConfig;
  }
  QueryParams p;
  std::tie(p.from_s, p.to_s) = *days;
  Result<std::vector<std::string>> names = engine.CustomerNames(p);
  if (!names.ok()) {
    spdlog::error("report --all: {}", names.status().message());
    return ExitFor(names.status());
  }
  std::string summary = SummaryCsvHeader();
  std::set<std::string> used;
  for (const std::string& name : *names) {
    req.customer = name;
    Result<nlohmann::json> report = BuildCustomerReport(engine, dir, req, now);
    if (!report.ok()) {
      spdlog::error("report --all: customer '{}': {}", name, report.status().message());
      return ExitFor(report.status());
    }
    WarnIfPartial(*report, name);
    Result<std::string> body = RenderReport(*report, format);
    if (!body.ok()) {
      spdlog::error("report --all: customer '{}': {}", name, body.status().message());
      return kExitRuntime;
    }
    // Distinct names can share a file stem once sanitized: number the later ones.
    std::string stem = ReportFileStem(name);
    for (int n = 2; used.count(stem) > 0; ++n)
      stem = ReportFileStem(name) + "-" + std::to_string(n);
    used.insert(stem);
    const std::string file = stem + "." + std::string(ReportExtension(format));
    if (!WriteFile((std::filesystem::path(output) / file).string(), *body)) return kExitRuntime;
    Result<std::string> row = SummaryCsvRow(*report, file);
    if (!row.ok()) return kExitRuntime;
    summary += *row;
  }
  if (!WriteFile((std::filesystem::path(output) / "summary.csv").string(), summary)) {
    return kExitRuntime;
  }
  std::cout << "wrote " << names->size() << " reports and summary.csv to " << output << "\n";
  return kExitOk;
}

int RunReport(const ReportArgs& a) {
  if (a.all == !a.customer.empty()) {
    spdlog::error("report: give exactly one of --customer ID or --all");
    return kExitConfig;
  }
  if (a.all && (a.output.empty() || a.output == "-")) {
    spdlog::error("report --all: -o must name a directory");
    return kExitConfig;
  }
  auto format = ParseReportFormat(a.format);
  if (!format.ok()) {
    spdlog::error("--format: {}", format.status().message());
    return kExitConfig;
  }
  SystemClock clock;
  const int64_t now = clock.NowSeconds();
  ReportRequest req;
  req.customer = a.customer;
  req.top_endpoints = a.top;
  if (auto err = ResolveRange(a, now, &req.from_s, &req.to_s)) {
    spdlog::error("report: {}", *err);
    return kExitConfig;
  }
  auto rt = LoadRuntimeOrLog(a.config, &clock);
  if (!rt) return kExitConfig;
  if (Status st = rt->ConnectRedis(); !st.ok()) {
    spdlog::error("{}", st.message());
    return kExitRuntime;
  }
  const CustomerDirectory dir(rt->config().customers);
  const std::string output = a.output.empty() ? "-" : a.output;
  return a.all ? RunAll(rt->query(), dir, req, *format, output, now)
               : RunOne(rt->query(), dir, req, *format, output, now);
}

}  // namespace

Subcommand AddReportCommand(CLI::App& app, const std::string& config_default) {
  auto args = std::make_shared<ReportArgs>();
  args->config = config_default;
  auto* cmd = app.add_subcommand(
      "report",
      "A customer's usage report (docs/reports.md) over whole UTC days, default the last 30 "
      "full days; or one per active customer with --all plus summary.csv.");
  cmd->add_option("-c,--config", args->config, "config file")->capture_default_str();
  cmd->add_option("--customer", args->customer,
                  "customer name (customers file), k_ id or anonymous");
  cmd->add_flag("--all", args->all,
                "one report per customer with requests in the range, into -o DIR");
  cmd->add_option("--from", args->from, "start (inclusive), rounded down to 00:00 UTC");
  cmd->add_option("--to", args->to, "end (exclusive), rounded up to the next 00:00 UTC");
  cmd->add_option("--days", args->days, "the last N full UTC days (default 30)");
  cmd->add_option("--format", args->format, "csv, json, html or pdf")->capture_default_str();
  cmd->add_option("-o,--output", args->output,
                  "output file (default: standard output); with --all a directory");
  cmd->add_option("--top", args->top, "endpoints listed (1..50)")->capture_default_str();
  return Subcommand{cmd, [args] { return RunReport(*args); }};
}

}  // namespace apimeter
