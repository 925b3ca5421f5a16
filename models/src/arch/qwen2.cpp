// Qwen2: the Llama block with biases on q, k and v and NeoX-style rope
// (llama.cpp does not permute Qwen2's q/k weights when converting).
#include "llama.h"

namespace qgml {

extern const Architecture kArchQwen2 = {
    "qwen2",
    [](Model& m) { llama_load(m, RopeMode::Neox); },
    llama_build,
    llama_build_block,
};

}  // namespace qgml
