// GGUF reader against hand-made malformed and hostile files: each must fail
// fast with a qgml::Error naming the file, the offset and the problem —
// never crash, hang or allocate what the header claims. (Under ASan a giant
// allocation aborts the test, so "no giant allocation" is checked too.)
#include "gguf_test_util.h"
#include "qgml/types.h"
#include "test_util.h"

namespace qgml::test {
namespace {

class Hostile : public ::testing::Test {
 protected:
  // Writes `bytes` and expects the reader to reject them mentioning `what`.
  void expect_error(const Bytes& bytes, const std::string& what) {
    const std::string path = dir_.file(format("h%d.gguf", n_++));
    write_bytes(path, bytes.b);
    expect_reader_error(path, what);
  }
  std::string write(const Bytes& bytes) {
    const std::string path = dir_.file(format("ok%d.gguf", n_++));
    write_bytes(path, bytes.b);
    return path;
  }
  TempDir dir_;
  int n_ = 0;
};

// A valid file with one F32 tensor [8, 2] at offset 0, as a baseline for the
// single-field corruptions below.
Bytes valid_file() {
  Bytes b;
  b.header(1, 1).kv_str("general.architecture", "x");
  b.tensor("t", {8, 2}, 0, 0).pad(32).zeros(64);
  return b;
}

TEST_F(Hostile, BaselineLoads) {
  gguf::Reader r(write(valid_file()));
  ASSERT_EQ(r.tensors().size(), 1u);
  EXPECT_EQ(r.tensors()[0].nbytes, 64u);
}

TEST_F(Hostile, TooSmallAndBadMagic) {
  expect_error(Bytes(), "too small");
  expect_error(Bytes().raw("GGU"), "too small");
  expect_error(Bytes().raw("GGML").u32(3).u64(0).u64(0), "not a GGUF file");
  expect_error(Bytes().raw("FUGG").u32(3).u64(0).u64(0), "big-endian");
  expect_error(Bytes().raw("GGUF"), "truncated");
  expect_error(Bytes().raw("GGUF").u32(3).u32(0), "truncated");
}

TEST_F(Hostile, Versions) {
  expect_error(Bytes().header(0, 0, 1), "version 1");
  expect_error(Bytes().header(0, 0, 4), "unsupported GGUF version 4");
  expect_error(Bytes().header(0, 0, 0), "unsupported GGUF version 0");
  // A big-endian writer stores the version as 00 00 00 03.
  expect_error(Bytes().header(0, 0, 0x03000000), "big-endian");
  EXPECT_NO_THROW(gguf::Reader(write(Bytes().header(0, 0, 2))));
  EXPECT_NO_THROW(gguf::Reader(write(Bytes().header(0, 0, 3))));
}

TEST_F(Hostile, HugeCounts) {
  expect_error(Bytes().header(uint64_t{1} << 60, 0), "tensor count 1152921504606846976 exceeds the limit");
  expect_error(Bytes().header(0, uint64_t{1} << 60), "metadata count 1152921504606846976 exceeds the limit");
  expect_error(Bytes().header(gguf::kMaxTensors, 0).zeros(100), "cannot fit");
  expect_error(Bytes().header(0, gguf::kMaxKeys).zeros(100), "cannot fit");
  expect_error(Bytes().header(~uint64_t{0}, ~uint64_t{0}), "exceeds the limit");
}

TEST_F(Hostile, HugeStrings) {
  expect_error(Bytes().header(0, 1).u64(uint64_t{1} << 62).raw("k").zeros(20), "key length 4611686018427387904 exceeds");
  expect_error(Bytes().header(0, 1).u64(1000).raw("k").zeros(20), "truncated: key needs 1000 bytes");
  expect_error(Bytes().header(0, 1).str("k").u32(8).u64(uint64_t{1} << 40).zeros(20), "string length 1099511627776");
  expect_error(Bytes().header(0, 1).str("k").u32(8).u64(gguf::kMaxStringLength).zeros(20), "truncated");
  expect_error(Bytes().header(1, 0).u64(uint64_t{1} << 62).zeros(40), "tensor name length");
  expect_error(Bytes().header(1, 0).str(std::string(64, 'n')).zeros(40), "tensor name length 64 exceeds the limit of 63");
}

TEST_F(Hostile, HugeArrays) {
  // 2^60 u8 items claimed, a few bytes present.
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(0).u64(uint64_t{1} << 60).zeros(16), "cannot fit");
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(8).u64(~uint64_t{0}).zeros(16), "cannot fit");
  // Plausible for the bytes, but over the total-values budget.
  const uint64_t n = gguf::kMaxMetadataValues + 1;
  Bytes b;
  b.header(0, 1).str("k").u32(9).u32(0).u64(n).zeros(static_cast<size_t>(n));
  expect_error(b, "exceeds the limit");
  // Even empty arrays take 12 bytes each: a count the bytes cannot hold fails first.
  Bytes e;
  e.header(0, 1).str("k").u32(9).u32(9).u64(3);
  for (int i = 0; i < 2; ++i) e.u32(0).u64(0);
  expect_error(e, "array of 3 array items cannot fit");
}

