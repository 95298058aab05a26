# relaxed.cmake — the relaxed-SIMD builds (included by CMakeLists.txt in the Emscripten build):
#   dist/plm-relaxed.wasm      SIMD128 + relaxed SIMD, single thread
#   dist/plm-relaxed-mt.wasm   the same + shared memory threads
#   build-wasm/relaxed/test_*.wasm  the C unit tests as wasm32-wasi programs (ctest: relaxed_test_*,
#                              run by scripts/wasi-run.mjs), so relaxed kernels meet their scalar twins
#
# Emscripten 3.1.6's clang 14 has no relaxed i8 dot product and its binaryen (108) re-encodes the
# relaxed opcodes into an invalid module, so these are compiled by a newer clang (19+, Debian:
# clang-19) and linked by its wasm-ld directly — no binaryen pass. The modules use Emscripten's own
# sysroot (headers, libc, dlmalloc, standalone-wasm runtime: the archives emcc links for
# plm-simd.wasm, see `emcc -v`), so their imports and exports are those of plm-simd(-mt).wasm and
# js/core/imports.js serves them unchanged (tests/js/relaxed.test.mjs compares them). The test
# programs use Debian's wasi-libc (wasi-libc, libclang-rt-19-dev-wasm32) for file access.
#
# Skipped, with a warning, when the tools are missing (scripts/build.mjs --setup installs them).

find_program(PLM_RELAXED_CC NAMES clang-19 clang-20 clang-21 NO_CMAKE_FIND_ROOT_PATH
             DOC "clang >= 19 (wasm_i32x4_relaxed_dot_i8x16_i7x16_add) for the relaxed-SIMD builds")
find_program(PLM_RELAXED_LD NAMES wasm-ld-19 wasm-ld-20 wasm-ld-21 NO_CMAKE_FIND_ROOT_PATH
             DOC "wasm-ld of the same LLVM for the relaxed-SIMD builds")
find_program(PLM_NODE NAMES node nodejs NO_CMAKE_FIND_ROOT_PATH)
set(PLM_RELAXED_WASI_SYSROOT "/usr" CACHE PATH "prefix holding include/wasm32-wasi and lib/wasm32-wasi (wasi-libc)")

if(NOT PLM_RELAXED_CC OR NOT PLM_RELAXED_LD)
  message(WARNING "relaxed-SIMD builds skipped: clang-19 and wasm-ld-19 not found "
                  "(apt-get install clang-19 lld-19, or node scripts/build.mjs --setup)")
  return()
endif()

set(PLM_EM_LIB ${EMSCRIPTEN_SYSROOT}/lib/wasm32-emscripten)
string(REPLACE "." ";" _plm_emv "${EMSCRIPTEN_VERSION}")
list(GET _plm_emv 0 _plm_em_major)
list(GET _plm_emv 1 _plm_em_minor)
list(GET _plm_emv 2 _plm_em_tiny)

# What emcc passes to clang for wasm32-unknown-emscripten (emcc -v), then the project's flags.
set(PLM_RELAXED_EM_CFLAGS
    --target=wasm32-unknown-emscripten --sysroot=${EMSCRIPTEN_SYSROOT} -Xclang -iwithsysroot/include/compat
    -DEMSCRIPTEN -D__EMSCRIPTEN_major__=${_plm_em_major} -D__EMSCRIPTEN_minor__=${_plm_em_minor}
    -D__EMSCRIPTEN_tiny__=${_plm_em_tiny} -Dunix -D__unix -D__unix__ -fvisibility=default
    -Werror=implicit-function-declaration)
set(PLM_RELAXED_CFLAGS -std=c11 -D_POSIX_C_SOURCE=200809L ${PLM_WARNINGS} -Wno-unused-but-set-variable
    ${PLM_FLOAT_FLAGS} -I${CMAKE_SOURCE_DIR}/src -msimd128 -mrelaxed-simd)

