// Placeholder registration: the kernels land here.
#include "../kernels.h"

namespace qgml {

void register_neon_kquant_kernels(KernelTable&) {}

}  // namespace qgml
