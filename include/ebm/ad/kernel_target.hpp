#pragma once
// Which instruction set ebm's matrix products run on, and how much they computed. One build
// runs on any x86-64 CPU with AVX2 and FMA (x86-64-v3) and uses AVX-512 where the CPU has it.
// The products give the same bits on either target (each output is the same fused multiply-add chain; docs/design.md,
// "Kernels per instruction set"), so the choice changes speed, never results.
#include <cstdint>
#include <string_view>

namespace ebm::ad {

enum class KernelTarget { Avx2, Avx512 };

/// "avx2" or "avx512".
std::string_view kernel_target_name(KernelTarget target);

/// True when this CPU can run `target`'s kernels.
bool cpu_supports(KernelTarget target);

/// The target in use: the one forced by set_kernel_target, else the environment variable
/// EBM_KERNEL_TARGET (avx2 or avx512) when set, else the best the CPU supports. Decided at
/// the first call. InvalidArgument naming EBM_KERNEL_TARGET and its value when that is not a
/// target name or names one this CPU lacks.
KernelTarget kernel_target();

/// Forces `target` from now on (tests and benchmarks comparing targets); InvalidArgument when
/// the CPU lacks it. Not to be called while products run on other threads.
void set_kernel_target(KernelTarget target);

/// Floating-point operations of the matrix products run so far by this process, 2 per
/// multiply-add (2 n k m for an n x k by k x m product): the numerator of an achieved GFLOP/s
/// (`ebm bench --roofline`).
std::uint64_t product_flops();

}  // namespace ebm::ad
