// The subcommands of the `qgml` tool. Each lives in its own cmd_*.cpp file and
// registers itself with QGML_COMMAND, so adding one touches no other file.
#pragma once
#include <string>
#include <vector>

namespace qgml::cli {

using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

// Called by QGML_COMMAND at static-initialisation time.
bool register_command(const Command& c);
const std::vector<Command>& commands();

}  // namespace qgml::cli

#define QGML_COMMAND(name, summary, fn) \
  static const bool qgml_registered_##name = ::qgml::cli::register_command({#name, summary, fn})
