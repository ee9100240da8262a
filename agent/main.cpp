// apimeter: entry point. Parses the command line and hands each subcommand to
// its runner; the only place exceptions from CLI parsing are caught.
#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/version.h"

int main(int argc, char** argv) {
  CLI::App app{"apimeter: API usage analytics from nginx access logs"};
  app.set_version_flag("--version", std::string("apimeter ") + APIMETER_VERSION + " (" +
                                        APIMETER_GIT_COMMIT + ")");
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
