# The layers of ../shared/DESIGN.md, enforced by include paths:
#
#   include/kubemetrics/   vocabulary and component SDK    (include/)
#   common/<part>/         shared implementations          (+ common/)
#   scrapers/<key>/        one source per folder           (+ its own folder)
#   exporters/<key>/       one exporter per folder         (+ its own folder)
#   agent/                 wiring only                     (everything)
#
# A common library or a component sees include/ and common/ only: common/ is
# reached through a link in the build tree (${KM_LAYER_ROOT}/common), so the
# project root, which also holds agent/, scrapers/ and exporters/, is on no
# component's include path, and `#include "agent/..."` or another
# component's header fails to compile. A component includes its own headers
# by file name ("config.h"), found next to the including file.
# cmake/CheckLayering.cmake (the `layering` test) catches what include paths
# cannot: "../" escapes, and include/ reaching below itself.

set(KM_LAYER_ROOT ${CMAKE_BINARY_DIR}/layers)
file(MAKE_DIRECTORY ${KM_LAYER_ROOT})
file(CREATE_LINK ${PROJECT_SOURCE_DIR}/common ${KM_LAYER_ROOT}/common SYMBOLIC)

# km_library(<target> <folder> [LAYER common|component|agent] [FLAT]
#            [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Builds every .cc of <folder> (and its subfolders unless FLAT) into one
# static library with the include path of its layer. Tests link the
# library; only agent/main.cc stays out.
function(km_library target folder)
  cmake_parse_arguments(ARG "FLAT" "LAYER" "PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_FLAT)
    file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cc)
  else()
    file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cc)
  endif()
  list(FILTER sources EXCLUDE REGEX ".*/main\\.cc$")
  set(include_dirs ${PROJECT_SOURCE_DIR}/include)
  if(NOT ARG_LAYER STREQUAL "include")
    list(APPEND include_dirs ${KM_LAYER_ROOT})
  endif()
  if(ARG_LAYER STREQUAL "agent")
    list(APPEND include_dirs ${PROJECT_SOURCE_DIR})
  endif()
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${include_dirs})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# km_components(<layer folder> <target prefix> <property>)
# Every subfolder of scrapers/ or exporters/ is a component: a library named
# <prefix><folder> on the shared code, plus whatever the folder's optional
# component.cmake adds to ${KM_COMPONENT} (its own dependencies, generated
# code; included, not a subdirectory, so its custom commands belong to the
# library's directory; ${KM_COMPONENT_DIR} is the folder). Nothing else to edit: a new folder is built, linked into the agent
# and checked by the lifecycle test (global property <property> lists the
# keys, KM_COMPONENT_TARGETS the libraries).
function(km_components layer prefix property)
  file(GLOB entries LIST_DIRECTORIES true CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${layer}/*)
  foreach(entry ${entries})
    if(NOT IS_DIRECTORY ${entry})
      continue()
    endif()
    get_filename_component(key ${entry} NAME)
    set(KM_COMPONENT ${prefix}${key})
    set(KM_COMPONENT_DIR ${entry})
    km_library(${KM_COMPONENT} ${layer}/${key} LAYER component PUBLIC_DEPS kubemetrics_common)
    if(EXISTS ${entry}/component.cmake)
      include(${entry}/component.cmake)
    endif()
    set_property(GLOBAL APPEND PROPERTY ${property} ${key})
    set_property(GLOBAL APPEND PROPERTY KM_COMPONENT_TARGETS ${KM_COMPONENT})
  endforeach()
endfunction()
