// qgml/graph.h — a compute graph: the nodes reachable from its outputs, in
// topological order, executed by a thread pool with row-wise work splitting.
//
// Memory for intermediate results is planned when the graph is computed: a
// node's buffer is reused once every consumer has run, so peak memory stays
// near the widest layer rather than the whole graph. Outputs stay valid until
// the graph is computed again or destroyed.
#pragma once
#include <cstddef>
#include <memory>
#include <unordered_set>
#include <vector>

#include "qgml/tensor.h"

namespace qgml {

class ThreadPool;

class Graph {
 public:
  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Adds t and everything it depends on. Outputs keep their memory until the end.
  void add_output(Tensor* t);

  // Computes every node. n_threads ≤ 0 means the pool's default.
  void compute(int n_threads);
  // With n_active > 0, only that many of the pool's threads take part.
  void compute(ThreadPool& pool, int n_active = 0);

  const std::vector<Tensor*>& nodes() const { return nodes_; }
  size_t scratch_bytes() const { return scratch_size_; }

 private:
  void visit(Tensor* t);
  void plan_memory();

  std::vector<Tensor*> nodes_;    // op nodes, topological order
  std::vector<Tensor*> outputs_;
  std::vector<Tensor*> visited_;       // every tensor reached, in visiting order
  std::unordered_set<Tensor*> seen_;  // the same, for de-duplication across outputs
  bool planned_ = false;
  std::unique_ptr<char[]> scratch_raw_;
  char* scratch_ = nullptr;
  size_t scratch_size_ = 0;
  std::unique_ptr<ThreadPool> own_pool_;
};

}  // namespace qgml
