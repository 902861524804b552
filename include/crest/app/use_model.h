// After training: `crest evaluate`, `crest predict` and `crest export` on a run folder's
// trained model (app/trained.h).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace crest {

struct ModelChoice {
  std::string run_dir;
  // K | selected | last | best (old name of selected); "" = selected when the run has a
  // validation split, else last (app/trained.h resolve_generation)
  std::string generation;
  std::string model = "ema";    // ema | raw
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
};

struct EvaluateOptions {
  ModelChoice choice;
  std::string config_path;             // another dataset: its test set ("" = the run's config)
  std::vector<std::string> overrides;  // --set KEY=VALUE on that config
  std::string folder;                  // a labeled folder DIR/<class>/* instead
  bool logit_adjust = false;           // post-hoc logit adjustment with the generation's prior
  bool json = false;                   // one JSON object on stdout instead of the table
  std::string name;                    // RUN/eval/<name>/ ("" = from the data and generation)
};

// Accuracy, mean recall and precision, per-class precision, recall, F1 and support and the
// confusion matrix of the chosen model on a labeled set (the run's test set by default), written
// to RUN/eval/<name>/ (metrics.json, per_class.csv, confusion.csv) and printed. InputError for
// a class the run does not know (by name) or bad choices; DataError for damaged run files.
void evaluate_run(const EvaluateOptions& options, std::ostream& out);

struct PredictOptions {
  ModelChoice choice;
  std::vector<std::string> images;  // image files
  std::string folder;               // or every image under a folder (any nesting)
  int top_k = 5;
  std::string out;      // FILE.csv or FILE.jsonl ("" = CSV on stdout)
  bool logits = false;  // JSONL: add every class's logit
  // Post-hoc logit adjustment with the generation's class prior (tau 1), as `evaluate
  // --logit-adjust`; InputError for a run whose logits already carry it.
  bool logit_adjust = false;
};

// Per image, the top-k classes with their softmax probabilities (fp32), decoded and resized as
// the run's data config says, batched. CSV rows `file,rank,class,name,probability`; JSONL one
// object per image. DataError naming an image that does not decode.
void predict_images(const PredictOptions& options, std::ostream& out);

struct ExportOptions {
  ModelChoice choice;
  std::string format = "pt";  // pt | safetensors
  std::string out;            // "" = RUN/export/gen_K-<model>.<format>
};

// The chosen model's state dict under the PyTorch names of a WRN (conv1, block{1,2,3}.layer.N.
// {bn1,conv1,bn2,conv2,convShortcut}, bn1, fc) as a torch.load-able .pt (LibTorch's pickle
// writer) or a .safetensors file (its published layout: u64 header size, JSON header, data),
// plus FILE.json: classes, normalisation, depth, width, image size, BatchNorm eps, leaky slope,
// crest version, source run, generation, fingerprint. scripts/wrn.py loads either.
void export_model(const ExportOptions& options, std::ostream& out);

}  // namespace crest
