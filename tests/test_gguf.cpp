// GGUF container: writer/reader round trips, the byte layout against the
// spec, writer argument checks, and files (AtomicFile, MappedFile).
// Hostile inputs are in test_gguf_hostile.cpp, llama.cpp's files in
// test_gguf_llamacpp.cpp.
#include <dirent.h>

#include <cmath>
#include <limits>
#include <random>

#include "gguf_test_util.h"
#include "qgml/io.h"
#include "qgml/types.h"
#include "test_util.h"

namespace qgml::test {
namespace {

using gguf::Reader;
using gguf::Value;
using gguf::ValueType;
using gguf::Writer;

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  return out;
}

// One value of every scalar type at its extremes, plus arrays of each.
std::vector<gguf::KeyValue> every_value_type() {
  std::vector<gguf::KeyValue> kv;
  kv.push_back({"t.u8", Value::u8(255)});
  kv.push_back({"t.i8", Value::i8(-128)});
  kv.push_back({"t.u16", Value::u16(65535)});
  kv.push_back({"t.i16", Value::i16(-32768)});
  kv.push_back({"t.u32", Value::u32(4294967295u)});
  kv.push_back({"t.i32", Value::i32(std::numeric_limits<int32_t>::min())});
  kv.push_back({"t.f32", Value::f32(-1.5e-7f)});
  kv.push_back({"t.f32.nan", Value::f32(std::numeric_limits<float>::quiet_NaN())});
  kv.push_back({"t.f32.inf", Value::f32(-std::numeric_limits<float>::infinity())});
  kv.push_back({"t.bool.true", Value::boolean(true)});
  kv.push_back({"t.bool.false", Value::boolean(false)});
  kv.push_back({"t.string", Value::string("hello")});
  kv.push_back({"t.string.empty", Value::string("")});
  kv.push_back({"t.string.unicode", Value::string("h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\x99")});
  kv.push_back({"t.string.nul", Value::string(std::string("a\0b", 3))});
  kv.push_back({"t.u64", Value::u64(std::numeric_limits<uint64_t>::max())});
  kv.push_back({"t.i64", Value::i64(std::numeric_limits<int64_t>::min())});
  kv.push_back({"t.f64", Value::f64(3.141592653589793)});
  kv.push_back({"t.f64.denormal", Value::f64(4.9e-324)});
  // Arrays of every element type.
  kv.push_back({"a.u8", Value::array(ValueType::U8, {Value::u8(0), Value::u8(7), Value::u8(255)})});
  kv.push_back({"a.i8", Value::array(ValueType::I8, {Value::i8(-1), Value::i8(127)})});
  kv.push_back({"a.u16", Value::array(ValueType::U16, {Value::u16(1), Value::u16(65535)})});
  kv.push_back({"a.i16", Value::array(ValueType::I16, {Value::i16(-2), Value::i16(32767)})});
  kv.push_back({"a.u32", Value::array(ValueType::U32, {Value::u32(3), Value::u32(0xdeadbeef)})});
  kv.push_back({"a.i32", Value::i32_array({-5, 0, 5, std::numeric_limits<int32_t>::max()})});
  kv.push_back({"a.f32", Value::f32_array({0.0f, -0.0f, 1e30f, -2.5f})});
  kv.push_back({"a.bool", Value::array(ValueType::BOOL, {Value::boolean(true), Value::boolean(false)})});
  kv.push_back({"a.string", Value::string_array({"", "x", "\xe2\x96\x81the", std::string(1000, 'z')})});
  kv.push_back({"a.u64", Value::array(ValueType::U64, {Value::u64(1ull << 63)})});
  kv.push_back({"a.i64", Value::array(ValueType::I64, {Value::i64(-(1ll << 62))})});
  kv.push_back({"a.f64", Value::array(ValueType::F64, {Value::f64(-1e300), Value::f64(0.1)})});
  // Empty arrays, nested arrays, arrays of empty arrays.
  kv.push_back({"a.empty.u8", Value::array(ValueType::U8, {})});
  kv.push_back({"a.empty.string", Value::array(ValueType::STRING, {})});
  kv.push_back({"a.empty.array", Value::array(ValueType::ARRAY, {})});
  kv.push_back({"a.nested", Value::array(ValueType::ARRAY, {Value::i32_array({1, 2}), Value::string_array({"a"}),
                                                           Value::array(ValueType::F64, {})})});
  Value deep = Value::u8(42);
  for (int d = 0; d < gguf::kMaxArrayDepth; ++d) deep = Value::array(deep.type, {deep, deep});
  kv.push_back({"a.deepest.allowed", deep});
  return kv;
}

TEST(GgufRoundTrip, EveryValueType) {
  TempDir dir;
  const auto kv = every_value_type();
  Writer w;
  for (const auto& e : kv) w.set(e.key, e.value);
  const std::string path = dir.file("values.gguf");
  w.write(path);

  Reader r(path);
  EXPECT_EQ(r.version(), 3u);
  EXPECT_EQ(r.alignment(), gguf::kDefaultAlignment);
  EXPECT_TRUE(r.tensors().empty());
  ASSERT_EQ(r.metadata().size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {  // insertion order is kept
    EXPECT_EQ(r.metadata()[i].key, kv[i].key);
    EXPECT_TRUE(values_equal(r.metadata()[i].value, kv[i].value))
        << kv[i].key << ": wrote " << kv[i].value.to_string() << ", read " << r.metadata()[i].value.to_string();
  }
  // No tensors: nothing follows the metadata (like llama.cpp's vocab files).
  EXPECT_EQ(r.file_size(), r.data_offset());
}

TEST(GgufRoundTrip, SetReplacesInPlace) {
  TempDir dir;
  Writer w;
  w.set("a", Value::u32(1));
  w.set("b", Value::u32(2));
  w.set("a", Value::string("again"));
  w.write(dir.file("x.gguf"));
  Reader r(dir.file("x.gguf"));
  ASSERT_EQ(r.metadata().size(), 2u);
  EXPECT_EQ(r.metadata()[0].key, "a");
  EXPECT_EQ(r.get_string("a"), "again");
  EXPECT_EQ(r.get_int("b"), 2);
}

TEST(GgufRoundTrip, TypedGetters) {
  TempDir dir;
  Writer w;
  w.set("s", Value::string("str"));
  w.set("u", Value::u32(7));
  w.set("f", Value::f32(10000.0f));
  w.set("half", Value::f32(0.5f));
  w.set("b", Value::boolean(true));
  w.set("big", Value::u64(1ull << 63));
  w.write(dir.file("g.gguf"));
  Reader r(dir.file("g.gguf"));
  EXPECT_EQ(r.get_string("s"), "str");
  EXPECT_EQ(r.get_int("u"), 7);
  EXPECT_EQ(r.get_float("u"), 7.0);
  EXPECT_EQ(r.get_int("f"), 10000);  // whole floats convert
  EXPECT_EQ(r.get_int("b"), 1);
  EXPECT_EQ(r.get_float("half"), 0.5);
  EXPECT_EQ(r.get_int("missing", -3), -3);
  EXPECT_EQ(r.get_string("missing", "d"), "d");
  EXPECT_EQ(r.find("missing"), nullptr);
  auto expect_msg = [&](auto fn, const std::string& what) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(r.path()), std::string::npos) << e.what();
    }
  };
  expect_msg([&] { r.get_string("u"); }, "key u: expected a string, found u32");
  expect_msg([&] { r.get_int("s"); }, "key s:");
  expect_msg([&] { r.get_int("half"); }, "not an integer");
  expect_msg([&] { r.get_int("big"); }, "does not fit");
  expect_msg([&] { r.get_int("nope"); }, "key nope: missing");
}

