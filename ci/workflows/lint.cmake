# CTest registration of the workflow lint (ci/workflows/lint_workflows.py) and of its own tests
# (test_lint_workflows.py: deliberate typos must be caught; mxg_ci.py's exit-code mapping).
# Included from ci/CMakeLists.txt after find_package(Python3).
if(Python3_FOUND AND TARGET mxguard)
  # yamllint (Debian package, installed by ci/setup) runs when found; action-validator
  # (npm @action-validator/cli, ci/workflows/install-action-validator) when installed in build/tools.
  find_program(MXG_YAMLLINT yamllint)
  find_program(MXG_ACTION_VALIDATOR action-validator
               HINTS ${PROJECT_SOURCE_DIR}/build/tools/node_modules/.bin NO_DEFAULT_PATH)
  set(_mxg_lint_extra "")
  if(MXG_YAMLLINT)
    list(APPEND _mxg_lint_extra --yamllint ${MXG_YAMLLINT})
  else()
    message(STATUS "workflows_lint: yamllint not found (ci/setup installs it); YAML style not checked")
  endif()
  if(MXG_ACTION_VALIDATOR)
    list(APPEND _mxg_lint_extra --action-validator ${MXG_ACTION_VALIDATOR})
  endif()
  add_test(NAME workflows_lint
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/workflows/lint_workflows.py
                   --mxguard $<TARGET_FILE:mxguard> ${_mxg_lint_extra})
  set_tests_properties(workflows_lint PROPERTIES LABELS unit ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
  add_test(NAME workflows_lint_py
           COMMAND ${Python3_EXECUTABLE} -m unittest discover -s ${CMAKE_CURRENT_SOURCE_DIR}/workflows -p "test_*.py")
  set_tests_properties(workflows_lint_py PROPERTIES LABELS unit
                       ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;MXGUARD=$<TARGET_FILE:mxguard>")
endif()
