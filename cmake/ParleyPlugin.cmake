# parley_add_plugin(NAME SOURCES...): a Parley plugin NAME.so (a MODULE library without the
# "lib" prefix, C11, symbols hidden except the entry points marked PARLEY_EXPORT). Inside
# Parley's tree it uses the target parley_plugin_sdk; elsewhere it finds the SDK with pkg-config
# (parley-plugin.pc: set PKG_CONFIG_PATH to Parley's build directory or <prefix>/lib/pkgconfig).
include_guard(GLOBAL)

if(NOT TARGET parley_plugin_sdk)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(PARLEY_PLUGIN REQUIRED IMPORTED_TARGET parley-plugin)
  add_library(parley_plugin_sdk INTERFACE IMPORTED)
  target_link_libraries(parley_plugin_sdk INTERFACE PkgConfig::PARLEY_PLUGIN)
endif()

function(parley_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "parley_add_plugin(${name}): no sources")
  endif()
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden)
  target_link_libraries(${name} PRIVATE parley_plugin_sdk)
endfunction()
