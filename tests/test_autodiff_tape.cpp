// The tape's promises: shape errors name the op and both shapes, gradients
// accumulate into parameters, buffers are reused, frozen parameters take no
// gradient, every recording has an id, gradcheck catches a broken backward,
// and the stable losses stay finite at extreme logits.
#include <cmath>
#include <limits>
#include <vector>

#include "helpers.hpp"

namespace test_autodiff_tape {

using latent::Matrix;
using latent::Tape;
using latent::Var;
using Vars = std::vector<Var<double>>;

namespace {

// An op with a deliberately wrong backward: d(x^2) reported as x instead of 2x.
Var<double> broken_square(Var<double> x) {
  Tape<double>& tape = x.tape();
  Var<double> out = tape.record(x.rows(), x.cols(), {x}, [](Tape<double>& t, latent::Node<double>& n) {
    t.accumulate(n, 0, (n.grad.array() * t.parent_value(n, 0).array()).matrix());
  });
  tape.value_of(out) = x.value().array().square().matrix();
  return out;
}

// An op whose backward is transposed: y = A x with dA reported as x dy^T, not dy x^T.
Var<double> transposed_matmul(Var<double> a, Var<double> x) {
  Tape<double>& tape = a.tape();
  Var<double> out = tape.record(a.rows(), x.cols(), {a, x}, [](Tape<double>& t, latent::Node<double>& n) {
    t.accumulate(n, 0, t.parent_value(n, 1) * n.grad.transpose());
    t.accumulate(n, 1, t.parent_value(n, 0).transpose() * n.grad);
  });
  tape.value_of(out) = a.value() * x.value();
  return out;
}

}  // namespace

TEST_CASE("gradcheck fails on a backward that is off by a factor of 2", "[gradcheck][tape]") {
  const auto result = latent::gradcheck([](Tape<double>&, const Vars& v) { return latent::sum(broken_square(v[0])); },
                                        {test::random_matrix(3, 4, 1)});
  REQUIRE_FALSE(result.passed);
  REQUIRE_THAT(result.report, Catch::Contains("finite difference"));
}

TEST_CASE("gradcheck fails on a transposed gradient", "[gradcheck][tape]") {
  // Square A, so the transposed gradient has the right shape and only the values can tell.
  const auto result = latent::gradcheck(
      [](Tape<double>& t, const Vars& v) {
        return latent::sum(latent::mul(transposed_matmul(v[0], v[1]), t.constant(test::random_matrix(3, 3, 5))));
      },
      {test::random_matrix(3, 3, 2), test::random_matrix(3, 3, 3)});
  REQUIRE_FALSE(result.passed);
}

TEST_CASE("shape errors name the op and both shapes", "[tape]") {
  Tape<float> tape;
  auto a = tape.constant(Matrix<float>::Zero(3, 4));
  auto b = tape.constant(Matrix<float>::Zero(5, 2));
  SECTION("matmul") { REQUIRE_THROWS_WITH(latent::matmul(a, b), Catch::Contains("matmul") && Catch::Contains("3x4") && Catch::Contains("5x2")); }
  SECTION("add") { REQUIRE_THROWS_AS(latent::add(a, b), latent::shape_error); }
  SECTION("affine") {
    auto bias = tape.constant(Matrix<float>::Zero(3, 1));
    REQUIRE_THROWS_WITH(latent::affine(a, b, bias), Catch::Contains("affine") && Catch::Contains("3x4") && Catch::Contains("5x2"));
  }
  SECTION("affine bias") {
    auto x = tape.constant(Matrix<float>::Zero(4, 2));
    auto bias = tape.constant(Matrix<float>::Zero(2, 1));
    REQUIRE_THROWS_WITH(latent::affine(a, x, bias), Catch::Contains("b is 2x1"));
  }
  SECTION("bce_with_logits") { REQUIRE_THROWS_AS(latent::bce_with_logits(a, b), latent::shape_error); }
  SECTION("kl_standard_normal") { REQUIRE_THROWS_AS(latent::kl_standard_normal(a, b), latent::shape_error); }
  SECTION("a loss that is not 1x1") { REQUIRE_THROWS_WITH(tape.backward(a), Catch::Contains("1x1")); }
  SECTION("vars from another tape") {
    Tape<float> other;
    auto c = other.constant(Matrix<float>::Zero(3, 4));
    REQUIRE_THROWS_AS(latent::add(a, c), latent::error);
  }
}

TEST_CASE("gradients accumulate into parameters until zero_grad", "[tape]") {
  latent::Parameter<double> p(Matrix<double>::Constant(2, 2, 3.0));
  for (int i = 0; i < 2; ++i) {
    Tape<double> tape;
    tape.backward(latent::sum(latent::square(tape.leaf(p))));
  }
  REQUIRE(p.grad.isApprox(Matrix<double>::Constant(2, 2, 12.0)));
  p.zero_grad();
  REQUIRE(p.grad.isZero());
}

TEST_CASE("backward twice on one recording is refused", "[tape]") {
  latent::Parameter<double> p(Matrix<double>::Ones(1, 1));
  Tape<double> tape;
  auto loss = latent::sum(tape.leaf(p));
  tape.backward(loss);
  REQUIRE_THROWS_AS(tape.backward(loss), latent::error);
}

TEST_CASE("reset keeps node buffers for the next step", "[tape]") {
  latent::Parameter<float> w(Matrix<float>::Ones(4, 3)), b(Matrix<float>::Zero(4, 1));
  Tape<float> tape;
  const float* buffer = nullptr;
  for (int step = 0; step < 3; ++step) {
    tape.reset();
    auto y = latent::affine(tape.leaf(w), tape.constant(Matrix<float>::Ones(3, 8)), tape.leaf(b));
    if (step == 0) buffer = y.value().data();
    REQUIRE(y.value().data() == buffer);
  }
}

TEST_CASE("a deep chain backpropagates without recursion", "[tape]") {
  latent::Parameter<double> p(Matrix<double>::Ones(1, 1));
  Tape<double> tape;
  auto x = tape.leaf(p);
  for (int i = 0; i < 200000; ++i) x = latent::scale(x, 1.0);
  tape.backward(latent::sum(x));
  REQUIRE(p.grad(0, 0) == 1.0);
}

TEST_CASE("a frozen parameter is read in place and takes no gradient", "[tape]") {
  latent::Parameter<double> w(test::random_matrix(3, 4, 1));
  latent::Parameter<double> x(test::random_matrix(4, 2, 2));
  latent::Parameter<double> b(test::random_matrix(3, 1, 3));
  const latent::ParameterList<double> frozen_list{&w, &b};

  SECTION("gradients still reach the inputs, exactly as without freezing") {
    Tape<double> tape;
    tape.backward(latent::sum(latent::dense(latent::Tanh{}, tape.leaf(w), tape.leaf(x), tape.leaf(b))));
    const Matrix<double> expected_dx = x.grad;
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    {
      const latent::FrozenParameters<double> frozen(frozen_list);
      REQUIRE_FALSE(w.requires_grad);
      Tape<double> frozen_tape;
      Var<double> w_leaf = frozen_tape.leaf(w);
      REQUIRE(w_leaf.value().data() == w.value.data());  // no copy
      frozen_tape.backward(latent::sum(latent::dense(latent::Tanh{}, w_leaf, frozen_tape.leaf(x), frozen_tape.leaf(b))));
      REQUIRE_THROWS_WITH(w_leaf.grad(), Catch::Contains("no gradient"));
    }
    REQUIRE(x.grad.isApprox(expected_dx));
    REQUIRE(w.grad.isZero());
    REQUIRE(b.grad.isZero());
  }

  SECTION("the scope restores requires_grad on every way out") {
    try {
      const latent::FrozenParameters<double> frozen(frozen_list);
      throw latent::error("boom");
    } catch (const latent::error&) {
    }
    REQUIRE(w.requires_grad);
    REQUIRE(b.requires_grad);
  }

  SECTION("a loss of frozen parameters alone backpropagates nothing") {
    const latent::FrozenParameters<double> frozen(frozen_list);
    Tape<double> tape;
    tape.backward(latent::sum(tape.leaf(w)));
    REQUIRE(w.grad.isZero());
  }
}

TEST_CASE("every recording has an id of its own, across resets and tapes", "[tape]") {
  Tape<float> a, b;
  REQUIRE(a.recording() != b.recording());
  const auto first = a.recording();
  a.reset();
  REQUIRE(a.recording() != first);
  REQUIRE(a.recording() != b.recording());
}

TEST_CASE("FrozenParameters may be given a temporary list", "[tape]") {
  latent::Rng rng(4);
  latent::Mlp<double, latent::Tanh> net({3, 4, 2}, rng);
  {
    // parameters() makes a new list; the guard must not keep a reference to it.
    const latent::FrozenParameters<double> frozen(net.parameters());
    std::vector<latent::ParameterList<double>> reuse(8, latent::ParameterList<double>(4, nullptr));  // takes its memory
    for (const auto* p : net.parameters()) REQUIRE_FALSE(p->requires_grad);
  }
  for (const auto* p : net.parameters()) REQUIRE(p->requires_grad);
}

TEST_CASE("bce_with_logits is finite and exact at logits of +-1e4", "[tape][loss]") {
  Tape<float> tape;
  Matrix<float> logits(2, 2);
  logits << 1e4f, -1e4f, 1e4f, -1e4f;
  Matrix<float> targets(2, 2);
  targets << 1, 0, 0, 1;
  latent::Parameter<float> l(logits);
  auto loss = latent::bce_with_logits(tape.leaf(l), tape.constant(targets));
  // Two confident mistakes of 1e4 nats each, over a batch of 2.
  REQUIRE(loss.item() == Approx(1e4f));
  tape.backward(loss);
  REQUIRE(l.grad.allFinite());
  REQUIRE(l.grad(0, 0) == Approx(0.0f).margin(1e-6));
  REQUIRE(l.grad(1, 0) == Approx(0.5f));
}

TEST_CASE("float log(1 + x) on [0, 1] is within 2.5e-7 of double's, packet by packet and one by one", "[loss]") {
  constexpr int kSteps = 1 << 20;
  Eigen::ArrayXf x(kSteps + 1);
  for (int i = 0; i <= kSteps; ++i) x(i) = static_cast<float>(i) / kSteps;
  x(0) = 1e-30f;
  const Eigen::ArrayXf packets = x.unaryExpr(latent::detail::Log1pOfUnit<float>());
  double worst_packet = 0, worst_scalar = 0;
  for (int i = 0; i <= kSteps; ++i) {
    const double exact = std::log1p(static_cast<double>(x(i)));
    worst_packet = std::max(worst_packet, std::abs(packets(i) - exact) / exact);
    worst_scalar = std::max(worst_scalar, std::abs(latent::detail::Log1pOfUnit<float>()(x(i)) - exact) / exact);
  }
  REQUIRE(worst_packet <= 2.5e-7);
  REQUIRE(worst_scalar <= 2.5e-7);
}

TEST_CASE("bce_with_logits in float is within a few ulps of double, and its gradient the sigmoid", "[tape][loss]") {
  // Float takes its own log(1 + e^{-|l|}) (detail::Log1pOfUnit): every
  // logit's loss term and sigmoid are checked against double's std::log1p.
  std::vector<float> values{0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.5f, -0.5f, 1.0f, -1.0f, 3.0f, -3.0f, 17.0f, -17.0f, 88.0f, -88.0f, 1e4f, -1e4f};
  for (int i = 0; i < 400; ++i) values.push_back(-20.0f + 0.1f * static_cast<float>(i));
  const latent::Index n = static_cast<latent::Index>(values.size());
  Matrix<float> logits(n, 1), targets(n, 1);
  for (latent::Index i = 0; i < n; ++i) {
    logits(i, 0) = values[static_cast<std::size_t>(i)];
    targets(i, 0) = static_cast<float>(i % 3) / 2;
  }
  const auto terms = latent::formula::bce_with_logits(logits.array(), targets.array()).eval();
  Tape<float> tape;
  latent::Parameter<float> l(logits);
  tape.backward(latent::bce_with_logits(tape.leaf(l), tape.constant(targets)));
  for (latent::Index i = 0; i < n; ++i) {
    const double x = logits(i, 0), t = targets(i, 0);
    const double term = std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::abs(x)));
    const double sigmoid = 1 / (1 + std::exp(-x));
    INFO("logit " << x << ", target " << t);
    REQUIRE(terms(i, 0) == Approx(term).epsilon(4e-7).margin(1e-37));
    REQUIRE(l.grad(i, 0) == Approx(sigmoid - t).epsilon(4e-7).margin(1e-7));
  }
}

