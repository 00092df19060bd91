target_sources(ebm PRIVATE ${CMAKE_CURRENT_LIST_DIR}/objectives.cpp ${CMAKE_CURRENT_LIST_DIR}/trainer.cpp)
include(${CMAKE_CURRENT_LIST_DIR}/optimizer.cmake)
