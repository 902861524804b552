// data.protocol of folder datasets, and the words every error about counts uses for it
// (src/config/protocol_default.cpp).
//
// A folder dataset (data.dataset: folder) holds the user's own images, so it is used as given
// (data.protocol as_is) unless data.protocol is given: in the config file, in one of its bases
// (config_base.h) or by --set. The defaults table keeps crest as the default of the key, which
// CIFAR and synthetic data use.
#pragma once

#include <string>
#include <vector>

#include "crest/config/config.h"

namespace crest {

// Whether data.protocol is given by the config file at `path` (or one of its bases; "" = the
// embedded quickstart, which does not) or by one of `overrides` ("data.protocol=...").
bool protocol_given(const std::string& path, const std::vector<std::string>& overrides);

// Sets data.protocol to as_is for a folder dataset when `given` is false; returns whether it did.
bool apply_dataset_defaults(Config& config, bool given);

// One line for the log of a folder dataset: which protocol is used, what it does with the
// images, and the other choice; "" for CIFAR and synthetic data.
std::string protocol_note(const DataConfig& data);

// For errors about counts: "data.protocol is P, which ...; to use every labeled and unlabeled
// image as given, set data.protocol: as_is" (for as_is: which protocols cut a long tail).
std::string protocol_hint(const DataConfig& data);

}  // namespace crest
