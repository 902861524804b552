#include "crest/config/protocol_default.h"

#include <string>
#include <vector>

#include "crest/config/config_base.h"

namespace crest {

bool protocol_given(const std::string& path, const std::vector<std::string>& overrides) {
  for (const auto& assignment : overrides) {
    if (assignment.rfind("data.protocol=", 0) == 0) return true;
  }
  return !path.empty() && config_file_gives(path, "data.protocol");
}

bool apply_dataset_defaults(Config& config, bool given) {
  if (config.data.dataset != DatasetKind::kFolder || given) return false;
  config.data.protocol = SplitProtocol::kAsIs;
  return true;
}

std::string protocol_note(const DataConfig& data) {
  if (data.dataset != DatasetKind::kFolder) return "";
  if (data.protocol == SplitProtocol::kAsIs) {
    return "data.protocol: as_is: every labeled and unlabeled image of the folder is used as "
           "given, nothing is cut (a folder dataset is as_is unless data.protocol is given; "
           "give data.protocol: crest, darp or acr to cut a long-tailed set)";
  }
  return "data.protocol: " + to_string(data.protocol) +
         " (given): a long-tailed set is cut from the labeled folders, so labeled images are "
         "left out or used as unlabeled; data.protocol: as_is uses every image as given";
}

std::string protocol_hint(const DataConfig& data) {
  if (data.protocol == SplitProtocol::kAsIs) {
    return "data.protocol is as_is, which uses every image as given; data.protocol: crest, "
           "darp or acr cuts a long-tailed set instead";
  }
  const std::string what =
      data.protocol == SplitProtocol::kCrest
          ? "cuts a long-tailed set (data.imbalance_ratio, data.label_fraction)"
          : "takes data.num_labeled_head and data.num_unlabeled_head images per class, "
            "long-tailed";
  return "data.protocol is " + to_string(data.protocol) + ", which " + what +
         "; to use every labeled and unlabeled image as given, set data.protocol: as_is";
}

}  // namespace crest
