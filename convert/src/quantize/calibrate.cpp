// Block-by-block calibration (see calibrate.h).
#include "calibrate.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "linalg.h"
#include "qgml/block.h"
#include "qgml/error.h"
#include "qgml/ops.h"
#include "qgml/threadpool.h"

namespace qgml::quantize {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Linear {
  LinearInfo info;
  int group = 0;
  std::vector<float> quantized;  // rows × cols, once its group is done
  // quantizedᵀ packed for the products from cached inputs: packed once
  // instead of once per window (that packing was ~5 % of calibration).
  std::unique_ptr<linalg::PackedB> packed;
  // (*products)[i]: window i's T × rows product with the quantized weights,
  // computed once (ready[i]) and reused by every later stage of the block
  // (when within the memory budget).
  std::vector<std::vector<float>>* products = nullptr;
  std::vector<char> ready;
};

// Copies x [K, n] (rows possibly strided) into a dense n × K array.
void read_rows(const Tensor* x, float* dst) {
  const int64_t K = x->ne[0], n = x->nrows();
  for (int64_t t = 0; t < n; ++t) std::memcpy(dst + t * K, x->row(t), static_cast<size_t>(K) * sizeof(float));
}

// The tensor whose storage t uses (itself unless it is a view).
const Tensor* owner(const Tensor* t) { return t->view_src != nullptr ? t->view_src : t; }

// First pass over a block: which linears it has, in forward order, and
// which of them share an input (a group).
class DiscoverHook : public LinearHook {
 public:
  Tensor* linear(Context&, Graph&, Tensor* w, Tensor* x) override {
    if (inputs.empty() || inputs.back() != x) group_of_new_input.push_back(static_cast<int>(inputs.size()));
    inputs.push_back(x);
    weights.push_back(w);
    groups.push_back(static_cast<int>(group_of_new_input.size()) - 1);
    return nullptr;
  }
  std::vector<Tensor*> inputs, weights;
  std::vector<int> groups, group_of_new_input;
};

// One stage of one window: see calibrate.h for what each linear answers.
class StageHook : public LinearHook {
 public:
  // zeros: at least rows × n floats of 0 for any linear (the placeholders).
  StageHook(std::vector<Linear>& lin, int stage, const std::vector<std::vector<float>>* cached, Context& ext, float* zeros)
      : lin_(lin), stage_(stage), cached_(cached), ext_(ext), zeros_(zeros) {}

  Tensor* linear(Context& ctx, Graph& graph, Tensor* w, Tensor* x) override {
    Linear& L = find(w);
    const int64_t n = x->ne[1];
    if (L.group == stage_) {
      if (captured == nullptr) graph.add_output(x);
      captured = x;
    }
    if (L.group >= stage_) {
      // Results are not read, but KV-cache copies may still read these: one
      // shared block of zeros instead of a fresh zeroed allocation each time.
      Tensor* z = ext_.new_tensor_2d(Type::F32, L.info.rows, n);
      z->data = zeros_;
      return z;
    }
    if (cached_ != nullptr) {
      Tensor* leaf = ext_.new_tensor_2d(Type::F32, L.info.rows, n);  // data: set before the graph runs
      pending.push_back({leaf, &L});
      return leaf;
    }
    Tensor* wq = ext_.new_tensor_2d(Type::F32, L.info.cols, L.info.rows);
    wq->data = L.quantized.data();
    return mul_mat(ctx, wq, x);
  }

  struct Pending {
    Tensor* leaf;
    Linear* lin;
  };
  std::vector<Pending> pending;  // products to fill from cached inputs
  Tensor* captured = nullptr;

 private:
  Linear& find(Tensor* w) {
    for (Linear& L : lin_)
      if (L.info.weight == w) return L;
    fail("calibration: block linear %s was not seen in the first pass", w->name);
  }
  std::vector<Linear>& lin_;
  int stage_;
  const std::vector<std::vector<float>>* cached_;
  Context& ext_;
  float* zeros_;
};

}  // namespace

