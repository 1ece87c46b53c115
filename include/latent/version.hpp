// latent/version.hpp: the library's version, for preprocessor checks and messages.
#pragma once

#define LATENT_VERSION_MAJOR 0
#define LATENT_VERSION_MINOR 1
#define LATENT_VERSION_PATCH 0
#define LATENT_VERSION_STRING "0.1.0"
