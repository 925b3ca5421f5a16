// The JSON reader behind config.json, tokenizer.json and safetensors headers.
#include <gtest/gtest.h>

#include <string>

#include "json.h"
#include "qgml/error.h"
#include "test_util.h"

using qgml::Error;
using qgml::json::parse;
using qgml::json::Value;

static std::string error_of(const std::string& text) {
  try {
    parse(text, "doc.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Json, ParsesNestedDocument) {
  const Value v = parse(R"( {"a": [1, -2.5e1, true, false, null, "x"], "b": {"c": {}}, "d": [] } )", "t");
  ASSERT_TRUE(v.is_object());
  const Value* a = v.find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items().size(), 6u);
  EXPECT_TRUE(a->items()[0].is_int());
  EXPECT_EQ(a->items()[0].as_int(), 1);
  EXPECT_FALSE(a->items()[1].is_int());
  EXPECT_DOUBLE_EQ(a->items()[1].as_double(), -25.0);
  EXPECT_TRUE(a->items()[2].as_bool());
  EXPECT_FALSE(a->items()[3].as_bool());
  EXPECT_TRUE(a->items()[4].is_null());
  EXPECT_EQ(a->items()[5].as_string(), "x");
  EXPECT_TRUE(v.find("b")->find("c")->is_object());
  EXPECT_TRUE(v.find("b")->find("c")->members().empty());
  EXPECT_TRUE(v.find("d")->items().empty());
  EXPECT_EQ(v.find("zzz"), nullptr);
  // get() treats null as absent; find() does not.
  const Value n = parse(R"({"k": null})", "t");
  EXPECT_NE(n.find("k"), nullptr);
  EXPECT_EQ(n.get("k"), nullptr);
}

TEST(Json, KeepsMemberOrderAndLastDuplicateWins) {
  const Value v = parse(R"({"z": 1, "a": 2, "z": 3})", "t");
  ASSERT_EQ(v.members().size(), 3u);
  EXPECT_EQ(v.members()[0].first, "z");
  EXPECT_EQ(v.members()[1].first, "a");
  EXPECT_EQ(v.find("z")->as_int(), 3);
}

TEST(Json, StringEscapes) {
  const Value v = parse(R"(["a\"b\\c\/d\b\f\n\r\t", "\u0041\u00e9\u20ac", "\ud83d\ude00", "\u0000x"])", "t");
  EXPECT_EQ(v.items()[0].as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(v.items()[1].as_string(), "A\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(v.items()[2].as_string(), "\xf0\x9f\x98\x80");  // U+1F600 from a surrogate pair
  EXPECT_EQ(v.items()[3].as_string(), std::string("\0x", 2));
  // Raw UTF-8 passes through untouched.
  EXPECT_EQ(parse("\"\xe2\x96\x81the\"", "t").as_string(), "\xe2\x96\x81the");
}

TEST(Json, Numbers) {
  EXPECT_EQ(parse("9223372036854775807", "t").as_int(), INT64_MAX);
  EXPECT_EQ(parse("-9223372036854775808", "t").as_int(), INT64_MIN);
  // Too big for int64: still a number, no longer an integer.
  const Value big = parse("9223372036854775808", "t");
  EXPECT_FALSE(big.is_int());
  EXPECT_THROW(big.as_int(), Error);
  EXPECT_EQ(parse("1e3", "t").as_int(), 1000);
  EXPECT_THROW(parse("1.5", "t").as_int(), Error);
  EXPECT_DOUBLE_EQ(parse("1e-05", "t").as_double(), 1e-5);
  EXPECT_DOUBLE_EQ(parse("-0.0", "t").as_double(), 0.0);
  EXPECT_EQ(parse("1e-400", "t").as_double(), 0.0);
  EXPECT_NE(error_of("1e400").find("out of range"), std::string::npos);
  for (const char* bad : {"01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity", "1.e5"}) {
    EXPECT_NE(error_of(bad), "") << bad;
  }
}

TEST(Json, ErrorsNameSourceAndByteOffset) {
  EXPECT_EQ(error_of(R"({"a": 1,})"), "doc.json: byte 8: expected a string key");
  EXPECT_EQ(error_of(R"([1 2])"), "doc.json: byte 3: expected ',' or ']' in an array");
  EXPECT_EQ(error_of(R"({"a" 1})"), "doc.json: byte 5: expected ':' after an object key");
  EXPECT_EQ(error_of("[1] x"), "doc.json: byte 4: unexpected text after the JSON value");
  EXPECT_EQ(error_of(""), "doc.json: byte 0: unexpected end of input, expected a value");
  EXPECT_NE(error_of("\"a\nb\"").find("control character"), std::string::npos);
  EXPECT_NE(error_of(R"("\x")").find("invalid escape"), std::string::npos);
  EXPECT_NE(error_of(R"("\u12G4")").find("invalid hex digit"), std::string::npos);
  EXPECT_NE(error_of(R"("\ud83d")").find("surrogate"), std::string::npos);
  EXPECT_NE(error_of(R"("\ud83d\u0041")").find("surrogate"), std::string::npos);
  EXPECT_NE(error_of(R"("\ude00")").find("surrogate"), std::string::npos);
  EXPECT_NE(error_of("tru").find("invalid literal"), std::string::npos);
  EXPECT_NE(error_of("// comment\n{}").find("byte 0"), std::string::npos);
}

TEST(Json, DepthLimit) {
  const int limit = qgml::json::kMaxDepth;
  std::string ok(limit, '['), deep(limit + 2, '[');
  ok += std::string(limit, ']');
  deep += std::string(limit + 2, ']');
  EXPECT_NO_THROW(parse(ok, "t"));
  EXPECT_NE(error_of(deep).find("nesting deeper"), std::string::npos);
  // Far deeper than the stack would take without the limit.
  EXPECT_NE(error_of(std::string(1 << 20, '[')).find("nesting deeper"), std::string::npos);
}

TEST(Json, EveryTruncationIsAnErrorNotACrash) {
  const std::string doc = R"({"model": {"vocab": {"a\u00e9": 1, "\ud83d\ude00": 2}, "merges": [["a", "b"], "c d"]},
                              "x": [1.5e-3, -7, true, null, {"y": false}]})";
  ASSERT_NO_THROW(parse(doc, "t"));
  for (size_t n = 0; n < doc.size(); ++n) {
    const std::string prefix = doc.substr(0, n);
    if (prefix.find_first_not_of(" \n") == std::string::npos && n > 0) continue;
    EXPECT_THROW(parse(prefix, "t"), Error) << "prefix of " << n << " bytes";
  }
}

TEST(Json, AccessorKindErrors) {
  const Value v = parse(R"({"s": "x", "n": 1})", "t");
  EXPECT_THROW(v.find("s")->as_int(), Error);
  EXPECT_THROW(v.find("n")->as_string(), Error);
  EXPECT_THROW(v.items(), Error);
  EXPECT_THROW(v.find("n")->as_bool(), Error);
}

TEST(Json, ParseFileNamesThePath) {
  qgml::test::TempDir dir;
  const std::string p = dir.file("bad.json");
  FILE* f = std::fopen(p.c_str(), "wb");
  std::fputs("{\"a\": [1, 2", f);
  std::fclose(f);
  try {
    qgml::json::parse_file(p);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p + ": byte 11:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(qgml::json::parse_file(dir.file("missing.json")), Error);
}

TEST(Json, RealTokenizerJson) {
  QGML_REQUIRE_SHARED(path, "data/models/house-llama/tokenizer.json");
  const Value v = qgml::json::parse_file(path);
  EXPECT_EQ(v.find("model")->find("vocab")->members().size(), 8192u);
  EXPECT_EQ(v.find("model")->find("merges")->items().size(), 7934u);
}
