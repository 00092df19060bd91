# The data layer: toy distributions, CSV / NPY / IDX files, standardisation, splits, batches.
find_package(ZLIB REQUIRED)
target_sources(ebm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/file_util.cpp
  ${CMAKE_CURRENT_LIST_DIR}/toy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/csv.cpp
  ${CMAKE_CURRENT_LIST_DIR}/npy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/idx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dataset.cpp
  ${CMAKE_CURRENT_LIST_DIR}/matrix_file.cpp)
target_link_libraries(ebm PRIVATE ZLIB::ZLIB)
