// Optimizers and clipping against values computed by hand from their papers'
// equations, and an MLP trained with the core on a real small problem.
#include <cmath>
#include <cstdint>
#include <vector>

#include "helpers.hpp"

namespace test_optim {

using latent::Matrix;

TEST_CASE("Adam's first three updates match the paper's equations", "[optim]") {
  latent::Parameter<double> p(Matrix<double>::Constant(1, 1, 1.0));
  latent::Adam<double> adam(0.1, 0.9, 0.999, 1e-8);
  const double grads[3] = {0.5, -1.0, 2.0};
  double m = 0, v = 0, w = 1.0;
  for (int t = 1; t <= 3; ++t) {
    p.grad(0, 0) = grads[t - 1];
    adam.step({&p});
    const double g = grads[t - 1];
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const double m_hat = m / (1 - std::pow(0.9, t)), v_hat = v / (1 - std::pow(0.999, t));
    w -= 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8);
    CAPTURE(t);
    REQUIRE(p.value(0, 0) == Approx(w).epsilon(1e-12));
  }
  // Hand values: the first step moves by lr * sign(g) (m_hat / sqrt(v_hat) = 1).
  REQUIRE(adam.steps() == 3);
}

TEST_CASE("Adam's first step moves each weight by lr against its gradient's sign", "[optim]") {
  latent::Parameter<float> p(Matrix<float>::Zero(2, 1));
  p.grad << 3.0f, -0.25f;
  latent::Adam<float> adam(0.01f);
  adam.step({&p});
  REQUIRE(p.value(0, 0) == Approx(-0.01f));
  REQUIRE(p.value(1, 0) == Approx(0.01f));
}

TEST_CASE("Adam's decoupled weight decay shrinks weights without a gradient", "[optim]") {
  latent::Parameter<double> p(Matrix<double>::Constant(1, 1, 2.0));
  latent::Adam<double> adam(0.1, 0.9, 0.999, 1e-8, 0.5);
  p.grad.setZero();
  adam.step({&p});
  REQUIRE(p.value(0, 0) == Approx(2.0 * (1 - 0.1 * 0.5)));
}

TEST_CASE("Sgd with and without momentum", "[optim]") {
  latent::Parameter<double> p(Matrix<double>::Constant(1, 1, 1.0));
  SECTION("plain") {
    latent::Sgd<double> sgd(0.5);
    p.grad(0, 0) = 2.0;
    sgd.step({&p});
    REQUIRE(p.value(0, 0) == Approx(0.0));
  }
  SECTION("heavy ball: v = mu v + g; w -= lr v") {
    latent::Sgd<double> sgd(0.1, 0.9);
    p.grad(0, 0) = 1.0;
    sgd.step({&p});
    sgd.step({&p});
    REQUIRE(p.value(0, 0) == Approx(1.0 - 0.1 * 1.0 - 0.1 * 1.9));
  }
  SECTION("Nesterov: w -= lr (g + mu v)") {
    latent::Sgd<double> sgd(0.1, 0.9, true);
    p.grad(0, 0) = 1.0;
    sgd.step({&p});
    REQUIRE(p.value(0, 0) == Approx(1.0 - 0.1 * (1.0 + 0.9)));
  }
}

TEMPLATE_TEST_CASE("a step that clears the gradients as it goes equals a step and zero_grad", "[optim]", latent::Adam<float>,
                   latent::Sgd<float>) {
  // Big enough for several pieces and both threads' shares.
  const auto make = [] {
    std::vector<latent::Parameter<float>> params;
    params.emplace_back(test::random_matrix(300, 200, 1).cast<float>());
    params.emplace_back(test::random_matrix(7, 1, 2).cast<float>());
    return params;
  };
  auto kept = make(), cleared = make();
  TestType keeping(0.01f), clearing(0.01f);
  const auto list = [](std::vector<latent::Parameter<float>>& params) {
    latent::ParameterList<float> pointers;
    for (auto& p : params) pointers.push_back(&p);
    return pointers;
  };
  for (std::uint64_t step = 0; step < 3; ++step) {
    std::vector<Matrix<float>> grads;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      grads.push_back(test::random_matrix(kept[i].value.rows(), kept[i].value.cols(), 10 + step).template cast<float>());
      kept[i].grad = cleared[i].grad = grads.back();
    }
    keeping.step(list(kept));
    clearing.step(list(cleared), latent::AfterStep::clear_grads);
    for (std::size_t i = 0; i < kept.size(); ++i) {
      REQUIRE(cleared[i].value == kept[i].value);
      REQUIRE(kept[i].grad == grads[i]);
      REQUIRE((cleared[i].grad.array() == 0.0f).all());
    }
  }
}

