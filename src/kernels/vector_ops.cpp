// SIMD elementwise kernels and activations (softmax and layer norm: vector_ops_rows.cpp).
//
// Highway compiles the per-target section below once per instruction set (AVX-512, AVX2,
// SSE4, SSSE3 and a scalar fallback) by re-including this file through foreach_target.h;
// HWY_DYNAMIC_DISPATCH then calls the best one the CPU supports. The section after
// HWY_ONCE is compiled once: argument checks, OpenMP chunking and the public templates.

#ifndef ATTN_SRC_KERNELS_VECTOR_OPS_DECLARATIONS
#define ATTN_SRC_KERNELS_VECTOR_OPS_DECLARATIONS
// Seen once, although foreach_target.h includes this file once per target.
namespace attn::kernels::detail {
enum class BinaryOp { kAdd, kSub, kMul, kDiv };
enum class UnaryOp { kRelu, kGelu, kTanh, kSigmoid, kExp };
// Relu and gelu differentiate from their input x; tanh and sigmoid from their output y.
enum class UnaryBackwardOp { kRelu, kGelu, kTanh, kSigmoid };
}  // namespace attn::kernels::detail
#endif

#undef HWY_TARGET_INCLUDE
// Relative to the include directory (include/), the only project path on the include path.
#define HWY_TARGET_INCLUDE "../src/kernels/vector_ops.cpp"
#include <hwy/foreach_target.h>  // must come before highway.h

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include "vector_ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace attn::kernels::HWY_NAMESPACE {

using detail::BinaryOp;
using detail::UnaryBackwardOp;
using detail::UnaryOp;

// ---- erfc and GELU ----------------------------------------------------------------------
//
// erfc after W. J. Cody, "Rational Chebyshev approximations for the error function",
// Math. Comp. 23 (1969), as in his routine CALERF: three rational approximations, on
// |z| <= 0.46875, 0.46875 < |z| <= 4 and |z| > 4, each with relative error below 1e-16 in
// exact arithmetic, so the result is limited by rounding in T. GELU built on it stays within
// about 4 ulp of the std::erfc-based reference in float and double (the test allows 8).
// Coefficients are listed highest power first for Horner's rule; denominators are monic.

// clang-format off
constexpr double kErfSmallNumerator[] = {
    1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2,
    3.77485237685302021e2, 3.20937758913846947e3};
constexpr double kErfSmallDenominator[] = {
    1.0, 2.36012909523441209e1, 2.44024637934444173e2,
    1.28261652607737228e3, 2.84423683343917062e3};
constexpr double kErfcMiddleNumerator[] = {
    2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0,
    6.61191906371416295e1, 2.98635138197400131e2, 8.81952221241769090e2,
    1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3};
constexpr double kErfcMiddleDenominator[] = {
    1.0, 1.57449261107098347e1, 1.17693950891312499e2,
    5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3,
    4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3};
constexpr double kErfcLargeNumerator[] = {
    1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
    1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4};
constexpr double kErfcLargeDenominator[] = {
    1.0, 2.56852019228982242e0, 1.87295284992346047e0,
    5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3};
// clang-format on
constexpr double kInvSqrtPi = 0.56418958354775628695;     // 1 / sqrt(pi)
constexpr double kSqrtHalf = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double kInvSqrtTwoPi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

template <class D, class V, size_t kCount>
HWY_INLINE V Horner(D d, V x, const double (&coefficients)[kCount]) {
  using T = hn::TFromD<D>;
  V result = hn::Set(d, static_cast<T>(coefficients[0]));
  for (size_t k = 1; k < kCount; ++k) {
    result = hn::MulAdd(result, x, hn::Set(d, static_cast<T>(coefficients[k])));
  }
  return result;
}

// e^(-y^2) for y >= 0 without the rounding error of y * y, which would cost y^2 eps
// relative: y_hi = trunc(16 y) / 16 has an exact square and y^2 = y_hi^2 + (y-y_hi)(y+y_hi).
template <class D, class V>
HWY_INLINE V ExpMinusSquare(D d, V y) {
  using T = hn::TFromD<D>;
  const V y_hi = hn::Mul(hn::Trunc(hn::Mul(y, hn::Set(d, T(16)))), hn::Set(d, T(1.0 / 16)));
  const V remainder = hn::Mul(hn::Sub(y, y_hi), hn::Add(y, y_hi));
  return hn::Mul(hn::Exp(d, hn::Neg(hn::Mul(y_hi, y_hi))), hn::Exp(d, hn::Neg(remainder)));
}

