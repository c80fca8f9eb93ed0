# mxg_probe_data: GSM8K JSON Lines, SGLang prompts, answer extraction, generated data, fetch-data.
# Included from CMakeLists.txt (sources are relative to this folder).
add_library(mxg_probe_data STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/gsm8k.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/prompt.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/extract.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/gsm8k_synth.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/fetch_data.cpp)
target_include_directories(mxg_probe_data PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(mxg_probe_data
  PUBLIC mxg_flags mxg_common
  PRIVATE nlohmann_json::nlohmann_json fmt::fmt CURL::libcurl OpenSSL::Crypto)
mxg_add_test(NAME probe_data_test
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/gsm8k_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/prompt_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/extract_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/gsm8k_synth_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/fetch_data_test.cpp
    ${CMAKE_CURRENT_SOURCE_DIR}/tests/gsm8k_fuzz_test.cpp
  LIBS mxg_probe_data)
# fetch-data over real HTTP (retries, redirects, status codes) against an in-process cpp-httplib
# server; built only where cpp-httplib is found, like the client's tests.
if(HTTPLIB_FOUND)
  mxg_add_test(NAME probe_data_http_test
    SOURCES
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_http_server.cpp
      ${CMAKE_CURRENT_SOURCE_DIR}/tests/data_fetch_http_test.cpp
    LIBS mxg_probe_data PkgConfig::HTTPLIB)
endif()
