// The quickstart config compiled into the binary, so `crest` runs with no config file.
#pragma once

namespace crest {

// The text of configs/quickstart.yaml at build time.
const char* embedded_quickstart_yaml();

}  // namespace crest
