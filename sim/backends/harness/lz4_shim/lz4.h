/* Stand-in for <lz4.h>, used only when the LZ4 development files are not installed.
 *
 * Verilator's FST writer (include/fstcpp/fstcpp_writer.cpp) calls just these two functions.
 * Most Linux systems carry the LZ4 runtime library (liblz4.so.1, which apt itself needs)
 * without its header; systolic.sim.verilator_tools.fst_build_flags puts this directory first
 * on the include path and links the runtime library, so FST waveforms work there too.
 * Both functions have kept this signature since LZ4 r129 (2015).
 */
#ifndef SYSTOLIC_LZ4_SHIM_H
#define SYSTOLIC_LZ4_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

int LZ4_compressBound(int inputSize);
int LZ4_compress_default(const char* src, char* dst, int srcSize, int dstCapacity);

#ifdef __cplusplus
}
#endif

#endif