TEST_F(Hostile, NestingDepth) {
  auto nested = [](int levels) {
    Bytes b;
    b.header(0, 1).str("k").u32(9);
    for (int i = 1; i < levels; ++i) b.u32(9).u64(1);  // array of 1 array ...
    return b.u32(0).u64(1).u8(7);                       // ... of one u8
  };
  EXPECT_NO_THROW(gguf::Reader(write(nested(gguf::kMaxArrayDepth))));
  expect_error(nested(gguf::kMaxArrayDepth + 1), "nested deeper than 8");
  expect_error(nested(100000), "nested deeper");  // would overflow the stack if unchecked
}

TEST_F(Hostile, BadValues) {
  expect_error(Bytes().header(0, 1).str("k").u32(13).u32(0), "unknown type of key 'k' 13");
  expect_error(Bytes().header(0, 1).str("k").u32(0xffffffff).u32(0), "unknown type of key 'k'");
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(77).u64(0), "unknown array element type 77");
  expect_error(Bytes().header(0, 1).str("k").u32(7).u8(2), "bool value 2");
  expect_error(Bytes().header(0, 1).str("").u32(4).u32(0), "empty metadata key");
  expect_error(Bytes().header(0, 2).kv_u32("k", 1).kv_u32("k", 2), "duplicate metadata key 'k'");
  expect_error(Bytes().header(0, 1).str("k").u32(6).raw("ab"), "truncated: f32 value");
}

TEST_F(Hostile, BadAlignment) {
  expect_error(Bytes().header(0, 1).kv_u32("general.alignment", 0), "general.alignment 0 is not a power of two");
  expect_error(Bytes().header(0, 1).kv_u32("general.alignment", 48), "not a power of two");
  expect_error(Bytes().header(0, 1).str("general.alignment").u32(10).u64(64), "must be a u32, found u64");
  // A valid but huge alignment puts the data section past the end of the file.
  Bytes b;
  b.header(1, 1).kv_u32("general.alignment", 0x80000000u).tensor("t", {1}, 0, 0).zeros(4);
  expect_error(b, "past the end of the file");
  Bytes ok;
  ok.header(1, 1).kv_u32("general.alignment", 8).tensor("t", {2}, 0, 0).pad(8).zeros(8);
  gguf::Reader r(write(ok));
  EXPECT_EQ(r.alignment(), 8u);
  EXPECT_EQ(r.data_offset() % 8, 0u);
}

