// Tokenizer building blocks without data files: Unicode tables, the regex
// engine, pre-tokenizers, and both BPE variants on hand-made vocabularies.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/tokenizer.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace {

using namespace qgml::tok;
using qgml::Tokenizer;
using qgml::VocabSpec;

std::vector<uint32_t> cps_of(const std::string& s) {
  std::vector<uint32_t> v;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    i += utf8_decode(s.data() + i, s.size() - i, &cp);
    v.push_back(cp);
  }
  return v;
}

std::vector<std::string> regex_pieces(const std::string& pattern, const std::string& text) {
  const Regex re(pattern);
  const auto cps = cps_of(text);
  std::vector<std::pair<size_t, size_t>> out;
  re.split(cps.data(), 0, cps.size(), out);
  std::vector<std::string> pieces;
  for (const auto& p : out) {
    std::string s;
    for (size_t i = p.first; i < p.second; ++i) utf8_append(s, cps[i]);
    pieces.push_back(s);
  }
  return pieces;
}

std::vector<std::string> pre_pieces(const std::string& name, const std::string& text) {
  const PreTokenizer pre(name);
  std::vector<std::pair<size_t, size_t>> words;
  pre.split(text.data(), text.size(), words);
  std::vector<std::string> pieces;
  for (const auto& w : words) pieces.push_back(text.substr(w.first, w.second - w.first));
  return pieces;
}

using Pieces = std::vector<std::string>;

TEST(Unicode, Categories) {
  EXPECT_EQ(category('A'), kLetter);
  EXPECT_EQ(category('z'), kLetter);
  EXPECT_EQ(category('7'), kNumber);
  EXPECT_EQ(category('!'), kPunct);
  EXPECT_EQ(category('$'), kSymbol);
  EXPECT_EQ(category(' '), kSeparator);
  EXPECT_EQ(category('\n'), kOther);
  EXPECT_EQ(category(0x00E9), kLetter);   // é
  EXPECT_EQ(category(0x0663), kNumber);   // Arabic-Indic three
  EXPECT_EQ(category(0x3002), kPunct);    // ideographic full stop
  EXPECT_EQ(category(0x20AC), kSymbol);   // euro sign
  EXPECT_EQ(category(0x0301), kMark);     // combining acute
  EXPECT_EQ(category(0x4E00), kLetter);   // CJK
  EXPECT_EQ(category(0x1F999), kSymbol);  // llama emoji (above the BMP)
  EXPECT_EQ(category(0x10400), kLetter);  // Deseret
  EXPECT_EQ(category(0xE0001), kOther);   // language tag (Cf)
  EXPECT_EQ(category(0x10FFFF), kOther);  // unassigned
  EXPECT_EQ(category(kInvalidBase + 0xFF), kOther);
}

TEST(Unicode, Whitespace) {
  for (uint32_t cp : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u,
                      0x2029u, 0x202Fu, 0x205Fu, 0x3000u})
    EXPECT_TRUE(is_whitespace(cp)) << cp;
  for (uint32_t cp : {0x08u, 0x1Cu, 0x41u, 0x200Bu, 0xFEFFu, kInvalidBase + 0x20}) EXPECT_FALSE(is_whitespace(cp)) << cp;
}

TEST(Unicode, Utf8DecodingIsStrict) {
  auto decode = [](const std::string& s) { return cps_of(s); };
  EXPECT_EQ(decode("a\xC3\xA9"), (std::vector<uint32_t>{'a', 0xE9}));
  EXPECT_EQ(decode("\xF0\x9F\xA6\x99"), (std::vector<uint32_t>{0x1F999}));
  // Overlong, surrogate, above U+10FFFF, truncated, stray continuation: byte by byte.
  EXPECT_EQ(decode("\xC0\x80"), (std::vector<uint32_t>{kInvalidBase + 0xC0, kInvalidBase + 0x80}));
  EXPECT_EQ(decode("\xED\xA0\x80").size(), 3u);
  EXPECT_EQ(decode("\xF4\x90\x80\x80").size(), 4u);
  EXPECT_EQ(decode("\xE2\x82"), (std::vector<uint32_t>{kInvalidBase + 0xE2, kInvalidBase + 0x82}));
  EXPECT_EQ(decode("\x80z"), (std::vector<uint32_t>{kInvalidBase + 0x80, 'z'}));
  // utf8_append restores invalid bytes exactly.
  std::string s;
  for (uint32_t cp : decode("\xFF\xC3\xA9\xE2\x82")) utf8_append(s, cp);
  EXPECT_EQ(s, "\xFF\xC3\xA9\xE2\x82");
}