// 1 - erf(z) for |z| <= 0.46875 (either sign).
template <class D, class V>
HWY_INLINE V ErfcSmall(D d, V z) {
  using T = hn::TFromD<D>;
  const V z2 = hn::Mul(z, z);
  const V erf =
      hn::Div(hn::Mul(z, Horner(d, z2, kErfSmallNumerator)), Horner(d, z2, kErfSmallDenominator));
  return hn::Sub(hn::Set(d, T(1)), erf);
}

// erfc(y) for 0.46875 < y <= 4.
template <class D, class V>
HWY_INLINE V ErfcMiddle(D d, V y) {
  const V ratio = hn::Div(Horner(d, y, kErfcMiddleNumerator), Horner(d, y, kErfcMiddleDenominator));
  return hn::Mul(ExpMinusSquare(d, y), ratio);
}

// erfc(y) for y > 4: e^(-y^2) / y * (1/sqrt(pi) - R(1/y^2) / y^2).
template <class D, class V>
HWY_INLINE V ErfcLarge(D d, V y) {
  using T = hn::TFromD<D>;
  const V inv_y2 = hn::Div(hn::Set(d, T(1)), hn::Mul(y, y));
  const V ratio = hn::Div(hn::Mul(inv_y2, Horner(d, inv_y2, kErfcLargeNumerator)),
                          Horner(d, inv_y2, kErfcLargeDenominator));
  const V series = hn::Div(hn::Sub(hn::Set(d, T(kInvSqrtPi)), ratio), y);
  return hn::Mul(ExpMinusSquare(d, y), series);
}

// erfc(z) for all z. Regions absent from a vector are skipped (|z| > 4 is rare in
// activations). y is clamped at 30, where erfc(y) is 0 in double, so that y = inf does not
// produce inf - inf in ExpMinusSquare.
template <class D, class V>
HWY_INLINE V Erfc(D d, V z) {
  using T = hn::TFromD<D>;
  const V y = hn::Min(hn::Abs(z), hn::Set(d, T(30)));
  V erfc_y = ErfcMiddle(d, y);
  const auto is_large = hn::Gt(y, hn::Set(d, T(4)));
  if (!hn::AllFalse(d, is_large)) erfc_y = hn::IfThenElse(is_large, ErfcLarge(d, y), erfc_y);
  // erfc(-y) = 2 - erfc(y)
  V result = hn::IfThenElse(hn::Lt(z, hn::Zero(d)), hn::Sub(hn::Set(d, T(2)), erfc_y), erfc_y);
  const auto is_small = hn::Le(y, hn::Set(d, T(0.46875)));
  if (!hn::AllFalse(d, is_small)) result = hn::IfThenElse(is_small, ErfcSmall(d, z), result);
  return result;
}

// gelu(x) = x Phi(x) = 0.5 x erfc(-x / sqrt 2). The erfc form keeps full relative accuracy
// for negative x, where 1 + erf(x / sqrt 2) cancels.
template <class D, class V>
HWY_INLINE V Gelu(D d, V x) {
  using T = hn::TFromD<D>;
  const V cdf_times_two = Erfc(d, hn::Mul(x, hn::Set(d, T(-kSqrtHalf))));
  return hn::Mul(hn::Mul(hn::Set(d, T(0.5)), x), cdf_times_two);
}

// gelu'(x) = Phi(x) + x phi(x). The argument -x^2 / 2 of phi is rounded once (relative
// error of phi about x^2/2 eps), exactly as in the scalar reference.
template <class D, class V>
HWY_INLINE V GeluDerivative(D d, V x) {
  using T = hn::TFromD<D>;
  const V cdf = hn::Mul(hn::Set(d, T(0.5)), Erfc(d, hn::Mul(x, hn::Set(d, T(-kSqrtHalf)))));
  const V exponent = hn::Mul(hn::Mul(x, x), hn::Set(d, T(-0.5)));
  const V pdf = hn::Mul(hn::Exp(d, exponent), hn::Set(d, T(kInvSqrtTwoPi)));
  return hn::MulAdd(x, pdf, cdf);
}

