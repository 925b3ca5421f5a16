// Outputs appear atomically: `qgml convert` or `qgml quantize` killed with
// SIGKILL in the middle of writing leaves no output file (only its temporary
// file, OUT.tmp.PID.XXX, which nothing reads) and the input untouched; the
// next run to the same OUT succeeds and removes the dead writer's temporary
// file. Also the in-process failure path (an exception while producing tensor
// data removes the temporary file) and which stale names are removed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "corrupt_util.h"
#include "qgml/gguf.h"
#include "qgml/io.h"

namespace qgml {
namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

long file_size(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : -1;
}

// A llama2.c v0 checkpoint of about 43 MB (dim 512, 4 layers) and a matching
// 512-token tokenizer.bin: large enough that writing its GGUF takes a while.
void write_synthetic_llama2c(const std::string& bin, const std::string& tok) {
  const int32_t dim = 512, hidden = 1024, layers = 4, heads = 8, kv_heads = 8, vocab = 512, seq = 64;
  const int64_t hs = dim / heads, kv = hs * kv_heads;
  const int64_t n = int64_t{vocab} * dim +
                    layers * (dim + int64_t{dim} * dim * 2 + 2 * kv * dim + dim + 3 * int64_t{hidden} * dim) + dim +
                    int64_t{seq} * hs;
  std::string b(28 + static_cast<size_t>(n) * 4, '\0');
  const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
  std::memcpy(&b[0], header, 28);
  std::mt19937 rng(5);
  for (size_t i = 28; i < b.size(); i += 4) {
    const float f = static_cast<float>(rng() % 2001) / 1000.0f - 1.0f;
    std::memcpy(&b[i], &f, 4);
  }
  test::write_bytes(bin, b);
  std::string t;
  auto put32 = [&](int32_t v) { t.append(reinterpret_cast<const char*>(&v), 4); };
  put32(8);
  for (int i = 0; i < vocab; ++i) {
    std::string text = i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : i == 2 ? "\n</s>\n" : "t" + std::to_string(i);
    const float score = -static_cast<float>(i);
    t.append(reinterpret_cast<const char*>(&score), 4);
    put32(static_cast<int32_t>(text.size()));
    t += text;
  }
  test::write_bytes(tok, t);
}

// Starts `qgml ARGS` (ARGS[0] is the subcommand).
pid_t spawn_cli(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string cli = test::cli_path();
    argv.push_back(cli.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(cli.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Runs `qgml ARGS`, and SIGKILLs it once its temporary file beside `out` has
// at least `min_bytes`. Returns the temporary file's name ("" when the run
// ended before it could be killed).
std::string run_and_kill(const std::vector<std::string>& args, const std::string& dir, const std::string& out_name,
                             long min_bytes) {
  const pid_t pid = spawn_cli(args);
  EXPECT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string tmp;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const std::string& f : list_dir(dir))
      if (f.compare(0, out_name.size() + 5, out_name + ".tmp.") == 0 && file_size(dir + "/" + f) >= min_bytes) tmp = f;
    if (!tmp.empty()) {
      ::kill(pid, SIGKILL);
      break;
    }
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) return "";  // finished first
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  return tmp;
}

// `inputs` are compared byte for byte before and after; `keep` are the names
// in `dir` other than the temporary file that may exist after the kill.
void check_kill_mid_write(const std::vector<std::string>& inputs, std::vector<std::string> args, const std::string& dir,
                          const std::vector<std::string>& keep, long min_bytes) {
  std::vector<std::string> before;
  for (const std::string& p : inputs) before.push_back(read_file(p));
  args.push_back("-o");
  args.push_back(dir + "/out.gguf");
  // A fast machine may finish a write between two polls: try a few times.
  std::string tmp;
  for (int attempt = 0; attempt < 5 && tmp.empty(); ++attempt) tmp = run_and_kill(args, dir, "out.gguf", min_bytes);
  ASSERT_NE(tmp, "") << "the run finished before it could be killed (5 tries)";

  // No output; the partial temporary file is the only new entry; inputs unchanged.
  EXPECT_FALSE(test::file_exists(dir + "/out.gguf"));
  EXPECT_GE(file_size(dir + "/" + tmp), min_bytes);
  for (size_t i = 0; i < inputs.size(); ++i) EXPECT_TRUE(read_file(inputs[i]) == before[i]) << inputs[i] << " changed";
  for (const std::string& f : list_dir(dir)) {
    bool expected = f == tmp;
    for (const std::string& k : keep) expected = expected || f == k;
    EXPECT_TRUE(expected) << "unexpected leftover " << f;
  }

  // The next run succeeds and removes the dead writer's temporary file.
  const pid_t pid = spawn_cli(args);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  gguf::Reader r(dir + "/out.gguf");
  EXPECT_GT(r.tensors().size(), 0u);
  EXPECT_FALSE(test::file_exists(dir + "/" + tmp)) << "the killed writer's temporary file is still there";
  for (size_t i = 0; i < inputs.size(); ++i) EXPECT_TRUE(read_file(inputs[i]) == before[i]) << inputs[i] << " changed";
}

TEST(AtomicOutput, ConvertKilledMidWriteLeavesNoOutput) {
  test::TempDir dir;
  const std::string bin = dir.file("model.bin"), tok = dir.file("tok.bin");
  write_synthetic_llama2c(bin, tok);
  check_kill_mid_write({bin, tok}, {"convert", bin, "--vocab", tok}, dir.path(), {"model.bin", "tok.bin"}, 1 << 20);
}

TEST(AtomicOutput, QuantizeKilledMidWriteLeavesNoOutput) {
  test::TempDir dir;
  const std::string bin = dir.file("model.bin"), tok = dir.file("tok.bin");
  write_synthetic_llama2c(bin, tok);
  // Round-to-nearest 4-bit: the quantization runs inside the write, tensor by
  // tensor (~6 MB of output), so the kill lands between tensors or inside one.
  // The threshold is past the header and the f32 token embedding (1 MiB).
  check_kill_mid_write({bin, tok}, {"quantize", "-m", bin, "--vocab", tok, "--method", "rtn", "--embd-type", "f32", "-t", "1"},
                       dir.path(), {"model.bin", "tok.bin"}, (1 << 20) + 4096);
}

TEST(AtomicOutput, HouseLlamaConvertKilledMidWrite) {
  const std::string src = test::shared_dir() + "/data/models/house-llama";
  if (!test::file_exists(src + "/config.json")) {
    GTEST_SKIP() << "../shared house-llama missing";
  }
  test::TempDir dir;
  // The input is read-only shared data; its bytes are compared all the same.
  check_kill_mid_write({src + "/model-00001-of-00002.safetensors", src + "/config.json", src + "/tokenizer.json"},
                       {"convert", src, "--outtype", "f32"}, dir.path(), {}, 1 << 20);
}

TEST(AtomicOutput, ProducerFailureRemovesTheTemporaryFile) {
  test::TempDir dir;
  const std::string out = dir.file("x.gguf");
  gguf::Writer w;
  const int64_t ne[1] = {1024};
  w.add_tensor("a", Type::F32, 1, ne, [](void* dst, size_t n) { std::memset(dst, 0, n); });
  w.add_tensor("b", Type::F32, 1, ne, [](void*, size_t) { throw Error("producer failed"); });
  EXPECT_THROW(w.write(out), Error);
  EXPECT_TRUE(list_dir(dir.path()).empty()) << "left: " << list_dir(dir.path()).front();
}

// A pid that is certainly not running: a child that has exited and been reaped.
long dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return static_cast<long>(pid);
}

TEST(AtomicOutput, OnlyDeadWritersTemporaryFilesAreRemoved) {
  test::TempDir dir;
  const std::string dead = std::to_string(dead_pid()), live = std::to_string(static_cast<long>(::getpid()));
  const std::vector<std::string> removed = {"x.gguf.tmp." + dead + ".0abc123", "x.gguf.tmp." + dead + ".f"};
  const std::vector<std::string> kept = {
      "x.gguf.tmp." + live + ".1f",        // a live writer (this process)
      "x.gguf.tmp." + dead,                // not the writer's format: no random part
      "x.gguf.tmp." + dead + ".xyz",       // not hex
      "x.gguf.tmp." + dead + ".1f.bak",    // something else
      "x.gguf.tmp.0" + dead + ".1f",       // a leading zero is never written
      "x.gguf.tmp.99999999999999999.1f",   // beyond any pid
      "y.gguf.tmp." + dead + ".1f",        // another output's
      "x.gguf",                            // the previous output itself
  };
  for (const std::string& f : removed) test::write_bytes(dir.file(f), "partial");
  for (const std::string& f : kept) test::write_bytes(dir.file(f), "keep");
  // A directory under a dead writer's name is not a file it left.
  const std::string subdir = "x.gguf.tmp." + dead + ".2f";
  ASSERT_EQ(::mkdir(dir.file(subdir).c_str(), 0700), 0);

  gguf::Writer w;
  const int64_t ne[1] = {16};
  w.add_tensor("a", Type::F32, 1, ne, [](void* dst, size_t n) { std::memset(dst, 0, n); });
  w.write(dir.file("x.gguf"));

  for (const std::string& f : removed) EXPECT_FALSE(test::file_exists(dir.file(f))) << f << " was not removed";
  for (const std::string& f : kept) EXPECT_TRUE(test::file_exists(dir.file(f))) << f << " was removed";
  EXPECT_TRUE(test::file_exists(dir.file(subdir)));
  EXPECT_EQ(gguf::Reader(dir.file("x.gguf")).tensors().size(), 1u);
  EXPECT_EQ(list_dir(dir.path()).size(), kept.size() + 1);

  // The same from a relative path (the current directory's writers).
  test::write_bytes(dir.file(removed[0]), "partial");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  ASSERT_EQ(::chdir(dir.path().c_str()), 0);
  remove_stale_temp_files("x.gguf");
  EXPECT_EQ(::chdir(cwd), 0);
  EXPECT_FALSE(test::file_exists(dir.file(removed[0])));
  EXPECT_TRUE(test::file_exists(dir.file(kept[0])));
}

}  // namespace
}  // namespace qgml
