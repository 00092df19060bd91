// NPZ reading: NumPy's np.savez and np.savez_compressed as the oracle (stored and deflated
// members, float, integer and image arrays, named and unnamed), and broken archives: several
// arrays, none, not a zip, every prefix of a valid archive, flipped bytes in a deflated member
// (CRC), a member over the input budget. Each is a FormatError naming the file, none a crash.
#include <ebm/core/error.hpp>
#include <ebm/data/matrix_file.hpp>
#include <ebm/data/npz.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "data/util.hpp"

namespace {

using ebm::Index;
using ebm::MatD;
using ebm_test::TempDir;

constexpr const char* kInstallHint =
    "NumPy is the reference for the NPZ format: install python3-numpy (scripts/setup.sh --with-test installs it)";

// Files written by NumPy into dir.
void write_with_numpy(const TempDir& dir) {
  const std::string script = dir.file("oracle.py");
  ebm_test::write_bytes(script, R"PY(
import sys, numpy as np
d = sys.argv[1]
x = np.arange(12, dtype=np.float64).reshape(3, 4) * 0.25 - 1.0
np.savez(d + '/unnamed.npz', x)
np.savez(d + '/named.npz', points=x)
np.savez_compressed(d + '/compressed.npz', x=x.astype(np.float32))
np.savez_compressed(d + '/images.npz', images=np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
np.savez(d + '/two.npz', a=x, b=x)
np.savez(d + '/none.npz')
np.savez_compressed(d + '/big.npz', x=np.zeros((1000, 100)))
)PY");
  const std::string cmd = std::string("/usr/bin/python3 ") + script + " " + dir.path().string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << kInstallHint;
}

MatD expected() {
  MatD x(3, 4);
  for (Index k = 0; k < 12; ++k) x(k / 4, k % 4) = static_cast<double>(k) * 0.25 - 1.0;
  return x;
}

template <class F>
std::string format_error_of(F&& f) {
  try {
    f();
  } catch (const ebm::FormatError& e) {
    return e.what();
  }
  return "(no FormatError)";
}

TEST(Npz, ReadsWhatNumPyWrites) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_with_numpy(dir));
  EXPECT_EQ(ebm::read_npz<double>(dir.file("unnamed.npz")), expected());
  EXPECT_EQ(ebm::read_npz<double>(dir.file("named.npz")), expected());
  EXPECT_EQ(ebm::read_npz<float>(dir.file("compressed.npz")), expected().cast<float>());
  const MatD images = ebm::read_npz<double>(dir.file("images.npz"));  // (2, 3, 4) -> one row per image
  ASSERT_EQ(images.rows(), 2);
  ASSERT_EQ(images.cols(), 12);
  for (Index k = 0; k < 24; ++k) EXPECT_EQ(images(k / 12, k % 12), double(k));
  // Through the file-name dispatch, as --data and --at read it.
  const ebm::Table<double> t = ebm::read_table<double>(dir.file("named.npz"));
  EXPECT_EQ(t.values, expected());
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x0", "x1", "x2", "x3"}));
  EXPECT_THROW(ebm::write_matrix<double>(dir.file("out.npz"), expected()), ebm::InvalidArgument);
  EXPECT_THROW((void)ebm::matrix_format("x.npz.gz"), ebm::InvalidArgument);
}

TEST(Npz, ArchivesItCannotReadAreCleanErrors) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_with_numpy(dir));
  const std::string two = format_error_of([&] { (void)ebm::read_npz<double>(dir.file("two.npz")); });
  EXPECT_NE(two.find("holds 2 arrays (a.npy, b.npy)"), std::string::npos) << two;
  const std::string none = format_error_of([&] { (void)ebm::read_npz<double>(dir.file("none.npz")); });
  EXPECT_NE(none.find("none.npz: holds no arrays"), std::string::npos) << none;
  ebm_test::write_bytes(dir.file("text.npz"), "x0,x1\n1,2\n");
  const std::string text = format_error_of([&] { (void)ebm::read_npz<double>(dir.file("text.npz")); });
  EXPECT_NE(text.find("text.npz: not an .npz file"), std::string::npos) << text;
  EXPECT_THROW((void)ebm::read_npz<double>(dir.file("missing.npz")), ebm::IoError);
}

TEST(Npz, EveryPrefixAndCorruptedByteIsACleanError) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_with_numpy(dir));
  const std::string valid = ebm_test::read_bytes(dir.file("compressed.npz"));
  const std::string cut = dir.file("cut.npz");
  for (std::size_t n = 0; n < valid.size(); ++n) {
    ebm_test::write_bytes(cut, valid.substr(0, n));
    EXPECT_THROW((void)ebm::read_npz<double>(cut), ebm::FormatError) << n << " bytes";
  }
  // Each byte of the archive flipped in turn: refused, or (where the byte is slack such as a
  // timestamp) the same values; never wrong values, never a crash.
  int refused = 0;
  for (std::size_t k = 0; k < valid.size(); ++k) {
    std::string bad = valid;
    bad[k] = static_cast<char>(bad[k] ^ 0x5a);
    ebm_test::write_bytes(cut, bad);
    try {
      EXPECT_EQ(ebm::read_npz<double>(cut), expected().cast<float>().cast<double>()) << "byte " << k;
    } catch (const ebm::FormatError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, static_cast<int>(valid.size()) / 2);
}

TEST(Npz, AMemberOverTheInputBudgetIsRefusedBeforeItIsInflated) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_with_numpy(dir));
  ASSERT_EQ(setenv("EBM_MAX_INPUT_BYTES", "100000", 1), 0);  // big.npz holds 800 kB of zeros, 1 kB deflated
  const std::string e = format_error_of([&] { (void)ebm::read_npz<double>(dir.file("big.npz")); });
  unsetenv("EBM_MAX_INPUT_BYTES");
  EXPECT_NE(e.find("big.npz: x.npy: decompressed, it needs"), std::string::npos) << e;
  EXPECT_EQ(ebm::read_npz<double>(dir.file("big.npz")).rows(), 1000);
}

}  // namespace
