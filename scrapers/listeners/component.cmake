# The remote-write decoder decompresses snappy blocks; it reads protobuf by
# hand (protobuf_wire.h), so no libprotobuf here.
target_link_libraries(${KM_COMPONENT} PUBLIC km_snappy)
