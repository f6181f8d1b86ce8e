// Per-target SIMD helpers shared by flash_attention_simd.cpp and flash_attention_tiles.cpp.
// Like every Highway "-inl.h" file it is included once per compiled instruction set (via
// hwy/foreach_target.h), hence the toggle guard instead of an include guard.

#if defined(ATTN_SRC_KERNELS_FLASH_ATTENTION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ATTN_SRC_KERNELS_FLASH_ATTENTION_INL_H_
#undef ATTN_SRC_KERNELS_FLASH_ATTENTION_INL_H_
#else
#define ATTN_SRC_KERNELS_FLASH_ATTENTION_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Scores reach the softmax in base-2 units (s·log2 e, see flash_attention_internal.h), so it
// needs 2^x, always with x <= 0 (x - max) or x = -inf (a masked key).

// 2^x for x <= 0 within about 1 ulp; 0 for x = -inf (and for NaN, like hn::Exp).
template <class D, class V>
HWY_INLINE V Exp2NonPositive(D d, V x) {
  using T = hn::TFromD<D>;
  return hn::Exp(d, hn::Mul(x, hn::Set(d, T(0.693147180559945309417232))));
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// The same for float vectors of AVX-512 in half the instructions of hn::Exp, which matters
// because it runs once per score: n = round(x), f = x - n in [-1/2, 1/2], 2^f by a degree-6
// polynomial (relative error 2.8e-9 before rounding; below 0.85 ulp measured in float), and
// vscalefps multiplies by 2^n, giving exactly 0 for x <= -200 (where -inf is clamped).
HWY_INLINE hn::Vec512<float> Exp2NonPositive(hn::Full512<float>, hn::Vec512<float> x) {
  const __m512 clamped = _mm512_max_ps(x.raw, _mm512_set1_ps(-200.0f));
  const __m512 n = _mm512_roundscale_ps(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(clamped, n);
  __m512 p = _mm512_set1_ps(1.5353361959569156e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3398873852565885e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6184369176626205e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5503323674201965e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022647738456726e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718246459961e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return hn::Vec512<float>{_mm512_scalef_ps(p, n)};
}
#endif

}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // ATTN_SRC_KERNELS_FLASH_ATTENTION_INL_H_ toggle guard
