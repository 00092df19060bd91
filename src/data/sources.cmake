# The data layer: toy distributions, CSV / NPY / NPZ / IDX files, standardisation, splits, batches.
find_package(ZLIB REQUIRED)
# libzip through pkg-config: Debian's CMake package for it needs the zip tools installed too.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET GLOBAL libzip)
target_sources(ebm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/file_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/toy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/csv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/npy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/npz.cpp
  ${CMAKE_CURRENT_LIST_DIR}/idx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dataset.cpp
  ${CMAKE_CURRENT_LIST_DIR}/matrix_file.cpp)
target_link_libraries(ebm PRIVATE ZLIB::ZLIB PkgConfig::LIBZIP)
