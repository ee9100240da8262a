// The key tables of docs/config.md and docs/alerts.md list exactly the keys
// the loader accepts (config/config_keys.h), in both directions: a key the
// loader takes that no table documents, or a documented key the loader would
// refuse, fails here. A key table is a Markdown table whose first header cell
// is "key"; every one of them must belong to a known section, so a new table
// cannot escape the check either.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_keys.h"

namespace apimeter {
namespace {

struct KeyTable {
  std::string file, heading;
  int line = 0;
  std::set<std::string> keys;
};

std::string SourceDir() {
  const char* d = std::getenv("APIMETER_SOURCE_DIR");
  return d != nullptr ? d : ".";
}

std::vector<std::string> Cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  bool escaped = false;
  for (size_t i = 1; i < row.size(); ++i) {  // row[0] is the leading '|'
    const char c = row[i];
    if (c == '|' && !escaped) {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += c;
    }
    escaped = c == '\\';
  }
  return cells;
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(' ');
  const size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Every key table of a Markdown file, with the heading it is under. Keys are
// the `code` spans of a row's first cell ("`above` / `below`" is two keys).
std::vector<KeyTable> KeyTables(const std::string& name) {
  std::ifstream in(SourceDir() + "/docs/" + name);
  EXPECT_TRUE(in.good()) << "cannot read docs/" << name;
  std::vector<KeyTable> tables;
  std::string line, heading;
  int n = 0;
  bool in_table = false;
  bool key_table = false;
  const std::regex code("`([^`]+)`");
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("#", 0) == 0) {
      heading = Trim(line.substr(line.find_first_not_of('#')));
      in_table = false;
      continue;
    }
    if (line.empty() || line[0] != '|') {
      in_table = false;
      continue;
    }
    const std::vector<std::string> cells = Cells(line);
    const std::string first = cells.empty() ? "" : Trim(cells[0]);
    if (!in_table) {  // the header row
      in_table = true;
      key_table = first == "key";
      if (key_table) tables.push_back({name, heading, n, {}});
      continue;
    }
    if (!key_table || first.find_first_not_of("-:") == std::string::npos) continue;
    for (std::sregex_iterator it(first.begin(), first.end(), code), end; it != end; ++it) {
      tables.back().keys.insert((*it)[1]);
    }
  }
  return tables;
}

// Which loader section each documented table describes.
const std::map<std::pair<std::string, std::string>, std::string>& TableSections() {
  static const std::map<std::pair<std::string, std::string>, std::string> m = {
      {{"config.md", "Top level"}, ""},
      {{"config.md", "sources"}, "sources[]"},
      {{"config.md", "routes"}, "routes[]"},
      {{"config.md", "limits"}, "limits"},
      {{"config.md", "redis"}, "redis"},
      {{"config.md", "retention"}, "retention"},
      {{"config.md", "aggregation"}, "aggregation"},
      {{"config.md", "agent"}, "agent"},
      {{"config.md", "server"}, "server"},
      {{"config.md", "server.tokens entries"}, "server.tokens[]"},
      {{"config.md", "server.trusted_header"}, "server.trusted_header"},
      {{"config.md", "server.trusted_header.users"}, "server.trusted_header.users[]"},
      {{"config.md", "prometheus"}, "prometheus"},
      {{"config.md", "clients"}, "clients"},
      {{"config.md", "clients.rules"}, "clients.rules[]"},
      {{"alerts.md", "Rules"}, "alerts.rules"},
      {{"alerts.md", "Settings (`alerts:`)"}, "alerts"},
      {{"alerts.md", "Webhooks (`alerts.webhooks`)"}, "alerts.webhooks"},
  };
  return m;
}

std::string Joined(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "(none)" : out;
}

TEST(DocsKeysTest, EveryKeyTableIsASectionTheLoaderReads) {
  for (const char* file : {"config.md", "alerts.md"}) {
    for (const KeyTable& t : KeyTables(file)) {
      EXPECT_TRUE(TableSections().count({t.file, t.heading}))
          << "docs/" << t.file << ":" << t.line << ": key table under '" << t.heading
          << "' is not mapped to a loader section in " << __FILE__;
    }
  }
}

TEST(DocsKeysTest, TablesListExactlyTheAcceptedKeys) {
  std::map<std::string, std::vector<KeyTable>> by_section;
  for (const char* file : {"config.md", "alerts.md"}) {
    for (KeyTable& t : KeyTables(file)) {
      auto it = TableSections().find({t.file, t.heading});
      if (it != TableSections().end()) by_section[it->second].push_back(std::move(t));
    }
  }
  for (const ConfigSectionKeys& s : kAcceptedConfigKeys) {
    const std::string section(s.section);
    const std::string label = section.empty() ? "(top level)" : section;
    auto found = by_section.find(section);
    if (found == by_section.end() || found->second.size() != 1) {
      ADD_FAILURE() << "section " << label << " needs exactly one key table in the docs, found "
                    << (found == by_section.end() ? 0 : found->second.size());
      continue;
    }
    const KeyTable& t = found->second[0];
    std::set<std::string> accepted(s.keys.begin(), s.keys.end());
    std::set<std::string> undocumented, unknown;
    for (const auto& k : accepted) {
      if (!t.keys.count(k)) undocumented.insert(k);
    }
    for (const auto& k : t.keys) {
      if (!accepted.count(k)) unknown.insert(k);
    }
    EXPECT_TRUE(undocumented.empty())
        << "docs/" << t.file << ":" << t.line << " (" << label
        << "): the loader accepts keys the table does not list: " << Joined(undocumented);
    EXPECT_TRUE(unknown.empty()) << "docs/" << t.file << ":" << t.line << " (" << label
                                 << "): the table lists keys the loader refuses: "
                                 << Joined(unknown);
  }
}

}  // namespace
}  // namespace apimeter