// ---- other activations ------------------------------------------------------------------

// hn::Tanh (4 ulp) does not propagate NaN; std::tanh does.
template <class D, class V>
HWY_INLINE V TanhAnyInput(D d, V x) {
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Tanh(d, x));
}

// sigmoid(x) = 1 / (1 + e^-x), evaluated with e = e^-|x| as 1 / (1 + e) for x >= 0 and
// e / (1 + e) for x < 0: the exponential never overflows and tiny results keep their
// relative accuracy.
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  using T = hn::TFromD<D>;
  const V one = hn::Set(d, T(1));
  const V e = ExpAnyInput(d, hn::Neg(hn::Abs(x)));
  const V for_positive = hn::Div(one, hn::Add(one, e));
  return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(e, for_positive), for_positive);
}

// relu(x) = 0 for x < 0, else x (so NaN passes through, as in PyTorch).
template <class D, class V>
HWY_INLINE V Relu(D d, V x) {
  return hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x);
}

// ---- kernels on one contiguous range ---------------------------------------------------

template <typename T>
void Binary(BinaryOp op, const T* a, const T* b, T* out, size_t n) {
  switch (op) {
    case BinaryOp::kAdd:
      return Map2(a, b, out, n, [](auto, auto va, auto vb) { return hn::Add(va, vb); });
    case BinaryOp::kSub:
      return Map2(a, b, out, n, [](auto, auto va, auto vb) { return hn::Sub(va, vb); });
    case BinaryOp::kMul:
      return Map2(a, b, out, n, [](auto, auto va, auto vb) { return hn::Mul(va, vb); });
    case BinaryOp::kDiv:
      return Map2(a, b, out, n, [](auto, auto va, auto vb) { return hn::Div(va, vb); });
  }
}

template <typename T>
void Affine(const T* a, T scale, T shift, T* out, size_t n) {
  Map1(a, out, n,
       [&](auto d, auto v) { return hn::MulAdd(v, hn::Set(d, scale), hn::Set(d, shift)); });
}

template <typename T>
void Axpy(T alpha, const T* x, T* out, size_t n) {
  Map2(x, out, out, n,
       [&](auto d, auto vx, auto vout) { return hn::MulAdd(hn::Set(d, alpha), vx, vout); });
}

template <typename T>
T Sum(const T* x, size_t n) {
  return SumOfTerms<T>(n, [&](auto d, size_t i) { return hn::LoadU(d, x + i); });
}

template <typename T>
void Unary(UnaryOp op, const T* x, T* out, size_t n) {
  switch (op) {
    case UnaryOp::kRelu:
      return Map1(x, out, n, [](auto d, auto v) { return Relu(d, v); });
    case UnaryOp::kGelu:
      return Map1(x, out, n, [](auto d, auto v) { return Gelu(d, v); });
    case UnaryOp::kTanh:
      return Map1(x, out, n, [](auto d, auto v) { return TanhAnyInput(d, v); });
    case UnaryOp::kSigmoid:
      return Map1(x, out, n, [](auto d, auto v) { return Sigmoid(d, v); });
    case UnaryOp::kExp:
      return Map1(x, out, n, [](auto d, auto v) { return ExpAnyInput(d, v); });
  }
}

// `saved` is the forward input x (relu, gelu) or output y (tanh, sigmoid).
template <typename T>
void UnaryBackward(UnaryBackwardOp op, const T* saved, const T* grad_out, T* grad_in, size_t n) {
  using hn::Mul;
  switch (op) {
    case UnaryBackwardOp::kRelu:  // gradient 1 where x > 0, else 0
      return Map2(saved, grad_out, grad_in, n, [](auto d, auto x, auto grad) {
        return hn::IfThenElseZero(hn::Gt(x, hn::Zero(d)), grad);
      });
    case UnaryBackwardOp::kGelu:
      return Map2(saved, grad_out, grad_in, n,
                  [](auto d, auto x, auto grad) { return Mul(grad, GeluDerivative(d, x)); });
    case UnaryBackwardOp::kTanh:  // 1 - y^2
      return Map2(saved, grad_out, grad_in, n, [](auto d, auto y, auto grad) {
        return Mul(grad, hn::NegMulAdd(y, y, hn::Set(d, T(1))));
      });
    case UnaryBackwardOp::kSigmoid:  // y (1 - y)
      return Map2(saved, grad_out, grad_in, n, [](auto d, auto y, auto grad) {
        return Mul(grad, Mul(y, hn::Sub(hn::Set(d, T(1)), y)));
      });
  }
}

