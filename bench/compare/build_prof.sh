#!/bin/sh
# build_prof.sh — plm-simd.wasm / plm-simd-mt.wasm with function names kept
# (--profiling-funcs: same code, plus a name section), into bench/compare/out/prof/,
# for V8 CPU profiles (profile.mjs). Same flags as CMakeLists.txt otherwise.
#   sh bench/compare/build_prof.sh [SRC_DIR]   (default: the repo's src/)
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${1:-$HERE/../../src}
OUT=${OUT:-$HERE/out/prof}
mkdir -p "$OUT"
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
COMMON="-O3 -std=c11 -D_POSIX_C_SOURCE=200809L -DPLM_STANDALONE_WASM=1 -ffp-contract=off -I$SRC $EXTRA
  --no-entry -sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sINITIAL_MEMORY=16MB
  -sTOTAL_STACK=1MB -sABORTING_MALLOC=0 -sFILESYSTEM=0 -sEXPORTED_FUNCTIONS=_malloc,_free --profiling-funcs"
emcc $COMMON -msimd128 "$SRC"/*.c -o "$OUT/plm-simd.wasm"
emcc $COMMON -msimd128 -matomics -mbulk-memory -DPLM_WASM_THREADS=1 -sIMPORTED_MEMORY -Wl,--shared-memory \
  "$SRC"/*.c -o "$OUT/plm-simd-mt.wasm"
ls -la "$OUT"
