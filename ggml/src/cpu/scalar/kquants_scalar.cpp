// Placeholder registration: the kernels land here.
#include "../kernels.h"

namespace qgml {

void register_scalar_kquant_kernels(KernelTable&) {}

}  // namespace qgml