// Highway exports plain functions only: a float and a double instance of each kernel.
void BinaryF32(BinaryOp op, const float* a, const float* b, float* out, size_t n) {
  Binary(op, a, b, out, n);
}
void BinaryF64(BinaryOp op, const double* a, const double* b, double* out, size_t n) {
  Binary(op, a, b, out, n);
}
void AffineF32(const float* a, float scale, float shift, float* out, size_t n) {
  Affine(a, scale, shift, out, n);
}
void AffineF64(const double* a, double scale, double shift, double* out, size_t n) {
  Affine(a, scale, shift, out, n);
}
void AxpyF32(float alpha, const float* x, float* out, size_t n) { Axpy(alpha, x, out, n); }
void AxpyF64(double alpha, const double* x, double* out, size_t n) { Axpy(alpha, x, out, n); }
float SumF32(const float* x, size_t n) { return Sum(x, n); }
double SumF64(const double* x, size_t n) { return Sum(x, n); }
void UnaryF32(UnaryOp op, const float* x, float* out, size_t n) { Unary(op, x, out, n); }
void UnaryF64(UnaryOp op, const double* x, double* out, size_t n) { Unary(op, x, out, n); }
void UnaryBackwardF32(UnaryBackwardOp op, const float* saved, const float* grad_out, float* grad_in,
                      size_t n) {
  UnaryBackward(op, saved, grad_out, grad_in, n);
}
void UnaryBackwardF64(UnaryBackwardOp op, const double* saved, const double* grad_out,
                      double* grad_in, size_t n) {
  UnaryBackward(op, saved, grad_out, grad_in, n);
}

}  // namespace attn::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

// ---- compiled once: dispatch, threads and the public templates ---------------------------
#if HWY_ONCE

#include <algorithm>
#include <cstdint>
#include <vector>

#include "attn/core/error.h"
#include "attn/kernels/vector_ops.h"

namespace attn::kernels {

HWY_EXPORT(BinaryF32);
HWY_EXPORT(BinaryF64);
HWY_EXPORT(AffineF32);
HWY_EXPORT(AffineF64);
HWY_EXPORT(AxpyF32);
HWY_EXPORT(AxpyF64);
HWY_EXPORT(SumF32);
HWY_EXPORT(SumF64);
HWY_EXPORT(UnaryF32);
HWY_EXPORT(UnaryF64);
HWY_EXPORT(UnaryBackwardF32);
HWY_EXPORT(UnaryBackwardF64);

namespace {

using detail::BinaryOp;
using detail::UnaryBackwardOp;
using detail::UnaryOp;

using detail::ceil_div;
using detail::kChunk;
using detail::for_each_chunk;

void check_length(const char* op, std::int64_t n) {
  ATTN_CHECK(n >= 0, op, ": expected a length >= 0, got ", n);
}

template <typename T>
void binary(const char* name, BinaryOp op, const T* a, const T* b, T* out, std::int64_t n) {
  check_length(name, n);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, Binary)(op, a + begin, b + begin, out + begin, count);
  });
}

template <typename T>
void unary(const char* name, UnaryOp op, const T* x, T* out, std::int64_t n) {
  check_length(name, n);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, Unary)(op, x + begin, out + begin, count);
  });
}

template <typename T>
void unary_backward(const char* name, UnaryBackwardOp op, const T* saved, const T* grad_out,
                    T* grad_in, std::int64_t n) {
  check_length(name, n);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, UnaryBackward)(op, saved + begin, grad_out + begin, grad_in + begin, count);
  });
}

}  // namespace

template <typename T>
void add(const T* a, const T* b, T* out, std::int64_t n) {
  binary("add", BinaryOp::kAdd, a, b, out, n);
}
template <typename T>
void sub(const T* a, const T* b, T* out, std::int64_t n) {
  binary("sub", BinaryOp::kSub, a, b, out, n);
}
template <typename T>
void mul(const T* a, const T* b, T* out, std::int64_t n) {
  binary("mul", BinaryOp::kMul, a, b, out, n);
}
template <typename T>
void div(const T* a, const T* b, T* out, std::int64_t n) {
  binary("div", BinaryOp::kDiv, a, b, out, n);
}

