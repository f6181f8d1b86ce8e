# Install rules and the relocatable CMake package, so that another project can do
#   find_package(attn REQUIRED)
#   target_link_libraries(app PRIVATE attn::attn)
# against an installed prefix (see examples/consumer/).
include(CMakePackageConfigHelpers)

set(ATTN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/attn)

install(TARGETS attn_lib
  EXPORT attnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/attn
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

install(EXPORT attnTargets
  NAMESPACE attn::
  DESTINATION ${ATTN_INSTALL_CMAKEDIR})

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/attnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/attnConfig.cmake
  INSTALL_DESTINATION ${ATTN_INSTALL_CMAKEDIR})

# 0.x releases make no promise across minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/attnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)

install(FILES
  ${PROJECT_BINARY_DIR}/attnConfig.cmake
  ${PROJECT_BINARY_DIR}/attnConfigVersion.cmake
  DESTINATION ${ATTN_INSTALL_CMAKEDIR})

# With -DBUILD_SHARED_LIBS=ON the installed CLI finds libattn.so next to it, wherever the
# prefix is moved.
if(BUILD_SHARED_LIBS AND TARGET attn_cli)
  set_target_properties(attn_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endif()
