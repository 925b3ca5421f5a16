// Placeholder registration: the kernels land here.
#include "../kernels.h"

namespace qgml {

void register_scalar_bnb4_kernels(KernelTable&) {}

}  // namespace qgml
