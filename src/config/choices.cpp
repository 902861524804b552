#include "crest/config/choices.h"

#include "crest/util/error.h"

namespace crest {

namespace {

// The names, one switch per enum. A value past the last enumerator falls through to nullptr,
// which is how names_of() finds the end of the list.

const char* name_of(DatasetKind value) {
  switch (value) {
    case DatasetKind::kCifar10:
      return "cifar10";
    case DatasetKind::kCifar100:
      return "cifar100";
    case DatasetKind::kFolder:
      return "folder";
    case DatasetKind::kSynthetic:
      return "synthetic";
  }
  return nullptr;
}

const char* name_of(SplitProtocol value) {
  switch (value) {
    case SplitProtocol::kCrest:
      return "crest";
    case SplitProtocol::kDarp:
      return "darp";
    case SplitProtocol::kAsIs:
      return "as_is";
    case SplitProtocol::kAcr:
      return "acr";
  }
  return nullptr;
}

const char* name_of(ResizeMode value) {
  switch (value) {
    case ResizeMode::kArea:
      return "area";
    case ResizeMode::kCenterCrop:
      return "center_crop";
    case ResizeMode::kError:
      return "error";
  }
  return nullptr;
}

const char* name_of(DuplicatePolicy value) {
  switch (value) {
    case DuplicatePolicy::kRefuse:
      return "refuse";
    case DuplicatePolicy::kDrop:
      return "drop";
  }
  return nullptr;
}

const char* name_of(Amp value) {
  switch (value) {
    case Amp::kAuto:
      return "auto";
    case Amp::kBf16:
      return "bf16";
    case Amp::kOff:
      return "off";
  }
  return nullptr;
}

const char* name_of(Toggle value) {
  switch (value) {
    case Toggle::kAuto:
      return "auto";
    case Toggle::kOn:
      return "on";
    case Toggle::kOff:
      return "off";
  }
  return nullptr;
}

const char* name_of(SgdChoice value) {
  switch (value) {
    case SgdChoice::kAuto:
      return "auto";
    case SgdChoice::kForeach:
      return "foreach";
    case SgdChoice::kFused:
      return "fused";
    case SgdChoice::kLoop:
      return "loop";
  }
  return nullptr;
}

const char* name_of(CrestMode value) {
  switch (value) {
    case CrestMode::kFixMatch:
      return "fixmatch";
    case CrestMode::kCrest:
      return "crest";
    case CrestMode::kCrestPlus:
      return "crest+";
  }
  return nullptr;
}

const char* name_of(RateProfile value) {
  switch (value) {
    case RateProfile::kIdeal:
      return "ideal";
    case RateProfile::kLabeled:
      return "labeled";
  }
  return nullptr;
}

const char* name_of(TemperatureSchedule value) {
  switch (value) {
    case TemperatureSchedule::kLinear:
      return "linear";
    case TemperatureSchedule::kConstant:
      return "constant";
  }
  return nullptr;
}

const char* name_of(PModelEstimate value) {
  switch (value) {
    case PModelEstimate::kBuffer:
      return "buffer";
    case PModelEstimate::kEma:
      return "ema";
  }
  return nullptr;
}

const char* name_of(SelectOn value) {
  switch (value) {
    case SelectOn::kLast:
      return "last";
    case SelectOn::kVal:
      return "val";
  }
  return nullptr;
}

const char* name_of(LabeledLoss value) {
  switch (value) {
    case LabeledLoss::kCe:
      return "ce";
    case LabeledLoss::kCbSoftmax:
      return "cb_softmax";
    case LabeledLoss::kCbSigmoid:
      return "cb_sigmoid";
    case LabeledLoss::kCbFocal:
      return "cb_focal";
    case LabeledLoss::kLogitAdjusted:
      return "logit_adjusted";
  }
  return nullptr;
}

const char* name_of(TrainAlgorithm value) {
  switch (value) {
    case TrainAlgorithm::kFixMatch:
      return "fixmatch";
    case TrainAlgorithm::kMixMatch:
      return "mixmatch";
    case TrainAlgorithm::kAcr:
      return "acr";
    case TrainAlgorithm::kSemi:
      return "semi";
    case TrainAlgorithm::kDaso:
      return "daso";
    case TrainAlgorithm::kDmlpl:
      return "dmlpl";
  }
  return nullptr;
}

const char* name_of(MetricLoss value) {
  switch (value) {
    case MetricLoss::kTriplet:
      return "triplet";
    case MetricLoss::kSupCon:
      return "supcon";
  }
  return nullptr;
}

const char* name_of(SelectionPolicy value) {
  switch (value) {
    case SelectionPolicy::kConfidence:
      return "confidence";
    case SelectionPolicy::kKnn:
      return "knn";
  }
  return nullptr;
}

const char* name_of(KnnAnchors value) {
  switch (value) {
    case KnnAnchors::kLabeled:
      return "labeled";
    case KnnAnchors::kAll:
      return "all";
  }
  return nullptr;
}

const char* name_of(KnnOrder value) {
  switch (value) {
    case KnnOrder::kBalanced:
      return "balanced";
    case KnnOrder::kGlobal:
      return "global";
  }
  return nullptr;
}

const char* name_of(SemiFeatureRows value) {
  switch (value) {
    case SemiFeatureRows::kReference:
      return "reference";
    case SemiFeatureRows::kAligned:
      return "aligned";
  }
  return nullptr;
}

const char* name_of(AcrClassCount value) {
  switch (value) {
    case AcrClassCount::kReference:
      return "reference";
    case AcrClassCount::kHistogram:
      return "histogram";
  }
  return nullptr;
}

template <typename E>
std::string name_text(E value) {
  const char* name = name_of(value);
  return name != nullptr ? name : "?";
}

}  // namespace

std::string to_string(DatasetKind value) { return name_text(value); }
std::string to_string(SplitProtocol value) { return name_text(value); }
std::string to_string(ResizeMode value) { return name_text(value); }
std::string to_string(DuplicatePolicy value) { return name_text(value); }
std::string to_string(Amp value) { return name_text(value); }
std::string to_string(Toggle value) { return name_text(value); }
std::string to_string(SgdChoice value) { return name_text(value); }
std::string to_string(CrestMode value) { return name_text(value); }
std::string to_string(RateProfile value) { return name_text(value); }
std::string to_string(TemperatureSchedule value) { return name_text(value); }
std::string to_string(PModelEstimate value) { return name_text(value); }
std::string to_string(SelectOn value) { return name_text(value); }
std::string to_string(LabeledLoss value) { return name_text(value); }
std::string to_string(TrainAlgorithm value) { return name_text(value); }
std::string to_string(AcrClassCount value) { return name_text(value); }
std::string to_string(SemiFeatureRows value) { return name_text(value); }
std::string to_string(MetricLoss value) { return name_text(value); }
std::string to_string(SelectionPolicy value) { return name_text(value); }
std::string to_string(KnnAnchors value) { return name_text(value); }
std::string to_string(KnnOrder value) { return name_text(value); }

std::string display_name(TrainAlgorithm value) {
  switch (value) {
    case TrainAlgorithm::kFixMatch:
      return "FixMatch";
    case TrainAlgorithm::kMixMatch:
      return "MixMatch";
    case TrainAlgorithm::kAcr:
      return "ACR";
    case TrainAlgorithm::kSemi:
      return "SeMi";
    case TrainAlgorithm::kDaso:
      return "DASO";
    case TrainAlgorithm::kDmlpl:
      return "DML-PL";
  }
  return to_string(value);
}

bool has_balanced_head(TrainAlgorithm algorithm) {
  switch (algorithm) {
    case TrainAlgorithm::kFixMatch:
    case TrainAlgorithm::kMixMatch:
    case TrainAlgorithm::kDaso:
    case TrainAlgorithm::kDmlpl:
      return false;
    case TrainAlgorithm::kAcr:
    case TrainAlgorithm::kSemi:
      return true;
  }
  return false;
}

bool has_embedding_head(TrainAlgorithm algorithm) {
  switch (algorithm) {
    case TrainAlgorithm::kFixMatch:
    case TrainAlgorithm::kMixMatch:
    case TrainAlgorithm::kAcr:
    case TrainAlgorithm::kSemi:
    case TrainAlgorithm::kDaso:
      return false;
    case TrainAlgorithm::kDmlpl:
      return true;
  }
  return false;
}

bool reads_files(DatasetKind dataset) {
  switch (dataset) {
    case DatasetKind::kCifar10:
    case DatasetKind::kCifar100:
    case DatasetKind::kFolder:
      return true;
    case DatasetKind::kSynthetic:
      return false;
  }
  return true;
}

bool selects_pseudo_labels(CrestMode mode) {
  switch (mode) {
    case CrestMode::kFixMatch:
      return false;
    case CrestMode::kCrest:
    case CrestMode::kCrestPlus:
      return true;
  }
  return false;
}

bool aligns_distribution(CrestMode mode) {
  switch (mode) {
    case CrestMode::kFixMatch:
    case CrestMode::kCrest:
      return false;
    case CrestMode::kCrestPlus:
      return true;
  }
  return false;
}

bool uses_validation(SelectOn select_on) {
  switch (select_on) {
    case SelectOn::kLast:
      return false;
    case SelectOn::kVal:
      return true;
  }
  return false;
}

bool resolve_toggle(Toggle toggle, bool when_auto) {
  switch (toggle) {
    case Toggle::kOn:
      return true;
    case Toggle::kOff:
      return false;
    case Toggle::kAuto:
      return when_auto;
  }
  return when_auto;
}

std::string or_list(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  return text;
}

std::string one_of_problem(const std::vector<std::string>& names) {
  return "must be one of " + or_list(names);
}

template <typename E>
std::vector<std::string> choice_names() {
  return names_of<E>(name_of);
}

template <typename E>
E parse_choice(const std::string& text, const std::string& key) {
  if (const std::optional<E> value = value_named<E>(text, name_of)) return *value;
  throw ConfigError(key + " " + one_of_problem(choice_names<E>()) + ", got '" + text + "'");
}

#define CREST_CHOICE(E)                                \
  template std::vector<std::string> choice_names<E>(); \
  template E parse_choice<E>(const std::string&, const std::string&);
CREST_CHOICE(DatasetKind)
CREST_CHOICE(SplitProtocol)
CREST_CHOICE(ResizeMode)
CREST_CHOICE(DuplicatePolicy)
CREST_CHOICE(Amp)
CREST_CHOICE(Toggle)
CREST_CHOICE(SgdChoice)
CREST_CHOICE(CrestMode)
CREST_CHOICE(RateProfile)
CREST_CHOICE(TemperatureSchedule)
CREST_CHOICE(PModelEstimate)
CREST_CHOICE(SelectOn)
CREST_CHOICE(LabeledLoss)
CREST_CHOICE(TrainAlgorithm)
CREST_CHOICE(AcrClassCount)
CREST_CHOICE(SemiFeatureRows)
CREST_CHOICE(MetricLoss)
CREST_CHOICE(SelectionPolicy)
CREST_CHOICE(KnnAnchors)
CREST_CHOICE(KnnOrder)
#undef CREST_CHOICE

DatasetKind parse_dataset(const std::string& text, const std::string& key) {
  return parse_choice<DatasetKind>(text, key);
}
SplitProtocol parse_protocol(const std::string& text, const std::string& key) {
  return parse_choice<SplitProtocol>(text, key);
}
ResizeMode parse_resize(const std::string& text, const std::string& key) {
  return parse_choice<ResizeMode>(text, key);
}
DuplicatePolicy parse_duplicates(const std::string& text, const std::string& key) {
  return parse_choice<DuplicatePolicy>(text, key);
}
Amp parse_amp(const std::string& text, const std::string& key) {
  return parse_choice<Amp>(text, key);
}
Toggle parse_toggle(const std::string& text, const std::string& key) {
  return parse_choice<Toggle>(text, key);
}
SgdChoice parse_sgd(const std::string& text, const std::string& key) {
  return parse_choice<SgdChoice>(text, key);
}
CrestMode parse_mode(const std::string& text, const std::string& key) {
  return parse_choice<CrestMode>(text, key);
}
RateProfile parse_rate_profile(const std::string& text, const std::string& key) {
  return parse_choice<RateProfile>(text, key);
}
TemperatureSchedule parse_t_schedule(const std::string& text, const std::string& key) {
  return parse_choice<TemperatureSchedule>(text, key);
}
PModelEstimate parse_p_model(const std::string& text, const std::string& key) {
  return parse_choice<PModelEstimate>(text, key);
}
SelectOn parse_select_on(const std::string& text, const std::string& key) {
  return parse_choice<SelectOn>(text, key);
}

}  // namespace crest
