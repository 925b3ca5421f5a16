// safetensors header validation and float conversion.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "convert_test_util.h"
#include "qgml/error.h"
#include "safetensors.h"
#include "test_util.h"

using qgml::Error;
using qgml::safetensors::Dtype;
using qgml::safetensors::File;
namespace t = qgml::test;

namespace {

std::string open_error(const std::string& path) {
  try {
    File f(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Writes `header` + `data` and returns the error opening it ("" if none).
std::string error_for(const t::TempDir& dir, const std::string& header, const std::string& data) {
  const std::string p = dir.file("x.safetensors");
  t::write_bytes(p, t::safetensors_file(header, data));
  return open_error(p);
}

}  // namespace

TEST(Safetensors, ReadsTensorsOfEveryFloatDtype) {
  t::TempDir dir;
  const std::vector<float> a = {1.0f, -2.5f, 3.25f, 0.0f, 65504.0f, -0.0f};
  const std::vector<float> b = {0.5f, 1.0f / 3.0f, -7.0f};
  t::write_safetensors(dir.file("m.safetensors"), {{"a.f32", "F32", {2, 3}, t::f32_bytes(a)},
                                                   {"b.f16", "F16", {3}, t::f16_bytes(b)},
                                                   {"c.bf16", "BF16", {1, 3}, t::bf16_bytes(b)},
                                                   {"d.i32", "I32", {2}, std::string(8, '\1')}});
  File f(dir.file("m.safetensors"));
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto* ta = f.find("a.f32");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, Dtype::F32);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->n_elements(), 6);
  std::vector<float> out(6);
  f.read_f32(*ta, out.data());
  EXPECT_EQ(out, a);

  std::vector<float> o3(3);
  f.read_f32(*f.find("b.f16"), o3.data());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(o3[i], qgml::fp16_to_f32(qgml::f32_to_fp16(b[i])));
  f.read_f32(*f.find("c.bf16"), o3.data());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(o3[i], qgml::bf16_to_f32(qgml::f32_to_bf16(b[i])));
  EXPECT_NE(o3[1], b[1]);  // BF16 really rounded: the test can tell the paths apart
  std::vector<float> part(2);
  f.read_f32(*ta, 3, 2, part.data());  // an element range, as row-wise readers use
  EXPECT_EQ(part, (std::vector<float>{a[3], a[4]}));
  f.release(*ta, 0, 6);  // dropping pages keeps the data readable
  f.read_f32(*ta, out.data());
  EXPECT_EQ(out, a);

  try {
    f.read_f32(*f.find("d.i32"), o3.data());
    FAIL() << "I32 converted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("d.i32"), std::string::npos) << msg;
    EXPECT_NE(msg.find("I32"), std::string::npos) << msg;
  }
  EXPECT_EQ(f.find("nope"), nullptr);
}

TEST(Safetensors, ZeroSizedAndEmptyFiles) {
  t::TempDir dir;
  t::write_safetensors(dir.file("z.safetensors"), {{"z", "F32", {0, 4}, ""}, {"s", "F32", {}, t::f32_bytes({7.0f})}});
  File f(dir.file("z.safetensors"));
  EXPECT_EQ(f.find("z")->n_elements(), 0);
  EXPECT_EQ(f.find("s")->n_elements(), 1);  // a scalar
  t::write_bytes(dir.file("e.safetensors"), t::safetensors_file("{}", ""));
  EXPECT_TRUE(File(dir.file("e.safetensors")).tensors().empty());
}

TEST(Safetensors, RejectsCorruptHeaders) {
  t::TempDir dir;
  const std::string four = t::f32_bytes({1, 2, 3, 4});
  auto expect = [&](const std::string& header, const std::string& data, const char* needle) {
    const std::string err = error_for(dir, header, data);
    EXPECT_NE(err.find(needle), std::string::npos) << "header " << header << " gave: " << err;
    EXPECT_NE(err.find(dir.file("x.safetensors")), std::string::npos) << err;
  };
  expect(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", four.substr(0, 12), "run past");
  expect(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", four, "need 12");
  expect(R"({"t":{"dtype":"Q4","shape":[4],"data_offsets":[0,16]}})", four, "unknown dtype 'Q4'");
  expect(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[8,0]}})", four, "begin <= end");
  expect(R"({"t":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", four, "non-negative");
  expect(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", four, "two integers");
  expect(R"({"t":{"dtype":"F32","data_offsets":[0,16]}})", four, "shape");
  expect(R"({"t":{"shape":[4],"data_offsets":[0,16]}})", four, "dtype");
  expect(R"({"t":[1]})", four, "not an object");
  expect(R"([1,2])", four, "not a JSON object");
  expect(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", four, "too large");
  expect(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
         four, "overlap");
  expect(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
         four, "twice");
  expect(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", four, "byte");  // JSON error with an offset
  expect(R"({"__metadata__":{"k":1}})", "", "not a string");
}

TEST(Safetensors, RejectsBadHeaderLengths) {
  t::TempDir dir;
  const std::string p = dir.file("x.safetensors");
  t::write_bytes(p, "abc");
  EXPECT_NE(open_error(p).find("too short"), std::string::npos);
  std::string huge(8, '\xff');
  t::write_bytes(p, huge + "{}");
  EXPECT_NE(open_error(p).find("limit"), std::string::npos);
  std::string len(8, '\0');
  len[0] = 100;  // claims 100 header bytes, has 2
  t::write_bytes(p, len + "{}");
  EXPECT_NE(open_error(p).find("past the end"), std::string::npos);
  EXPECT_NE(open_error(dir.file("missing.safetensors")), "");
}

TEST(Safetensors, EveryTruncationOfARealHeaderIsAnError) {
  t::TempDir dir;
  std::vector<t::StEntry> entries = {{"a", "F32", {2, 2}, t::f32_bytes({1, 2, 3, 4})}, {"b", "BF16", {3}, t::bf16_bytes({1, 2, 3})}};
  const std::string header = t::safetensors_header(entries);
  const std::string data = entries[0].data + entries[1].data;
  const std::string full = t::safetensors_file(header, data);
  const std::string p = dir.file("x.safetensors");
  for (size_t n = 0; n < full.size(); ++n) {
    t::write_bytes(p, full.substr(0, n));
    EXPECT_NE(open_error(p), "") << "truncated to " << n << " bytes";
  }
  t::write_bytes(p, full);
  EXPECT_EQ(open_error(p), "");
}

TEST(Safetensors, RealShardedCheckpoint) {
  QGML_REQUIRE_SHARED(path, "data/models/house-llama/model-00001-of-00002.safetensors");
  File f(path);
  const auto* e = f.find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dtype, Dtype::BF16);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{8192, 256}));
  std::vector<float> v(static_cast<size_t>(e->n_elements()));
  f.read_f32(*e, v.data());
  double sum_sq = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    sum_sq += double(x) * x;
  }
  EXPECT_GT(sum_sq, 0.0);
}