TEST_CASE("softmax_cross_entropy matches its formula and stays finite at huge logits", "[loss]") {
  Tape<double> tape;
  Matrix<double> logits(3, 2);
  logits << 1, 1e4, 2, -1e4, 3, 0;
  Matrix<double> targets(3, 2);
  targets << 0, 1, 0, 0, 1, 0;
  const double loss = latent::softmax_cross_entropy(tape.constant(logits), tape.constant(targets)).item();
  const double first = -(3 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
  const double second = 0;  // softmax puts all its mass on the 1e4 logit, the target class
  REQUIRE(loss == Approx((first + second) / 2).epsilon(1e-12));
  REQUIRE(latent::formula::log_softmax(logits).allFinite());
  // The one softmax normalizer: log sum e^x, without overflow at 1e4.
  REQUIRE(latent::formula::log_sum_exp(logits.col(0)) == Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
  REQUIRE(latent::formula::log_sum_exp(logits.col(1)) == Approx(1e4).epsilon(1e-12));
  REQUIRE_THROWS_AS(latent::softmax_cross_entropy(tape.constant(logits), tape.constant(targets.topRows(2))),
                    latent::shape_error);
}

TEST_CASE("loss values match their formulas", "[tape][loss]") {
  Tape<double> tape;
  SECTION("kl_standard_normal of N(0, 1) is 0 and of N(1, e) is known") {
    REQUIRE(latent::kl_standard_normal(tape.constant(Matrix<double>::Zero(3, 2)), tape.constant(Matrix<double>::Zero(3, 2))).item() == Approx(0.0));
    // per dim: -0.5 (1 + 1 - 1 - e) = (e - 1) / 2; 3 dims.
    REQUIRE(latent::kl_standard_normal(tape.constant(Matrix<double>::Ones(3, 2)), tape.constant(Matrix<double>::Ones(3, 2))).item() ==
            Approx(1.5 * (std::exp(1.0) - 1)));
  }
  SECTION("gaussian_nll of the mean under N(0, 1) is log(2 pi) / 2 per feature") {
    auto zero = tape.constant(Matrix<double>::Zero(4, 3));
    REQUIRE(latent::gaussian_nll(zero, zero, zero).item() == Approx(4 * 0.5 * std::log(2 * M_PI)));
  }
  SECTION("bce_with_logits at logit 0 is ln 2 per feature") {
    auto zero = tape.constant(Matrix<double>::Zero(5, 2));
    REQUIRE(latent::bce_with_logits(zero, tape.constant(Matrix<double>::Ones(5, 2))).item() == Approx(5 * std::log(2.0)));
  }
}

}  // namespace test_autodiff_tape
