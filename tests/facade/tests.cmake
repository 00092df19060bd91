ebm_add_test(test_facade facade/test_facade.cpp)
