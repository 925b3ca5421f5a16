// Graph building, memory planning and execution; and thread-count
// independence: every op gives bitwise-identical results with 1, 2 and 3
// threads (rows are split among threads, never the reductions inside a row).
#include <gtest/gtest.h>

#include <cstring>

#include "ops_test_util.h"
#include "qgml/threadpool.h"

namespace qgml::test {
namespace {

TEST(Graph, ChainReusesBuffers) {
  Context ctx;
  const int64_t n = 1024;
  Tensor* x = make_input(ctx, {n, 1, 1, 1}, Layout::Contiguous, 1);
  Tensor* t = x;
  const int kLen = 100;
  size_t sum = 0;
  for (int i = 0; i < kLen; ++i) {
    t = i % 2 ? scale(ctx, t, 0.5f) : add(ctx, t, x);
    sum += t->nbytes();
  }
  Graph g;
  g.add_output(t);
  g.compute(2);
  EXPECT_EQ(g.nodes().size(), static_cast<size_t>(kLen));
  // A chain needs two live buffers at a time (input and result); the planner
  // may round up, but nowhere near one buffer per node.
  EXPECT_LE(g.scratch_bytes(), 3 * t->nbytes()) << "sum of node sizes " << sum;
  std::vector<double> want = values(x);
  for (double& w : want) {
    float v = static_cast<float>(w);
    for (int i = 0; i < kLen; ++i) v = i % 2 ? v * 0.5f : v + static_cast<float>(w);
    w = v;
  }
  EXPECT_EQ(values(t), want);
}

TEST(Graph, OutputsSurviveAndMultiConsumerNodesAreNotOverwritten) {
  Context ctx;
  Tensor* x = make_input(ctx, {300, 2, 1, 1}, Layout::Contiguous, 2);
  Tensor* early = scale(ctx, x, 3.0f);   // an output from the start of the graph
  Tensor* shared = scale(ctx, x, -2.0f);  // consumed now and at the very end
  Tensor* t = add(ctx, shared, x);
  for (int i = 0; i < 30; ++i) t = scale(ctx, add(ctx, t, x), 0.25f);  // lots of buffers come and go
  Tensor* last = add(ctx, t, shared);
  Graph g;
  g.add_output(early);
  g.add_output(last);
  g.compute(3);
  const std::vector<double> xv = values(x);
  std::vector<double> want_early(xv.size()), want_last(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const float xf = static_cast<float>(xv[i]);
    want_early[i] = xf * 3.0f;
    const float sh = xf * -2.0f;
    float v = sh + xf;
    for (int k = 0; k < 30; ++k) v = (v + xf) * 0.25f;
    want_last[i] = v + sh;
  }
  EXPECT_EQ(values(early), want_early);
  EXPECT_EQ(values(last), want_last);
}

TEST(Graph, ComputeTwice) {
  Context ctx;
  Tensor* x = make_input(ctx, {33, 7, 1, 1}, Layout::Contiguous, 3);
  Tensor* y = soft_max(ctx, rms_norm(ctx, x, 1e-6f), SoftMaxParams());
  Graph g;
  g.add_output(y);
  g.compute(2);
  const std::vector<double> first = values(y);
  g.compute(2);
  EXPECT_EQ(values(y), first) << "same inputs, same outputs";
  fill_random(x, 4);  // new inputs are picked up by the next compute
  g.compute(1);
  Graph fresh;
  fresh.add_output(y);
  const std::vector<double> second = values(y);
  EXPECT_NE(second, first);
  fresh.compute(1);
  EXPECT_EQ(values(y), second);
}

TEST(Graph, DeepGraphDoesNotOverflowTheStack) {
  Context ctx;
  Tensor* x = make_input(ctx, {8, 1, 1, 1}, Layout::Contiguous, 5);
  Tensor* t = x;
  const int kDepth = 10000;
  for (int i = 0; i < kDepth; ++i) t = i % 2 ? scale(ctx, t, -1.0f) : relu(ctx, t);
  Graph g;
  g.add_output(t);
  g.compute(2);
  EXPECT_EQ(g.nodes().size(), static_cast<size_t>(kDepth));
  // relu then negate, repeated: after the first pair everything is ≤ 0, then 0.
  for (double v : values(t)) EXPECT_EQ(v, 0.0);
}

TEST(Graph, DiamondsAreVisitedOnce) {
  Context ctx;
  Tensor* x = make_input(ctx, {5, 1, 1, 1}, Layout::Contiguous, 6);
  Tensor* t = x;
  for (int i = 0; i < 40; ++i) t = add(ctx, t, t);  // 2^40 paths, 40 nodes
  Graph g;
  g.add_output(t);
  g.add_output(t);
  EXPECT_EQ(g.nodes().size(), 40u);
  g.compute(2);
  const std::vector<double> xv = values(x);
  for (size_t i = 0; i < xv.size(); ++i) EXPECT_EQ(elem(t, static_cast<int64_t>(i)), std::ldexp(static_cast<float>(xv[i]), 40));
}

TEST(Graph, InputWithoutDataFails) {
  Context weights(false);  // headers only, as before a model's weights are mapped
  Tensor* w = weights.new_tensor_2d(Type::F32, 4, 4);
  w->set_name("blk.0.attn_q.weight");
  Context ctx;
  Tensor* x = make_input(ctx, {4, 2, 1, 1}, Layout::Contiguous, 7);
  Graph g;
  g.add_output(mul_mat(ctx, w, x));
  expect_error([&] { g.compute(1); }, "blk.0.attn_q.weight", "input without data");
  expect_error([&] { g.compute(1); }, "has no data", "input without data, again");
  // A view of a data-less leaf fails the same way.
  Graph g2;
  g2.add_output(cont(ctx, transpose(ctx, w)));
  expect_error([&] { g2.compute(2); }, "has no data", "view of input without data");
}

TEST(Graph, LeafOutputAndEmptyGraph) {
  Context ctx;
  Tensor* x = make_input(ctx, {3, 1, 1, 1}, Layout::Contiguous, 8);
  Graph g;
  g.add_output(x);
  EXPECT_TRUE(g.nodes().empty());
  g.compute(2);
  Graph empty;
  empty.compute(3);
}

TEST(Graph, ExplicitPoolShared) {
  ThreadPool pool(3);
  Context ctx;
  Tensor* x = make_input(ctx, {100, 9, 1, 1}, Layout::Contiguous, 9);
  Tensor* y1 = silu(ctx, x);
  Tensor* y2 = layer_norm(ctx, x, 1e-5f);
  Graph g1, g2;
  g1.add_output(y1);
  g2.add_output(y2);
  for (int i = 0; i < 20; ++i) {
    g1.compute(pool);
    g2.compute(pool);
  }
  std::vector<double> xv = values(x), want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) want[i] = xv[i] / (1 + std::exp(-xv[i]));
  expect_close(values(y1), want, 1e-6, 1e-5, "silu via shared pool");
}

TEST(Graph, WritesIntoALeafRunInOutputOrder) {
  // The KV-cache pattern: cpy new keys into a slice of a cache leaf, then read
  // the whole cache. The reader does not depend on the cpy node, so the order
  // comes from add_output: outputs added earlier run earlier.
  Context ctx;
  Tensor* cache = ctx.new_tensor_2d(Type::F16, 6, 4);  // zeros
  Tensor* k = make_input(ctx, {6, 2, 1, 1}, Layout::Contiguous, 15);
  Tensor* slot = view_2d(ctx, cache, 6, 2, cache->nb[1], 2 * cache->nb[1]);  // rows 2..3
  Tensor* write = cpy(ctx, k, slot);
  Tensor* read = cont(ctx, cache);
  Graph g;
  g.add_output(write);
  g.add_output(read);
  g.compute(2);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t i = 0; i < 6; ++i) {
      const double want = r < 2 ? 0.0 : fp16_to_f32(f32_to_fp16(static_cast<float>(elem(k, i, r - 2))));
      EXPECT_EQ(elem(read, i, r), want) << i << "," << r;
    }
}

