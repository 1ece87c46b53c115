# Configures latent with LATENT_GEMM settings that must be refused, and checks
# that each configure fails with a message that says why: a library name it
# does not know, and a BLAS that is not there (no quiet fallback to Eigen).
function(expect_refusal name expected)
  set(dir ${SCRATCH_DIR}/${name})
  file(REMOVE_RECURSE ${dir})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -S ${LATENT_SOURCE_DIR} -B ${dir} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
      -DLATENT_BUILD_TESTS=OFF -DLATENT_BUILD_EXAMPLES=OFF -DLATENT_BUILD_BENCHMARKS=OFF ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${name}: configuring with ${ARGN} succeeded; it must fail")
  endif()
  string(REGEX REPLACE "[ \n]+" " " err "${err}")  # CMake wraps long messages
  if(NOT err MATCHES "${expected}")
    message(FATAL_ERROR "${name}: configuring with ${ARGN} failed without saying \"${expected}\":\n${err}")
  endif()
  message(STATUS "${name}: refused, as it should be")
endfunction()

file(REMOVE_RECURSE ${SCRATCH_DIR})
expect_refusal(unknown "LATENT_GEMM=cublas: unknown; choose eigen, blas or onednn" -DLATENT_GEMM=cublas)
expect_refusal(no_blas "LATENT_GEMM=blas: no BLAS library found \\(BLA_VENDOR=NoSuchVendor\\)"
  -DLATENT_GEMM=blas -DBLA_VENDOR=NoSuchVendor)
file(REMOVE_RECURSE ${SCRATCH_DIR})
