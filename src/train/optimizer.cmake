target_sources(ebm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/optimizer.cpp)
