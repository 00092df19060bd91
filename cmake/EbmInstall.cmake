include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ebm EXPORT ebmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET ebm_mpi)
  # ebm::mpi: MPI_COMM_WORLD as an ebm::Communicator (ebm/mpi/mpi_communicator.hpp).
  set_target_properties(ebm_mpi PROPERTIES EXPORT_NAME mpi)
  install(TARGETS ebm_mpi EXPORT ebmTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  set(EBM_INSTALLED_WITH_MPI ON)
else()
  set(EBM_INSTALLED_WITH_MPI OFF)
endif()
install(DIRECTORY include/ebm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET ebm_cli)
  install(TARGETS ebm_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(EXPORT ebmTargets NAMESPACE ebm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ebm)
configure_package_config_file(cmake/ebmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/ebmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ebm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/ebmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ebmConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/ebmConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ebm)
