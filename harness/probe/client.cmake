# mxg_probe_client: the libcurl multi-handle HTTP pool and the three serving APIs (SGLang, OpenAI
# completions, chat). Included from CMakeLists.txt (sources are relative to this folder).
add_library(mxg_probe_client STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/http_pool.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/server_api.cpp)
target_include_directories(mxg_probe_client PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(mxg_probe_client
  PUBLIC mxg_flags mxg_common nlohmann_json::nlohmann_json
  PRIVATE CURL::libcurl fmt::fmt)

# The tests talk to a real in-process HTTP server (cpp-httplib); without it they are not built.
if(HTTPLIB_FOUND)
  mxg_add_test(NAME probe_client_test
    SOURCES
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_http_server.cpp
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_pool_test.cpp
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/server_api_test.cpp
    LIBS mxg_probe_client PkgConfig::HTTPLIB nlohmann_json::nlohmann_json fmt::fmt)
endif()
