# Installs the `syncsim` command and exports the protocol codec and the
# conformance checker as a CMake package, so another project can write
#   find_package(syncsim 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE syncsim::checker)   # or syncsim::protocol
# and include "protocol/codec.hpp" or "conformance/checker/session_checker.hpp".
# tests/package/ builds such a consumer against an installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SYNCSIM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/syncsim)
install(TARGETS syncsim_protocol syncsim_checker EXPORT syncsimTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS syncsim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/protocol/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/syncsim/protocol
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.inc")
install(FILES ${PROJECT_SOURCE_DIR}/conformance/checker/session_checker.hpp
              ${PROJECT_SOURCE_DIR}/conformance/checker/trace_reader.hpp
              ${PROJECT_SOURCE_DIR}/conformance/checker/trace_writer.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/syncsim/conformance/checker)
install(EXPORT syncsimTargets NAMESPACE syncsim:: DESTINATION ${SYNCSIM_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/syncsimConfig.cmake.in
  ${PROJECT_BINARY_DIR}/syncsimConfig.cmake INSTALL_DESTINATION ${SYNCSIM_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/syncsimConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/syncsimConfig.cmake ${PROJECT_BINARY_DIR}/syncsimConfigVersion.cmake
        DESTINATION ${SYNCSIM_CMAKE_DIR})
