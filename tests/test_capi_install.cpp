// The installed package, as a user gets it: `cmake --install` of this build
// into a temporary prefix, then examples/embed built out of tree against it
// with find_package(qgml) (shared and static) and with pkg-config, and every
// binary run on the committed stories260K model. The library is the one this
// build made: nothing of qgml is compiled again here.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "test_util.h"

namespace {

using qgml::test::TempDir;
using qgml::test::file_exists;

std::string model_path() { return qgml::test::source_dir() + "/models/stories260K/stories260K.gguf"; }

struct Shell {
  int exit_code = -1;
  std::string out;  // stdout and stderr together when the command says 2>&1
};

Shell sh(const std::string& cmd) {
  Shell r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

class CApiInstall : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prefix_ = new TempDir();
    const Shell r = sh("cmake --install " + q(QGML_BINARY_DIR) + " --prefix " + q(prefix_->path()) + " 2>&1");
    install_ok_ = r.exit_code == 0;
    install_log_ = r.out;
  }
  static void TearDownTestSuite() {
    delete prefix_;
    prefix_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(install_ok_) << install_log_; }

  static std::string prefix() { return prefix_->path(); }
  static std::string libdir() { return prefix() + "/" + QGML_INSTALL_LIBDIR; }

  // What `qgml run --temp 0` prints for the same request: the reference.
  static std::string expected(const std::string& prompt, int n) {
    const Shell r = sh(q(prefix() + "/bin/qgml") + " run -m " + q(model_path()) + " --temp 0 -t 1 -n " +
                     std::to_string(n) + " -p " + q(prompt) + " 2>/dev/null");
    EXPECT_EQ(r.exit_code, 0);
    return r.out;
  }

  static TempDir* prefix_;
  static bool install_ok_;
  static std::string install_log_;
};

TempDir* CApiInstall::prefix_ = nullptr;
bool CApiInstall::install_ok_ = false;
std::string CApiInstall::install_log_;

TEST_F(CApiInstall, InstallsHeadersLibrariesToolAndPackageFiles) {
  const std::string lib = QGML_INSTALL_LIBDIR;
  for (const std::string& rel :
       {std::string("include/qgml.h"), std::string("bin/qgml"), lib + "/libqgml.so", lib + "/libqgml.so.0",
        lib + "/libqgml.so." + QGML_PROJECT_VERSION, lib + "/libqgml.a", lib + "/cmake/qgml/qgmlConfig.cmake",
        lib + "/cmake/qgml/qgmlConfigVersion.cmake", lib + "/cmake/qgml/qgmlTargets.cmake",
        lib + "/pkgconfig/qgml.pc"})
    EXPECT_TRUE(file_exists(prefix() + "/" + rel)) << rel;
  // No internal header leaks into the installed include directory.
  EXPECT_FALSE(file_exists(prefix() + "/include/qgml/model.h"));
}

TEST_F(CApiInstall, SharedLibraryExportsOnlyTheCApi) {
  const Shell soname = sh("objdump -p " + q(libdir() + "/libqgml.so.0") + " | grep SONAME");
  EXPECT_NE(soname.out.find("libqgml.so.0"), std::string::npos) << soname.out;
  const Shell all = sh("nm -D --defined-only " + q(libdir() + "/libqgml.so") + " | awk '$2 != \"A\"' | wc -l");
  const Shell api = sh("nm -D --defined-only " + q(libdir() + "/libqgml.so") + " | awk '$2 != \"A\"' | grep -c ' qg_'");
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_GT(std::stoi(api.out), 30);
  EXPECT_EQ(std::stoi(all.out), std::stoi(api.out)) << sh("nm -DC --defined-only " + q(libdir() + "/libqgml.so")).out;
}

TEST_F(CApiInstall, PkgConfigFileIsRelocatable) {
  const std::string env = "PKG_CONFIG_PATH=" + q(libdir() + "/pkgconfig") + " ";
  const Shell version = sh(env + "pkg-config --modversion qgml");
  EXPECT_EQ(version.out, std::string(QGML_PROJECT_VERSION) + "\n");
  // The prefix is computed from the .pc file's own place, not from the configured one.
  const Shell cflags = sh(env + "pkg-config --cflags qgml");
  EXPECT_NE(cflags.out.find(prefix()), std::string::npos) << cflags.out;
}

TEST_F(CApiInstall, ExampleBuiltWithFindPackageRuns) {
  TempDir work;
  const std::string src = qgml::test::source_dir() + "/examples/embed";
  const std::string flags = QGML_SANITIZE_FLAGS;
  for (const bool static_link : {false, true}) {
    const std::string bdir = work.file(static_link ? "build-static" : "build-shared");
    const Shell conf = sh("cmake -S " + q(src) + " -B " + q(bdir) + " -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=" +
                        q(prefix()) + " -DCMAKE_C_COMPILER=" + q(QGML_C_COMPILER) + " -DEMBED_STATIC=" +
                        (static_link ? "ON" : "OFF") + " -DCMAKE_C_FLAGS=" + q(flags) +
                        " -DCMAKE_EXE_LINKER_FLAGS=" + q(flags) + " 2>&1");
    ASSERT_EQ(conf.exit_code, 0) << conf.out;
    const Shell build = sh("cmake --build " + q(bdir) + " 2>&1");
    ASSERT_EQ(build.exit_code, 0) << build.out;

    // The build tree's RPATH finds the installed libqgml.so: no LD_LIBRARY_PATH.
    const Shell run = sh(q(bdir + "/embed") + " -m " + q(model_path()) + " -p 'Once upon a time' -n 40 --temp 0 -t 1");
    ASSERT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.out, expected("Once upon a time", 40)) << (static_link ? "static" : "shared");
    const Shell deps = sh("ldd " + q(bdir + "/embed"));
    EXPECT_EQ(deps.out.find("libqgml.so") == std::string::npos, static_link) << deps.out;
  }
}

TEST_F(CApiInstall, ExampleBuiltWithPkgConfigRunsAndCancels) {
  TempDir work;
  const std::string src = qgml::test::source_dir() + "/examples/embed/embed.c";
  const std::string env = "PKG_CONFIG_PATH=" + q(libdir() + "/pkgconfig") + " ";
  const std::string exe = work.file("embed");
  const Shell build = sh(env + q(QGML_C_COMPILER) + " -std=c99 -Wall -Wextra -Werror " + QGML_SANITIZE_FLAGS + " " +
                       q(src) + " -o " + q(exe) + " $(" + env + "pkg-config --cflags --libs qgml) -pthread 2>&1");
  ASSERT_EQ(build.exit_code, 0) << build.out;
  const std::string run_env = "LD_LIBRARY_PATH=" + q(libdir()) + " ";

  const Shell run = sh(run_env + q(exe) + " -m " + q(model_path()) + " -p 'The cat' -n 30 --temp 0 -t 1");
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, expected("The cat", 30));

  // A timeout far shorter than the generation (the whole context, ~500 tokens): cancelled.
  const Shell cancelled = sh(run_env + q(exe) + " -m " + q(model_path()) + " -n -1 -c 512 --timeout-ms 1 -t 1 2>&1 </dev/null");
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.out;
  EXPECT_NE(cancelled.out.find("embed: cancelled after"), std::string::npos) << cancelled.out;

  const Shell bad = sh(run_env + q(exe) + " -m /no/such/model.gguf 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("QG_ERR_IO"), std::string::npos) << bad.out;
}

}  // namespace
