// Tokenizers against llama.cpp's test vectors (../shared/data/vocab-gguf) and
// round trips on real vocabularies.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/gguf.h"
#include "qgml/io.h"
#include "qgml/tokenizer.h"
#include "test_util.h"
#include "tokenizer/unicode.h"

namespace {

using qgml::Tokenizer;

const char* const kVocabDir = "data/vocab-gguf/";

std::unique_ptr<Tokenizer> load(const std::string& path) {
  qgml::gguf::Reader r(path);
  return Tokenizer::from_gguf(r);
}

// The .inp file is every test string followed by "\n__ggml_vocab_test__\n".
std::vector<std::string> read_inputs(const std::string& path) {
  const std::string all = qgml::read_file(path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < all.size()) {
    const size_t m = all.find(sep, pos);
    if (m == std::string::npos) {
      ADD_FAILURE() << path << ": text after the last separator";
      break;
    }
    out.push_back(all.substr(pos, m - pos));
    pos = m + sep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> read_expected(const std::string& path) {
  std::istringstream in(qgml::read_file(path));
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ls >> id) ids.push_back(id);
    out.push_back(ids);
  }
  return out;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, MatchesLlamaCpp) {
  const std::string name = GetParam();
  const std::string base = std::string(kVocabDir) + "ggml-vocab-" + name + ".gguf";
  QGML_REQUIRE_SHARED(model, base.c_str());
  QGML_REQUIRE_SHARED(inp, (base + ".inp").c_str());
  QGML_REQUIRE_SHARED(outp, (base + ".out").c_str());
  const auto tok = load(model);
  const auto inputs = read_inputs(inp);
  const auto expected = read_expected(outp);
  ASSERT_EQ(inputs.size(), expected.size());
  ASSERT_GT(inputs.size(), 40u);
  size_t ok = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto got = tok->encode(inputs[i], /*add_special=*/false, /*parse_special=*/false);
    if (got == expected[i]) ++ok;
    else ADD_FAILURE() << name << " string " << i << " '" << inputs[i] << "'\n  expected" << show(expected[i])
                       << "\n  got     " << show(got);
    EXPECT_EQ(tok->decode(got), inputs[i]) << name << " string " << i;
  }
  std::printf("[ %-14s ] %zu/%zu strings match llama.cpp\n", name.c_str(), ok, inputs.size());
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, VocabVectors,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "mpt", "falcon", "starcoder", "refact",
                                           "deepseek-llm", "deepseek-coder"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// The vocabularies without test vectors must still load and round-trip.
class VocabRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabRoundTrip, DecodeInvertsEncode) {
  const std::string name = GetParam();
  const std::string base = std::string(kVocabDir) + "ggml-vocab-" + name + ".gguf";
  QGML_REQUIRE_SHARED(model, base.c_str());
  QGML_REQUIRE_SHARED(inp, (std::string(kVocabDir) + "ggml-vocab-gpt-2.gguf.inp").c_str());
  const auto tok = load(model);
  for (const std::string& s : read_inputs(inp)) {
    const auto ids = tok->encode(s, true, false);
    EXPECT_EQ(tok->decode(ids), s) << name;
    for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < tok->n_vocab());
  }
}

