# The density layer (line-integral log p, log Z, NLL) and the diag layer's sample metrics.
target_sources(ebm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/functions.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quadrature.cpp
  ${CMAKE_CURRENT_LIST_DIR}/line_integral.cpp
  ${CMAKE_CURRENT_LIST_DIR}/log_z.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../diag/metrics.cpp)
