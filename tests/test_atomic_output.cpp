// Outputs appear atomically: `qgml convert` killed with SIGKILL in the middle
// of writing leaves no output file (only its temporary file, OUT.tmp.PID.XXX,
// which nothing reads), the input untouched, and the next run succeeds beside
// the stale temporary file. Also the in-process failure path: an exception
// while producing tensor data removes the temporary file.
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

pid_t spawn_convert(const std::vector<std::string>& args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string cli = test::cli_path();
    argv.push_back(cli.data());
    std::string convert = "convert";
    argv.push_back(convert.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(cli.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Runs `qgml convert ARGS`, and SIGKILLs it once its temporary file beside
// `out` has at least `min_bytes`. Returns the temporary file's name ("" when
// the run ended before it could be killed).
std::string convert_and_kill(const std::vector<std::string>& args, const std::string& dir, const std::string& out_name,
                             long min_bytes) {
  const pid_t pid = spawn_convert(args);
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

void check_kill_mid_write(const std::vector<std::string>& inputs, std::vector<std::string> args, const std::string& dir) {
  std::vector<std::string> before;
  for (const std::string& p : inputs) before.push_back(read_file(p));
  args.push_back("-o");
  args.push_back(dir + "/out.gguf");
  const std::string tmp = convert_and_kill(args, dir, "out.gguf", 1 << 20);
  ASSERT_NE(tmp, "") << "the conversion finished before it could be killed";

  // No output; the partial temporary file is the only new entry; inputs unchanged.
  EXPECT_FALSE(test::file_exists(dir + "/out.gguf"));
  EXPECT_GE(file_size(dir + "/" + tmp), 1 << 20);
  for (size_t i = 0; i < inputs.size(); ++i) EXPECT_TRUE(read_file(inputs[i]) == before[i]) << inputs[i] << " changed";
  std::vector<std::string> left = list_dir(dir);
  for (const std::string& f : left) {
    const bool expected = f == tmp || f == "in" || f == "model.bin" || f == "tok.bin";
    EXPECT_TRUE(expected) << "unexpected leftover " << f;
  }

  // The next run ignores the stale temporary file (distinct name) and succeeds.
  const pid_t pid = spawn_convert(args);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  gguf::Reader r(dir + "/out.gguf");
  EXPECT_GT(r.tensors().size(), 0u);
  EXPECT_TRUE(test::file_exists(dir + "/" + tmp)) << "documented: a stale temporary file is left for the user";
}

TEST(AtomicOutput, ConvertKilledMidWriteLeavesNoOutput) {
  test::TempDir dir;
  const std::string bin = dir.file("model.bin"), tok = dir.file("tok.bin");
  write_synthetic_llama2c(bin, tok);
  check_kill_mid_write({bin, tok}, {bin, "--vocab", tok}, dir.path());
}

TEST(AtomicOutput, HouseLlamaConvertKilledMidWrite) {
  const std::string src = test::shared_dir() + "/data/models/house-llama";
  if (!test::file_exists(src + "/config.json")) {
    GTEST_SKIP() << "../shared house-llama missing";
  }
  test::TempDir dir;
  // The input is read-only shared data; its bytes are compared all the same.
  check_kill_mid_write({src + "/model-00001-of-00002.safetensors", src + "/config.json", src + "/tokenizer.json"},
                       {src, "--outtype", "f32"}, dir.path());
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

}  // namespace
}  // namespace qgml
