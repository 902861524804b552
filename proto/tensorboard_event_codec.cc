#include "tensorboard_event_codec.h"

#include "tensorboard_event.pb.h"

namespace crest::tensorboard_codec {

std::string file_version_event(double wall_time, const std::string& version) {
  tensorflow::Event event;
  event.set_wall_time(wall_time);
  event.set_file_version(version);
  return event.SerializeAsString();
}

std::string scalar_event(double wall_time, std::int64_t step, const std::string& tag, float value) {
  tensorflow::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  tensorflow::Summary::Value* scalar = event.mutable_summary()->add_value();
  scalar->set_tag(tag);
  scalar->set_simple_value(value);
  return event.SerializeAsString();
}

}  // namespace crest::tensorboard_codec