TEST_CASE("an optimizer refuses a parameter list it was not bound to", "[optim]") {
  latent::Parameter<float> a(2, 2), b(3, 1);
  latent::Adam<float> adam;
  adam.step({&a});
  REQUIRE_THROWS_AS(adam.step({&a, &b}), latent::shape_error);
  REQUIRE_THROWS_WITH(adam.step({&b}), Catch::Contains("3x1") && Catch::Contains("2x2"));
}

TEST_CASE("an optimizer refuses a gradient of the wrong shape, and zero_grad restores it", "[optim]") {
  latent::Parameter<float> a(2, 3);
  a.grad.resize(3, 1);
  latent::Sgd<float> sgd;
  REQUIRE_THROWS_WITH(sgd.step({&a}), Catch::Contains("gradient is 3x1") && Catch::Contains("2x3"));
  REQUIRE(a.value.isZero());
  latent::zero_grad<float>({&a});
  REQUIRE(a.grad.rows() == 2);
  REQUIRE(a.grad.cols() == 3);
  REQUIRE(a.grad.isZero());
}

TEST_CASE("clip_grad_norm", "[optim]") {
  latent::Parameter<double> a(1, 2), b(1, 1);
  SECTION("leaves a small gradient untouched") {
    a.grad << 0.3, 0.4;
    b.grad << 0.0;
    REQUIRE(latent::clip_grad_norm<double>({&a, &b}, 5.0) == Approx(0.5));
    REQUIRE(a.grad(0, 0) == 0.3);
    REQUIRE(a.grad(0, 1) == 0.4);
  }
  SECTION("scales a large one to exactly the norm") {
    a.grad << 30, 40;
    b.grad << 120;
    REQUIRE(latent::clip_grad_norm<double>({&a, &b}, 5.0) == Approx(130.0));
    REQUIRE(latent::grad_norm<double>({&a, &b}) == Approx(5.0).epsilon(1e-12));
    REQUIRE(a.grad(0, 0) == Approx(30.0 * 5 / 130));
  }
  SECTION("scales only the ranges given, by the norm given") {
    a.grad << 30, 40;
    b.grad << 120;
    latent::detail::scale_grads_to_norm<double>({&a, &b}, 130.0, 13.0, {{1, 1}, {0, 1}});
    REQUIRE(a.grad(0, 0) == 30.0);
    REQUIRE(a.grad(0, 1) == Approx(4.0));
    REQUIRE(b.grad(0, 0) == Approx(12.0));
    latent::detail::scale_grads_to_norm<double>({&a, &b}, 13.0, 13.0);  // within the bound
    REQUIRE(b.grad(0, 0) == Approx(12.0));
  }
  SECTION("refuses a gradient of the wrong shape") {
    a.grad.resize(1, 1);
    a.grad << 30;
    b.grad << 40;
    REQUIRE_THROWS_WITH(latent::clip_grad_norm<double>({&a, &b}, 5.0),
                        Catch::Contains("clip_grad_norm") && Catch::Contains("gradient is 1x1"));
    REQUIRE(b.grad(0, 0) == 40.0);
  }
}

