// The "clients" section of customer reports (issue 18 part 2) in every
// rendered format: a report document as BuildCustomerReport writes it (see
// report_model.h and docs/reports.md) goes through the CSV, HTML and PDF
// renderers. The section is a table of clients, or null ("not logged") which
// every format must show as such and never as zeros; a document from before
// clients existed has no section at all. The PDF's text comes from
// pdftotext; PNGs go to the build's artifacts directory for a person to
// look at. The model itself (numbers from QueryEngine::Clients against a
// real Redis) is checked in report_test.cpp.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "report/report_render.h"

namespace apimeter {
namespace {

using nlohmann::json;

std::string Shell(const std::string& command) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  return out;
}

std::string ArtifactPath(const std::string& name) {
  std::filesystem::create_directories(APIMETER_ARTIFACTS_DIR);
  return std::string(APIMETER_ARTIFACTS_DIR) + "/" + name;
}

// The fixture's values hold no comma, quote or newline: a plain split is the CSV.
std::vector<std::vector<std::string>> SplitCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields;
    std::string f;
    for (char c : line) {
      if (c == ',') {
        fields.push_back(f);
        f.clear();
      } else {
        f += c;
      }
    }
    fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

json Latency(double base) {
  return {{"avg", base * 1.2}, {"p50", base}, {"p95", base * 3}, {"p99", base * 5}};
}

json Endpoint(const std::string& name, uint64_t n) {
  return {{"endpoint", name},     {"requests", n},
          {"share", 0.1},         {"errors_4xx", 1},
          {"errors_5xx", 0},      {"rate_4xx", 1.0 / n},
          {"rate_5xx", 0.0},      {"bytes_in", n * 10},
          {"bytes_out", n * 100}, {"latency_ms", Latency(12.5)}};
}

json Client(const std::string& name, uint64_t n, uint64_t e4, uint64_t e5, json share) {
  return {{"client", name},
          {"requests", n},
          {"share", std::move(share)},
          {"errors_4xx", e4},
          {"errors_5xx", e5},
          {"rate_4xx", static_cast<double>(e4) / n},
          {"rate_5xx", static_cast<double>(e5) / n},
          {"error_rate", static_cast<double>(e4 + e5) / n},
          {"bytes_in", n * 10},
          {"bytes_out", n * 100},
          {"latency_ms", Latency(8.25)}};
}

// A three-day report of `endpoints` endpoints whose clients section is `clients`
// (json() = absent: a document from before clients existed).
json Report(const json& clients, int endpoints = 3) {
  json eps = json::array();
  for (int i = 0; i < endpoints; ++i)
    eps.push_back(Endpoint("GET /v1/e" + std::to_string(i), 900 - i));
  json daily = json::array();
  for (const char* d : {"2026-11-23", "2026-11-24", "2026-11-25"}) {
    daily.push_back({{"date", d},
                     {"requests", 4000},
                     {"errors_4xx", 40},
                     {"errors_5xx", 4},
                     {"bytes_out", 400000},
                     {"p50", 10.0},
                     {"p95", 30.0},
                     {"p99", 50.0}});
  }
  json r{{"report", "customer_usage"},
         {"format_version", 1},
         {"customer", {{"name", "Initech"}, {"id", "k_0123456789ab"}, {"in_customers_file", true}}},
         {"generated_at", "2026-11-26T12:00:00Z"},
         {"period",
          {{"from", "2026-11-23T00:00:00Z"},
           {"to", "2026-11-26T00:00:00Z"},
           {"days", 3},
           {"requested_from", "2026-11-23T00:00:00Z"},
           {"requested_to", "2026-11-26T00:00:00Z"},
           {"adjusted", false}}},
         {"totals",
          {{"requests", 12000},
           {"requests_per_day", 4000.0},
           {"errors_4xx", 120},
           {"errors_5xx", 12},
           {"rate_4xx", 0.01},
           {"rate_5xx", 0.001},
           {"error_rate", 0.011},
           {"bytes_in", 120000},
           {"bytes_out", 1200000},
           {"latency_count", 12000},
           {"latency_ms",
            {{"avg", 14.0}, {"p50", 10.0}, {"p95", 30.0}, {"p99", 50.0}, {"max", 900.0}}}}},
         {"daily", daily},
         {"peak_day", {{"date", "2026-11-24"}, {"requests", 4000}}},
         {"peak_hour", {{"hour", "2026-11-24T14:00:00Z"}, {"requests", 400}}},
         {"endpoints", {{"limit", 10}, {"rows", eps}, {"other_requests", 0}, {"other_share", 0.0}}},
         {"notes", json::array()}};
  if (!clients.is_discarded()) r["clients"] = clients;
  return r;
}

json Clients(int n) {
  json rows = json::array();
  uint64_t listed = 0;
  for (int i = 0; i < n; ++i) {
    const uint64_t req = 5000 - 400 * i;
    listed += req;
    rows.push_back(Client(i == 0 ? "okhttp/4.12" : "client-" + std::to_string(i) + "/1.0", req, i,
                          i == 1 ? 7 : 0, 0.25));
  }
  return {{"limit", 10},  {"client_count", n + 2}, {"total_requests", listed + 30},
          {"rows", rows}, {"other_requests", 30},  {"other_share", 0.0025}};
}

const json kAbsent = json(json::value_t::discarded);

json NotLogged() {
  json r = Report(nullptr);
  r["notes"].push_back("clients not logged: " + std::string(kClientsNotLogged));
  return r;
}

std::string PdfText(const json& r, const std::string& name) {
  Result<std::string> pdf = ReportPdf(r);
  EXPECT_TRUE(pdf.ok()) << pdf.status().ToString();
  if (!pdf.ok()) return "";
  const std::string path = ArtifactPath(name + ".pdf");
  std::ofstream(path, std::ios::binary) << *pdf;
  Shell(std::string(APIMETER_PDFTOPPM) + " -png -r 80 " + path + " " + ArtifactPath(name));
  return Shell(std::string(APIMETER_PDFTOTEXT) + " -layout " + path + " -");
}

TEST(ReportClientsSection, CsvHasOneRecordPerClientAndTheRest) {
  Result<std::string> csv = ReportCsv(Report(Clients(3)));
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  const auto rows = SplitCsv(*csv);
  ASSERT_FALSE(rows.empty());
  const std::vector<std::string>& head = rows[0];
  ASSERT_EQ(head.back(), "client");  // the new column is the last: older columns keep their places
  auto col = [&](const std::string& name) {
    return static_cast<size_t>(std::find(head.begin(), head.end(), name) - head.begin());
  };
  std::vector<std::vector<std::string>> clients, other;
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), head.size()) << *csv;
    if (r[0] == "client") clients.push_back(r);
    if (r[0] == "other_clients") other.push_back(r);
  }
  ASSERT_EQ(clients.size(), 3u) << *csv;
  EXPECT_EQ(clients[0][col("client")], "okhttp/4.12");
  EXPECT_EQ(clients[0][col("requests")], "5000");
  EXPECT_EQ(clients[1][col("errors_5xx")], "7");
  EXPECT_EQ(clients[1][col("endpoint")], "");  // a client record names no endpoint
  EXPECT_EQ(clients[0][col("latency_p95_ms")], "24.75");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0][col("requests")], "30");
  EXPECT_EQ(other[0][col("share")], "0.0025");
  EXPECT_EQ(other[0][col("client")], "");
}

