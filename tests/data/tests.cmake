# The data layer's tests (paths relative to tests/).
ebm_add_test(test_data_toy data/test_toy.cpp)
ebm_add_test(test_data_csv data/test_csv.cpp)
ebm_add_test(test_data_npy data/test_npy.cpp)
ebm_add_test(test_data_npz data/test_npz.cpp)
ebm_add_test(test_data_idx data/test_idx.cpp)
find_package(ZLIB REQUIRED)
target_link_libraries(test_data_idx PRIVATE ZLIB::ZLIB)  # writes gzip'd files to read back
ebm_add_test(test_data_dataset data/test_dataset.cpp)
ebm_add_test(test_data_matrix_file data/test_matrix_file.cpp)
target_link_libraries(test_data_matrix_file PRIVATE ZLIB::ZLIB)
