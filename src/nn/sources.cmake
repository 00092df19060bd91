target_sources(ebm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/network.cpp ${CMAKE_CURRENT_LIST_DIR}/layers.cpp)
