// Serialised tensorflow.Event protos (tensorboard_event.proto) for io/tensorboard.cpp. Compiled
// into crest_tensorboard_proto, with the generated code, only where crest is built with
// Protobuf (CREST_WITH_PROTOBUF): no Protobuf header reaches crest_core, so LibTorch's include
// folders (some LibTorch archives ship their own google/protobuf headers) never meet them.
#pragma once

#include <cstdint>
#include <string>

namespace crest::tensorboard_codec {

// Event{wall_time, file_version}: the first record of an event file (step 0, not written).
std::string file_version_event(double wall_time, const std::string& version);

// Event{wall_time, step, summary{value{tag, simple_value}}}.
std::string scalar_event(double wall_time, std::int64_t step, const std::string& tag, float value);

}  // namespace crest::tensorboard_codec