TEST(GgufValue, ToString) {
  EXPECT_EQ(Value::u32(5).to_string(), "5");
  EXPECT_EQ(Value::i8(-5).to_string(), "-5");
  EXPECT_EQ(Value::f32(1e-5f).to_string(), "1e-05");
  EXPECT_EQ(Value::f32(10000.0f).to_string(), "10000");
  EXPECT_EQ(Value::f64(0.1).to_string(), "0.1");
  EXPECT_EQ(Value::boolean(false).to_string(), "false");
  EXPECT_EQ(Value::string("a\"b\n").to_string(), "\"a\\\"b\\n\"");
  EXPECT_EQ(Value::i32_array({1, 2, 3}).to_string(), "[1, 2, 3]");
  EXPECT_EQ(Value::i32_array({1, 2, 3, 4, 5}).to_string(2), "[1, 2, ... (5 items)]");
  EXPECT_EQ(Value::array(ValueType::U8, {}).to_string(), "[]");
  EXPECT_THROW(Value::array(ValueType::U8, {Value::u32(1)}), Error);
  EXPECT_THROW(Value::string("x").as_int(), Error);
  EXPECT_THROW(Value::string("x").as_double(), Error);
}

// The exact bytes of a small file, computed by hand from gguf-spec.md.
TEST(GgufLayout, MatchesSpecByteForByte) {
  TempDir dir;
  Writer w;
  w.set("general.architecture", Value::string("llama"));
  w.set("k.arr", Value::array(ValueType::I16, {Value::i16(-2), Value::i16(3)}));
  const float data[3] = {1.0f, -2.0f, 0.5f};
  const int64_t ne[1] = {3};
  w.add_tensor("w", Type::F32, 1, ne, data);
  const int64_t ne2[2] = {2, 1};
  const uint16_t h[2] = {0x3c00, 0xc000};
  w.add_tensor("h", Type::F16, 2, ne2, h);
  w.write(dir.file("s.gguf"));

  Bytes e;
  e.header(2, 2);
  e.kv_str("general.architecture", "llama");
  e.str("k.arr").u32(9).u32(3).u64(2).uint(0xfffe, 2).uint(3, 2);
  e.tensor("w", {3}, 0, 0);
  e.tensor("h", {2, 1}, 1, 32);  // 12 bytes of "w" padded to 32
  e.pad(32);
  e.f32(1.0f).f32(-2.0f).f32(0.5f).pad(32);
  e.uint(0x3c00, 2).uint(0xc000, 2).pad(32);
  EXPECT_EQ(read_file(dir.file("s.gguf")), e.b);
}

