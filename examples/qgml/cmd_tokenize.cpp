// qgml tokenize -m MODEL (-p TEXT | -f FILE): the token ids of a text, on one
// line, as llama.cpp's tokenizer tests print them.
#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "qgml/tokenizer.h"

namespace qgml::cli {
namespace {

const char* kHelp =
    "usage: qgml tokenize -m MODEL (-p TEXT | -f FILE) [options]\n"
    "\n"
    "Prints the token ids of TEXT (or of FILE's bytes, as they are) space-separated on one line.\n"
    "MODEL is any GGUF file with tokenizer.ggml.* metadata (vocabulary-only files work).\n"
    "\n"
    "options:\n"
    "  -m, --model FILE    GGUF file holding the vocabulary\n"
    "  -p, --prompt TEXT   text to tokenize\n"
    "  -f, --file FILE     tokenize the contents of FILE instead\n"
    "  --no-bos            do not add BOS/EOS even where the vocabulary asks for them\n"
    "  --parse-special     turn control tokens written in the text (<|endoftext|>) into their ids\n"
    "  --pieces            print one 'id<TAB>piece' line per token instead\n";

int cmd_tokenize(const std::vector<std::string>& argv) {
  Args args(argv, {{"-m", "--model"}, {"-p", "--prompt"}, {"-f", "--file"}},
            {{"-h", "--help"}, {"--no-bos"}, {"--parse-special"}, {"--pieces"}});
  if (args.has("--help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!args.positional().empty()) fail("unexpected argument '%s' (see --help)", args.positional()[0].c_str());
  const std::string model = args.require("--model");
  if (args.has("--prompt") == args.has("--file")) fail("give exactly one of -p TEXT or -f FILE");
  const std::string text = args.has("--prompt") ? args.get("--prompt") : read_file(args.get("--file"));

  const gguf::Reader reader(model);
  const auto tok = Tokenizer::from_gguf(reader);
  const std::vector<int32_t> ids = tok->encode(text, !args.has("--no-bos"), args.has("--parse-special"));
  if (args.has("--pieces")) {
    for (const int32_t id : ids) {
      const std::string piece = tok->token_to_piece(id, true);
      std::printf("%d\t", id);
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fputc('\n', stdout);
    }
    return 0;
  }
  for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
  std::printf("\n");
  return 0;
}

}  // namespace

QGML_COMMAND(tokenize, "text -> token ids with a GGUF file's vocabulary", cmd_tokenize);

}  // namespace qgml::cli