TEST(Unicode, ByteSymbolsAreABijection) {
  std::vector<int> seen(0x200, -1);
  for (int b = 0; b < 256; ++b) {
    const auto cps = cps_of(byte_to_symbol(uint8_t(b)));
    ASSERT_EQ(cps.size(), 1u);
    EXPECT_EQ(symbol_to_byte(cps[0]), b);
    ASSERT_LT(cps[0], 0x200u);
    EXPECT_EQ(seen[cps[0]], -1);
    seen[cps[0]] = b;
  }
  EXPECT_EQ(byte_to_symbol(' '), "\xC4\xA0");  // Ġ
  EXPECT_EQ(byte_to_symbol('A'), "A");
  EXPECT_EQ(symbol_to_byte(0x4E00), -1);
}

TEST(Regex, Basics) {
  const auto cps = cps_of("aaab12");
  EXPECT_EQ(Regex("a+").match_at(cps.data(), 0, cps.size(), 0), 3);
  EXPECT_EQ(Regex("a{1,2}").match_at(cps.data(), 0, cps.size(), 0), 2);
  EXPECT_EQ(Regex("a*b").match_at(cps.data(), 0, cps.size(), 1), 3);
  EXPECT_EQ(Regex("\\p{N}+$").match_at(cps.data(), 0, cps.size(), 4), 2);
  EXPECT_EQ(Regex("\\p{N}$").match_at(cps.data(), 0, cps.size(), 4), -1);
  EXPECT_EQ(Regex("[^a\\p{N}]").match_at(cps.data(), 0, cps.size(), 3), 1);
  EXPECT_EQ(Regex("(?:ab|a)+").match_at(cps.data(), 0, cps.size(), 0), 4);
  EXPECT_EQ(Regex("b|ba").match_at(cps.data(), 0, cps.size(), 3), 1);  // leftmost-first, not longest
  EXPECT_EQ(Regex("[\\x{61}-\\x62]+").match_at(cps.data(), 0, cps.size(), 0), 4);
  EXPECT_EQ(Regex("a(?!a)").match_at(cps.data(), 0, cps.size(), 2), 1);
  EXPECT_EQ(Regex("a(?!a)").match_at(cps.data(), 0, cps.size(), 1), -1);
}

TEST(Regex, RejectsWhatItDoesNotSupport) {
  for (const char* p : {"a+?", "(?=a)", "(?<=a)", "\\p{Lu}", "[a", "(a", "a)", "\\q", "[z-a]", "a{3,2}", "*", "\\"})
    EXPECT_THROW(Regex{p}, qgml::Error) << p;
}

TEST(Regex, Gpt2Split) {
  const char* gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
  EXPECT_EQ(regex_pieces(gpt2, "Hello world's  test\n\nx"),
            (Pieces{"Hello", " world", "'s", " ", " test", "\n", "\n", "x"}));
  EXPECT_EQ(regex_pieces(gpt2, "caf\xC3\xA9 42!! "), (Pieces{"caf\xC3\xA9", " 42", "!!", " "}));
}

TEST(Regex, LinearOnLongRuns) {
  // Backtracking without memo would be quadratic here (about 10^10 steps).
  const std::string spaces(200000, ' ');
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(regex_pieces("\\s+$", spaces + "x"), (Pieces{spaces + "x"}));
  EXPECT_EQ(regex_pieces("\\s*[\\r\\n]+", spaces + "x").size(), 1u);
  EXPECT_EQ(regex_pieces("\\s+(?!\\S)|\\s+", spaces + "x"), (Pieces{spaces.substr(1), " ", "x"}));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0);
}

