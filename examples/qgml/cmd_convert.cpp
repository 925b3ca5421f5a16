// qgml convert IN -o OUT.gguf [--outtype f32|f16|bf16] [--vocab tokenizer.bin]
// IN is a llama2.c checkpoint (.bin, with --vocab) or a Hugging Face model directory.
#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "qgml/convert.h"
#include "qgml/error.h"

namespace qgml::cli {

static int cmd_convert(const std::vector<std::string>& argv) {
  const Args args(argv, {{"-o", "--outfile"}, {"--outtype"}, {"--vocab"}}, {{"-h", "--help"}});
  if (args.has("--help")) {
    std::printf(
        "usage: qgml convert IN -o OUT.gguf [--outtype f32|f16|bf16] [--vocab tokenizer.bin]\n\n"
        "IN is a llama2.c checkpoint (.bin; give its tokenizer.bin with --vocab) or a Hugging Face model directory\n"
        "(config.json, safetensors, tokenizer.json or tokenizer.model; there --vocab tokenizer.model|tokenizer.bin\n"
        "replaces the directory's own tokenizer). Norms and 1-D tensors stay f32.\n");
    return 0;
  }
  if (args.positional().size() != 1) fail("expected exactly one input (a llama2.c .bin or a Hugging Face directory)");
  const std::string in = args.positional()[0];
  const std::string out = args.require("-o");
  const std::string outtype_name = args.get("--outtype", "f32");
  Type outtype;
  if (!type_from_name(outtype_name.c_str(), &outtype) ||
      (outtype != Type::F32 && outtype != Type::F16 && outtype != Type::BF16)) {
    fail("--outtype '%s': expected f32, f16 or bf16", outtype_name.c_str());
  }
  auto model = convert::open_source(in, args.get("--vocab"));
  convert::write_gguf(*model, out, outtype);
  std::fprintf(stderr, "qgml convert: wrote %s (%zu tensors, %s)\n", out.c_str(), model->tensors.size(),
               outtype_name.c_str());
  return 0;
}

QGML_COMMAND(convert, "import a llama2.c checkpoint or a Hugging Face model as GGUF", cmd_convert);

}  // namespace qgml::cli
