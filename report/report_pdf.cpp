// The report as an A4 PDF drawn with cairo (see report_render.h): a header
// band, four key figures, a bar chart of requests per day, a table of key
// figures, the top endpoints table, the clients table (or "not logged") and
// a footer with page numbers. Up to 10 endpoints fit on the first page;
// longer endpoint tables continue on a second page (and further ones if asked
// for more). The clients section (at most 11 rows) follows the endpoints on
// the same page when it fits whole, else it starts the next page.
#include <cairo-pdf.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "report/report_render.h"
#include "report/text_format.h"

namespace apimeter {
namespace {

using nlohmann::json;

constexpr double kPageW = 595.28, kPageH = 841.89, kMargin = 48;
constexpr double kContentW = kPageW - 2 * kMargin;
constexpr double kFooterY = kPageH - 36;
constexpr double kRowH = 16;
constexpr char kFont[] = "DejaVu Sans";

struct Rgb {
  double r, g, b;
};
constexpr Rgb kInk{0.11, 0.14, 0.20}, kMuted{0.36, 0.40, 0.47}, kRule{0.89, 0.91, 0.93},
    kBrand{0.18, 0.44, 0.84}, kBand{0.10, 0.20, 0.38}, kWhite{1, 1, 1}, kZebra{0.97, 0.98, 0.99};

class Page {
 public:
  explicit Page(cairo_t* cr) : cr_(cr) {}
  void Color(Rgb c) { cairo_set_source_rgb(cr_, c.r, c.g, c.b); }
  void Font(double size, bool bold = false) {
    cairo_select_font_face(cr_, kFont, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr_, size);
  }
  double Width(const std::string& s) {
    cairo_text_extents_t e;
    cairo_text_extents(cr_, s.c_str(), &e);
    return e.x_advance;
  }
  // Text at (x, baseline y); align 0 = left, 1 = right edge at x, 0.5 = centred.
  void Text(double x, double y, const std::string& s, double align = 0) {
    cairo_move_to(cr_, x - Width(s) * align, y);
    cairo_show_text(cr_, s.c_str());
  }
  // s shortened with "…" to fit max_w.
  std::string Fit(std::string s, double max_w) {
    if (Width(s) <= max_w) return s;
    while (!s.empty() && Width(s + "…") > max_w) {
      s.pop_back();
      while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
      if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0xC0) s.pop_back();
    }
    return s + "…";
  }
  void Rect(double x, double y, double w, double h, Rgb c) {
    Color(c);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
  }
  void Line(double x1, double y1, double x2, double y2, Rgb c, double width = 0.6) {
    Color(c);
    cairo_set_line_width(cr_, width);
    cairo_move_to(cr_, x1, y1);
    cairo_line_to(cr_, x2, y2);
    cairo_stroke(cr_);
  }
  void Box(double x, double y, double w, double h, Rgb c) {
    Color(c);
    cairo_set_line_width(cr_, 0.8);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_stroke(cr_);
  }