TEST(PreTokenizer, Families) {
  EXPECT_EQ(pre_pieces("llama3", "Hello  world 12345\n\n"),
            (Pieces{"Hello", " ", " world", " ", "123", "45", "\n\n"}));
  EXPECT_EQ(pre_pieces("qwen2", "ab 123"), (Pieces{"ab", " ", "1", "2", "3"}));
  EXPECT_EQ(pre_pieces("starcoder", "x 2024"), (Pieces{"x", " ", "2", "0", "2", "4"}));
  EXPECT_EQ(pre_pieces("falcon", "a 12345"), (Pieces{"a", " ", "123", "45"}));
  EXPECT_EQ(pre_pieces("deepseek-coder", "a\nb 12"), (Pieces{"a", "\n", "b", " ", "1", "2"}));
  EXPECT_EQ(pre_pieces("llama3", "I'M"), (Pieces{"I", "'M"}));
  EXPECT_EQ(pre_pieces("gpt-2", "I'M"), (Pieces{"I", "'", "M"}));
  EXPECT_EQ(pre_pieces("gpt-2", ""), Pieces{});
  EXPECT_THROW(PreTokenizer("no-such-pre"), qgml::Error);
  // Invalid bytes stay in some piece, none is lost.
  const std::string bad = "a\xFF\xFE b\xC3";
  std::string joined;
  for (const auto& p : pre_pieces("llama3", bad)) joined += p;
  EXPECT_EQ(joined, bad);
}

// A tiny SentencePiece vocabulary: specials, 256 byte tokens, then pieces.
VocabSpec small_spm(const std::vector<std::pair<std::string, float>>& pieces) {
  VocabSpec v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.scores = {0, 0, 0};
  v.token_types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    v.tokens.push_back(hex);
    v.scores.push_back(0);
    v.token_types.push_back(6);
  }
  for (const auto& p : pieces) {
    v.tokens.push_back(p.first);
    v.scores.push_back(p.second);
    v.token_types.push_back(1);
  }
  return v;
}

