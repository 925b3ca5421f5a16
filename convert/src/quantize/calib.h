// Calibration text for GPTQ: token windows drawn the way GPTQ's reference
// loaders draw them. A .txt file is tokenized whole (BOS first, as the
// tokenizer adds it) and each sample is a window starting at a uniformly
// random token; a .jsonl file (C4's format) is one document per line in its
// "text" field, each tokenized on its own, and each sample is a random window
// of a random document longer than the window. Windows therefore start with
// BOS only when they happen to start a document — the reference does not
// force it (datautils' get_c4/get_wikitext2 slice input_ids[i:i+seqlen]).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qgml {
class Tokenizer;
}

namespace qgml::quantize {

struct CalibParams {
  std::string path;
  int64_t n_samples = 128;
  int64_t n_ctx = 2048;
  uint64_t seed = 0;
  bool force_bos = false;  // replace each window's first token with BOS (not the reference's behaviour)
};

// n_samples windows of n_ctx tokens. Throws qgml::Error when the file has no
// text long enough for one window (naming the file, the token count and the
// window), or when a .jsonl line is not an object with a string "text".
std::vector<std::vector<int32_t>> calibration_windows(const Tokenizer& tok, const CalibParams& p);

}  // namespace qgml::quantize
