# Helpers that keep test executables out of build/bin and name tests so
# `ctest -R <area>` and `ctest -L unit|integration|fuzz` select them.
#
#   ballast_unit_test(NAME unit.proto.codec SOURCES a.c b.c LIBS ballast_proto)
#     CUnit executable (tests/cunit_main.c gives it a main) run by ctest, label "unit".
#   ballast_integration_test(NAME integration.fleet.boot COMMAND cmd args...
#                            [TIMEOUT s] [GUEST])
#     label "integration"; GUEST makes it wait for the guest-image fixture.
#   ballast_fuzzer(NAME fuzz.proto.decode SOURCES f.c LIBS ballast_proto)
#     libFuzzer target, only with BALLAST_FUZZ; runs BALLAST_FUZZ_SECONDS under ctest
#     on a copy of tests/fuzz/corpus/<name> with tests/fuzz/dict/<name>.dict.

set(BALLAST_TESTS_DIR ${CMAKE_CURRENT_LIST_DIR}/../tests)

function(ballast_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
  string(REPLACE "." "_" exe "${T_NAME}")
  add_executable(${exe} ${T_SOURCES} ${BALLAST_TESTS_DIR}/cunit_main.c)
  target_include_directories(${exe} PRIVATE ${BALLAST_TESTS_DIR})
  target_link_libraries(${exe} PRIVATE ${T_LIBS} PkgConfig::CUNIT)
  target_compile_definitions(${exe} PRIVATE
    BALLAST_FIXTURES="${BALLAST_TESTS_DIR}/fixtures"
    BALLAST_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${BALLAST_TEST_BIN_DIR})
  add_test(NAME ${T_NAME} COMMAND ${exe} ${T_ARGS})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS unit TIMEOUT ${T_TIMEOUT})
endfunction()

function(ballast_integration_test)
  cmake_parse_arguments(T "GUEST" "NAME;TIMEOUT" "COMMAND" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS integration TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "BALLAST_BUILD_DIR=${CMAKE_BINARY_DIR};BALLAST_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    # Integration tests boot TCG guests: running them side by side on a
    # 2-core machine only makes each slower and flakier.
    RUN_SERIAL TRUE
    # Exit code 77 = skipped for a missing capability (said loudly on stderr).
    SKIP_RETURN_CODE 77)
  if(T_GUEST)
    set_tests_properties(${T_NAME} PROPERTIES FIXTURES_REQUIRED guest_image)
  endif()
endfunction()

function(ballast_fuzzer)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  if(NOT BALLAST_FUZZ)
    return()
  endif()
  string(REPLACE "." "_" exe "${T_NAME}")
  add_executable(${exe} ${T_SOURCES} ${BALLAST_TESTS_DIR}/fuzz/fuzz_defaults.c)
  target_link_libraries(${exe} PRIVATE ${T_LIBS})
  target_include_directories(${exe} PRIVATE ${BALLAST_TESTS_DIR}) # fuzz/fuzz_log.h
  target_compile_options(${exe} PRIVATE -fsanitize=fuzzer)
  target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${BALLAST_TEST_BIN_DIR})
  set(artifacts ${CMAKE_BINARY_DIR}/fuzz-artifacts/${T_NAME})
  # The kept corpus (tests/fuzz/corpus/<name>, minimised, regression seeds
  # included), dictionary (tests/fuzz/dict/<name>.dict) and input bound (a
  # line in tests/fuzz/max_len) are required:
  # run-fuzzer.sh copies the corpus to a temp dir, so the run replays every
  # kept input first and never writes into the repository. scripts/fuzz runs
  # the long campaigns.
  add_test(NAME ${T_NAME}
    COMMAND ${BALLAST_TESTS_DIR}/fuzz/run-fuzzer.sh $<TARGET_FILE:${exe}>
            ${BALLAST_TESTS_DIR}/fuzz/corpus/${T_NAME} ${BALLAST_TESTS_DIR}/fuzz/dict/${T_NAME}.dict
            ${BALLAST_FUZZ_SECONDS} ${artifacts})
  set_tests_properties(${T_NAME} PROPERTIES LABELS fuzz
    TIMEOUT 600 RUN_SERIAL TRUE)
endfunction()
