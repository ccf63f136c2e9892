# km_component(<target> <folder> [FLAT] [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# A component folder builds as one static library from every .cc in it (and
# its subfolders unless FLAT). Tests link the library; only agent/main.cc
# stays out.
function(km_component target folder)
  cmake_parse_arguments(ARG "FLAT" "" "PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_FLAT)
    file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cc)
  else()
    file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cc)
  endif()
  list(FILTER sources EXCLUDE REGEX ".*/main\\.cc$")
  if(NOT sources)
    # A folder still being written: an interface library keeps the graph whole.
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/include
                               ${PROJECT_SOURCE_DIR}/agent ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${ARG_PUBLIC_DEPS} ${ARG_PRIVATE_DEPS})
    return()
  endif()
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                              ${PROJECT_SOURCE_DIR}/agent
                                              ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()