TEST(ReportClientsSection, CsvSaysNotLoggedWithoutAnyFigure) {
  Result<std::string> csv = ReportCsv(NotLogged());
  ASSERT_TRUE(csv.ok()) << csv.status().ToString();
  const auto rows = SplitCsv(*csv);
  const std::vector<std::string>& head = rows[0];
  int not_logged = 0;
  for (const auto& r : rows) {
    EXPECT_NE(r[0], "client");
    EXPECT_NE(r[0], "other_clients");
    if (r[0] != "clients_not_logged") continue;
    ++not_logged;
    for (size_t i = 0; i < head.size(); ++i) {
      if (head[i] == "record" || head[i] == "customer" || head[i] == "from" || head[i] == "to")
        continue;
      EXPECT_EQ(r[i], "") << head[i] << " must be empty, not a zero";
    }
  }
  EXPECT_EQ(not_logged, 1) << *csv;
}

TEST(ReportClientsSection, HtmlListsClientsEscapedOrSaysNotLogged) {
  json clients = Clients(2);
  clients["rows"][1]["client"] = "<script>x</script>/1.0";
  const std::string html = *ReportHtml(Report(clients));
  EXPECT_NE(html.find("<h2>Clients</h2>"), std::string::npos);
  EXPECT_NE(html.find("okhttp/4.12"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;x&lt;/script&gt;/1.0"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("All other clients"), std::string::npos);
  EXPECT_NE(html.find("24.8 ms"), std::string::npos);  // p95 of 24.75 as text::Ms writes it

  const std::string off = *ReportHtml(NotLogged());
  EXPECT_NE(off.find("<h2>Clients</h2>"), std::string::npos);
  EXPECT_NE(off.find("id=\"clients-not-logged\">Not logged: no log source recorded "
                     "$http_user_agent"),
            std::string::npos)
      << off;
  EXPECT_EQ(off.find("All other clients"), std::string::npos);
}

TEST(ReportClientsSection, DocumentsWithoutTheSectionStillRender) {
  const json old = Report(kAbsent);
  ASSERT_FALSE(old.contains("clients"));
  Result<std::string> csv = ReportCsv(old);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->find("\r\nclient"), std::string::npos);
  EXPECT_EQ(csv->find("clients_not_logged"), std::string::npos);
  EXPECT_EQ(ReportHtml(old)->find("<h2>Clients</h2>"), std::string::npos);
  const std::string text = PdfText(old, "report_clients_absent");
  EXPECT_EQ(text.find("Clients"), std::string::npos);
  EXPECT_NE(text.find("Page 1 of 1"), std::string::npos);
}

TEST(ReportClientsSection, PdfShowsTheClientsTableOnThePageWhenItFits) {
  const std::string text = PdfText(Report(Clients(4)), "report_clients");
  EXPECT_NE(text.find("Clients"), std::string::npos) << text;
  EXPECT_NE(text.find("okhttp/4.12"), std::string::npos);
  EXPECT_NE(text.find("client-3/1.0"), std::string::npos);
  EXPECT_NE(text.find("All other clients"), std::string::npos);
  EXPECT_NE(text.find("Page 1 of 1"), std::string::npos) << text;
}

TEST(ReportClientsSection, PdfSaysNotLogged) {
  const std::string text = PdfText(NotLogged(), "report_clients_not_logged");
  EXPECT_NE(text.find("Not logged: no log source recorded $http_user_agent"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Page 1 of 1"), std::string::npos);
}

// Ten endpoints and the rest fill the first page: ten clients and the rest
// start a second page whole (the page count says so on both pages).
TEST(ReportClientsSection, PdfMovesAClientsTableThatDoesNotFitToTheNextPage) {
  json r = Report(Clients(10), 10);
  r["endpoints"]["other_requests"] = 50;
  const std::string text = PdfText(r, "report_clients_next_page");
  const size_t page2 = text.find("Page 2 of 2");
  ASSERT_NE(page2, std::string::npos) << text;
  EXPECT_NE(text.find("Page 1 of 2"), std::string::npos);
  EXPECT_GT(text.find("okhttp/4.12"), text.find("Page 1 of 2"));  // on the second page
  EXPECT_NE(text.find("client-9/1.0"), std::string::npos);
  // Not logged is one line: it still fits under ten endpoints and the rest.
  json off = Report(nullptr, 10);
  off["endpoints"]["other_requests"] = 50;
  const std::string off_text = PdfText(off, "report_clients_not_logged_full_page");
  EXPECT_NE(off_text.find("Not logged"), std::string::npos);
  EXPECT_NE(off_text.find("Page 1 of 1"), std::string::npos) << off_text;
}

}  // namespace
}  // namespace apimeter
