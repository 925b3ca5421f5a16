// The benchmark command (host only: it runs the CLI, which the NEON
// cross-build under qemu does not). Its figures are benchmarks, never checked
// here; this only shows that it runs on a tiny in-cache set and reports what
// the issue notes quote.
#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace qgml {
namespace {

// bench --kernels reports both read loops and every requested type; an
// unknown type is an error.
TEST(BenchCli, KernelsRunsAndReportsBothReadLoops) {
  const test::CliResult r =
      test::run_cli("bench --kernels --type gptq4_g128 --type q4_0 -t 1 --mb 1 --seconds 0.01 --batch 4");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("plain read loop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("interleaved streams per thread"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ngptq4_g128 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nq4_0 "), std::string::npos) << r.out;
  EXPECT_NE(test::run_cli("bench --kernels --type no_such_type --mb 1 2>/dev/null").exit_code, 0);
}

}  // namespace
}  // namespace qgml
