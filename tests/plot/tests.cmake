ebm_add_test(test_plot_geometry plot/test_geometry.cpp)
ebm_add_test(test_plot_figure plot/test_figure.cpp)
# Reads the PNGs back with Cairo.
target_link_libraries(test_plot_figure PRIVATE PkgConfig::CAIRO)
