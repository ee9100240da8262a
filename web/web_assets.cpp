#include "web/web_assets.h"

#include <string>
#include <vector>

#include "web/embedded_files.h"

namespace apimeter {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Browsers refuse scripts and styles served with the wrong type (nosniff), so
// every embedded extension must map to its real type.
std::string_view ContentTypeFor(std::string_view file) {
  if (EndsWith(file, ".html")) return "text/html; charset=utf-8";
  if (EndsWith(file, ".js") || EndsWith(file, ".mjs")) return "text/javascript; charset=utf-8";
  if (EndsWith(file, ".css")) return "text/css; charset=utf-8";
  if (EndsWith(file, ".svg")) return "image/svg+xml";
  if (EndsWith(file, ".png")) return "image/png";
  if (EndsWith(file, ".ico")) return "image/x-icon";
  if (EndsWith(file, ".json")) return "application/json";
  return "text/plain; charset=utf-8";  // LICENSE and other text
}

struct AssetTable {
  std::vector<std::string> paths;  // owns the request paths the views point into
  std::vector<WebAsset> assets;
  const WebAsset* index = nullptr;
};

// Built once on first use (thread-safe static init); the paths vector is
// reserved up front so the string_views into it never move.
const AssetTable& Table() {
  static const AssetTable table = [] {
    AssetTable t;
    t.paths.reserve(web_internal::kEmbeddedFileCount);
    t.assets.reserve(web_internal::kEmbeddedFileCount);
    for (size_t i = 0; i < web_internal::kEmbeddedFileCount; ++i) {
      const auto& f = web_internal::kEmbeddedFiles[i];
      t.paths.push_back("/assets/" + std::string(f.relative_path));
      std::string_view body(reinterpret_cast<const char*>(f.data), f.size);
      t.assets.push_back(WebAsset{t.paths.back(), ContentTypeFor(f.relative_path), body});
    }
    for (const auto& a : t.assets) {
      if (a.path == "/assets/index.html") t.index = &a;
    }
    return t;
  }();
  return table;
}

}  // namespace

const WebAsset* FindWebAsset(std::string_view path) {
  const AssetTable& t = Table();
  if (path == "/" || path == "/index.html") return t.index;
  // Exact match against a fixed list: "..", "//" or encoded tricks never match.
  for (const auto& a : t.assets) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace apimeter