TEST_CASE("grad_norm splits over threads with the same bits, and sums parts given as element ranges", "[optim]") {
  // 1000 x 1000 and 7 x 1: 32 fixed blocks, long enough for the second thread to take its share.
  latent::Parameter<float> a(test::random_matrix(1000, 1000, 3).cast<float>()), b(test::random_matrix(7, 1, 4).cast<float>());
  a.grad = test::random_matrix(1000, 1000, 5).cast<float>();
  b.grad = test::random_matrix(7, 1, 6).cast<float>();
  const latent::ParameterList<float> params{&a, &b};
  const double exact = std::sqrt(a.grad.cast<double>().squaredNorm() + b.grad.cast<double>().squaredNorm());
  const test::ThreadSettings restore;
  std::vector<double> norms;
  for (int threads : {1, 2}) {
    latent::set_num_threads(threads);
    REQUIRE(latent::detail::element_shares(a.grad.size()) == threads);
    for (int repeat = 0; repeat < 5; ++repeat) norms.push_back(latent::grad_norm(params));
  }
  for (const double norm : norms) REQUIRE(norm == norms[0]);
  REQUIRE(norms[0] == Approx(exact).epsilon(1e-6));
  // Two parts of a, b in neither: their squares add up to a's.
  const double first = latent::detail::squared_grad_norm(params, {{0, 50000}, {0, 0}});
  const double second = latent::detail::squared_grad_norm(params, {{50000, 950000}, {3, 0}});
  REQUIRE(first + second == Approx(a.grad.cast<double>().squaredNorm()).epsilon(1e-6));
  REQUIRE_THROWS_AS(latent::detail::squared_grad_norm(params, {{999999, 2}, {0, 0}}), latent::shape_error);
  REQUIRE_THROWS_AS(latent::detail::squared_grad_norm(params, {{0, 1}}), latent::shape_error);
}

TEMPLATE_TEST_CASE("a step of element ranges updates those elements as a whole step does, and nothing else", "[optim]",
                   latent::Adam<float>, latent::Sgd<float>) {
  latent::Parameter<float> whole(test::random_matrix(200, 100, 7).cast<float>()), parts(whole.value);
  latent::Parameter<float> small_whole(test::random_matrix(3, 1, 8).cast<float>()), small_parts(small_whole.value);
  TestType all(0.01f), ranged(0.01f);
  for (std::uint64_t step = 0; step < 3; ++step) {
    whole.grad = parts.grad = test::random_matrix(200, 100, 20 + step).cast<float>();
    small_whole.grad = small_parts.grad = test::random_matrix(3, 1, 30 + step).cast<float>();
    Matrix<float> before = parts.value, grad = parts.grad;
    all.step({&whole, &small_whole});
    // Elements 5000 .. 11999 of the large parameter, all of the small one.
    ranged.step({&parts, &small_parts}, latent::AfterStep::clear_grads, {{5000, 7000}, {0, 3}});
    const auto updated = latent::detail::piece(parts.value, 5000, 7000);
    REQUIRE((updated == latent::detail::piece(whole.value, 5000, 7000)).all());
    REQUIRE((latent::detail::piece(parts.value, 0, 5000) == latent::detail::piece(before, 0, 5000)).all());
    REQUIRE((latent::detail::piece(parts.value, 12000, 8000) ==
             latent::detail::piece(before, 12000, 8000)).all());
    REQUIRE((latent::detail::piece(parts.grad, 5000, 7000) == 0.0f).all());  // cleared
    REQUIRE((latent::detail::piece(parts.grad, 0, 5000) == latent::detail::piece(grad, 0, 5000)).all());
    REQUIRE(small_parts.value == small_whole.value);
    // Outside its range the state is untouched, so the next step's ranged update matches only where it always ran:
    parts.value = whole.value;  // start the next step from the same values everywhere
  }
  REQUIRE_THROWS_AS(ranged.step({&parts, &small_parts}, latent::AfterStep::keep_grads, {{19999, 2}, {0, 3}}), latent::shape_error);
  REQUIRE_THROWS_AS(ranged.step({&parts, &small_parts}, latent::AfterStep::keep_grads, {{0, 1}}), latent::shape_error);
}

