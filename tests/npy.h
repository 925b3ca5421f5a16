// Reading the float64 .npy files that the PyTorch reference scripts write as
// golden values (tests/gen/*.py, the house model's goldens).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "qgml/error.h"
#include "qgml/io.h"

namespace qgml::test {

// A float64 NumPy array (.npy version 1 or 2, little-endian, C order).
inline std::vector<double> read_npy_f64(const std::string& path, std::vector<int64_t>* shape) {
  const std::string s = read_file(path);
  if (s.size() < 10 || s.compare(0, 6, "\x93NUMPY") != 0) throw Error(path + ": not a .npy file");
  const int major = static_cast<unsigned char>(s[6]);
  size_t header_len, start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(s[8]) | static_cast<unsigned char>(s[9]) << 8;
    start = 10;
  } else {
    if (s.size() < 12) throw Error(path + ": truncated .npy header");
    uint32_t n;
    std::memcpy(&n, s.data() + 8, 4);
    header_len = n;
    start = 12;
  }
  if (start + header_len > s.size()) throw Error(path + ": truncated .npy header");
  const std::string header = s.substr(start, header_len);
  if (header.find("'<f8'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw Error(path + ": expected little-endian float64 in C order");
  const size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
  if (open == std::string::npos || close == std::string::npos) throw Error(path + ": no shape in the .npy header");
  std::string dims = header.substr(open + 1, close - open - 1);
  shape->clear();
  for (size_t p = 0; p < dims.size();) {
    const size_t comma = dims.find(',', p);
    const std::string d = dims.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
    if (d.find_first_of("0123456789") != std::string::npos) shape->push_back(std::stoll(d));
    if (comma == std::string::npos) break;
    p = comma + 1;
  }
  int64_t n = 1;
  for (int64_t d : *shape) n *= d;
  const size_t data = start + header_len;
  if (s.size() != data + static_cast<size_t>(n) * 8) throw Error(path + ": size does not match the shape");
  std::vector<double> v(static_cast<size_t>(n));
  std::memcpy(v.data(), s.data() + data, v.size() * 8);
  return v;
}

// max |got - want| / max |want|: one number per logit vector, insensitive to
// the scale of the logits and to where in the vocabulary the error is.
inline double relative_error(const float* got, const double* want, int64_t n) {
  double max_diff = 0, max_ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    max_ref = std::max(max_ref, std::fabs(want[i]));
  }
  return max_diff / max_ref;
}

}  // namespace qgml::test