# Compile `sources` with `flags` into ${CMAKE_BINARY_DIR}/relaxed/<tag>/; the object list goes to `out`.
function(plm_relaxed_objects tag out)
  cmake_parse_arguments(A "" "" "SOURCES;FLAGS" ${ARGN})
  set(objs)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/relaxed/${tag} ${PLM_DIST})
  foreach(src ${A_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    set(obj ${CMAKE_BINARY_DIR}/relaxed/${tag}/${name}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/relaxed/${tag}
      COMMAND ${PLM_RELAXED_CC} ${A_FLAGS} -MD -MF ${obj}.d -c ${src} -o ${obj}
      DEPENDS ${src}
      DEPFILE ${obj}.d
      COMMENT "clang (relaxed SIMD, ${tag}) ${name}.c"
      VERBATIM COMMAND_EXPAND_LISTS)
    list(APPEND objs ${obj})
  endforeach()
  set(${out} ${objs} PARENT_SCOPE)
endfunction()

# The link emcc does for plm-simd(-mt).wasm (-sSTANDALONE_WASM, see PLM_WASM_LINK), minus binaryen.
set(PLM_RELAXED_LINK
    -L${PLM_EM_LIB} ${PLM_EM_LIB}/crt1_reactor.o -lstandalonewasm-memgrow -lstubs -lnoexit -lc -ldlmalloc -lcompiler_rt
    --import-undefined --strip-debug --export-if-defined=malloc --export-if-defined=free
    --export=stackSave --export=stackRestore --export=stackAlloc --export=__errno_location --export-table
    -z stack-size=1048576 --initial-memory=16777216 --max-memory=4294967296 --global-base=1024
    --entry=_initialize -O2)

function(plm_relaxed_module name)
  cmake_parse_arguments(A "" "" "CFLAGS;LFLAGS" ${ARGN})
  plm_relaxed_objects(${name} objs SOURCES ${PLM_SOURCES}
                      FLAGS ${PLM_RELAXED_EM_CFLAGS} -O3 -DNDEBUG -DPLM_STANDALONE_WASM=1 ${PLM_RELAXED_CFLAGS} ${A_CFLAGS})
  add_custom_command(
    OUTPUT ${PLM_DIST}/${name}.wasm
    COMMAND ${PLM_RELAXED_LD} -o ${PLM_DIST}/${name}.wasm ${objs} ${PLM_RELAXED_LINK} ${A_LFLAGS}
    DEPENDS ${objs}
    COMMENT "wasm-ld ${PLM_DIST}/${name}.wasm"
    VERBATIM COMMAND_EXPAND_LISTS)
  add_custom_target(${name} ALL DEPENDS ${PLM_DIST}/${name}.wasm)
endfunction()

plm_relaxed_module(plm-relaxed)
plm_relaxed_module(plm-relaxed-mt CFLAGS -matomics -mbulk-memory -DPLM_WASM_THREADS=1
                   LFLAGS --import-memory --shared-memory)

# ------------------------------------------------------------------ C unit tests (wasm32-wasi)
if(NOT EXISTS ${PLM_RELAXED_WASI_SYSROOT}/lib/wasm32-wasi/libc.a)
  message(WARNING "relaxed-SIMD C tests skipped: no wasi-libc in ${PLM_RELAXED_WASI_SYSROOT}/lib/wasm32-wasi "
                  "(apt-get install wasi-libc libclang-rt-19-dev-wasm32)")
  return()
endif()
set(PLM_RELAXED_WASI_CFLAGS --target=wasm32-wasi --sysroot=${PLM_RELAXED_WASI_SYSROOT} -O2
    -D_WASI_EMULATED_GETPID -DPLM_EXPECT_RELAXED_SIMD=1 ${PLM_RELAXED_CFLAGS})
plm_relaxed_objects(wasi-core core_objs SOURCES ${PLM_SOURCES} FLAGS ${PLM_RELAXED_WASI_CFLAGS})
# linked by wasm-ld directly: the clang driver would run binaryen's wasm-opt (too old) when on PATH
execute_process(COMMAND ${PLM_RELAXED_CC} --target=wasm32-wasi -rtlib=compiler-rt -print-libgcc-file-name
                OUTPUT_VARIABLE PLM_RELAXED_WASI_RT OUTPUT_STRIP_TRAILING_WHITESPACE)
set(PLM_WASI_LIB ${PLM_RELAXED_WASI_SYSROOT}/lib/wasm32-wasi)
foreach(t ${PLM_TESTS})
  get_filename_component(name ${t} NAME_WE)
  plm_relaxed_objects(wasi-tests test_obj SOURCES ${t} FLAGS ${PLM_RELAXED_WASI_CFLAGS})
  set(out ${CMAKE_BINARY_DIR}/relaxed/${name}.wasm)
  # 8 MB stack placed first: an overflow traps instead of overwriting data
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${PLM_RELAXED_LD} -m wasm32 -L${PLM_WASI_LIB} ${PLM_WASI_LIB}/crt1-command.o ${test_obj} ${core_objs}
            -lc -lwasi-emulated-getpid ${PLM_RELAXED_WASI_RT} -z stack-size=8388608 --stack-first -O2 -o ${out}
    DEPENDS ${test_obj} ${core_objs}
    COMMENT "wasm-ld ${out}"
    VERBATIM COMMAND_EXPAND_LISTS)
  add_custom_target(relaxed_${name} ALL DEPENDS ${out})
  add_test(NAME relaxed_${name} COMMAND ${PLM_NODE} ${CMAKE_SOURCE_DIR}/scripts/wasi-run.mjs ${out}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endforeach()
