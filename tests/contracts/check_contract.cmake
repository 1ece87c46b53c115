# Compiles one file of tests/contracts with -fsyntax-only. A file with a line
# "// expect: TEXT" must fail to compile, and its first error must contain
# TEXT (a contract's static_assert, not an error from deep inside a
# template); a file without one must compile.
#   cmake -DCXX=compiler -DSOURCE=file.cpp -DINCLUDES="dir;dir" -P check_contract.cmake
set(flags -std=c++17 -fsyntax-only)
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags -I${dir})
endforeach()
execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
file(STRINGS ${SOURCE} expect REGEX "^// expect: ")
if(NOT expect)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} should compile, but:\n${out}")
  endif()
  return()
endif()
string(REGEX REPLACE "^// expect: " "" expect "${expect}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it breaks a contract (expected an error containing \"${expect}\")")
endif()
string(REGEX MATCH "[^\n]*error[^\n]*" first_error "${out}")
string(FIND "${first_error}" "${expect}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE}: the first error should contain \"${expect}\", it is:\n${first_error}\n\nall output:\n${out}")
endif()
string(REGEX MATCHALL "error" errors "${out}")
list(LENGTH errors count)
message(STATUS "${SOURCE}: refused as expected (\"${expect}\"; ${count} mentions of \"error\" in all)")