TEST(Spm, ScoresDecideMerges) {
  // ids: 259 ▁, 260 a, 261 b, 262 c, 263 ▁a, 264 ab, 265 bc, 266 ▁ab
  const Tokenizer tok(small_spm({{"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1}, {"c", -1},
                                 {"\xE2\x96\x81" "a", -3}, {"ab", -2}, {"bc", -0.5f},
                                 {"\xE2\x96\x81" "ab", -0.1f}}));
  // "▁abc": bc (-0.5) beats ab (-2) and ▁a (-3); then only ▁a remains possible.
  EXPECT_EQ(tok.encode("abc", false), (std::vector<int32_t>{263, 265}));
  // "▁ab": ab first (-2 > -3), then ▁ + ab -> ▁ab.
  EXPECT_EQ(tok.encode("ab", false), (std::vector<int32_t>{266}));
  EXPECT_EQ(tok.encode("ab", true), (std::vector<int32_t>{1, 266}));
  // Byte fallback for what the vocabulary lacks.
  EXPECT_EQ(tok.encode("\xC3\xA9", false), (std::vector<int32_t>{259, 3 + 0xC3, 3 + 0xA9}));
  for (const std::string s : {"abc", " ab  c ", "\xC3\xA9", "a\xFF", "", " "}) EXPECT_EQ(tok.decode(tok.encode(s)), s);
}

TEST(Spm, WordByWordEqualsWholeText) {
  const std::vector<std::pair<std::string, float>> pieces = {
      {"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1.5f}, {"\xE2\x96\x81" "a", -2}, {"ab", -2}, {"ba", -2.5f},
      {"\xE2\x96\x81\xE2\x96\x81", -3}, {"\xE2\x96\x81" "ab", -1}, {"aba", -0.5f}, {"bb", -4}};
  const Tokenizer chunked(small_spm(pieces));
  auto whole_pieces = pieces;
  whole_pieces.push_back({"b\xE2\x96\x81" "q", -9});  // a token across a space: merging must see whole text
  const Tokenizer whole(small_spm(whole_pieces));
  std::mt19937 rng(7);
  const char alphabet[] = "ab  \xC3";
  for (int iter = 0; iter < 500; ++iter) {
    std::string s;
    const size_t n = rng() % 40;
    for (size_t i = 0; i < n; ++i) s += alphabet[rng() % 5];
    EXPECT_EQ(chunked.encode(s), whole.encode(s)) << s;
    EXPECT_EQ(chunked.decode(chunked.encode(s)), s);
  }
}

TEST(Spm, SpaceNearTheStartWithoutPrefix) {
  // Without the dummy prefix a U+2581 can sit one or two bytes into the text
  // ("a b"); looking three bytes back from it once threw std::out_of_range
  // (found by fuzz_sentencepiece).
  VocabSpec spec = small_spm({{"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1}, {"\xE2\x96\x81" "b", -0.5f}});
  spec.add_space_prefix = 0;
  const Tokenizer tok(spec);
  EXPECT_EQ(tok.encode("a b", false), (std::vector<int32_t>{260, 262}));
  for (const std::string s : {"a b", "ab b", "\xC3\xA9 b", "a  b", " b"}) EXPECT_EQ(tok.decode(tok.encode(s, false)), s) << s;
}

// A tiny byte-level vocabulary: the 256 byte symbols, then merge results.
VocabSpec small_bpe(const std::vector<std::string>& merges, const std::string& pre = "gpt-2") {
  VocabSpec v;
  v.model = "gpt2";
  v.pre = pre;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_to_symbol(uint8_t(b)));
  for (const auto& m : merges) {
    v.merges.push_back(m);
    v.tokens.push_back(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
  }
  v.tokens.push_back("<|end|>");
  v.token_types.assign(v.tokens.size(), 1);
  v.token_types.back() = 3;
  v.eos_id = int32_t(v.tokens.size()) - 1;
  return v;
}

TEST(Bpe, RanksDecideMerges) {
  // ids: 256 eh, 257 he, 258 Ġt, 259 Ġthe, 260 <|end|>
  const Tokenizer tok(small_bpe({"e h", "h e", "\xC4\xA0 t", "\xC4\xA0t he"}));
  EXPECT_EQ(tok.encode("hehe", false), (std::vector<int32_t>{'h', 256, 'e'}));
  EXPECT_EQ(tok.encode(" the", false), (std::vector<int32_t>{259}));
  EXPECT_EQ(tok.encode("he", false), (std::vector<int32_t>{257}));
  EXPECT_FALSE(tok.add_bos_default());
  EXPECT_TRUE(tok.is_eog(260));
  EXPECT_EQ(tok.encode("a<|end|>", false, true), (std::vector<int32_t>{'a', 260}));
  EXPECT_EQ(tok.decode({'a', 260}, true), "a<|end|>");
  EXPECT_EQ(tok.decode({259, 'h'}), " theh");
  for (const std::string s : {"hehe the", "\xFF\x00\x80 x"}) EXPECT_EQ(tok.decode(tok.encode(s)), s);
}

TEST(Bpe, LargeInputsFinish) {
  const Tokenizer tok(small_bpe({"\xC4\xA0 \xC4\xA0", "a a"}, "llama3"));
  std::mt19937 rng(3);
  std::string noise(1 << 20, '\0');
  for (char& c : noise) c = char(rng());
  for (const std::string& s : {std::string(1 << 20, ' '), std::string(1 << 20, 'a'), noise}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(s, false);
    EXPECT_EQ(tok.decode(ids), s);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
  }
}

TEST(Vocab, RejectsInconsistentSpecs) {
  VocabSpec v = small_spm({{"a", -1}});
  v.scores.pop_back();
  EXPECT_THROW(Tokenizer{v}, qgml::Error);
  v = small_spm({{"a", -1}});
  v.bos_id = 100000;
  EXPECT_THROW(Tokenizer{v}, qgml::Error);
  v.bos_id = 1;
  v.model = "bert";
  EXPECT_THROW(Tokenizer{v}, qgml::Error);
  VocabSpec b = small_bpe({"a b"});
  b.pre = "unknown-pre";
  EXPECT_THROW(Tokenizer{b}, qgml::Error);
  b = small_bpe({"a b"});
  b.merges.push_back("nospace");
  EXPECT_THROW(Tokenizer{b}, qgml::Error);
  EXPECT_THROW(Tokenizer{VocabSpec{}}, qgml::Error);  // no tokens
  const Tokenizer ok(small_bpe({"a b"}));
  EXPECT_THROW(ok.decode({-5}), qgml::Error);
  EXPECT_THROW(ok.token_text(1 << 20), qgml::Error);
}

}  // namespace
