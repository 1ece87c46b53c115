// latent/latent.hpp: the umbrella header: everything a program needs to build
// and train VAEs and GANs with latent: the core (latent/core.hpp), and the
// file formats, datasets, trainers and metrics that read and write files.
#pragma once

#include "latent/core.hpp"
#include "latent/data/dataset.hpp"
#include "latent/data/idx.hpp"
#include "latent/data/image.hpp"
#include "latent/data/samples.hpp"
#include "latent/io/bytes.hpp"
#include "latent/io/checkpoint.hpp"
#include "latent/io/file.hpp"
#include "latent/io/gzip.hpp"
#include "latent/metrics/class_histogram.hpp"
#include "latent/metrics/classify.hpp"
#include "latent/metrics/fid.hpp"
#include "latent/metrics/iwae.hpp"
#include "latent/metrics/nearest_neighbour.hpp"
#include "latent/train/checkpointer.hpp"
#include "latent/train/gan_trainer.hpp"
#include "latent/train/history.hpp"
#include "latent/train/lipschitz.hpp"
#include "latent/train/mode_monitor.hpp"
#include "latent/train/step_parts.hpp"
#include "latent/train/trainer.hpp"
#include "latent/train/vae_gan_trainer.hpp"
#include "latent/train/vae_trainer.hpp"