template <typename T>
void affine(const T* a, T scale, T shift, T* out, std::int64_t n) {
  check_length("affine", n);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, Affine)(a + begin, scale, shift, out + begin, count);
  });
}

template <typename T>
void axpy(T alpha, const T* x, T* out, std::int64_t n) {
  check_length("axpy", n);
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    ATTN_DISPATCH(T, Axpy)(alpha, x + begin, out + begin, count);
  });
}

template <typename T>
T sum(const T* x, std::int64_t n) {
  check_length("sum", n);
  if (n <= kChunk) return ATTN_DISPATCH(T, Sum)(x, n);
  std::vector<T> chunk_sums(ceil_div(n, kChunk));
  for_each_chunk(n, [&](std::int64_t begin, std::int64_t count) {
    chunk_sums[begin / kChunk] = ATTN_DISPATCH(T, Sum)(x + begin, count);
  });
  T total = 0;
  for (const T chunk_sum : chunk_sums) total += chunk_sum;
  return total;
}

template <typename T>
void relu(const T* x, T* out, std::int64_t n) {
  unary("relu", UnaryOp::kRelu, x, out, n);
}
template <typename T>
void gelu(const T* x, T* out, std::int64_t n) {
  unary("gelu", UnaryOp::kGelu, x, out, n);
}
template <typename T>
void tanh(const T* x, T* out, std::int64_t n) {
  unary("tanh", UnaryOp::kTanh, x, out, n);
}
template <typename T>
void sigmoid(const T* x, T* out, std::int64_t n) {
  unary("sigmoid", UnaryOp::kSigmoid, x, out, n);
}
template <typename T>
void exp(const T* x, T* out, std::int64_t n) {
  unary("exp", UnaryOp::kExp, x, out, n);
}

template <typename T>
void relu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n) {
  unary_backward("relu_backward", UnaryBackwardOp::kRelu, x, grad_out, grad_in, n);
}
template <typename T>
void gelu_backward(const T* x, const T* grad_out, T* grad_in, std::int64_t n) {
  unary_backward("gelu_backward", UnaryBackwardOp::kGelu, x, grad_out, grad_in, n);
}
template <typename T>
void tanh_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n) {
  unary_backward("tanh_backward", UnaryBackwardOp::kTanh, y, grad_out, grad_in, n);
}
template <typename T>
void sigmoid_backward(const T* y, const T* grad_out, T* grad_in, std::int64_t n) {
  unary_backward("sigmoid_backward", UnaryBackwardOp::kSigmoid, y, grad_out, grad_in, n);
}

#define ATTN_INSTANTIATE_ELEMENTWISE(T)                                 \
  template void add<T>(const T*, const T*, T*, std::int64_t);           \
  template void sub<T>(const T*, const T*, T*, std::int64_t);           \
  template void mul<T>(const T*, const T*, T*, std::int64_t);           \
  template void div<T>(const T*, const T*, T*, std::int64_t);           \
  template void affine<T>(const T*, T, T, T*, std::int64_t);            \
  template void axpy<T>(T, const T*, T*, std::int64_t);                 \
  template T sum<T>(const T*, std::int64_t);                            \
  template void relu<T>(const T*, T*, std::int64_t);                    \
  template void gelu<T>(const T*, T*, std::int64_t);                    \
  template void tanh<T>(const T*, T*, std::int64_t);                    \
  template void sigmoid<T>(const T*, T*, std::int64_t);                 \
  template void exp<T>(const T*, T*, std::int64_t);                     \
  template void relu_backward<T>(const T*, const T*, T*, std::int64_t); \
  template void gelu_backward<T>(const T*, const T*, T*, std::int64_t); \
  template void tanh_backward<T>(const T*, const T*, T*, std::int64_t); \
  template void sigmoid_backward<T>(const T*, const T*, T*, std::int64_t);

ATTN_INSTANTIATE_ELEMENTWISE(float)
ATTN_INSTANTIATE_ELEMENTWISE(double)

}  // namespace attn::kernels

#endif  // HWY_ONCE
