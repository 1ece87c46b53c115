// latent needs Eigen 3.4 (ArrayBase::logistic()): an older Eigen is refused
// with a message that says so, not with an error deep inside an op. The
// version macros are set back to 3.3 after Eigen is read.
// expect: latent needs Eigen 3.4 or later
#include <Eigen/Dense>
#undef EIGEN_MAJOR_VERSION
#define EIGEN_MAJOR_VERSION 3
#include <latent/matrix.hpp>

int main() {}
