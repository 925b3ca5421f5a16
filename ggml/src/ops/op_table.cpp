#include "op_impl.h"

namespace qgml {

const OpImpl& op_impl(Op op) {
  static const OpImpl kTable[] = {
      /* None      */ {nullptr, nullptr},
      /* GetRows   */ {forward_get_rows, nullptr},
      /* Add       */ {forward_add, nullptr},
      /* Mul       */ {forward_mul, nullptr},
      /* Scale     */ {forward_scale, nullptr},
      /* RmsNorm   */ {forward_rms_norm, nullptr},
      /* LayerNorm */ {forward_layer_norm, nullptr},
      /* MulMat    */ {forward_mul_mat, work_size_mul_mat},
      /* Rope      */ {forward_rope, nullptr},
      /* SoftMax   */ {forward_soft_max, nullptr},
      /* Silu      */ {forward_silu, nullptr},
      /* Gelu      */ {forward_gelu, nullptr},
      /* Relu      */ {forward_relu, nullptr},
      /* SwiGlu    */ {forward_swiglu, nullptr},
      /* Cpy       */ {forward_cpy, nullptr},
      /* Cont      */ {forward_cont, nullptr},
      /* View      */ {nullptr, nullptr},
      /* Concat    */ {forward_concat, nullptr},
      /* Attend    */ {forward_attend, work_size_attend},
  };
  static_assert(sizeof(kTable) / sizeof(kTable[0]) == static_cast<size_t>(Op::Count), "one row per op");
  return kTable[static_cast<size_t>(op)];
}

Tensor* new_result(Context& ctx, Op op, Type type, int n_dims, const int64_t* ne) {
  Tensor* t = ctx.new_node(type, n_dims, ne);
  t->op = op;
  return t;
}

Tensor* new_result_like(Context& ctx, Op op, const Tensor* shape_of) {
  return new_result(ctx, op, Type::F32, kMaxDims, shape_of->ne);
}

std::string describe(const Tensor* t) {
  return format("%s[%lld %lld %lld %lld] %s", t->name[0] ? t->name : "", static_cast<long long>(t->ne[0]),
                static_cast<long long>(t->ne[1]), static_cast<long long>(t->ne[2]),
                static_cast<long long>(t->ne[3]), type_name(t->type));
}

}  // namespace qgml
