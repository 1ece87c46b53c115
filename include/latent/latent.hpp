// latent/latent.hpp: the umbrella header: everything a program needs to build
// and train VAEs and GANs with latent.
#pragma once

#include "latent/autodiff/autodiff.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/idx.hpp"
#include "latent/data/image.hpp"
#include "latent/error.hpp"
#include "latent/io/checkpoint.hpp"
#include "latent/matrix.hpp"
#include "latent/nn/activation.hpp"
#include "latent/nn/dense.hpp"
#include "latent/nn/init.hpp"
#include "latent/nn/sequential.hpp"
#include "latent/optim/adam.hpp"
#include "latent/optim/clip.hpp"
#include "latent/optim/sgd.hpp"
#include "latent/random.hpp"
#include "latent/threads.hpp"
#include "latent/version.hpp"
