// tokenizer.model: a SentencePiece ModelProto, read from the protobuf wire
// format directly (no protobuf library). Only the fields GGUF needs are
// decoded; everything else is skipped by wire type.
//
//   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2;
//                    NormalizerSpec normalizer_spec = 3; ... }
//   SentencePiece  { string piece = 1; float score = 2; Type type = 3; }  // type defaults to NORMAL
//   TrainerSpec    { ... int32 unk_id = 40; bos_id = 41; eos_id = 42; pad_id = 43; }
//   NormalizerSpec { ... bool add_dummy_prefix = 3; }
#include <cstring>
#include <string>

#include "qgml/error.h"
#include "qgml/io.h"
#include "tokenizer_types.h"

namespace qgml::convert {

namespace {

class WireReader {
 public:
  WireReader(const uint8_t* p, size_t n, const std::string& path, size_t base) : p_(p), n_(n), path_(path), base_(base) {}

  bool done() const { return pos_ >= n_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= n_) error("truncated varint");
      const uint8_t b = p_[pos_++];
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    error("varint longer than 10 bytes");
  }

  // Returns (field number, wire type).
  std::pair<uint32_t, uint32_t> tag() {
    const uint64_t t = varint();
    if ((t >> 3) == 0 || (t >> 3) > 0x1fffffff) error("invalid field number");
    return {static_cast<uint32_t>(t >> 3), static_cast<uint32_t>(t & 7)};
  }

  // A length-delimited field's payload: (pointer, length, absolute offset).
  WireReader sub() {
    const uint64_t len = varint();
    if (len > n_ - pos_) error("length-delimited field runs past its enclosing message");
    WireReader r(p_ + pos_, static_cast<size_t>(len), path_, base_ + pos_);
    pos_ += static_cast<size_t>(len);
    return r;
  }

  uint32_t fixed32() {
    if (n_ - pos_ < 4) error("truncated fixed32 field");
    uint32_t v;
    std::memcpy(&v, p_ + pos_, 4);
    pos_ += 4;
    return v;
  }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: varint(); return;
      case 1:
        if (n_ - pos_ < 8) error("truncated fixed64 field");
        pos_ += 8;
        return;
      case 2: sub(); return;
      case 5: fixed32(); return;
      default: error("unsupported wire type (groups or garbage)");
    }
  }

  std::string bytes() {
    WireReader r = sub();
    return std::string(reinterpret_cast<const char*>(r.p_), r.n_);
  }

  [[noreturn]] void error(const char* what) const {
    fail("%s: not a valid SentencePiece model: byte %zu: %s", path_.c_str(), base_ + pos_, what);
  }

 private:
  const uint8_t* p_;
  size_t n_;
  const std::string& path_;
  size_t base_;
  size_t pos_ = 0;
};

}  // namespace

SentencePieceModel read_sentencepiece_model(const std::string& path) {
  MappedFile f(path);
  SentencePieceModel m;
  WireReader r(f.data(), f.size(), path, 0);
  while (!r.done()) {
    const auto [field, wt] = r.tag();
    if (field == 1 && wt == 2) {
      WireReader piece = r.sub();
      std::string text;
      float score = 0.0f;
      int32_t type = kTokenNormal;
      while (!piece.done()) {
        const auto [pf, pwt] = piece.tag();
        if (pf == 1 && pwt == 2) {
          text = piece.bytes();
        } else if (pf == 2 && pwt == 5) {
          const uint32_t bits = piece.fixed32();
          std::memcpy(&score, &bits, 4);
        } else if (pf == 3 && pwt == 0) {
          const uint64_t t = piece.varint();
          if (t < 1 || t > 6) piece.error("piece type out of range 1..6");
          type = static_cast<int32_t>(t);
        } else {
          piece.skip(pwt);
        }
      }
      m.vocab.tokens.push_back(std::move(text));
      m.vocab.scores.push_back(score);
      m.vocab.types.push_back(type);
    } else if ((field == 2 || field == 3) && wt == 2) {
      WireReader spec = r.sub();
      while (!spec.done()) {
        const auto [sf, swt] = spec.tag();
        if (field == 2 && swt == 0 && sf >= 40 && sf <= 43) {
          // int32 fields are sign-extended varints: -1 arrives as 2^64-1.
          const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(spec.varint()));
          if (sf == 40) m.unk_id = v;
          if (sf == 41) m.bos_id = v;
          if (sf == 42) m.eos_id = v;
          if (sf == 43) m.pad_id = v;
        } else if (field == 3 && sf == 3 && swt == 0) {
          m.add_dummy_prefix = spec.varint() != 0;
        } else {
          spec.skip(swt);
        }
      }
    } else {
      r.skip(wt);
    }
  }
  if (m.vocab.tokens.empty()) fail("%s: SentencePiece model has no pieces", path.c_str());
  return m;
}

}  // namespace qgml::convert
