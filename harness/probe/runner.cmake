# mxg_probe: the probe run (plan, ordered feed, verdict, outputs). Included from CMakeLists.txt.
add_library(mxg_probe STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/probe_config.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/run_config_json.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/question_plan.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/ordered_feed.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/paired_baseline.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/agreement.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/probe_outputs.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/runner.cpp)
target_include_directories(mxg_probe PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(mxg_probe
  PUBLIC mxg_flags mxg_probe_data mxg_probe_stats mxg_probe_client mxg_reports mxg_html_report nlohmann_json::nlohmann_json
  PRIVATE fmt::fmt)

# Unit tests of the run's parts and end-to-end tests against the in-process stand-in. The stand-in
# (harness/standin, added after this folder) exists exactly when cpp-httplib was found.
if(HTTPLIB_FOUND)
  find_package(pugixml REQUIRED)
  mxg_add_test(NAME probe_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/probe_fixture.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/refusing_port.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/probe_units_test.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/agreement_test.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/probe_runner_test.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/probe_fuzz_test.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/probe_gate_runner_test.cpp
    LIBS mxg_probe mxg_standin pugixml::pugixml fmt::fmt)
endif()

# The binaries as CI runs them (needs `mxguard standin`, so cpp-httplib too).
if(HTTPLIB_FOUND)
  mxg_add_test(NAME probe_cli_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/probe_cli_test.cpp
            ${CMAKE_CURRENT_SOURCE_DIR}/tests/refusing_port.cpp
    LIBS mxg_mxguard_process nlohmann_json::nlohmann_json pugixml::pugixml
    LABELS probe)
  if(TARGET probe_cli_test)
    target_include_directories(probe_cli_test PRIVATE ${PROJECT_SOURCE_DIR})
    target_compile_definitions(probe_cli_test PRIVATE MXG_TEST_MXGUARD="$<TARGET_FILE:mxguard>")
    add_dependencies(probe_cli_test mxguard)
  endif()
endif()
