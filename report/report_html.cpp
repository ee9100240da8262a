// The report as one self-contained HTML page: inline CSS, an inline SVG bar
// chart of requests per day, no scripts and no external resources, so it can
// be mailed or archived as it is (see report_render.h).
#include <algorithm>
#include <cstdio>
#include <string>

#include "common/html_escape.h"
#include "report/report_render.h"
#include "report/text_format.h"

namespace apimeter {
namespace {

using nlohmann::json;

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Bars of requests per day, scaled to the busiest day; each bar has a <title>.
std::string DailyChart(const json& daily) {
  const double w = 720, h = 200, left = 56, bottom = 24, top = 8;
  uint64_t max = 0;
  for (const json& d : daily) max = std::max(max, d.at("requests").get<uint64_t>());
  max = text::NiceCeil(max);
  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 " + Num(w) + " " + Num(h) +
                    "\" role=\"img\" aria-label=\"Requests per day\" "
                    "xmlns=\"http://www.w3.org/2000/svg\">";
  const double plot_w = w - left - 8, plot_h = h - bottom - top;
  for (int i = 0; i <= 4; ++i) {
    const double y = top + plot_h * (1 - i / 4.0);
    svg += "<line x1=\"" + Num(left) + "\" x2=\"" + Num(w - 8) + "\" y1=\"" + Num(y) + "\" y2=\"" +
           Num(y) + "\" stroke=\"#e3e7ee\"/>";
    const uint64_t v = max == 0 ? 0 : max * static_cast<uint64_t>(i) / 4;
    svg += "<text x=\"" + Num(left - 6) + "\" y=\"" + Num(y + 4) +
           "\" text-anchor=\"end\" class=\"ax\">" + text::Count(v) + "</text>";
  }
  const size_t n = daily.size();
  const double slot = n == 0 ? plot_w : plot_w / static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    const json& d = daily[i];
    const uint64_t req = d.at("requests").get<uint64_t>();
    const double bh = max == 0 ? 0 : plot_h * static_cast<double>(req) / static_cast<double>(max);
    const double x = left + slot * static_cast<double>(i) + slot * 0.15;
    svg += "<rect x=\"" + Num(x) + "\" y=\"" + Num(top + plot_h - bh) + "\" width=\"" +
           Num(slot * 0.7) + "\" height=\"" + Num(bh) + "\" fill=\"#2f6fd6\"><title>" +
           HtmlEscape(d.at("date").get<std::string>()) + ": " + text::Count(req) +
           " requests</title></rect>";
    const size_t every = std::max<size_t>(1, (n + 7) / 8);
    if (i % every == 0) {
      svg += "<text x=\"" + Num(x + slot * 0.35) + "\" y=\"" + Num(h - 6) +
             "\" text-anchor=\"middle\" class=\"ax\">" +
             HtmlEscape(d.at("date").get<std::string>().substr(5)) + "</text>";
    }
  }
  return svg + "</svg>";
}

std::string Kpi(const std::string& label, const std::string& value, const std::string& sub) {
  return "<div class=\"kpi\"><div class=\"label\">" + HtmlEscape(label) +
         "</div><div class=\"value\">" + HtmlEscape(value) + "</div><div class=\"sub\">" +
         HtmlEscape(sub) + "</div></div>";
}

// The clients section: a table, or "not logged" (a null section), or
// nothing for a report made before clients existed.
std::string ClientsHtml(const json& r) {
  auto it = r.find("clients");
  if (it == r.end()) return "";
  std::string h = "<h2>Clients</h2>";
  if (it->is_null()) {
    return h + "<p class=\"muted\" id=\"clients-not-logged\">Not logged: " +
           HtmlEscape(std::string(kClientsNotLogged)) + ".</p>";
  }
  h += "<table><thead><tr><th>Client</th><th class=\"num\">Requests</th><th class=\"num\">Share"
       "</th><th class=\"num\">4xx</th><th class=\"num\">5xx</th><th class=\"num\">avg</th>"
       "<th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th></tr>"
       "</thead><tbody>";
  for (const json& c : it->at("rows")) {
    const json& cl = c.at("latency_ms");
    h += "<tr><td>" + HtmlEscape(c.at("client").get<std::string>()) + "</td><td class=\"num\">" +
         text::Count(c.at("requests")) + "</td><td class=\"num\">" + text::Percent(c.at("share")) +
         "</td><td class=\"num\">" + text::Percent(c.at("rate_4xx")) + "</td><td class=\"num\">" +
         text::Percent(c.at("rate_5xx")) + "</td><td class=\"num\">" + text::Ms(cl.at("avg")) +
         "</td><td class=\"num\">" + text::Ms(cl.at("p50")) + "</td><td class=\"num\">" +
         text::Ms(cl.at("p95")) + "</td><td class=\"num\">" + text::Ms(cl.at("p99")) + "</td></tr>";
  }
  if (it->at("other_requests").get<uint64_t>() > 0) {
    h += "<tr><td class=\"muted\">All other clients</td><td class=\"num\">" +
         text::Count(it->at("other_requests")) + "</td><td class=\"num\">" +
         text::Percent(it->at("other_share")) + "</td><td colspan=\"6\"></td></tr>";
  }
  if (it->at("rows").empty()) {
    h += "<tr><td colspan=\"9\" class=\"muted\">No requests with a client in this period</td></tr>";
  }
  return h + "</tbody></table>";
}

std::string Body(const json& r) {
  const json& t = r.at("totals");
  const json& lat = t.at("latency_ms");
  const json& who = r.at("customer");
  const std::string name = who.at("name").get<std::string>();
  std::string h =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>API usage report: " +
      HtmlEscape(name) +
      "</title><style>"
      "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2433;"
      "margin:0;background:#f5f7fa}main{max-width:860px;margin:24px auto;background:#fff;"
      "padding:32px 40px;border:1px solid #e3e7ee;border-radius:6px}"
      "header{border-bottom:3px solid #2f6fd6;padding-bottom:12px;margin-bottom:20px}"
      "h1{font-size:22px;margin:0}h2{font-size:16px;margin:24px 0 8px}.muted{color:#5b6577}"
      ".kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:12px}.kpi{border:1px solid "
      "#e3e7ee;border-radius:6px;padding:10px 12px}.kpi .label{color:#5b6577;font-size:12px}"
      ".kpi .value{font-size:20px;font-weight:600}.kpi .sub{color:#5b6577;font-size:12px}"
      "table{border-collapse:collapse;width:100%}th,td{padding:5px 8px;border-bottom:1px solid "
      "#e3e7ee;text-align:left}th{font-size:12px;color:#5b6577}.num{text-align:right;"
      "font-variant-numeric:tabular-nums}.chart{width:100%;height:auto}.ax{font-size:10px;"
      "fill:#5b6577}footer{margin-top:28px;color:#5b6577;font-size:12px;border-top:1px solid "
      "#e3e7ee;padding-top:8px}</style></head><body><main>";
  h += "<header><h1>API usage report</h1><div><strong>" + HtmlEscape(name) + "</strong>";
  if (!who.at("id").is_null() && who.at("id").get<std::string>() != name) {
    h += " <span class=\"muted\">(" + HtmlEscape(who.at("id").get<std::string>()) + ")</span>";
  }
  h += "</div><div class=\"muted\">Period: " + HtmlEscape(text::Period(r.at("period"))) +
       " · generated " + HtmlEscape(text::HourLabel(r.at("generated_at"))) + "</div></header>";
  h += "<section class=\"kpis\">";
  h += Kpi("Total requests", text::Count(t.at("requests")),
           "avg " +
               text::Count(
                   t.at("requests_per_day").is_number()
                       ? json(static_cast<uint64_t>(t.at("requests_per_day").get<double>() + 0.5))
                       : json(nullptr)) +
               " / day");
  h += Kpi("Errors 4xx / 5xx",
           text::Percent(t.at("rate_4xx")) + " / " + text::Percent(t.at("rate_5xx")),
           text::Count(t.at("errors_4xx")) + " / " + text::Count(t.at("errors_5xx")) + " requests");
  h += Kpi("Latency p50 / p95", text::Ms(lat.at("p50")) + " / " + text::Ms(lat.at("p95")),
           "p99 " + text::Ms(lat.at("p99")) + " · avg " + text::Ms(lat.at("avg")));
  h += Kpi("Data in / out", text::Bytes(t.at("bytes_in")) + " / " + text::Bytes(t.at("bytes_out")),
           "request and response bytes");
  h += "</section>";
  h += "<h2>Requests per day</h2>" + DailyChart(r.at("daily"));
  const json& pd = r.at("peak_day");
  const json& ph = r.at("peak_hour");
  auto peak = [](const json& p, const std::string& when) {
    if (p.is_null()) return std::string("n/a");
    return "<strong>" + HtmlEscape(when) + "</strong> (" + text::Count(p.at("requests")) +
           " requests)";
  };
  h += "<p>Peak day: " + peak(pd, pd.is_null() ? "" : pd.at("date").get<std::string>()) +
       " · Peak hour: " + peak(ph, ph.is_null() ? "" : text::HourLabel(ph.at("hour"))) + "</p>";
  h += "<h2>Top endpoints</h2><table><thead><tr><th>Endpoint</th><th class=\"num\">Requests"
       "</th><th class=\"num\">Share</th><th class=\"num\">4xx</th><th class=\"num\">5xx</th>"
       "<th class=\"num\">avg</th><th class=\"num\">p50</th><th class=\"num\">p95</th>"
       "<th class=\"num\">p99</th></tr></thead><tbody>";
  const json& eps = r.at("endpoints");
  for (const json& e : eps.at("rows")) {
    const json& el = e.at("latency_ms");
    h += "<tr><td>" + HtmlEscape(e.at("endpoint").get<std::string>()) + "</td><td class=\"num\">" +
         text::Count(e.at("requests")) + "</td><td class=\"num\">" + text::Percent(e.at("share")) +
         "</td><td class=\"num\">" + text::Percent(e.at("rate_4xx")) + "</td><td class=\"num\">" +
         text::Percent(e.at("rate_5xx")) + "</td><td class=\"num\">" + text::Ms(el.at("avg")) +
         "</td><td class=\"num\">" + text::Ms(el.at("p50")) + "</td><td class=\"num\">" +
         text::Ms(el.at("p95")) + "</td><td class=\"num\">" + text::Ms(el.at("p99")) + "</td></tr>";
  }
  if (eps.at("other_requests").get<uint64_t>() > 0) {
    h += "<tr><td class=\"muted\">All other endpoints</td><td class=\"num\">" +
         text::Count(eps.at("other_requests")) + "</td><td class=\"num\">" +
         text::Percent(eps.at("other_share")) + "</td><td colspan=\"6\"></td></tr>";
  }
  h += "</tbody></table>";
  h += ClientsHtml(r);
  h += "<footer>Counts and bytes are exact for the period (whole UTC days); latency "
       "percentiles are accurate to within 1%. Error rates are shares of requests.";
  for (const json& note : r.at("notes"))
    h += "<br>Note: " + HtmlEscape(note.get<std::string>()) + ".";
  h += "</footer></main></body></html>\n";
  return h;
}

}  // namespace

Result<std::string> ReportHtml(const json& report) {
  try {
    return Body(report);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("report HTML: not a report document: ") + e.what());
  }
}

}  // namespace apimeter
