#pragma once
// NumPy .npz archives (np.savez, np.savez_compressed): a zip of .npy files, read with libzip.
//
// Reading a matrix: the archive must hold exactly one array (np.savez(f, a), or any one name),
// read as read_npy reads an .npy (data/npy.hpp: dtypes, shapes, checks); the member is
// decompressed into memory only after its size is checked against the input budget
// (EBM_MAX_INPUT_BYTES, else half of physical memory), and a member that inflates past its
// declared size is refused. An archive of several arrays is a FormatError naming them (ebm
// cannot know which one holds the points); an empty archive, a non-zip file, a member whose name
// does not end in .npy, or a corrupt member (bad CRC, cut stream) is a FormatError naming the file
// and the member. Writing .npz is not supported (write .npy).
#include <ebm/core/types.hpp>

#include <string>

namespace ebm {

/// Reads the one array of an .npz file. Throws IoError when it cannot be read, FormatError for its content.
template <class T>
Mat<T> read_npz(const std::string& path);

extern template Mat<float> read_npz<float>(const std::string&);
extern template Mat<double> read_npz<double>(const std::string&);

}  // namespace ebm
