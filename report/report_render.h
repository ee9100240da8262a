// Renderers of the customer usage report (report_model.h) and the --all
// summary: CSV, JSON, self-contained HTML and PDF. Each reads only the report
// JSON, so every format shows the same numbers (docs/reports.md).
//
// Promise: pure functions of the JSON (the PDF goes through cairo in memory,
// no files). null values are shown as an empty CSV field or "n/a", never as 0.
// Input that does not have the report's shape gives InvalidArgument (never an
// exception). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace apimeter {

enum class ReportFormat { kJson, kCsv, kHtml, kPdf };

// Why a report's "clients" section is null: the model adds it as a note
// ("clients not logged: ..."), the HTML and PDF show it in the section.
inline constexpr std::string_view kClientsNotLogged =
    "no log source recorded $http_user_agent in this period; add it to the nginx log_format to "
    "see which clients call";

// "json" | "csv" | "html" | "pdf"; InvalidArgument naming "format" otherwise.
Result<ReportFormat> ParseReportFormat(std::string_view name);
std::string_view ReportExtension(ReportFormat f);    // "json", "csv", ...
std::string_view ReportContentType(ReportFormat f);  // MIME type with charset

Result<std::string> RenderReport(const nlohmann::json& report, ReportFormat format);

// The CSV report: one header row, then "total", "day", "endpoint",
// "other_endpoints", "peak_day" and "peak_hour" records (docs/reports.md).
Result<std::string> ReportCsv(const nlohmann::json& report);
Result<std::string> ReportHtml(const nlohmann::json& report);
Result<std::string> ReportPdf(const nlohmann::json& report);

// The summary of `report --all`: a header, then one row per report.
std::string SummaryCsvHeader();
Result<std::string> SummaryCsvRow(const nlohmann::json& report, std::string_view file);

// A file name for a customer's report: the name with anything outside
// [A-Za-z0-9._-] replaced by '_', never empty, never starting with '.'.
std::string ReportFileStem(std::string_view customer);

}  // namespace apimeter