struct Shape {
  int n_dims;
  int64_t ne[4];
};

// Every type in the traits table, odd shapes, several alignments: the reader
// must report the same shapes and the same bytes, at aligned offsets.
TEST(GgufRoundTrip, TensorsOfEveryTypeAndAlignment) {
  TempDir dir;
  std::mt19937 rng(1234);
  for (const uint32_t align : {1u, 8u, 32u, 64u, 4096u}) {
    Writer w;
    w.set("general.architecture", Value::string("test"));
    w.set_alignment(align);
    struct Expect {
      std::string name;
      Type type;
      Shape shape;
      std::vector<uint8_t> bytes;
    };
    std::vector<Expect> expect;
    for (int ti = 0; ti < kTypeCount; ++ti) {
      const Type type = static_cast<Type>(ti);
      const int64_t bs = traits(type).block_size;
      ASSERT_GT(bs, 0) << "traits row " << ti << " is empty";
      std::vector<Shape> shapes = {{1, {bs, 1, 1, 1}},          {1, {bs * 7, 1, 1, 1}},     {2, {bs * 3, 5, 1, 1}},
                                   {3, {bs, 1, 7, 1}},          {4, {bs * 2, 3, 2, 2}},     {2, {bs, 0, 1, 1}},
                                   {2, {bs * 5, 13, 1, 1}}};
      // qgml's own types may end a row in a partial (padded) block.
      const bool padded_rows = traits(type).gguf_id >= gguf::kQgmlTypeIdBase;
      if (padded_rows && bs > 1) {
        shapes.push_back({2, {bs * 2 + 5, 3, 1, 1}});
        shapes.push_back({1, {1, 1, 1, 1}});
      }
      int si = 0;
      for (const Shape& s : shapes) {
        // Independent of row_size(): blocks per row (rounded up) times bytes per block times rows.
        size_t n = static_cast<size_t>((s.ne[0] + bs - 1) / bs) * traits(type).type_size;
        for (int j = 1; j < s.n_dims; ++j) n *= static_cast<size_t>(s.ne[j]);
        Expect x{format("%s.%d", traits(type).name, si++), type, s, std::vector<uint8_t>(n)};
        for (auto& b : x.bytes) b = static_cast<uint8_t>(rng());
        expect.push_back(std::move(x));
      }
    }
    // Half in memory, half through a producer (which must get exactly nbytes).
    for (size_t i = 0; i < expect.size(); ++i) {
      const Expect& x = expect[i];
      if (i % 2 == 0) {
        w.add_tensor(x.name, x.type, x.shape.n_dims, x.shape.ne, x.bytes.data());
      } else {
        w.add_tensor(x.name, x.type, x.shape.n_dims, x.shape.ne, [&x](void* dst, size_t nbytes) {
          ASSERT_EQ(nbytes, x.bytes.size());
          std::memcpy(dst, x.bytes.data(), nbytes);
        });
      }
    }
    const std::string path = dir.file(format("t%u.gguf", align));
    w.write(path);

    Reader r(path);
    SCOPED_TRACE(format("alignment %u", align));
    EXPECT_EQ(r.alignment(), align);
    EXPECT_EQ(r.data_offset() % align, 0u);
    // general.alignment is written only when it differs from the default.
    EXPECT_EQ(r.find("general.alignment") != nullptr, align != gguf::kDefaultAlignment);
    ASSERT_EQ(r.tensors().size(), expect.size());
    for (size_t i = 0; i < expect.size(); ++i) {
      const auto& t = r.tensors()[i];
      const Expect& x = expect[i];
      EXPECT_EQ(t.name, x.name);
      EXPECT_EQ(t.type, x.type);
      EXPECT_EQ(t.n_dims, x.shape.n_dims);
      for (int j = 0; j < 4; ++j) EXPECT_EQ(t.ne[j], x.shape.ne[j]) << t.name << " dim " << j;
      EXPECT_EQ(t.nbytes, x.bytes.size()) << t.name;
      EXPECT_EQ(t.offset % align, 0u) << t.name;
      if (!x.bytes.empty()) {
        EXPECT_EQ(std::memcmp(r.tensor_data(t), x.bytes.data(), x.bytes.size()), 0) << t.name;
      }
      EXPECT_EQ(r.find_tensor(x.name), &t);
    }
    EXPECT_EQ(r.find_tensor("absent"), nullptr);

    // Re-writing what was read gives the same bytes.
    Writer w2;
    for (const auto& kv : r.metadata()) w2.set(kv.key, kv.value);
    for (const auto& t : r.tensors()) w2.add_tensor(t.name, t.type, t.n_dims, t.ne, r.tensor_data(t));
    w2.write(path + ".again");
    EXPECT_EQ(read_file(path), read_file(path + ".again"));
  }
}