CalibrationStats calibrate(const Model& model, const std::vector<std::vector<int32_t>>& windows, ThreadPool& pool,
                           const QuantizeLinearFn& quantize, const CalibrateOptions& opt) {
  if (!supports_blocks(model)) fail("calibration: architecture %s cannot run single blocks", model.hparams().arch.c_str());
  if (windows.empty()) fail("calibration: no windows");
  const HParams& hp = model.hparams();
  const int64_t n_win = static_cast<int64_t>(windows.size()), T = static_cast<int64_t>(windows[0].size()), E = hp.n_embd;
  CalibrationStats st;

  // Hidden states of every window: the (unquantized) token embeddings first
  // (with learned positions, for the families that have them).
  std::vector<float> hidden(static_cast<size_t>(n_win * T * E));
  {
    for (int64_t i = 0; i < n_win; ++i) {
      Context ctx(true);
      Tensor* ids = ctx.new_tensor_1d(Type::I32, T);
      std::memcpy(ids->data, windows[static_cast<size_t>(i)].data(), static_cast<size_t>(T) * sizeof(int32_t));
      Tensor* pos = ctx.new_tensor_1d(Type::I32, T);
      for (int64_t t = 0; t < T; ++t) static_cast<int32_t*>(pos->data)[t] = static_cast<int32_t>(t);
      Graph g;
      Tensor* x = build_input(model, ctx, ids, pos);
      g.add_output(x);
      g.compute(pool);
      read_rows(x, &hidden[static_cast<size_t>(i * T * E)]);
    }
  }

  // Captured inputs [group][window] and kept products [linear][window]. They
  // outlive the block: every block has the same shapes, and freeing them
  // (hundreds of MB) after each block made the next one fault all of it
  // back in, about 1 s of the house model's calibration.
  std::vector<std::vector<std::vector<float>>> inputs, products;

  for (int layer = 0; layer < hp.n_layer; ++layer) {
    KvCache cache;
    cache.n_ctx = T;
    cache.k.assign(static_cast<size_t>(hp.n_layer), nullptr);
    cache.v.assign(static_cast<size_t>(hp.n_layer), nullptr);
    cache.k[static_cast<size_t>(layer)] = cache.ctx.new_tensor_3d(Type::F32, hp.head_dim, hp.n_head_kv, T);
    cache.v[static_cast<size_t>(layer)] = cache.ctx.new_tensor_3d(Type::F32, T, hp.head_dim, hp.n_head_kv);
    Context pos_ctx(true);
    Tensor* positions = pos_ctx.new_tensor_1d(Type::I32, T);
    for (int64_t t = 0; t < T; ++t) static_cast<int32_t*>(positions->data)[t] = static_cast<int32_t>(t);

    // The block's linears and groups, from building (not computing) it once.
    std::vector<Linear> lin;
    int n_groups;
    {
      Context ctx(false), ext(false);
      Tensor* x = ext.new_tensor_2d(Type::F32, E, T);
      Graph g;
      DiscoverHook d;
      build_block(model, ctx, g, cache, positions, layer, x, &d);
      for (size_t i = 0; i < d.weights.size(); ++i) {
        Linear L;
        L.info = {layer, d.weights[i]->name, d.weights[i], d.weights[i]->ne[1], d.weights[i]->ne[0]};
        L.group = d.groups[i];
        lin.push_back(std::move(L));
      }
      n_groups = static_cast<int>(d.group_of_new_input.size());
    }
    // Inputs captured per group and window, kept for the later stages when they fit.
    size_t cache_bytes = 0;
    for (int g = 0; g < n_groups; ++g)
      for (const Linear& L : lin)
        if (L.group == g) {
          cache_bytes += static_cast<size_t>(n_win * T * L.info.cols) * sizeof(float);
          break;
        }
    const bool use_cache = cache_bytes <= opt.cache_budget_bytes;
    st.cached = st.cached && use_cache;
    // Every stage re-runs the block up to its group, so without keeping the
    // products the later stages would recompute e.g. gate/up twice and k/v
    // (read by the KV-cache copies) four times: keep them when they fit too.
    size_t product_bytes = 0;
    int64_t max_rows = 0;
    for (const Linear& L : lin) {
      product_bytes += static_cast<size_t>(n_win * T * L.info.rows) * sizeof(float);
      max_rows = std::max(max_rows, L.info.rows);
    }
    const bool keep_products = use_cache && cache_bytes + product_bytes <= opt.cache_budget_bytes;
    if (products.size() < lin.size()) products.resize(lin.size());
    for (size_t li = 0; li < lin.size(); ++li) {
      lin[li].products = &products[li];
      products[li].resize(keep_products ? static_cast<size_t>(n_win) : 0);
      lin[li].ready.assign(static_cast<size_t>(n_win), 0);
    }
    if (inputs.size() < static_cast<size_t>(n_groups)) inputs.resize(static_cast<size_t>(n_groups));
    for (auto& g : inputs) g.resize(use_cache ? static_cast<size_t>(n_win) : 0);
    const std::vector<float> zeros(static_cast<size_t>(max_rows * T), 0.0f);

    for (int stage = 0; stage <= n_groups; ++stage) {
      const bool final_stage = stage == n_groups;
      int64_t K = 0;
      for (const Linear& L : lin)
        if (L.group == stage) K = L.info.cols;
      std::vector<float> H(static_cast<size_t>(K * K), 0.0f), X;
      if (opt.on_progress)
        opt.on_progress(layer, static_cast<int>(hp.n_layer), final_stage ? std::string("block output") : "inputs of " + [&] {
          std::string names;
          for (const Linear& L : lin)
            if (L.group == stage) names += (names.empty() ? "" : ", ") + L.info.name.substr(L.info.name.find('.', 4) + 1);
          return names;
        }());
      for (int64_t i = 0; i < n_win; ++i) {
        const auto t0 = Clock::now();
        Context ctx(true), ext(false);
        Tensor* x = ext.new_tensor_2d(Type::F32, E, T);
        x->data = &hidden[static_cast<size_t>(i * T * E)];
        Graph g;
        StageHook hook(lin, stage, use_cache ? &inputs[0] : nullptr, ext, const_cast<float*>(zeros.data()));
        Tensor* out = build_block(model, ctx, g, cache, positions, layer, x, &hook);
        if (final_stage) g.add_output(out);
        if (!final_stage && hook.captured == nullptr) fail("calibration: block %d stage %d captured no input", layer, stage);
        // The block also writes this window's keys and values to the cache
        // (graph outputs of their own). Only a stage whose output depends on
        // attention reads them; the others run just what their output needs,
        // without the copies and the key rope.
        Graph pruned;
        pruned.add_output(final_stage ? out : hook.captured);
        bool reads_cache = false;
        for (const Tensor* node : pruned.nodes())
          for (const Tensor* s : node->src)
            reads_cache = reads_cache || (s != nullptr && (owner(s) == cache.k[static_cast<size_t>(layer)] ||
                                                           owner(s) == cache.v[static_cast<size_t>(layer)]));
        Graph& run = reads_cache ? g : pruned;
        // Fill only the ready-made products the graph actually reaches.
        std::set<const Tensor*> used;
        for (const Tensor* node : run.nodes())
          for (const Tensor* s : node->src)
            if (s != nullptr) used.insert(owner(s));
        const auto tl = Clock::now();
        std::vector<std::vector<float>> scratch;  // products not kept: alive until the graph has run
        scratch.reserve(hook.pending.size());
        for (const StageHook::Pending& p : hook.pending) {
          const int64_t cols = p.lin->info.cols, rows = p.lin->info.rows;
          if (used.count(p.leaf) == 0) {
            p.leaf->data = const_cast<float*>(zeros.data());  // not reached: any valid memory
            continue;
          }
          const size_t w = static_cast<size_t>(i);
          std::vector<float>& prod = keep_products ? (*p.lin->products)[w] : (scratch.emplace_back(), scratch.back());
          if (!keep_products || !p.lin->ready[w]) {
            prod.resize(static_cast<size_t>(T * rows));  // overwritten by the gemm
            if (keep_products) p.lin->ready[w] = 1;
            const std::vector<float>& in = inputs[static_cast<size_t>(p.lin->group)][static_cast<size_t>(i)];
            if (!p.lin->packed)
              p.lin->packed = std::make_unique<linalg::PackedB>(linalg::transposed(p.lin->quantized.data(), cols), cols, rows);
            // prod[t][r] = Σ_k in[t][k] · Ŵ[r][k]
            linalg::gemm(T, 1.0f, linalg::row_major(in.data(), cols), *p.lin->packed, prod.data(), rows, &pool, true);
          }
          p.leaf->data = prod.data();
        }
        st.linear_seconds += since(tl);
        cache.n_past = 0;
        run.compute(pool);
        st.forward_seconds += since(t0);
        if (final_stage) {
          read_rows(out, &hidden[static_cast<size_t>(i * T * E)]);
          continue;
        }
        // Read straight into the kept inputs when they are kept.
        std::vector<float>& Xw = use_cache ? inputs[static_cast<size_t>(stage)][static_cast<size_t>(i)] : X;
        Xw.resize(static_cast<size_t>(T * K));
        read_rows(hook.captured, Xw.data());
        // GPTQ's running average H ← H·i/(i+1) + 2/(i+1)·XᵀX ends at
        // 2/N·Σ XᵀX: the sum is accumulated and divided once at the end,
        // which spares a pass over H per window (equal up to rounding).
        const auto t1 = Clock::now();
        linalg::syrk_upper(K, T, 2.0f, Xw.data(), K, H.data(), K, &pool);
        st.hessian_seconds += since(t1);
        st.hessian_flops += static_cast<double>(T) * static_cast<double>(K) * static_cast<double>(K + 1);
      }
      if (final_stage) break;
      const float inv_n = 1.0f / static_cast<float>(n_win);
      for (int64_t r = 0; r < K; ++r)
        for (int64_t c = r; c < K; ++c) H[static_cast<size_t>(r * K + c)] *= inv_n;
      linalg::mirror_upper(K, H.data(), K);
      const auto tq = Clock::now();
      for (Linear& L : lin) {
        if (L.group != stage) continue;
        L.quantized = quantize(L.info, H.data());
        if (static_cast<int64_t>(L.quantized.size()) != L.info.rows * L.info.cols)
          fail("calibration: the quantizer returned %zu values for %s", L.quantized.size(), L.info.name.c_str());
      }
      st.quantize_seconds += since(tq);
    }
  }
  return st;
}

}  // namespace qgml::quantize
