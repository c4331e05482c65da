# Helpers shared by every CMakeLists.txt in the tree.

# Add every immediate sub-folder of DIR that has a CMakeLists.txt (so a new lib or service
# needs no edit here).
function(baton_add_subdirs dir)
  file(GLOB children RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}/${dir} ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*)
  list(SORT children)
  foreach(child ${children})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/${child}/CMakeLists.txt)
      add_subdirectory(${dir}/${child})
    endif()
  endforeach()
endfunction()

# baton_lib(NAME SOURCES a.c b.c DEPS baton_core PkgConfig::JANSSON)
# A static library baton_NAME with public headers in include/.
function(baton_lib name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(baton_${name} STATIC ${A_SOURCES})
  target_include_directories(baton_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(baton_${name} PUBLIC ${A_DEPS})
endfunction()

# baton_service(NAME SOURCES main.c ... DEPS ...) -> executable baton-NAME
function(baton_service name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(baton-${name} ${A_SOURCES})
  target_link_libraries(baton-${name} PRIVATE ${A_DEPS})
endfunction()

# baton_test(NAME SOURCES t.c ... LIBS ... [LABELS integration] [TIMEOUT s])
# One executable; one ctest test per TEST(case) found in SOURCES, named NAME.case.
function(baton_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit ${CMAKE_SOURCE_DIR}/tests/harness)
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  target_compile_definitions(${name} PRIVATE
    BATON_SOURCE_DIR="${CMAKE_SOURCE_DIR}" BATON_SHARED_DIR="${BATON_SHARED_DIR}"
    BATON_BIN_DIR="${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  foreach(src ${A_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    file(STRINGS ${abs} lines REGEX "^TEST\\([A-Za-z0-9_]+\\)")
    foreach(line ${lines})
      string(REGEX REPLACE "^TEST\\(([A-Za-z0-9_]+)\\).*" "\\1" case ${line})
      add_test(NAME ${name}.${case} COMMAND ${name} ${case})
      set_tests_properties(${name}.${case} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT})
    endforeach()
  endforeach()
endfunction()

# baton_shell_test(NAME script.sh CASES a b c [TIMEOUT s] [DEPENDS targets...])
# One ctest test per case: `bash script.sh CASE`, with BATON_BIN and BATON_SOURCE_DIR set.
function(baton_shell_test name script)
  cmake_parse_arguments(A "" "TIMEOUT" "CASES;DEPENDS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 180)
  endif()
  foreach(case ${A_CASES})
    add_test(NAME ${name}.${case} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/${script} ${case})
    set_tests_properties(${name}.${case} PROPERTIES LABELS integration TIMEOUT ${A_TIMEOUT}
      ENVIRONMENT "BATON_BIN=${CMAKE_RUNTIME_OUTPUT_DIRECTORY};BATON_SOURCE_DIR=${CMAKE_SOURCE_DIR};BATON_SHARED_DIR=${BATON_SHARED_DIR}")
  endforeach()
endfunction()
