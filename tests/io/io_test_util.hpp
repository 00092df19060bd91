#pragma once
// Shared by the io tests: scratch directories, raw file bytes, and error assertions.
#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include <stdlib.h>  // mkdtemp

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>

namespace io_test {

namespace fs = std::filesystem;

using ::ebm_test::TempDir;

inline std::string slurp(const std::string& path) { return ::ebm_test::read_bytes(path); }
inline void spit(const std::string& path, const std::string& bytes) { ::ebm_test::write_bytes(path, bytes); }

inline std::string u64_le(std::uint64_t n) {
  std::string s(8, '\0');
  for (int k = 0; k < 8; ++k) s[static_cast<std::size_t>(k)] = static_cast<char>((n >> (8 * k)) & 0xff);
  return s;
}

// A safetensors file from a header text and a data section, the length prefix computed.
inline std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

// Runs f, which must throw exactly E (not a subclass of a sibling) with a message containing
// every one of the fragments. Prints the message, so the log shows what users would read.
template <class E>
::testing::AssertionResult throws_with(const std::function<void()>& f, std::initializer_list<std::string> fragments) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& fragment : fragments)
      if (what.find(fragment) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << what << "\" lacks \"" << fragment << "\"";
    std::printf("    %s\n", what.c_str());
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "wrong exception type: " << e.what();
  }
  return ::testing::AssertionFailure() << "no exception";
}

}  // namespace io_test