TEST(GgufWriter, StreamsOneTensorAtATimeInOrder) {
  TempDir dir;
  Writer w;
  std::vector<std::string> calls;
  const int64_t ne[2] = {64, 3};
  for (const char* name : {"c", "a", "b"}) {
    w.add_tensor(name, Type::Q8_0, 2, ne, [&calls, name](void* dst, size_t n) {
      calls.push_back(name);
      EXPECT_EQ(n, 2u * 34u * 3u);
      std::memset(dst, name[0], n);
    });
  }
  EXPECT_TRUE(calls.empty());  // nothing is produced before write()
  w.write(dir.file("s.gguf"));
  EXPECT_EQ(calls, (std::vector<std::string>{"c", "a", "b"}));
  Reader r(dir.file("s.gguf"));
  EXPECT_EQ(static_cast<const uint8_t*>(r.tensor_data(*r.find_tensor("a")))[0], 'a');
}

TEST(GgufWriter, FailedWriteLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("out.gguf");
  write_bytes(path, "old contents");
  Writer w;
  const int64_t ne[1] = {4};
  w.add_tensor("ok", Type::F32, 1, ne, [](void* dst, size_t n) { std::memset(dst, 0, n); });
  w.add_tensor("bad", Type::F32, 1, ne, [](void*, size_t) { fail("producer failed"); });
  EXPECT_THROW(w.write(path), Error);
  EXPECT_EQ(read_file(path), "old contents");  // untouched
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"out.gguf"});  // no temp file left behind
}

