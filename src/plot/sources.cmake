# The plot layer: figures drawn with Cairo (PNG, SVG, PDF). Needs only core.
target_sources(ebm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/color.cpp
  ${CMAKE_CURRENT_LIST_DIR}/contour.cpp
  ${CMAKE_CURRENT_LIST_DIR}/figure.cpp
  ${CMAKE_CURRENT_LIST_DIR}/ticks.cpp)
find_package(PkgConfig REQUIRED)
# GLOBAL: the plot tests read PNGs back with Cairo from another directory scope.
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET GLOBAL cairo)
target_link_libraries(ebm PRIVATE PkgConfig::CAIRO)
