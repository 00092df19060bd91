#include <ebm/core/error.hpp>
#include <ebm/data/npz.hpp>

#include "file_util.hpp"

#include <zip.h>

#include <memory>
#include <string>

namespace ebm {
namespace {

using data_detail::num;
using data_detail::prefix;

constexpr const char* kWhere = "read_npz";

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }  // read only: nothing to write back
};
struct MemberCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

std::string zip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string text = zip_error_strerror(&e);
  zip_error_fini(&e);
  return text;
}

}  // namespace

template <class T>
Mat<T> read_npz(const std::string& path) {
  const std::string pre = prefix(kWhere, path);
  { data_detail::InputFile check(path, kWhere); }  // the readers' own messages for a missing file or a folder
  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!archive) {
    if (code == ZIP_ER_NOZIP) throw FormatError(pre + "not an .npz file (not a zip archive)");
    if (code == ZIP_ER_OPEN || code == ZIP_ER_READ) throw IoError(pre + "cannot read (" + zip_message(code) + ")");
    throw FormatError(pre + "not a valid .npz archive (" + zip_message(code) + ")");
  }
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  if (entries <= 0) throw FormatError(pre + "holds no arrays");
  if (entries > 1) {
    std::string names;
    for (zip_int64_t i = 0; i < entries && i < 8; ++i) {
      const char* n = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
      names += (i ? ", " : "") + std::string(n ? n : "?");
    }
    throw FormatError(pre + "holds " + num(static_cast<std::uint64_t>(entries)) + " arrays (" + names +
                      (entries > 8 ? ", ..." : "") + "); ebm reads an .npz of one array (np.savez(f, x))");
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(archive.get(), 0, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_NAME))
    throw FormatError(pre + "unreadable member 0 (" + zip_strerror(archive.get()) + ")");
  const std::string member = st.name;
  const std::string mpre = pre + member + ": ";
  if (!member.ends_with(".npy")) throw FormatError(mpre + "not an .npy member (np.savez names them NAME.npy)");
  if (st.size > data_detail::input_memory_budget()) throw FormatError(mpre + "decompressed, it " + data_detail::over_budget(st.size));
  std::unique_ptr<zip_file_t, MemberCloser> file(zip_fopen_index(archive.get(), 0, 0));
  if (!file) throw FormatError(mpre + "cannot be opened (" + zip_strerror(archive.get()) + ")");
  // One byte more than declared, to see a member that inflates past its declared size.
  std::string bytes(static_cast<std::size_t>(st.size) + 1, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const zip_int64_t n = zip_fread(file.get(), bytes.data() + got, bytes.size() - got);
    if (n < 0) throw FormatError(mpre + "corrupt (" + zip_file_strerror(file.get()) + ")");
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got != st.size)
    throw FormatError(mpre + "holds " + num(got) + (got > st.size ? "+" : "") + " bytes, the archive declares " + num(st.size));
  bytes.resize(got);
  return data_detail::npy_from_bytes<T>(bytes, mpre);
}

template Mat<float> read_npz<float>(const std::string&);
template Mat<double> read_npz<double>(const std::string&);

}  // namespace ebm
