#pragma once
// Shared by the model-file tests: random inputs, a network's energies (with a sigma column for a
// noise-conditional one), bit-for-bit parameter comparison, and editing a file's header.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ebm/ad/tape.hpp>
#include <ebm/core/rng.hpp>
#include <ebm/io/model_file.hpp>
#include <ebm/nn/network.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <type_traits>

#include "io/io_test_util.hpp"

namespace io_test {

using ebm::Index;
using ebm::Mat;
using ojson = nlohmann::ordered_json;

template <class T>
Mat<T> points(Index n, Index d, std::uint64_t seed) {
  Mat<T> x(n, d);
  ebm::CounterRng(seed, 0).normal<T>(0, std::span<T>(x.data(), static_cast<std::size_t>(x.size())));
  return x;
}

// Noise levels per row for a conditional network: 2, 0.5, 0.05, 2, ...
template <class T>
Mat<T> sigma_column(Index n) {
  Mat<T> s(n, 1);
  const T levels[3] = {T(2), T(0.5), T(0.05)};
  for (Index i = 0; i < n; ++i) s(i, 0) = levels[i % 3];
  return s;
}

// E(x), or E(x | sigma_column) when the network is conditional: N x 1.
template <class T>
Mat<T> energies(const ebm::nn::Network<T>& net, const Mat<T>& x) {
  ebm::ad::Tape<T> tape;
  const ebm::ad::Var<T> xv = tape.constant(x);
  ebm::ad::Var<T> condition;
  if (net.conditional()) condition = tape.constant(sigma_column<T>(x.rows()));
  return Mat<T>(net.energy(xv, net.bind(tape, false), condition).value());
}

// Same bits (not merely ==, which takes -0 for 0).
template <class T>
bool same_bits(const Mat<T>& a, const Mat<T>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0);
}

// a and b declare the same parameters (names, shapes) and hold b's values as Ta: bit for bit when
// both are one type, else b's values converted to Ta.
template <class Ta, class Tb>
::testing::AssertionResult same_parameters(const ebm::nn::Network<Ta>& a, const ebm::nn::Network<Tb>& b) {
  const auto& sa = a.parameter_specs();
  const auto& sb = b.parameter_specs();
  if (sa.size() != sb.size())
    return ::testing::AssertionFailure() << sa.size() << " parameters against " << sb.size();
  for (std::size_t k = 0; k < sa.size(); ++k) {
    if (sa[k].name != sb[k].name || sa[k].rows != sb[k].rows || sa[k].cols != sb[k].cols)
      return ::testing::AssertionFailure() << "parameter " << k << ": " << sa[k].name << " " << sa[k].rows << "x"
                                           << sa[k].cols << " against " << sb[k].name << " " << sb[k].rows << "x"
                                           << sb[k].cols;
    const Mat<Ta> converted = b.parameter_values()[k].template cast<Ta>();
    if (!same_bits(a.parameter_values()[k], converted))
      return ::testing::AssertionFailure() << "parameter '" << sa[k].name << "' differs";
  }
  if (a.architecture() != b.architecture())
    return ::testing::AssertionFailure() << "architectures differ:\n" << a.architecture() << "\n" << b.architecture();
  return ::testing::AssertionSuccess();
}

// A safetensors file as its header (JSON, key order kept) and data section.
struct FileParts {
  ojson header;
  std::string data;
};

inline FileParts split_file(const std::string& bytes) {
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return {ojson::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

// The header padded with spaces to a multiple of 8, as the writer does.
inline std::string join_file(const ojson& header, const std::string& data) {
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return safetensors_bytes(text, data);
}

// The file's bytes with its "ebm" metadata object changed by edit (data section kept).
inline std::string with_ebm_metadata(const std::string& bytes, const std::function<void(nlohmann::json&)>& edit) {
  FileParts parts = split_file(bytes);
  auto meta = nlohmann::json::parse(parts.header["__metadata__"]["ebm"].get<std::string>());
  edit(meta);
  parts.header["__metadata__"]["ebm"] = meta.dump();
  return join_file(parts.header, parts.data);
}

}  // namespace io_test
