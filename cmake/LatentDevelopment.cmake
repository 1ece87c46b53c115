# Build settings for latent's own tests, examples and benchmarks. None of this
# reaches the installed package: users of latent::latent get no flags from us.

if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# latent_warnings(target): the warning set the library promises to be clean under.
function(latent_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
endfunction()

# Flags that the examples and benchmarks add after the build type's: tests/run.sh
# builds them at -O1, since its tests run the examples end to end on tiny data
# and time nothing, while the tests themselves build at -O2.
set(LATENT_PROGRAM_FLAGS "" CACHE STRING "Extra compile flags for the example programs and benchmarks (after the build type's)")

# latent_program(target [PORTABLE]): speed settings for examples and benchmarks;
# PORTABLE (tests) leaves out -march=native so warnings are judged on plain code,
# and LATENT_PROGRAM_FLAGS.
function(latent_program target)
  cmake_parse_arguments(arg "PORTABLE" "" "" ${ARGN})
  latent_warnings(${target})
  target_link_libraries(${target} PRIVATE latent::latent)
  target_compile_options(${target} PRIVATE $<$<CONFIG:Release>:-O3>)
  if(NOT arg_PORTABLE)
    separate_arguments(program_flags UNIX_COMMAND "${LATENT_PROGRAM_FLAGS}")
    target_compile_options(${target} PRIVATE ${program_flags})
  endif()
  if(LATENT_NATIVE AND NOT arg_PORTABLE)
    target_compile_options(${target} PRIVATE -march=native)
    # GCC 12's own AVX-512 intrinsic headers trip -W(maybe-)uninitialized when
    # Eigen inlines them (GCC bug 105593, fixed in GCC 13): not our code's warning.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
      target_compile_options(${target} PRIVATE -Wno-uninitialized -Wno-maybe-uninitialized)
    endif()
  endif()
  if(LATENT_OPENMP)
    find_package(OpenMP REQUIRED)
    target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
  endif()
  latent_sanitize(${target})
endfunction()

function(latent_sanitize target)
  if(LATENT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${LATENT_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${LATENT_SANITIZE})
  endif()
endfunction()