TEST_CASE("clip_weights clamps every parameter value", "[optim]") {
  latent::Parameter<float> p(Matrix<float>(Eigen::VectorXf::LinSpaced(5, -1, 1)));
  latent::clip_weights<float>({&p}, 0.5);
  REQUIRE(p.value.maxCoeff() == 0.5f);
  REQUIRE(p.value.minCoeff() == -0.5f);
  REQUIRE(p.value(2) == 0.0f);
  REQUIRE_THROWS_AS(latent::clip_weights<float>({&p}, 0.0), latent::error);
}

namespace {

// Two interleaving half-moons, 2 x n points, labels 0/1, with noise.
void two_moons(latent::Index n, latent::Rng& rng, Matrix<float>& points, Matrix<float>& labels) {
  points.resize(2, n);
  labels.resize(1, n);
  for (latent::Index i = 0; i < n; ++i) {
    const bool upper = i % 2 == 0;
    const double angle = M_PI * rng.uniform();
    const double x = upper ? std::cos(angle) : 1 - std::cos(angle);
    const double y = upper ? std::sin(angle) : 0.5 - std::sin(angle);
    points(0, i) = static_cast<float>(x + 0.1 * rng.normal());
    points(1, i) = static_cast<float>(y + 0.1 * rng.normal());
    labels(0, i) = upper ? 1.0f : 0.0f;
  }
}

}  // namespace

TEST_CASE("CosineDecay: warm-up, then half a cosine from the peak to its floor, held after the end", "[optim][schedule]") {
  const latent::CosineDecay plain{6e-3, 100};
  REQUIRE(plain(0) == Approx(6e-3));
  REQUIRE(plain(50) == Approx(3e-3));                                            // half way: the middle
  REQUIRE(plain(25) == Approx(3e-3 * (1 + std::cos(M_PI / 4))));
  REQUIRE(plain(100) == Approx(0).margin(1e-15));
  REQUIRE(plain(150) == Approx(0).margin(1e-15));
  for (std::int64_t step = 1; step <= 100; ++step) REQUIRE(plain(step) <= plain(step - 1));

  const latent::CosineDecay warm{1.0, 110, 10, 0.1};
  REQUIRE(warm(0) == Approx(0.1));   // linear warm-up: (step + 1) / warmup_steps of the peak
  REQUIRE(warm(4) == Approx(0.5));
  REQUIRE(warm(9) == Approx(1.0));
  REQUIRE(warm(10) == Approx(1.0));  // then the cosine starts at the peak
  REQUIRE(warm(60) == Approx(0.55));
  REQUIRE(warm(110) == Approx(0.1));  // down to peak * final_fraction
  REQUIRE(warm(1000) == Approx(0.1));
}

TEST_CASE("an MLP trained with the core separates two moons (>= 97% training accuracy)", "[optim][training]") {
  latent::Rng rng(2024);
  Matrix<float> points, labels;
  two_moons(512, rng, points, labels);
  latent::Mlp<float, latent::Tanh, latent::Identity> net({2, 32, 32, 1}, rng);
  latent::Adam<float> adam(0.01f);
  const auto params = net.parameters();
  latent::Tape<float> tape;
  float first_loss = 0, loss_value = 0;
  for (int step = 0; step < 600; ++step) {
    tape.reset();
    auto loss = latent::bce_with_logits(net(tape.constant(points)), tape.constant(labels));
    tape.backward(loss);
    adam.step(params);
    latent::zero_grad(params);
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
  }
  tape.reset();
  const Matrix<float> logits = net(tape.constant(points)).value();
  const double accuracy = ((logits.array() > 0).cast<float>() == labels.array()).cast<double>().mean();
  INFO("loss " << first_loss << " -> " << loss_value << ", accuracy " << accuracy);
  REQUIRE(loss_value < 0.25f * first_loss);
  REQUIRE(accuracy >= 0.97);
}

}  // namespace test_optim
