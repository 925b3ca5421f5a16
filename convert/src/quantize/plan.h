// What each tensor of the input becomes: the per-tensor plan of a quantize
// run, decided and validated in full before any work starts.
#pragma once
#include <string>
#include <vector>

#include "gptq.h"
#include "qgml/convert.h"
#include "qgml/quantize.h"

namespace qgml::quantize {

enum class Action {
  Convert,  // the type's own from_float (floats, q8_0, nf4_dq, ...): no calibration
  Rtn,      // round to nearest on a GPTQ/NF4 grid (spec)
  Gptq,     // GPTQ with calibration (spec)
};

struct TensorPlan {
  const convert::SourceTensor* src = nullptr;
  Type type = Type::F32;
  Action action = Action::Convert;
  LayerSpec spec;          // Rtn and Gptq
  bool target = false;     // one of the method's own targets (not kept, not a float/norm)
};

// Throws qgml::Error naming the tensor and the problem (group wider than the
// row, a type whose blocks do not divide the row, ...).
std::vector<TensorPlan> make_plan(const convert::SourceModel& m, const Params& p);

}  // namespace qgml::quantize
