// latent/autodiff/autodiff.hpp: the whole reverse-mode core in one include.
#pragma once

#include "latent/autodiff/activation.hpp"
#include "latent/autodiff/batch_norm.hpp"
#include "latent/autodiff/concat.hpp"
#include "latent/autodiff/convolution.hpp"
#include "latent/autodiff/elementwise.hpp"
#include "latent/autodiff/gradcheck.hpp"
#include "latent/autodiff/jvp.hpp"
#include "latent/autodiff/linear.hpp"
#include "latent/autodiff/losses.hpp"
#include "latent/autodiff/parameter.hpp"
#include "latent/autodiff/reduction.hpp"
#include "latent/autodiff/tape.hpp"
