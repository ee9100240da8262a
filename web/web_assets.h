// The dashboard's static files (index.html, app.js, app.css, vendor/uplot/*),
// embedded into the binary at build time so the server needs no files on disk.
//
// Promise: FindWebAsset maps a request path (without query string) to one
// embedded file: "/" and "/index.html" → index.html, "/assets/<file under web/>"
// → that file (e.g. "/assets/app.js", "/assets/vendor/uplot/uPlot.min.css").
// Any other path, including ones with "..", gives nullptr. The returned
// pointer and views refer to static storage and stay valid for the program's
// lifetime. Thread-safety: read-only data, safe from any thread.
#pragma once

#include <string_view>

namespace apimeter {

struct WebAsset {
  std::string_view path;          // request path, e.g. "/assets/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;          // the file's exact bytes
};

const WebAsset* FindWebAsset(std::string_view path);

}  // namespace apimeter