// --- thread-count independence --------------------------------------------

// One graph with every op as an output; returns each output's bytes.
std::vector<std::vector<uint8_t>> run_all_ops(int n_threads, std::vector<std::string>* names = nullptr) {
  Context ctx;
  Tensor* x = make_input(ctx, {67, 13, 5, 1}, Layout::Contiguous, 11, -3.0f, 3.0f);
  Tensor* xt = make_input(ctx, {67, 13, 5, 1}, Layout::Permuted, 12, -3.0f, 3.0f);
  Tensor* row = make_input(ctx, {67, 1, 1, 1}, Layout::Contiguous, 13);
  std::vector<Tensor*> outs;
  outs.push_back(add(ctx, x, row));
  outs.push_back(mul(ctx, xt, x));
  outs.push_back(scale(ctx, xt, 0.7f));
  outs.push_back(rms_norm(ctx, xt, 1e-5f));
  outs.push_back(layer_norm(ctx, x, 1e-5f));
  outs.push_back(silu(ctx, x));
  outs.push_back(gelu(ctx, xt, true));
  outs.push_back(gelu(ctx, x, false));
  outs.push_back(relu(ctx, xt));
  outs.push_back(swiglu(ctx, x, xt));
  outs.push_back(cont(ctx, xt));
  outs.push_back(concat(ctx, x, xt, 1));
  outs.push_back(transpose(ctx, x));
  for (Type t : {Type::F32, Type::F16, Type::BF16, Type::Q8_0, Type::Q4_0}) {
    Tensor* w = ctx.new_tensor_3d(t, 67, 19, 1);
    fill_random(w, 20 + static_cast<uint32_t>(t));
    outs.push_back(mul_mat(ctx, w, xt));
    outs.push_back(get_rows(ctx, ctx.new_tensor_3d(t, 67, 19, 5), ctx.new_tensor_2d(Type::I32, 4, 5)));
    if (t != Type::F32) outs.push_back(cpy(ctx, xt, ctx.new_tensor_3d(t, 67, 13, 5)));
  }
  Tensor* pos = ctx.new_tensor_1d(Type::I32, 5);
  for (int i = 0; i < 5; ++i) static_cast<int32_t*>(pos->data)[i] = 1000 * i + 3;
  RopeParams rp;
  rp.n_rot = 32;
  for (RopeMode m : {RopeMode::Adjacent, RopeMode::Neox}) {
    rp.mode = m;
    outs.push_back(rope(ctx, reshape_3d(ctx, cont(ctx, view_3d(ctx, x, 64, 13, 5, x->nb[1], x->nb[2], 0)), 64, 13, 5),
                        pos, rp));
  }
  SoftMaxParams sp;
  sp.scale = 0.3f;
  sp.causal_past = 40;
  sp.alibi_max_bias = 8.0f;
  outs.push_back(soft_max(ctx, xt, sp, make_input(ctx, {67, 13, 1, 1}, Layout::Contiguous, 14)));

  Graph g;
  for (Tensor* o : outs) g.add_output(o);
  g.compute(n_threads);
  std::vector<std::vector<uint8_t>> bytes;
  for (Tensor* o : outs) {
    if (names) names->push_back(std::string(op_name(o->op)) + " " + type_name(o->src[0] ? o->src[0]->type : o->type));
    std::vector<uint8_t> b;
    for (int64_t i3 = 0; i3 < o->ne[3]; ++i3)
      for (int64_t i2 = 0; i2 < o->ne[2]; ++i2)
        for (int64_t i1 = 0; i1 < o->ne[1]; ++i1) {
          if (traits(o->type).block_size != 1) {
            const uint8_t* p = reinterpret_cast<const uint8_t*>(o->row(i1, i2, i3));
            b.insert(b.end(), p, p + o->row_bytes());
            continue;
          }
          for (int64_t i0 = 0; i0 < o->ne[0]; ++i0) {
            const uint8_t* p = reinterpret_cast<const uint8_t*>(at_ptr(o, i0, i1, i2, i3));
            b.insert(b.end(), p, p + traits(o->type).type_size);
          }
        }
    bytes.push_back(std::move(b));
  }
  return bytes;
}

TEST(Threads, BitwiseIdenticalForEveryOp) {
  std::vector<std::string> names;
  const auto one = run_all_ops(1, &names);
  for (int n : {2, 3}) {
    const auto many = run_all_ops(n);
    ASSERT_EQ(many.size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(many[i] == one[i]) << "output " << i << " (" << names[i] << ") with " << n << " threads";
  }
}

}  // namespace
}  // namespace qgml::test
