# remote_write.proto -> <build>/exporters/remote_write/generated/remote_write/
# remote_write.pb.{h,cc}, included as "remote_write/remote_write.pb.h";
# SYSTEM and -w keep protoc's output out of -Werror.
target_link_libraries(${KM_COMPONENT} PUBLIC protobuf::libprotobuf km_snappy)
set(generated ${CMAKE_CURRENT_BINARY_DIR}/remote_write/generated)
file(MAKE_DIRECTORY ${generated})
protobuf_generate(TARGET ${KM_COMPONENT} LANGUAGE cpp
  PROTOS ${KM_COMPONENT_DIR}/remote_write.proto
  IMPORT_DIRS ${KM_COMPONENT_DIR}/.. PROTOC_OUT_DIR ${generated})
set_source_files_properties(${generated}/remote_write/remote_write.pb.cc
  PROPERTIES COMPILE_OPTIONS -w)
target_include_directories(${KM_COMPONENT} SYSTEM PUBLIC ${generated})
