#include <ebm/ad/kernel_target.hpp>

#include <ebm/core/error.hpp>

#include "kernels.hpp"

#include <atomic>
#include <cstdlib>
#include <string>

namespace ebm::ad {
namespace {

constexpr int kUndecided = -1;
std::atomic<int> chosen{kUndecided};
std::atomic<std::uint64_t> flops{0};

KernelTarget best_supported() { return cpu_supports(KernelTarget::Avx512) ? KernelTarget::Avx512 : KernelTarget::Avx2; }

KernelTarget checked(KernelTarget target, const std::string& source) {
  if (!cpu_supports(target))
    throw InvalidArgument(source + ": this CPU has no " + std::string(kernel_target_name(target)) + " (it supports " +
                          std::string(kernel_target_name(best_supported())) + ")");
  return target;
}

KernelTarget from_environment() {
  const char* value = std::getenv("EBM_KERNEL_TARGET");
  if (value == nullptr || *value == '\0') return best_supported();
  const std::string name = value;
  const std::string source = "EBM_KERNEL_TARGET=" + name;
  if (name == "avx2") return checked(KernelTarget::Avx2, source);
  if (name == "avx512") return checked(KernelTarget::Avx512, source);
  throw InvalidArgument("EBM_KERNEL_TARGET: expected avx2 or avx512, got '" + name + "'");
}

}  // namespace

std::string_view kernel_target_name(KernelTarget target) { return target == KernelTarget::Avx512 ? "avx512" : "avx2"; }

bool cpu_supports(KernelTarget target) {
  // The AVX-512 kernels use AVX-512F only; the AVX2 ones AVX2 and FMA (the build's baseline).
  if (target == KernelTarget::Avx512) return __builtin_cpu_supports("avx512f");
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

KernelTarget kernel_target() {
  int current = chosen.load(std::memory_order_relaxed);
  if (current == kUndecided) {
    current = static_cast<int>(from_environment());
    chosen.store(current, std::memory_order_relaxed);
  }
  return static_cast<KernelTarget>(current);
}

void set_kernel_target(KernelTarget target) {
  chosen.store(static_cast<int>(checked(target, "set_kernel_target")), std::memory_order_relaxed);
}

std::uint64_t product_flops() { return flops.load(std::memory_order_relaxed); }

namespace kernels {
void count_product_flops(std::uint64_t n) { flops.fetch_add(n, std::memory_order_relaxed); }
}  // namespace kernels

}  // namespace ebm::ad
