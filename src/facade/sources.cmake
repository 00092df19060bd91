target_sources(ebm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/energy.cpp ${CMAKE_CURRENT_LIST_DIR}/sample.cpp ${CMAKE_CURRENT_LIST_DIR}/train.cpp
  ${CMAKE_CURRENT_LIST_DIR}/density.cpp ${CMAKE_CURRENT_LIST_DIR}/report.cpp)
