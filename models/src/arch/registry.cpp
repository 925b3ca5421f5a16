// The architectures qgml runs. Adding a family: a new file in this folder
// defining its Architecture, and one line in the table below.
#include "arch.h"

namespace qgml {

extern const Architecture kArchLlama;
extern const Architecture kArchQwen2;
extern const Architecture kArchOpt;
extern const Architecture kArchFalcon;
extern const Architecture kArchGpt2;
extern const Architecture kArchGptNeox;

static const Architecture* const kArchitectures[] = {
    &kArchLlama, &kArchQwen2,
    &kArchOpt,
    &kArchFalcon,
    &kArchGpt2,
    &kArchGptNeox,
};

const Architecture* find_architecture(const std::string& name) {
  for (const Architecture* a : kArchitectures)
    if (name == a->name) return a;
  return nullptr;
}

std::string supported_architectures() {
  std::string s;
  for (const Architecture* a : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

}  // namespace qgml
