// qgml dequantize MODEL.gguf -o OUT_DIR [--dtype f32|bf16]
// Writes a (quantized) GGUF model back as a Hugging Face directory.
#include <cstdio>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "qgml/convert.h"
#include "qgml/error.h"

namespace qgml::cli {

static int cmd_dequantize(const std::vector<std::string>& argv) {
  const Args args(argv, {{"-o", "--outdir"}, {"--dtype"}}, {{"-h", "--help"}});
  if (args.has("--help")) {
    std::printf(
        "usage: qgml dequantize MODEL.gguf -o OUT_DIR [--dtype f32|bf16]\n\n"
        "Writes MODEL as a Hugging Face directory: config.json and model.safetensors with Hugging Face tensor\n"
        "names, every tensor dequantized to f32 (default) or bf16, act-order and Llama q/k re-layouts undone.\n"
        "tokenizer.json is written for byte-level BPE vocabularies (GPT-2, Llama 3 or Qwen2 pre-tokenizer); for\n"
        "others, copy the tokenizer files from the original checkpoint. OUT_DIR must not exist or be empty.\n"
        "Llama and Qwen2 models.\n");
    return 0;
  }
  if (args.positional().size() != 1) fail("expected exactly one input model (.gguf)");
  const std::string in = args.positional()[0];
  const std::string out = args.require("-o");
  const std::string dt = args.get("--dtype", "f32");
  Type dtype;
  if (dt == "f32") dtype = Type::F32;
  else if (dt == "bf16") dtype = Type::BF16;
  else fail("--dtype '%s': expected f32 or bf16", dt.c_str());
  for (const std::string& note : convert::write_hf(in, out, dtype)) std::fprintf(stderr, "note: %s\n", note.c_str());
  std::fprintf(stderr, "qgml dequantize: wrote %s (%s)\n", out.c_str(), dt.c_str());
  return 0;
}

QGML_COMMAND(dequantize, "write a GGUF model back as a Hugging Face directory (f32 or bf16)", cmd_dequantize);

}  // namespace qgml::cli
