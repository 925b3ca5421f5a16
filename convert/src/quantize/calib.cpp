// Calibration windows (see calib.h).
#include "calib.h"

#include <random>

#include "json.h"
#include "qgml/error.h"
#include "qgml/io.h"
#include "qgml/tokenizer.h"

namespace qgml::quantize {
namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// Uniform integer in [0, n) by rejection, so that a seed gives the same
// windows with any standard library (std::uniform_int_distribution's
// algorithm is implementation-defined).
uint64_t uniform(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const uint64_t v = rng();
    if (v < limit) return v % n;
  }
}

}  // namespace

std::vector<std::vector<int32_t>> calibration_windows(const Tokenizer& tok, const CalibParams& p) {
  if (p.n_samples < 1) fail("--calib-samples must be at least 1");
  if (p.n_ctx < 2) fail("--calib-ctx must be at least 2");
  const std::string text = read_file(p.path);
  const bool bos = tok.add_bos_default();
  std::vector<std::vector<int32_t>> docs;
  if (ends_with(p.path, ".jsonl")) {
    size_t line_no = 0;
    for (size_t pos = 0; pos < text.size();) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const json::Value v = json::parse(line, p.path + ": line " + std::to_string(line_no));
      const json::Value* t = v.get("text");
      if (t == nullptr || !t->is_string()) fail("%s: line %zu has no string \"text\" field", p.path.c_str(), line_no);
      std::vector<int32_t> ids = tok.encode(t->as_string(), bos, false);
      if (static_cast<int64_t>(ids.size()) > p.n_ctx) docs.push_back(std::move(ids));
    }
  } else {
    std::vector<int32_t> ids = tok.encode(text, bos, false);
    if (static_cast<int64_t>(ids.size()) > p.n_ctx) docs.push_back(std::move(ids));
  }
  if (docs.empty())
    fail("%s: calibration text too short: no %s has more than %lld tokens (--calib-ctx); use a longer text or a smaller window",
         p.path.c_str(), ends_with(p.path, ".jsonl") ? "document" : "file", static_cast<long long>(p.n_ctx));

  std::mt19937_64 rng(p.seed);
  std::vector<std::vector<int32_t>> out;
  for (int64_t s = 0; s < p.n_samples; ++s) {
    const std::vector<int32_t>& d = docs[uniform(rng, docs.size())];
    const uint64_t start = uniform(rng, d.size() - static_cast<uint64_t>(p.n_ctx));  // [0, len − ctx − 1]
    std::vector<int32_t> w(d.begin() + static_cast<int64_t>(start), d.begin() + static_cast<int64_t>(start) + p.n_ctx);
    if (p.force_bos && tok.bos() >= 0) w[0] = tok.bos();
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace qgml::quantize
