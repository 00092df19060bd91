ebm_add_test(test_train_objectives train/test_objectives.cpp)
ebm_add_test(test_train_trainer train/test_trainer.cpp)
include(${CMAKE_CURRENT_LIST_DIR}/optimizer_tests.cmake)
ebm_add_test(test_train_noise_conditional train/test_noise_conditional.cpp)
