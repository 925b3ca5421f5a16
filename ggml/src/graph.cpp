#include "qgml/graph.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "ops/op_impl.h"
#include "qgml/error.h"
#include "qgml/threadpool.h"

namespace qgml {
namespace {

constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// The tensor that owns the memory a node reads or writes.
Tensor* storage_owner(Tensor* t) {
  while (t->view_src != nullptr) t = t->view_src;
  return t;
}

// First-fit allocator over offsets of one scratch buffer: planning only, no memory.
class OffsetAllocator {
 public:
  size_t allocate(size_t size) {
    size = align_up(size);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= size) {
        const size_t off = it->first;
        const size_t rest = it->second - size;
        free_.erase(it);
        if (rest > 0) free_[off + size] = rest;
        return off;
      }
    }
    const size_t off = top_;
    top_ += size;
    peak_ = std::max(peak_, top_);
    return off;
  }
  void release(size_t off, size_t size) {
    size = align_up(size);
    auto it = free_.emplace(off, size).first;
    // Merge with the following and the preceding free block.
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
        it = prev;
      }
    }
    if (it->first + it->second == top_) {
      top_ = it->first;
      free_.erase(it);
    }
  }
  size_t peak() const { return peak_; }

 private:
  std::map<size_t, size_t> free_;  // offset → size
  size_t top_ = 0, peak_ = 0;
};

}  // namespace

Graph::Graph() = default;
Graph::~Graph() = default;

void Graph::add_output(Tensor* t) {
  QGML_ASSERT(t != nullptr);
  outputs_.push_back(t);
  visit(t);
  planned_ = false;
}

void Graph::visit(Tensor* root) {
  // Iterative post-order DFS: deep graphs (many layers) must not overflow the stack.
  std::vector<std::pair<Tensor*, int>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [t, next_src] = stack.back();
    if (next_src == 0 && seen_.count(t)) {
      stack.pop_back();
      continue;
    }
    if (next_src < 3) {
      Tensor* s = t->src[next_src++];
      if (s != nullptr && !seen_.count(s)) stack.push_back({s, 0});
      continue;
    }
    Tensor* done = t;
    stack.pop_back();
    if (seen_.insert(done).second) {
      visited_.push_back(done);
      if (done->op != Op::None) nodes_.push_back(done);
    }
  }
}

void Graph::plan_memory() {
  // Last node index at which each storage owner is read or written.
  std::unordered_map<Tensor*, size_t> last_use;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Tensor* n = nodes_[i];
    last_use[storage_owner(n)] = i;
    for (Tensor* s : n->src)
      if (s != nullptr) last_use[storage_owner(s)] = i;
  }
  for (Tensor* o : outputs_) last_use[storage_owner(o)] = nodes_.size();

  for (Tensor* t : visited_) {
    if (t->op == Op::None && t->data == nullptr)
      fail("graph input %s has no data (weights not loaded?)", describe(t).c_str());
  }

  OffsetAllocator alloc;
  std::unordered_map<Tensor*, size_t> offset;
  std::vector<std::vector<Tensor*>> release_after(nodes_.size() + 1);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Tensor* n = nodes_[i];
    if (n->view_src == nullptr) {  // every non-view op node gets scratch memory
      offset[n] = alloc.allocate(n->nbytes());
      release_after[last_use[n]].push_back(n);
    }
    for (Tensor* dead : release_after[i]) alloc.release(offset[dead], dead->nbytes());
  }

  scratch_size_ = alloc.peak();
  scratch_raw_.reset(new char[scratch_size_ + kAlign]);
  scratch_ = reinterpret_cast<char*>(align_up(reinterpret_cast<uintptr_t>(scratch_raw_.get())));
  for (Tensor* n : nodes_) {  // topological order: a view's source is placed before the view
    if (n->view_src != nullptr) {
      if (n->view_src->data == nullptr) fail("view of %s has no data", describe(n->view_src).c_str());
      n->data = static_cast<char*>(n->view_src->data) + n->view_offset;
    } else {
      n->data = scratch_ + offset[n];
    }
  }
  planned_ = true;
}

void Graph::compute(int n_threads) {
  if (n_threads <= 0) n_threads = ThreadPool::default_threads();
  if (!own_pool_ || own_pool_->size() != n_threads) own_pool_.reset(new ThreadPool(n_threads));
  compute(*own_pool_);
}

void Graph::compute(ThreadPool& pool, int n_active) {
  if (!planned_) plan_memory();
  const int nth = n_active > 0 && n_active < pool.size() ? n_active : pool.size();
  size_t work_size = 0;
  for (Tensor* n : nodes_) {
    const OpImpl& impl = op_impl(n->op);
    if (impl.work_size != nullptr) work_size = std::max(work_size, impl.work_size(n, nth));
  }
  std::vector<char> work(work_size + kAlign);
  void* work_ptr = reinterpret_cast<void*>(align_up(reinterpret_cast<uintptr_t>(work.data())));

  // An op that throws on one thread must not leave the others waiting at a
  // barrier: each op validates its arguments when it is built, so forward
  // functions do not throw.
  // One counter per node: never reset, so no thread can race a reset.
  std::unique_ptr<std::atomic<int64_t>[]> chunk_counters(new std::atomic<int64_t>[nodes_.size() + 1]);
  for (size_t i = 0; i <= nodes_.size(); ++i) chunk_counters[i].store(0, std::memory_order_relaxed);
  pool.run([&](int ith, int nth) {
    ComputeParams p;
    p.ith = ith;
    p.nth = nth;
    p.work = work_ptr;
    p.work_size = work_size;
    p.pool = &pool;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const OpImpl& impl = op_impl(nodes_[i]->op);
      if (impl.forward == nullptr) continue;
      p.next_chunk = &chunk_counters[i];
      impl.forward(p, nodes_[i]);
      p.barrier();
    }
  }, nth);
}

}  // namespace qgml
