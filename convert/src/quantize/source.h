// Opening the quantizer's input: anything `qgml convert` reads, or a GGUF
// file of float tensors (F32, F16, BF16), as a convert::SourceModel.
#pragma once
#include <memory>
#include <string>

#include "qgml/convert.h"

namespace qgml::quantize {

bool is_gguf_file(const std::string& path);
std::unique_ptr<convert::SourceModel> open_input(const std::string& path, const std::string& vocab);

}  // namespace qgml::quantize