INSTANTIATE_TEST_SUITE_P(AllVocabs, VocabRoundTrip,
                         ::testing::Values("llama-spm", "phi-3", "baichuan", "gpt-2", "gpt-neox", "mpt", "falcon",
                                           "starcoder", "refact", "deepseek-llm", "deepseek-coder"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

// Which bytes a vocabulary can spell unambiguously. Byte-level vocabularies
// trained on text may lack symbols for bytes that never or rarely occur in
// UTF-8 (C0, C1, F1, F5..FF in StarCoder...) or reuse them as user-defined
// tokens (DeepSeek); such bytes cannot round-trip there.
std::vector<bool> spellable_bytes(const Tokenizer& tok) {
  std::vector<bool> ok(256);
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    const int32_t id = tok.find_token(tok.is_byte_level() ? qgml::tok::byte_to_symbol(uint8_t(b)) : hex);
    const auto want = tok.is_byte_level() ? qgml::TokenType::Normal : qgml::TokenType::Byte;
    ok[size_t(b)] = id >= 0 && tok.token_type(id) == want;
  }
  return ok;
}

std::string random_bytes(std::mt19937& rng, size_t n, const std::vector<bool>* allowed) {
  std::string s(n, '\0');
  std::uniform_int_distribution<int> byte(0, 255), kind(0, 3);
  for (char& c : s) {
    const int k = kind(rng);
    // Mix plain ASCII, spaces and arbitrary bytes so words and merges happen too.
    int b = k == 0 ? ' ' : k == 1 ? 'a' + byte(rng) % 26 : byte(rng);
    while (allowed && !(*allowed)[size_t(b)]) b = byte(rng);
    c = char(b);
  }
  return s;
}

// Random bytes (mostly invalid UTF-8): never a crash, ids in range, and exact
// round trips of every string made of bytes the vocabulary can spell.
TEST(Tokenizer, RandomBytesRoundTrip) {
  std::mt19937 rng(1234);
  for (const char* name : {"gpt-2", "llama-spm", "starcoder", "falcon", "deepseek-llm", "deepseek-coder", "phi-3",
                           "mpt", "refact", "gpt-neox", "baichuan"}) {
    const std::string rel = std::string(kVocabDir) + "ggml-vocab-" + name + ".gguf";
    QGML_REQUIRE_SHARED(model, rel.c_str());
    const auto tok = load(model);
    const std::vector<bool> spellable = spellable_bytes(*tok);
    size_t n_spellable = 0;
    for (bool b : spellable) n_spellable += b;
    EXPECT_GE(n_spellable, 200u) << name;
    for (int iter = 0; iter < 300; ++iter) {
      const bool any_byte = iter % 3 == 0;
      const std::string s = random_bytes(rng, size_t(rng() % 64), any_byte ? nullptr : &spellable);
      const auto ids = tok->encode(s, iter % 2 == 0, false);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
      const std::string back = tok->decode(ids);
      if (!any_byte) {
        EXPECT_EQ(back, s) << name << " iteration " << iter;
      }
      const auto special = tok->encode(s, true, true);  // parsing specials must not crash either
      tok->decode(special, true);
    }
  }
}

TEST(Tokenizer, SpecialTokensGpt2) {
  QGML_REQUIRE_SHARED(model, "data/vocab-gguf/ggml-vocab-gpt-2.gguf");
  const auto tok = load(model);
  EXPECT_EQ(tok->n_vocab(), 50257);
  EXPECT_EQ(tok->bos(), 50256);
  EXPECT_EQ(tok->eos(), 50256);
  EXPECT_FALSE(tok->add_bos_default());
  EXPECT_TRUE(tok->is_eog(50256));
  EXPECT_FALSE(tok->is_eog(0));
  const std::string text = "Hi<|endoftext|>there";
  const auto parsed = tok->encode(text, true, true);
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[1], 50256);
  const auto literal = tok->encode(text, true, false);
  EXPECT_GT(literal.size(), 3u);
  for (int32_t id : literal) EXPECT_NE(id, 50256);
  EXPECT_EQ(tok->decode(literal), text);
  EXPECT_EQ(tok->decode(parsed, true), text);
  EXPECT_EQ(tok->decode(parsed, false), "Hithere");
  EXPECT_EQ(tok->token_to_piece(50256), "");
  EXPECT_EQ(tok->token_to_piece(50256, true), "<|endoftext|>");
  EXPECT_EQ(tok->token_to_piece(tok->find_token("\xC4\xA0world")), " world");
  EXPECT_THROW(tok->token_to_piece(-1), qgml::Error);
  EXPECT_THROW(tok->token_to_piece(50257), qgml::Error);
}

