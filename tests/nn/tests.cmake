# The image ops under the conv layers (tests/ad), networks from JSON, and networks against
# PyTorch through python/ebm_torch.py.
ebm_add_test(test_ad_patches ad/test_patches.cpp)
ebm_add_test(test_nn_network nn/test_network.cpp)
ebm_add_test(test_nn_network_torch nn/test_network_torch.cpp)
target_link_libraries(test_nn_network PRIVATE nlohmann_json::nlohmann_json)
