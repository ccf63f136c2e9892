target_link_libraries(${KM_COMPONENT} PUBLIC simdjson::simdjson)