TEST_F(Hostile, BadTensorInfos) {
  auto one = [](const std::string& name, std::initializer_list<int64_t> ne, uint32_t type, uint64_t offset,
                size_t data = 64) {
    Bytes b;
    b.header(1, 0).tensor(name, ne, type, offset).pad(32).zeros(data);
    return b;
  };
  expect_error(one("t", {8}, 0, 4), "tensor 't': data offset 4 is not a multiple of the alignment 32");
  expect_error(one("t", {8}, 0, 64), "extends past the end of the file");
  expect_error(one("t", {17}, 0, 0), "extends past the end of the file");     // 68 bytes > 64
  expect_error(one("t", {8}, 0, ~uint64_t{0} - 31), "extends past the end");  // aligned, but wraps
  expect_error(one("t", {8}, 0, uint64_t{1} << 63), "extends past the end");  // offset + size would wrap
  expect_error(one("t", {int64_t{1} << 32, int64_t{1} << 32}, 0, 0), "element count overflows");
  expect_error(one("t", {int64_t{1} << 62, 2}, 0, 0), "element count overflows");
  expect_error(one("t", {int64_t{1} << 62}, 0, 0), "byte size overflows");   // 2^62 floats = 2^64 bytes
  expect_error(one("t", {-8}, 0, 0), "ne[0] = -8 is negative");
  expect_error(one("t", {8, -1}, 0, 0), "ne[1] = -1 is negative");
  expect_error(one("", {8}, 0, 0), "empty name");
  expect_error(one("t", {40}, 8, 0), "ne[0] = 40 is not a multiple of the q8_0 block size 32");
  expect_error(one("blk.0.attn_q.weight", {256}, 16, 0), "tensor 'blk.0.attn_q.weight': type id 16 (llama.cpp iq2_xxs)");
  expect_error(one("t", {8}, 1000, 0), "tensor 't': unknown type id 1000");
  expect_error(one("t", {8}, 0x51470fff, 0), "unknown type id 1363611647");

  Bytes zero_dims;
  zero_dims.header(1, 0).str("t").u32(0).u32(0).u64(0).zeros(40).pad(32);
  expect_error(zero_dims, "n_dims 0 (must be 1..4)");
  Bytes five_dims;
  five_dims.header(1, 0).str("t").u32(5).zeros(60);
  expect_error(five_dims, "n_dims 5");

  Bytes dup;
  dup.header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad(32).zeros(64);
  expect_error(dup, "duplicate tensor name 't'");

  // Zero-sized dimensions are legal (llama.cpp allows them): no data.
  gguf::Reader r(write(one("e", {0, 5}, 0, 0, 0)));
  EXPECT_EQ(r.tensors()[0].nbytes, 0u);
}

// qgml's own block types may end a row in a padded partial block; the
// reader sizes such a tensor by whole blocks (ceil), checked by hand here.
TEST_F(Hostile, QgmlTypesPadPartialBlocks) {
  for (int ti = 0; ti < kTypeCount; ++ti) {
    const TypeTraits& tr = traits(static_cast<Type>(ti));
    if (tr.gguf_id < gguf::kQgmlTypeIdBase || tr.block_size < 2) continue;
    const int64_t ne0 = tr.block_size + 1;  // two blocks per row, the second partial
    const size_t nbytes = 2 * tr.type_size * 3;
    Bytes b;
    b.header(1, 0).tensor("q", {ne0, 3}, tr.gguf_id, 0).pad(32).zeros(nbytes);
    gguf::Reader r(write(b));
    EXPECT_EQ(r.tensors()[0].nbytes, nbytes) << tr.name;
    Bytes short_by_one;
    short_by_one.header(1, 0).tensor("q", {ne0, 3}, tr.gguf_id, 0).pad(32).zeros(nbytes - 1);
    expect_error(short_by_one, "extends past the end");
  }
}

TEST_F(Hostile, TensorDataOfACopiedInfoIsRechecked) {
  gguf::Reader r(write(valid_file()));
  gguf::TensorInfo t = r.tensors()[0];
  t.nbytes = 1 << 20;
  EXPECT_THROW(r.tensor_data(t), Error);
}

}  // namespace
}  // namespace qgml::test
