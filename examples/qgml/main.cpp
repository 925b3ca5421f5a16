// qgml — one tool, many subcommands: qgml <command> [flags]. Each command is
// a cmd_*.cpp file in this folder.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "command.h"
#include "qgml/cpu.h"

namespace qgml::cli {

static std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}

bool register_command(const Command& c) {
  registry().push_back(c);
  return true;
}

const std::vector<Command>& commands() { return registry(); }

}  // namespace qgml::cli

static void usage(FILE* out) {
  std::fprintf(out, "usage: qgml <command> [options]\n\ncommands:\n");
  std::vector<qgml::cli::Command> cmds = qgml::cli::commands();
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return std::strcmp(a.name, b.name) < 0; });
  for (const auto& c : cmds) std::fprintf(out, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(out, "\n'qgml <command> --help' describes a command's options.\n"
                    "Kernels: %s (set QGML_ISA=scalar|avx2|avx512|neon to force a lower level)\n",
               qgml::isa_name(qgml::active_isa()));
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const std::string name = argv[1];
  for (const auto& c : qgml::cli::commands()) {
    if (name != c.name) continue;
    try {
      return c.run(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "qgml %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "qgml: unknown command '%s'\n\n", name.c_str());
  usage(stderr);
  return 1;
}
