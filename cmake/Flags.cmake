# Compiler flags shared by every mxguard target (through the mxg_flags interface library).
add_library(mxg_flags INTERFACE)
target_compile_options(mxg_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-missing-field-initializers>)
if(MXG_NATIVE)
  target_compile_options(mxg_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
if(MXG_SANITIZE)
  target_compile_options(mxg_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer>)
  target_link_options(mxg_flags INTERFACE -fsanitize=address,undefined)
endif()
target_link_libraries(mxg_flags INTERFACE Threads::Threads)

# mxg_add_test(NAME name SOURCES ... LIBS ... LABELS ...): one GoogleTest binary, discovered by CTest.
function(mxg_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT MXG_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main mxg_flags)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
