// The config keys that take one of a few names: each is an enum, parsed once with the config.
//
// Each enum's names are spelled in one place, a switch without `default:` in choices.cpp behind
// `to_string`: the parser, the error that lists the allowed values, print-config and every file
// or log line that names a value go through it, and -Wswitch reports a value added to an enum
// but not named there. Code that acts on a choice switches on the enum the same way.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace crest {

// Enumerators keep their implicit values 0, 1, 2, ...: the list of names is read from the
// switch in that order (the order of the error message and of configs/defaults.yaml).

enum class DatasetKind { kCifar10, kCifar100, kFolder, kSynthetic };  // data.dataset
enum class SplitProtocol { kCrest, kDarp, kAsIs, kAcr };              // data.protocol
enum class ResizeMode { kArea, kCenterCrop, kError };                 // data.resize
enum class DuplicatePolicy { kRefuse, kDrop };                        // data.duplicates
enum class Amp { kAuto, kBf16, kOff };                                // train.amp
enum class Toggle { kAuto, kOn, kOff };                   // train.channels_last, train.cuda_graph
enum class SgdChoice { kAuto, kForeach, kFused, kLoop };  // train.sgd
enum class CrestMode { kFixMatch, kCrest, kCrestPlus };   // crest.mode
enum class RateProfile { kIdeal, kLabeled };              // crest.rate_profile
enum class TemperatureSchedule { kLinear, kConstant };    // crest.t_schedule
enum class PModelEstimate { kBuffer, kEma };              // crest.p_model
enum class SelectOn { kLast, kVal };                      // crest.select_on
enum class TrainAlgorithm { kFixMatch, kMixMatch, kAcr, kSemi, kDaso, kDmlpl };  // train.algorithm
enum class SemiFeatureRows { kReference, kAligned };  // semi.feature_rows
enum class AcrClassCount { kReference, kHistogram };  // acr.class_count
enum class MetricLoss { kTriplet, kSupCon };          // dmlpl.metric_loss
enum class SelectionPolicy { kConfidence, kKnn };     // crest.selection
enum class KnnAnchors { kLabeled, kAll };             // crest.knn_anchors
enum class KnnOrder { kBalanced, kGlobal };           // crest.knn_order
enum class LabeledLoss {
  kCe,
  kCbSoftmax,
  kCbSigmoid,
  kCbFocal,
  kLogitAdjusted
};  // train.labeled_loss

// The name of a value as the config spells it ("crest+" for CrestMode::kCrestPlus).
std::string to_string(DatasetKind value);
std::string to_string(SplitProtocol value);
std::string to_string(ResizeMode value);
std::string to_string(DuplicatePolicy value);
std::string to_string(Amp value);
std::string to_string(Toggle value);
std::string to_string(SgdChoice value);
std::string to_string(CrestMode value);
std::string to_string(RateProfile value);
std::string to_string(TemperatureSchedule value);
std::string to_string(PModelEstimate value);
std::string to_string(SelectOn value);
std::string to_string(LabeledLoss value);
std::string to_string(TrainAlgorithm value);
std::string to_string(AcrClassCount value);
std::string to_string(SemiFeatureRows value);
std::string to_string(MetricLoss value);
std::string to_string(SelectionPolicy value);
std::string to_string(KnnAnchors value);
std::string to_string(KnnOrder value);
// The learner's name as its paper writes it ("FixMatch", "MixMatch"), for tables people read.
std::string display_name(TrainAlgorithm value);

// The value a name stands for. A name that is none of them is a ConfigError naming `key` and
// listing the names: "crest.mode must be one of fixmatch, crest or crest+, got 'x'".
DatasetKind parse_dataset(const std::string& text, const std::string& key = "data.dataset");
SplitProtocol parse_protocol(const std::string& text, const std::string& key = "data.protocol");
ResizeMode parse_resize(const std::string& text, const std::string& key = "data.resize");
DuplicatePolicy parse_duplicates(const std::string& text,
                                 const std::string& key = "data.duplicates");
Amp parse_amp(const std::string& text, const std::string& key = "train.amp");
Toggle parse_toggle(const std::string& text, const std::string& key);
SgdChoice parse_sgd(const std::string& text, const std::string& key = "train.sgd");
CrestMode parse_mode(const std::string& text, const std::string& key = "crest.mode");
RateProfile parse_rate_profile(const std::string& text,
                               const std::string& key = "crest.rate_profile");
TemperatureSchedule parse_t_schedule(const std::string& text,
                                     const std::string& key = "crest.t_schedule");
PModelEstimate parse_p_model(const std::string& text, const std::string& key = "crest.p_model");
SelectOn parse_select_on(const std::string& text, const std::string& key = "crest.select_on");

// What the choices mean where code only needs a yes or no (switches inside, so a value added to
// an enum must be decided here).
bool reads_files(DatasetKind dataset);       // all but synthetic: data.root holds the data
bool selects_pseudo_labels(CrestMode mode);  // crest, crest+: self-training generations
bool aligns_distribution(CrestMode mode);    // crest+: progressive distribution alignment
bool uses_validation(SelectOn select_on);    // val: a validation slice picks the best generation
// acr, semi: the model has a second, balanced head (fc_balanced), and forward() evaluates it.
bool has_balanced_head(TrainAlgorithm algorithm);
// dmlpl: the model has an embedding head (fc_embedding) for the metric loss and the knn selection.
bool has_embedding_head(TrainAlgorithm algorithm);

// What an auto | on | off key means where auto stands for `when_auto`.
bool resolve_toggle(Toggle toggle, bool when_auto);

// Generic forms of the above (E one of the enums above), for code that handles every choice key
// alike (the config schema, tests): every name of E in order, and the parse of one name.
template <typename E>
std::vector<std::string> choice_names();
template <typename E>
E parse_choice(const std::string& text, const std::string& key);

// "a, b or c".
std::string or_list(const std::vector<std::string>& names);

// "must be one of a, b or c": the problem part of the message for a name not in `names`.
std::string one_of_problem(const std::vector<std::string>& names);

// Any enum named the same way (options of a command, states of a sweep point): `name_of` is a
// switch without `default:` that returns each enumerator's name and nullptr for a value past
// the last, the enumerators keeping their implicit values 0, 1, 2, ...

// Every name, in the enum's order.
template <typename E>
std::vector<std::string> names_of(const char* (*name_of)(E)) {
  std::vector<std::string> names;
  for (int i = 0;; ++i) {
    const char* name = name_of(static_cast<E>(i));
    if (name == nullptr) return names;
    names.emplace_back(name);
  }
}

// The value whose name is `text`, or nothing.
template <typename E>
std::optional<E> value_named(const std::string& text, const char* (*name_of)(E)) {
  for (int i = 0;; ++i) {
    const E value = static_cast<E>(i);
    const char* name = name_of(value);
    if (name == nullptr) return std::nullopt;
    if (text == name) return value;
  }
}

}  // namespace crest