TEST(Tokenizer, SpecialTokensSpm) {
  QGML_REQUIRE_SHARED(model, "data/vocab-gguf/ggml-vocab-llama-spm.gguf");
  const auto tok = load(model);
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_EQ(tok->eos(), 2);
  EXPECT_TRUE(tok->add_bos_default());
  const auto ids = tok->encode("Hello world", true, false);
  ASSERT_EQ(ids, (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(tok->decode(ids), "Hello world");
  EXPECT_EQ(tok->encode("Hello world", false, false), (std::vector<int32_t>{15043, 3186}));
  // After a special token SentencePiece adds the dummy prefix again.
  const auto parsed = tok->encode("Hello</s>world", false, true);
  EXPECT_EQ(parsed, (std::vector<int32_t>{15043, 2, 3186}));
  EXPECT_EQ(tok->decode(parsed, true), "Hello</s>world");
  const auto literal = tok->encode("Hello</s>world", false, false);
  for (int32_t id : literal) EXPECT_NE(id, 2);
  EXPECT_EQ(tok->decode(literal), "Hello</s>world");
  // Byte fallback: U+1F999 is not in the vocabulary.
  EXPECT_EQ(tok->encode("\xF0\x9F\xA6\x99", false, false), (std::vector<int32_t>{29871, 243, 162, 169, 156}));
  EXPECT_EQ(tok->token_to_piece(3 + 0x41), "A");
  EXPECT_EQ(tok->token_type(3), qgml::TokenType::Byte);
  EXPECT_EQ(tok->token_type(1), qgml::TokenType::Control);
  EXPECT_TRUE(tok->is_eog(2));
}

std::string run_cli(const std::string& args, int* status) {
  const std::string cmd = qgml::test::cli_path() + " " + args + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  *status = pclose(f);
  return out;
}

TEST(Tokenizer, CommandLine) {
  QGML_REQUIRE_SHARED(model, "data/vocab-gguf/ggml-vocab-gpt-2.gguf");
  QGML_REQUIRE_SHARED(spm, "data/vocab-gguf/ggml-vocab-llama-spm.gguf");
  int status = -1;
  EXPECT_EQ(run_cli("tokenize -m '" + model + "' -p ' Hello, world!'", &status), "18435 11 995 0\n");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(run_cli("tokenize -m '" + spm + "' -p 'Hello world'", &status), "1 15043 3186\n");
  EXPECT_EQ(run_cli("tokenize -m '" + spm + "' -p 'Hello world' --no-bos", &status), "15043 3186\n");
  EXPECT_EQ(run_cli("tokenize -m '" + spm + "' -p '</s>' --no-bos --parse-special", &status), "2\n");
  qgml::test::TempDir dir;
  {
    FILE* f = std::fopen(dir.file("in.txt").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("Hello world", f);
    std::fclose(f);
  }
  EXPECT_EQ(run_cli("tokenize -m '" + model + "' -f '" + dir.file("in.txt") + "'", &status), "15496 995\n");
  // Errors: exit status 1 and a message, never a crash.
  run_cli("tokenize -m '" + dir.file("missing.gguf") + "' -p x", &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  run_cli("tokenize -m '" + model + "'", &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  run_cli("tokenize -m '" + dir.file("in.txt") + "' -p x", &status);  // not a GGUF file
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

// Encoding speed, printed for the record (the assertion only guards against
// pathological slowness).
TEST(Tokenizer, Throughput) {
  QGML_REQUIRE_SHARED(text_path, "data/text/wiki.test.raw");
  const std::string text = qgml::read_file(text_path);
  for (const char* name : {"gpt-2", "llama-spm", "deepseek-llm"}) {
    const std::string rel = std::string(kVocabDir) + "ggml-vocab-" + name + ".gguf";
    QGML_REQUIRE_SHARED(model, rel.c_str());
    const auto tok = load(model);
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, false, false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ %-14s ] %zu bytes -> %zu tokens in %.3f s (%.2f MB/s)\n", name, text.size(), ids.size(), s,
                text.size() / s / 1e6);
    EXPECT_EQ(tok->decode(ids), text);
    EXPECT_LT(s, 60.0);
  }
}

}  // namespace
