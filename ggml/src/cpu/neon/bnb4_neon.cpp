// Placeholder registration: the kernels land here.
#include "../kernels.h"

namespace qgml {

void register_neon_bnb4_kernels(KernelTable&) {}

}  // namespace qgml
