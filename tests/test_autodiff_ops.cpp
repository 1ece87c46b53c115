// Gradient checks: every op's backward against central finite differences in
// double, on non-square shapes, with batch 1 and batch > 1.
#include <cmath>

#include "helpers.hpp"

namespace test_autodiff_ops {

using latent::Index;
using latent::Matrix;
using latent::Tape;
using latent::Var;
using Vars = std::vector<Var<double>>;

namespace {

using test::project;

const latent::Index kBatches[] = {1, 5};

}  // namespace

TEST_CASE("gradcheck: matmul", "[gradcheck][op]") {
  for (auto batch : kBatches) {
    CAPTURE(batch);
    REQUIRE_GRADCHECK(latent::gradcheck([](Tape<double>&, const Vars& v) { return project(latent::matmul(v[0], v[1])); },
                                        {test::random_matrix(3, 4, 1), test::random_matrix(4, batch, 2)}));
  }
}

TEST_CASE("gradcheck: affine", "[gradcheck][op]") {
  for (auto batch : kBatches) {
    CAPTURE(batch);
    REQUIRE_GRADCHECK(latent::gradcheck(
        [](Tape<double>&, const Vars& v) { return project(latent::affine(v[0], v[1], v[2])); },
        {test::random_matrix(3, 4, 1), test::random_matrix(4, batch, 2), test::random_matrix(3, 1, 3)}));
  }
}

TEMPLATE_TEST_CASE("gradcheck: dense fused with activation", "[gradcheck][op]", latent::Identity, latent::ReLU,
                   latent::LeakyReLU, latent::Sigmoid, latent::Tanh, latent::Softplus) {
  for (auto batch : kBatches) {
    CAPTURE(batch);
    // Inputs chosen so no pre-activation lies within the step of a kink.
    Matrix<double> w = test::random_matrix(3, 4, 4), x = test::random_matrix(4, batch, 5), b = test::random_matrix(3, 1, 6);
    const Matrix<double> z = (w * x).colwise() + b.col(0);
    b.array() += (z.array().abs() < 0.05).rowwise().any().cast<double>() * 0.2;
    REQUIRE_GRADCHECK(latent::gradcheck(
        [](Tape<double>&, const Vars& v) { return project(latent::dense(TestType{}, v[0], v[1], v[2])); }, {w, x, b}));
  }
}

// One ctest entry per op: GRADCHECK_OP(name, expression in v, inputs for a batch).
#define GRADCHECK_OP(name, expression, ...)                                                            \
  TEST_CASE("gradcheck: " name, "[gradcheck][op]") {                                                   \
    for (auto batch : kBatches) {                                                                      \
      CAPTURE(batch);                                                                                  \
      REQUIRE_GRADCHECK(latent::gradcheck([](Tape<double>&, const Vars& v) { return expression; },     \
                                          std::vector<Matrix<double>>{__VA_ARGS__}));                  \
    }                                                                                                  \
  }

GRADCHECK_OP("add", project(v[0] + v[1]), test::random_matrix(3, batch, 7), test::random_matrix(3, batch, 8))
GRADCHECK_OP("sub", project(v[0] - v[1]), test::random_matrix(3, batch, 7), test::random_matrix(3, batch, 8))
GRADCHECK_OP("mul", project(latent::mul(v[0], v[1])), test::random_matrix(3, batch, 7), test::random_matrix(3, batch, 8))
GRADCHECK_OP("scale", project(latent::scale(v[0], -2.5)), test::random_matrix(4, batch, 9))
GRADCHECK_OP("shift", project(latent::shift(v[0], 0.75)), test::random_matrix(4, batch, 9))
GRADCHECK_OP("1 - x", project(1.0 - v[0]), test::random_matrix(4, batch, 9))
GRADCHECK_OP("exp", project(latent::exp(v[0])), test::random_matrix(4, batch, 9))
GRADCHECK_OP("log", project(latent::log(v[0])), test::random_matrix(4, batch, 10, 0.2, 2.0))
GRADCHECK_OP("square", project(latent::square(v[0])), test::random_matrix(4, batch, 9))
GRADCHECK_OP("identity", project(latent::identity(v[0])), test::random_matrix(4, batch, 9))
GRADCHECK_OP("relu", project(latent::relu(v[0])), test::away_from_zero(4, batch, 9))
GRADCHECK_OP("leaky_relu", project(latent::leaky_relu(v[0], 0.1)), test::away_from_zero(4, batch, 9))
GRADCHECK_OP("sigmoid", project(latent::sigmoid(v[0])), test::random_matrix(4, batch, 9, -3, 3))
GRADCHECK_OP("tanh", project(latent::tanh(v[0])), test::random_matrix(4, batch, 9, -2, 2))
GRADCHECK_OP("softplus", project(latent::softplus(v[0])), test::random_matrix(4, batch, 9, -3, 3))
// square() first so the gradient of a reduction varies per entry.
GRADCHECK_OP("sum", latent::sum(latent::square(v[0])), test::random_matrix(3, batch, 11))
GRADCHECK_OP("mean", latent::mean(latent::square(v[0])), test::random_matrix(3, batch, 11))
GRADCHECK_OP("bce_with_logits (logits and targets)", latent::bce_with_logits(v[0], v[1]),
             test::random_matrix(5, batch, 12, -3, 3), test::random_matrix(5, batch, 13, 0, 1))
GRADCHECK_OP("kl_standard_normal", latent::kl_standard_normal(v[0], v[1]), test::random_matrix(2, batch, 14),
             test::random_matrix(2, batch, 15))
GRADCHECK_OP("reparameterize (mu, logvar and eps)", project(latent::reparameterize(v[0], v[1], v[2])),
             test::random_matrix(3, batch, 16), test::random_matrix(3, batch, 17), test::random_matrix(3, batch, 18))
GRADCHECK_OP("gaussian_nll, full logvar", latent::gaussian_nll(v[0], v[1], v[2]), test::random_matrix(4, batch, 19),
             test::random_matrix(4, batch, 20), test::random_matrix(4, batch, 21))
GRADCHECK_OP("gaussian_nll, per-feature logvar", latent::gaussian_nll(v[0], v[1], v[2]), test::random_matrix(4, batch, 22),
             test::random_matrix(4, batch, 23), test::random_matrix(4, 1, 24))
GRADCHECK_OP("a value used twice accumulates both paths",
             project(latent::mul(latent::tanh(v[0]), latent::exp(v[0])) + v[0]), test::random_matrix(3, batch, 25))

GRADCHECK_OP("concat (rows)", project(latent::concat(v[0], v[1])), test::random_matrix(3, batch, 26),
             test::random_matrix(2, batch, 27))
GRADCHECK_OP("concat_columns", project(latent::concat_columns(v[0], v[1])), test::random_matrix(3, batch, 28),
             test::random_matrix(3, 2, 29))
GRADCHECK_OP("concat of a value with itself adds both blocks' gradients", project(latent::concat(v[0], latent::tanh(v[0]))),
             test::random_matrix(3, batch, 30))

GRADCHECK_OP("slice_rows (a middle block)", project(latent::slice_rows(v[0], 1, 2)), test::random_matrix(4, batch, 31))
GRADCHECK_OP("slice_rows of a concat gives each part back", project(latent::slice_rows(latent::concat(v[0], v[1]), 3, 2)) +
                                                                project(latent::slice_rows(latent::concat(v[0], v[1]), 0, 3)),
             test::random_matrix(3, batch, 32), test::random_matrix(2, batch, 33))
GRADCHECK_OP("column_dot", project(latent::column_dot(v[0], v[1])), test::random_matrix(3, batch, 34),
             test::random_matrix(3, batch, 35))
GRADCHECK_OP("column_dot of a value with itself", project(latent::column_dot(v[0], v[0])), test::random_matrix(3, batch, 36))

TEST_CASE("slice_rows takes rows back out of a stack, column_dot dots columns, and both refuse what does not fit",
          "[op][concat]") {
  Tape<double> tape;
  Matrix<double> a(3, 2), b(3, 2);
  a << 1, 2, 3, 4, 5, 6;
  b << 1, 0, 2, 1, -1, 3;
  Matrix<double> middle(2, 2), dots(1, 2);
  middle << 3, 4, 5, 6;
  dots << 1 * 1 + 3 * 2 + 5 * -1, 2 * 0 + 4 * 1 + 6 * 3;
  REQUIRE(latent::slice_rows(tape.constant(a), 1, 2).value() == middle);
  REQUIRE(latent::column_dot(tape.constant(a), tape.constant(b)).value() == dots);
  REQUIRE_THROWS_WITH(latent::slice_rows(tape.constant(a), 2, 2),
                      Catch::Contains("slice_rows") && Catch::Contains("rows 2 to 4") && Catch::Contains("3x2"));
  REQUIRE_THROWS_AS(latent::slice_rows(tape.constant(a), -1, 1), latent::shape_error);
  REQUIRE_THROWS_AS(latent::slice_rows(tape.constant(a), 0, 0), latent::shape_error);
  REQUIRE_THROWS_WITH(latent::column_dot(tape.constant(a), tape.constant(middle)),
                      Catch::Contains("column_dot") && Catch::Contains("3x2") && Catch::Contains("2x2"));
  Tape<double> other;
  REQUIRE_THROWS_WITH(latent::column_dot(tape.constant(a), other.constant(b)), Catch::Contains("different tapes"));
}

TEST_CASE("concat stacks rows, concat_columns puts batches side by side, and both refuse shapes that do not fit",
          "[op][concat]") {
  Tape<double> tape;
  Matrix<double> a(2, 3), b(1, 3), c(2, 1);
  a << 1, 2, 3, 4, 5, 6;
  b << 7, 8, 9;
  c << 10, 11;
  SECTION("values") {
    Matrix<double> rows(3, 3), columns(2, 4);
    rows << 1, 2, 3, 4, 5, 6, 7, 8, 9;
    columns << 1, 2, 3, 10, 4, 5, 6, 11;
    REQUIRE(latent::concat(tape.constant(a), tape.constant(b)).value() == rows);
    REQUIRE(latent::concat_columns(tape.constant(a), tape.constant(c)).value() == columns);
  }
  SECTION("errors name the op and both shapes") {
    REQUIRE_THROWS_WITH(latent::concat(tape.constant(a), tape.constant(c)),
                        Catch::Contains("concat") && Catch::Contains("2x3") && Catch::Contains("2x1"));
    REQUIRE_THROWS_AS(latent::concat(tape.constant(a), tape.constant(c)), latent::shape_error);
    REQUIRE_THROWS_WITH(latent::concat_columns(tape.constant(a), tape.constant(b)),
                        Catch::Contains("concat_columns") && Catch::Contains("2x3") && Catch::Contains("1x3"));
    Tape<double> other;
    REQUIRE_THROWS_WITH(latent::concat(tape.constant(a), other.constant(b)), Catch::Contains("different tapes"));
  }
}

TEST_CASE("gradcheck: softmax_cross_entropy w.r.t. logits and targets", "[gradcheck][loss]") {
  for (Index batch : {1, 5}) {
    CAPTURE(batch);
    Matrix<double> one_hot = Matrix<double>::Zero(4, batch);
    for (Index j = 0; j < batch; ++j) one_hot((j * 3) % 4, j) = 1;
    const Matrix<double> weights = test::random_matrix(4, batch, 41, 0.1, 1.0);  // columns need not sum to 1
    for (const Matrix<double>& targets : {one_hot, weights}) {
      REQUIRE_GRADCHECK(latent::gradcheck(
          [](Tape<double>&, const std::vector<Var<double>>& v) { return latent::softmax_cross_entropy(v[0], v[1]); },
          {test::random_matrix(4, batch, 42, -3, 3), targets}));
    }
  }
}

}  // namespace test_autodiff_ops