 private:
  cairo_t* cr_;
};

std::string Name(const json& r) { return r.at("customer").at("name").get<std::string>(); }

void Header(Page& pg, const json& r) {
  pg.Rect(0, 0, kPageW, 92, kBand);
  pg.Rect(0, 92, kPageW, 3, kBrand);
  pg.Color(kWhite);
  pg.Font(9, true);
  pg.Text(kMargin, 30, "API USAGE REPORT");
  pg.Font(20, true);
  pg.Text(kMargin, 58, pg.Fit(Name(r), kContentW - 120));
  pg.Font(9.5);
  const json& id = r.at("customer").at("id");
  std::string line = text::Period(r.at("period"));
  if (!id.is_null() && id.get<std::string>() != Name(r)) line += "  ·  " + id.get<std::string>();
  pg.Text(kMargin, 78, line);
  pg.Font(9);
  pg.Text(kPageW - kMargin, 30, "apimeter", 1);
}

void Footer(Page& pg, const json& r, int page, int pages) {
  pg.Line(kMargin, kFooterY - 12, kPageW - kMargin, kFooterY - 12, kRule);
  pg.Color(kMuted);
  pg.Font(7.5);
  pg.Text(
      kMargin, kFooterY,
      pg.Fit(
          Name(r) +
              "  ·  apimeter  ·  counts and bytes exact, latency percentiles within 1%, UTC days",
          kContentW - 70));
  pg.Text(kPageW - kMargin, kFooterY,
          "Page " + std::to_string(page) + " of " + std::to_string(pages), 1);
}

void Kpis(Page& pg, const json& r, double y) {
  const json& t = r.at("totals");
  const json& lat = t.at("latency_ms");
  const json per_day =
      t.at("requests_per_day").is_number()
          ? json(static_cast<uint64_t>(std::llround(t.at("requests_per_day").get<double>())))
          : json(nullptr);
  struct Kpi {
    std::string label, value, sub;
  };
  const Kpi kpis[] = {
      {"Total requests", text::Count(t.at("requests")), "avg " + text::Count(per_day) + " per day"},
      {"Error rate", text::Percent(t.at("error_rate")),
       "4xx " + text::Percent(t.at("rate_4xx")) + " · 5xx " + text::Percent(t.at("rate_5xx"))},
      {"Latency p95", text::Ms(lat.at("p95")), "p50 " + text::Ms(lat.at("p50"))},
      {"Data transferred", text::Bytes(t.at("bytes_out")),
       "out · in " + text::Bytes(t.at("bytes_in"))}};
  const double gap = 10, w = (kContentW - 3 * gap) / 4, h = 58;
  for (int i = 0; i < 4; ++i) {
    const double x = kMargin + i * (w + gap);
    pg.Rect(x, y, 3, h, kBrand);
    pg.Box(x, y, w, h, kRule);
    pg.Color(kMuted);
    pg.Font(8);
    pg.Text(x + 11, y + 16, kpis[i].label);
    pg.Color(kInk);
    pg.Font(15, true);
    pg.Text(x + 11, y + 36, pg.Fit(kpis[i].value, w - 16));
    pg.Color(kMuted);
    pg.Font(7.5);
    pg.Text(x + 11, y + 50, pg.Fit(kpis[i].sub, w - 16));
  }
}

void SectionTitle(Page& pg, double y, const std::string& title) {
  pg.Color(kInk);
  pg.Font(11, true);
  pg.Text(kMargin, y, title);
}

// Bars of requests per day with a labelled y axis (0 and quarters of the max).
void DailyChart(Page& pg, const json& daily, double y, double h) {
  uint64_t max = 0;
  for (const json& d : daily) max = std::max(max, d.at("requests").get<uint64_t>());
  max = text::NiceCeil(max);
  const double left = kMargin + 46, right = kPageW - kMargin, bottom = y + h - 16;
  const double plot_h = h - 22;
  pg.Font(7);
  for (int i = 0; i <= 4; ++i) {
    const double gy = bottom - plot_h * i / 4.0;
    pg.Line(left, gy, right, gy, i == 0 ? kMuted : kRule, i == 0 ? 0.8 : 0.5);
    pg.Color(kMuted);
    pg.Text(left - 5, gy + 2.5, text::Count(max * static_cast<uint64_t>(i) / 4), 1);
  }
  const size_t n = daily.size();
  if (n == 0) return;
  const double slot = (right - left) / static_cast<double>(n);
  const size_t every = std::max<size_t>(1, (n + 9) / 10);
  for (size_t i = 0; i < n; ++i) {
    const json& d = daily[i];
    const uint64_t req = d.at("requests").get<uint64_t>();
    const double bh = max == 0 ? 0 : plot_h * static_cast<double>(req) / static_cast<double>(max);
    const double x = left + slot * static_cast<double>(i);
    if (bh > 0) pg.Rect(x + slot * 0.15, bottom - bh, slot * 0.7, bh, kBrand);
    if (i % every == 0) {
      pg.Color(kMuted);
      pg.Text(x + slot / 2, bottom + 10, d.at("date").get<std::string>().substr(5), 0.5);
    }
  }
}

void KeyFigures(Page& pg, const json& r, double y) {
  const json& t = r.at("totals");
  const json& lat = t.at("latency_ms");
  const json& pd = r.at("peak_day");
  const json& ph = r.at("peak_hour");
  auto peak = [](const json& p, const std::string& when) {
    return p.is_null() ? std::string("n/a") : when + "  ·  " + text::Count(p.at("requests"));
  };
  const std::pair<std::string, std::string> left[] = {
      {"Requests", text::Count(t.at("requests"))},
      {"Client errors (4xx)",
       text::Count(t.at("errors_4xx")) + "  (" + text::Percent(t.at("rate_4xx")) + ")"},
      {"Server errors (5xx)",
       text::Count(t.at("errors_5xx")) + "  (" + text::Percent(t.at("rate_5xx")) + ")"},
      {"Data received (in)", text::Bytes(t.at("bytes_in"))},
      {"Data sent (out)", text::Bytes(t.at("bytes_out"))}};
  const std::pair<std::string, std::string> right[] = {
      {"Latency avg / p50", text::Ms(lat.at("avg")) + " / " + text::Ms(lat.at("p50"))},
      {"Latency p95 / p99", text::Ms(lat.at("p95")) + " / " + text::Ms(lat.at("p99"))},
      {"Peak day", peak(pd, pd.is_null() ? "" : pd.at("date").get<std::string>())},
      {"Peak hour", peak(ph, ph.is_null() ? "" : text::HourLabel(ph.at("hour")))},
      {"Days in period", std::to_string(r.at("period").at("days").get<int64_t>())}};
  const double col = (kContentW - 20) / 2;
  for (int c = 0; c < 2; ++c) {
    const auto* rows = c == 0 ? left : right;
    const double x = kMargin + c * (col + 20);
    for (int i = 0; i < 5; ++i) {
      const double ry = y + i * kRowH;
      pg.Line(x, ry + 5, x + col, ry + 5, kRule, 0.5);
      pg.Color(kMuted);
      pg.Font(8.5);
      pg.Text(x, ry, rows[i].first);
      pg.Color(kInk);
      pg.Font(8.5, true);
      pg.Font(8.5);
      const double label_w = pg.Width(rows[i].first);
      pg.Font(8.5, true);
      pg.Text(x + col, ry, pg.Fit(rows[i].second, col - label_w - 8), 1);
    }
  }
}

// Columns of the endpoints table: title, width, right-aligned.
struct Column {
  const char* title;
  double width;
};
constexpr Column kColumns[] = {{"Endpoint", 155}, {"Requests", 52}, {"Share", 40},
                               {"4xx", 38},       {"5xx", 38},      {"avg", 44},
                               {"p50", 44},       {"p95", 44},      {"p99", 44.28}};

// The header row; `first` titles the name column ("Endpoint", "Client").
void TableHeader(Page& pg, double y, const char* first = kColumns[0].title) {
  pg.Rect(kMargin, y - 11, kContentW, kRowH, kZebra);
  pg.Color(kMuted);
  pg.Font(7.5, true);
  double x = kMargin + 4;
  for (size_t c = 0; c < std::size(kColumns); ++c) {
    if (c == 0) {
      pg.Text(x, y, first);
    } else {
      pg.Text(x + kColumns[c].width - 4, y, kColumns[c].title, 1);
    }
    x += kColumns[c].width;
  }
  pg.Line(kMargin, y + 5, kPageW - kMargin, y + 5, kMuted, 0.6);
}

void TableRow(Page& pg, double y, const std::vector<std::string>& cells, bool muted) {
  pg.Color(muted ? kMuted : kInk);
  pg.Font(8);
  double x = kMargin + 4;
  for (size_t c = 0; c < cells.size() && c < std::size(kColumns); ++c) {
    if (c == 0) {
      pg.Text(x, y, pg.Fit(cells[c], kColumns[c].width - 8));
    } else {
      pg.Text(x + kColumns[c].width - 4, y, cells[c], 1);
    }
    x += kColumns[c].width;
  }
  pg.Line(kMargin, y + 5, kPageW - kMargin, y + 5, kRule, 0.4);
}

std::vector<std::vector<std::string>> EndpointCells(const json& eps) {
  std::vector<std::vector<std::string>> rows;
  for (const json& e : eps.at("rows")) {
    const json& l = e.at("latency_ms");
    rows.push_back({e.at("endpoint").get<std::string>(), text::Count(e.at("requests")),
                    text::Percent(e.at("share")), text::Percent(e.at("rate_4xx")),
                    text::Percent(e.at("rate_5xx")), text::Ms(l.at("avg")), text::Ms(l.at("p50")),
                    text::Ms(l.at("p95")), text::Ms(l.at("p99"))});
  }
  if (eps.at("other_requests").get<uint64_t>() > 0) {
    rows.push_back({"All other endpoints", text::Count(eps.at("other_requests")),
                    text::Percent(eps.at("other_share")), "", "", "", "", "", ""});
  }
  return rows;
}

std::vector<std::vector<std::string>> ClientCells(const json& clients) {
  std::vector<std::vector<std::string>> rows;
  for (const json& c : clients.at("rows")) {
    const json& l = c.at("latency_ms");
    rows.push_back({c.at("client").get<std::string>(), text::Count(c.at("requests")),
                    text::Percent(c.at("share")), text::Percent(c.at("rate_4xx")),
                    text::Percent(c.at("rate_5xx")), text::Ms(l.at("avg")), text::Ms(l.at("p50")),
                    text::Ms(l.at("p95")), text::Ms(l.at("p99"))});
  }
  if (clients.at("other_requests").get<uint64_t>() > 0) {
    rows.push_back({"All other clients", text::Count(clients.at("other_requests")),
                    text::Percent(clients.at("other_share")), "", "", "", "", "", ""});
  }
  return rows;
}

// Where a table of `rows` rows that starts at `y` on page 1 ends: the page
// and the y below its last row (the endpoint table's page breaks in Draw).
std::pair<int, double> TableEnd(size_t rows, double y, double bottom, double next_top) {
  int page = 1;
  for (size_t i = 0; i < rows; ++i) {
    if (y > bottom) {
      ++page;
      y = next_top;
    }
    y += kRowH;
  }
  return {page, y};
}

// The clients section from its title's baseline `y`: a table, or the
// "not logged" line for a null section.
void ClientsSection(Page& pg, const json& clients, double y) {
  SectionTitle(pg, y, "Clients");
  pg.Color(kMuted);
  pg.Font(8);
  if (clients.is_null()) {
    pg.Text(kMargin, y + 12,
            pg.Fit("Not logged: " + std::string(kClientsNotLogged) + ".", kContentW));
    return;
  }
  pg.Text(kMargin, y + 14,
          "User agents by requests; share of the requests that carried one; 4xx/5xx as a share "
          "of the client's requests.");
  const auto rows = ClientCells(clients);
  TableHeader(pg, y + 30, "Client");
  double ry = y + 30 + kRowH;
  if (rows.empty()) {
    pg.Color(kMuted);
    pg.Font(8);
    pg.Text(kMargin + 4, ry, "No requests with a client in this period");
  }
  const bool other = clients.at("other_requests").get<uint64_t>() > 0;
  for (size_t i = 0; i < rows.size(); ++i, ry += kRowH) {
    TableRow(pg, ry, rows[i], other && i + 1 == rows.size());
  }
}

// The clients section's height from its title's baseline to below its last line.
double ClientsHeight(const json& clients) {
  if (clients.is_null()) return 12;
  return 30 + kRowH * static_cast<double>(std::max<size_t>(1, ClientCells(clients).size())) + 5;
}

cairo_status_t Append(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void Draw(cairo_t* cr, const json& r) {
  Page pg(cr);
  const auto rows = EndpointCells(r.at("endpoints"));
  const bool other = r.at("endpoints").at("other_requests").get<uint64_t>() > 0;
  const double table_top = 586, table_bottom = kFooterY - 26;
  // Reports made before clients existed have no "clients" field: no section.
  const bool has_clients = r.contains("clients");
  const json& clients = has_clients ? r.at("clients") : r.at("endpoints");
  const auto [table_pages, table_end] =
      TableEnd(rows.size(), table_top + 6, table_bottom, 148 + kRowH);
  // The section's title sits this far below the endpoint table's last row.
  const double clients_gap = 20;
  const bool clients_next_page =
      has_clients && table_end - kRowH + clients_gap + ClientsHeight(clients) > kFooterY - 20;
  const int pages = table_pages + (clients_next_page ? 1 : 0);

  Header(pg, r);
  pg.Color(kMuted);
  pg.Font(8);
  pg.Text(kMargin, 112, "Generated " + text::HourLabel(r.at("generated_at")));
  Kpis(pg, r, 122);
  SectionTitle(pg, 210, "Requests per day");
  DailyChart(pg, r.at("daily"), 218, 170);
  SectionTitle(pg, 412, "Key figures");
  KeyFigures(pg, r, 432);
  SectionTitle(pg, 530, "Top endpoints");
  pg.Color(kMuted);
  pg.Font(8);
  pg.Text(kMargin, 544,
          "By requests; share of this customer's requests; 4xx/5xx as a share of the endpoint's "
          "requests; latency in milliseconds.");
  const json& notes = r.at("notes");
  if (!notes.empty()) {
    pg.Text(kMargin, 556, pg.Fit("Note: " + notes[0].get<std::string>(), kContentW));
  }
  TableHeader(pg, table_top - kRowH + 6);
  double y = table_top + 6;
  int page = 1;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (y > table_bottom) {
      Footer(pg, r, page, pages);
      cairo_show_page(cr);
      ++page;
      Header(pg, r);
      SectionTitle(pg, 124, "Top endpoints (continued)");
      TableHeader(pg, 148);
      y = 148 + kRowH;
    }
    TableRow(pg, y, rows[i], other && i + 1 == rows.size());
    y += kRowH;
  }
  if (has_clients) {
    if (clients_next_page) {
      Footer(pg, r, page, pages);
      cairo_show_page(cr);
      ++page;
      Header(pg, r);
      y = 124;
    } else {
      y = y - kRowH + clients_gap;
    }
    ClientsSection(pg, clients, y);
  }
  Footer(pg, r, page, pages);
  cairo_show_page(cr);
}

}  // namespace

Result<std::string> ReportPdf(const json& report) {
  std::string out;
  cairo_surface_t* surface = cairo_pdf_surface_create_for_stream(Append, &out, kPageW, kPageH);
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "apimeter");
  cairo_t* cr = cairo_create(surface);
  Status st = Status::Ok();
  try {
    const std::string title = "API usage report: " + Name(report);
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title.c_str());
    Draw(cr, report);
  } catch (const json::exception& e) {
    st = Status::InvalidArgument(std::string("report PDF: not a report document: ") + e.what());
  }
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  const cairo_status_t cs = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (!st.ok()) return st;
  if (cs != CAIRO_STATUS_SUCCESS) {
    return Status::Internal(std::string("report PDF: cairo: ") + cairo_status_to_string(cs));
  }
  return out;
}

}  // namespace apimeter
