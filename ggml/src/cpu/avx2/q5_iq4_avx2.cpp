// Placeholder registration: the kernels land here.
#include "../kernels.h"

namespace qgml {

void register_avx2_q5_iq4_kernels(KernelTable&) {}

}  // namespace qgml
