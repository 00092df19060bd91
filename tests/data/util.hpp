#pragma once
// Helpers shared by the data tests: a scratch directory, raw file writing, and a check that a
// call throws exactly a given ebm error whose message names the file and the problem.
#include <ebm/core/error.hpp>

#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>

namespace ebm_test {

namespace fs = std::filesystem;

using ::ebm_test::read_bytes;
using ::ebm_test::TempDir;
using ::ebm_test::write_bytes;

/// Peak resident memory of this process so far, in bytes.
inline long peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

/// Runs f, which must throw exactly E (not another ebm error, not a crash); returns the message.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    EXPECT_EQ(typeid(e), typeid(E)) << "thrown: " << typeid(e).name() << ": " << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got " << typeid(e).name() << ": " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected " << typeid(E).name() << ", nothing was thrown";
  return {};
}

}  // namespace ebm_test

/// Asserts that `call` throws exactly `Type` with a one-line message containing each of the
/// given substrings (the file name and the problem).
#define EXPECT_ERROR(Type, call, ...)                                                                  \
  do {                                                                                                 \
    const std::string msg_ = ebm_test::error_of<Type>([&] { (void)(call); });                          \
    for (const std::string& part_ : std::initializer_list<std::string>{__VA_ARGS__}) {                 \
      EXPECT_NE(msg_.find(part_), std::string::npos) << "message: " << msg_ << "\nmissing: " << part_; \
    }                                                                                                  \
    EXPECT_EQ(msg_.find('\n'), std::string::npos) << "message is not one line: " << msg_;              \
  } while (0)
