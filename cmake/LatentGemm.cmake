# Which library runs latent's matrix products (LATENT_GEMM = eigen, blas or
# onednn; autodiff/gemm.hpp reads the definitions set here). Used by latent's
# own build and, installed beside the package config, by find_package users,
# so both get the same choice from the same cache variable.
#
#   eigen   Eigen's GEMM kernel; nothing to find or link (the default)
#   blas    any CBLAS: <cblas.h> and cblas_sgemm/cblas_dgemm (OpenBLAS, BLIS,
#           MKL, ...), found by CMake's FindBLAS (BLA_VENDOR picks one)
#   onednn  oneDNN's dnnl_sgemm (float; double products stay on Eigen)
#
# Asking for a library that is not there is an error, never a quiet fallback.
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)

set(LATENT_GEMM_CHOICES eigen blas onednn)

# latent_gemm_backend(<target> <backend>): gives the INTERFACE target what
# products on <backend> need: a definition, include folders and libraries.
function(latent_gemm_backend target backend)
  if(NOT backend IN_LIST LATENT_GEMM_CHOICES)
    message(FATAL_ERROR "LATENT_GEMM=${backend}: unknown; choose eigen, blas or onednn")
  endif()
  get_property(applied TARGET ${target} PROPERTY INTERFACE_LATENT_GEMM)
  if(applied)
    if(NOT applied STREQUAL backend)
      message(FATAL_ERROR "LATENT_GEMM=${backend}, but ${target} was already set up for ${applied}")
    endif()
    return()
  endif()
  set_property(TARGET ${target} PROPERTY INTERFACE_LATENT_GEMM ${backend})
  if(backend STREQUAL "blas")
    _latent_find_cblas(${target})
  elseif(backend STREQUAL "onednn")
    _latent_find_onednn(${target})
  endif()
endfunction()

# Adds folders to a target's include path unless the compiler searches them anyway.
function(_latent_gemm_includes target)
  foreach(dir IN LISTS ARGN)
    if(NOT dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
      target_include_directories(${target} SYSTEM INTERFACE ${dir})
    endif()
  endforeach()
endfunction()

function(_latent_find_cblas target)
  find_package(BLAS QUIET)
  set(hint "install a CBLAS (Debian: libopenblas-dev) or point BLA_VENDOR / CMAKE_PREFIX_PATH at one")
  if(NOT BLAS_FOUND)
    set(vendor "")
    if(BLA_VENDOR)
      set(vendor " (BLA_VENDOR=${BLA_VENDOR})")
    endif()
    message(FATAL_ERROR "LATENT_GEMM=blas: no BLAS library found${vendor}; ${hint}, or configure with -DLATENT_GEMM=eigen")
  endif()
  find_path(LATENT_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread blis flexiblas)
  if(NOT LATENT_CBLAS_INCLUDE_DIR)
    message(FATAL_ERROR "LATENT_GEMM=blas: found ${BLAS_LIBRARIES} but no cblas.h; ${hint}")
  endif()
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_QUIET ON)
  set(CMAKE_REQUIRED_INCLUDES ${LATENT_CBLAS_INCLUDE_DIR})
  set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES} ${BLAS_LINKER_FLAGS})
  # Checked on every configure: the answer belongs to the library found now.
  unset(LATENT_CBLAS_LINKS CACHE)
  unset(LATENT_CBLAS_IS_OPENBLAS CACHE)
  check_cxx_source_compiles([[
    #include <cblas.h>
    int main() {
      float a = 1, b = 1, c = 0;
      double x = 1, y = 1, z = 0;
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, 1, 1, 1, 1.0, &x, 1, &y, 1, 0.0, &z, 1);
      return 0;
    }]] LATENT_CBLAS_LINKS)
  # OpenBLAS: each product must run on the calling thread alone (see gemm.hpp).
  check_cxx_source_compiles([[
    extern "C" void openblas_set_num_threads(int);
    extern "C" char* openblas_get_corename(void);
    int main() { openblas_set_num_threads(1); return openblas_get_corename() == nullptr; }]] LATENT_CBLAS_IS_OPENBLAS)
  cmake_pop_check_state()
  if(NOT LATENT_CBLAS_LINKS)
    message(FATAL_ERROR "LATENT_GEMM=blas: ${BLAS_LIBRARIES} with ${LATENT_CBLAS_INCLUDE_DIR}/cblas.h does not provide "
                        "cblas_sgemm and cblas_dgemm; ${hint}")
  endif()
  target_compile_definitions(${target} INTERFACE LATENT_GEMM_BLAS)
  if(LATENT_CBLAS_IS_OPENBLAS)
    target_compile_definitions(${target} INTERFACE LATENT_GEMM_OPENBLAS)
  endif()
  _latent_gemm_includes(${target} ${LATENT_CBLAS_INCLUDE_DIR})
  target_link_libraries(${target} INTERFACE ${BLAS_LIBRARIES} ${BLAS_LINKER_FLAGS})
  message(STATUS "latent: products on CBLAS ${BLAS_LIBRARIES}")
endfunction()

function(_latent_find_onednn target)
  find_path(LATENT_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.h)
  find_library(LATENT_DNNL_LIBRARY dnnl)
  if(NOT LATENT_DNNL_INCLUDE_DIR OR NOT LATENT_DNNL_LIBRARY)
    message(FATAL_ERROR "LATENT_GEMM=onednn: oneDNN not found (oneapi/dnnl/dnnl.h: ${LATENT_DNNL_INCLUDE_DIR}, "
                        "libdnnl: ${LATENT_DNNL_LIBRARY}); install it (Debian: libdnnl-dev) or point CMAKE_PREFIX_PATH at it, "
                        "or configure with -DLATENT_GEMM=eigen")
  endif()
  target_compile_definitions(${target} INTERFACE LATENT_GEMM_ONEDNN)
  _latent_gemm_includes(${target} ${LATENT_DNNL_INCLUDE_DIR})
  # dlsym finds the OpenMP runtime that oneDNN runs on (see gemm.hpp).
  target_link_libraries(${target} INTERFACE ${LATENT_DNNL_LIBRARY} ${CMAKE_DL_LIBS})
  message(STATUS "latent: products on oneDNN ${LATENT_DNNL_LIBRARY}")
endfunction()
