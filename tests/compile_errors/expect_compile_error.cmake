# Compiles SOURCE (syntax only) and passes when the compiler refuses it with a
# message containing EXPECT: a contract that must fail at compile time, with a
# readable message, not at run time.
#   cmake -DCOMPILER=c++ -DSOURCE=f.cpp -DINCLUDES="a;b" -DEXPECT=text -P expect_compile_error.cmake
set(include_flags)
foreach(dir IN LISTS INCLUDES)
  list(APPEND include_flags -I${dir})
endforeach()
execute_process(COMMAND ${COMPILER} -std=c++17 -fsyntax-only ${include_flags} ${SOURCE}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it breaks a contract and must not")
endif()
string(FIND "${out}${err}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile, but without the message \"${EXPECT}\":\n${out}${err}")
endif()
message(STATUS "${SOURCE} is refused with \"${EXPECT}\"")