TEST(GgufWriter, RejectsBadArguments) {
  Writer w;
  const int64_t ne[4] = {32, 2, 1, 1};
  const int64_t odd[2] = {33, 2};
  const int64_t neg[2] = {-1, 2};
  const int64_t huge[3] = {1ll << 40, 1ll << 40, 1ll << 40};
  const uint8_t data[256] = {};
  EXPECT_THROW(w.set_alignment(0), Error);
  EXPECT_THROW(w.set_alignment(48), Error);
  EXPECT_THROW(w.set("general.alignment", Value::u64(64)), Error);
  EXPECT_THROW(w.set("", Value::u8(1)), Error);
  Value bad_u8 = Value::u8(1);
  bad_u8.num.u = 300;
  EXPECT_THROW(w.set("k", bad_u8), Error);
  Value mixed = Value::i32_array({1});
  mixed.items.push_back(Value::string("x"));
  EXPECT_THROW(w.set("k", mixed), Error);
  Value too_deep = Value::u8(1);
  for (int d = 0; d <= gguf::kMaxArrayDepth; ++d) too_deep = Value::array(too_deep.type, {too_deep});
  EXPECT_THROW(w.set("k", too_deep), Error);
  EXPECT_THROW(w.add_tensor("q", Type::Q8_0, 2, odd, data), Error);  // 33 is not a multiple of 32
  EXPECT_THROW(w.add_tensor("q", Type::Q4_0, 2, odd, data), Error);
  EXPECT_THROW(w.add_tensor("n", Type::F32, 2, neg, data), Error);
  EXPECT_THROW(w.add_tensor("z", Type::F32, 0, ne, data), Error);
  EXPECT_THROW(w.add_tensor("f", Type::F32, 5, ne, data), Error);
  EXPECT_THROW(w.add_tensor("h", Type::F32, 3, huge, data), Error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'x'), Type::F32, 1, ne, data), Error);
  EXPECT_THROW(w.add_tensor("", Type::F32, 1, ne, data), Error);
  EXPECT_THROW(w.add_tensor("null", Type::F32, 1, ne, static_cast<const void*>(nullptr)), Error);
  w.add_tensor(std::string(63, 'x'), Type::F32, 1, ne, data);
  w.add_tensor("dup", Type::F32, 1, ne, data);
  EXPECT_THROW(w.add_tensor("dup", Type::F32, 1, ne, data), Error);
}

TEST(GgufWriter, DefaultAlignmentIsNotWritten) {
  TempDir dir;
  Writer w;
  w.set_alignment(64);
  w.set_alignment(32);
  w.write(dir.file("a.gguf"));
  Reader r(dir.file("a.gguf"));
  EXPECT_EQ(r.find("general.alignment"), nullptr);
  EXPECT_EQ(r.alignment(), 32u);
}

TEST(Io, AtomicFileCommitAndAbandon) {
  TempDir dir;
  const std::string path = dir.file("f.bin");
  {
    AtomicFile f(path);
    f.write("abc", 3);
    f.pad_to(8);
    EXPECT_EQ(f.offset(), 8u);
    EXPECT_FALSE(file_exists(path));  // nothing visible before commit
    f.commit();
  }
  EXPECT_EQ(read_file(path), std::string("abc\0\0\0\0\0", 8));
  {
    AtomicFile f(path);
    f.write("new", 3);
  }  // abandoned: the old file stays, the temp file goes
  EXPECT_EQ(read_file(path), std::string("abc\0\0\0\0\0", 8));
  EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"f.bin"});
  EXPECT_THROW(AtomicFile(dir.file("no/such/dir/x")), Error);
}

TEST(Io, MappedFile) {
  TempDir dir;
  write_bytes(dir.file("empty"), "");
  MappedFile e(dir.file("empty"));
  EXPECT_EQ(e.size(), 0u);
  write_bytes(dir.file("three"), "xyz");
  MappedFile m(dir.file("three"));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), 3), "xyz");
  try {
    MappedFile missing(dir.file("missing"));
    ADD_FAILURE();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find(dir.file("missing")), std::string::npos);
  }
  EXPECT_THROW(MappedFile d(dir.path()), Error);  // a directory
  EXPECT_THROW(read_file(dir.file("missing")), Error);
}

// release() only drops what can be re-read: a mapping's pages come back from
// the file, and a heap copy (use_mmap false) must keep its bytes, which
// madvise(MADV_DONTNEED) on anonymous memory would zero.
TEST(Io, MappedFileReleaseKeepsContents) {
  TempDir dir;
  std::string bytes(5 * 4096 + 123, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>('a' + i % 23);
  write_bytes(dir.file("pages"), bytes);
  for (bool use_mmap : {true, false}) {
    MappedFile m(dir.file("pages"), use_mmap);
    ASSERT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), bytes);
    m.release(m.data() + 100, 3 * 4096);          // unaligned: whole pages inside only
    m.release(m.data(), m.size());                // everything
    m.release(m.data() + 4096, 100 * 4096);       // past the end: clamped
    m.release(m.data() + m.size() - 10, 10);      // less than a page
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), bytes) << "use_mmap " << use_mmap;
  }
}

}  // namespace
}  // namespace qgml::test
