// The run configuration: typed structs parsed from YAML once and validated once.
//
// Every key has a default, a documentation line and a range; the same table drives parsing,
// `--set KEY=VALUE` overrides, printing the resolved config and configs/defaults.yaml, so the
// four can never disagree. Errors name the file (and line) or the --set argument, the key path
// and the bad value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crest/config/choices.h"

namespace crest {

struct SyntheticConfig {
  int classes = 10;
  int train_per_class = 500;
  int test_per_class = 100;
  std::int64_t seed = 0;
};

struct DataConfig {
  DatasetKind dataset = DatasetKind::kCifar10;
  std::string root = "data/cifar10";
  SplitProtocol protocol = SplitProtocol::kCrest;
  double imbalance_ratio = 100.0;            // gamma = N_1 / N_L (crest protocol)
  double label_fraction = 0.1;               // beta (crest protocol)
  std::int64_t fold = 1;                     // seeds the labeled/unlabeled split (not acr's)
  std::int64_t lt_seed = 0;                  // seeds which images of each class the LT set keeps
  std::int64_t max_per_class = 0;            // N_max; 0 = the smallest class of the source
  std::int64_t num_labeled_head = 1500;      // N_1 (darp, acr protocols)
  std::int64_t num_unlabeled_head = 3000;    // M_1 (darp, acr protocols)
  double imbalance_ratio_labeled = 100.0;    // gamma_l (darp, acr protocols)
  double imbalance_ratio_unlabeled = 100.0;  // gamma_u, negative = reversed (darp, acr protocols)
  int image_size = 32;
  ResizeMode resize = ResizeMode::kArea;  // how image files of another size are fitted
  std::string unlabeled_root;  // extra unlabeled images ("" = none; folder: ROOT/unlabeled)
  std::string cache = "run";   // decoded-image cache: run | off | a folder
  // Exact duplicate images across test, val, labeled and unlabeled (data/duplicates.h).
  DuplicatePolicy duplicates = DuplicatePolicy::kRefuse;
  SyntheticConfig synthetic;
};

struct ModelConfig {
  int depth = 28;
  int width = 2;
  double bn_momentum = 0.001;
  // A pre-trained backbone every generation's model starts from (the classifier head stays
  // fresh): `crest pretrain`'s DIR/backbone.pt or a `crest export` file; "" = random init.
  std::string init_from;
};

struct TrainConfig {
  int batch_size = 64;
  int unlabeled_ratio = 7;
  int steps_per_epoch = 1024;
  int epochs = 64;
  double threshold = 0.95;
  double lambda_u = 1.0;
  double lr = 0.03;
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 5e-4;
  double lr_level = 1.0;
  double ema_decay = 0.999;
  LabeledLoss labeled_loss = LabeledLoss::kCe;  // the loss on the labeled batch
  double cb_beta = 0.9999;                      // class-balanced loss: beta (Cui et al. 2019)
  double focal_gamma = 1.0;                     // cb_focal: the focal exponent
  double la_tau = 1.0;                          // logit_adjusted: tau (Menon et al. 2021)
  // The learner inside each generation (ssl/mixmatch.h for MixMatch, Berthelot et al. 2019).
  TrainAlgorithm algorithm = TrainAlgorithm::kFixMatch;
  int mixmatch_k = 2;                 // K: weak views per unlabeled image
  double mixmatch_temperature = 0.5;  // T: sharpening temperature
  double mixup_alpha = 0.75;          // alpha of MixUp's Beta(alpha, alpha)
  double mixmatch_lambda_u = 75.0;    // lambda_u: unlabeled loss weight after the ramp-up
  int mixmatch_rampup_steps = 16000;  // steps of the linear ramp-up (0 = constant weight)
  Amp amp = Amp::kAuto;
  int eval_batch_size = 1000;
  // The fast path (issue: speed on the GPU). Numerically these only reorder floating point.
  Toggle channels_last = Toggle::kAuto;  // auto: on for CUDA
  bool cudnn_benchmark = true;           // cuDNN autotuning on CUDA
  SgdChoice sgd = SgdChoice::kAuto;
  Toggle cuda_graph = Toggle::kAuto;
  // Multi-rank runs: BatchNorm batch statistics over every rank's batch (dist/sync_batchnorm.h).
  bool sync_bn = false;
};

// ACR (train.algorithm: acr; Wei and Gan, CVPR 2023; ssl/acr.h): the keys of Gank0078/ACR's
// train.py flags, defaults as its README's CIFAR-10-LT commands run it.
struct AcrConfig {
  double tau1 = 2.0;         // --tau1: the largest adaptive adjustment of fc's pseudo-labels
  double tau12 = 2.0;        // --tau12: the adjustment of fc_balanced's pseudo-labels
  double tau2 = 2.0;         // --tau2: the adjustment inside fc_balanced's labeled loss
  double temperature = 1.0;  // --T: softmax temperature of every pseudo-label
  int est_epoch = 5;         // --est-epoch: the estimate starts after this many epochs
  double ema_u = 0.99;       // --ema-u: momentum of the unlabeled distribution estimate
  AcrClassCount class_count = AcrClassCount::kReference;  // how a step's predictions count
};

// SeMi (train.algorithm: semi; Wang et al. 2025; ssl/semi_mining.h): pywin/SeMi train_semi.py's
// flags, defaults as its README's CIFAR-10-LT N_1 = 1500 command (docs/methods.md maps them).
// SeMi also reads acr.tau12, acr.tau2 and acr.temperature (the ACR flags its script keeps).
struct SemiConfig {
  int start_epoch = 5;                    // --est-epoch: blending, mining, consistency after it
  double alpha = 0.4;                     // --alpha: strength of the prototype blend
  bool prototype_blend = true;            // --use_pc
  double proto_temperature = 0.1;         // --tau_tar: softmax temperature of the prototype probs
  double hard_scale = 0.75;               // --scale: share of the entropy in the mining weight
  double consistency_weight = 0.15;       // --conswt
  double consistency_temperature = 0.09;  // --proto_t
  int bank_per_class = 128;               // --mb_size
  int decay_steps = 100;                  // --decay_step
  SemiFeatureRows feature_rows = SemiFeatureRows::kReference;
};

// DASO (train.algorithm: daso; Oh, Kim and Kweon, CVPR 2022; ssl/daso.h): the keys of
// ytaek-oh/daso's ALGORITHM.DASO and MODEL.QUEUE options, defaults as its
// configs/cifar10/fixmatch_daso.yaml over lib/config/defaults.py (docs/methods.md, "DASO").
struct DasoConfig {
  int warmup_steps = 5000;          // PRETRAIN_STEPS: steps with the linear pseudo-labels only
  double proto_temperature = 0.05;  // PROTO_TEMP: temperature of the prototype similarities
  int dist_update_period = 100;     // PL_DIST_UPDATE_PERIOD: steps per pseudo-label distribution
  bool dist_aware = true;           // WITH_DIST_AWARE: class-adaptive blend (else interp_alpha)
  double dist_temperature = 1.5;    // DIST_TEMP: sharpening 1/T of the distribution (CIFAR-10)
  double interp_alpha = 0.5;        // INTERP_ALPHA: the fixed blend when dist_aware is false
  double alignment_weight = 1.0;    // PSA_LOSS_WEIGHT: semantic alignment loss weight
  int queue_size = 256;             // MODEL.QUEUE.MAX_SIZE: features per class in the queue
};

// DML-PL (train.algorithm: dmlpl; Yan, Hui and Li, Information Sciences 626, 2023): no public
// code; every key is crest's choice (docs/methods.md, "DML-PL"). FixMatch's consistency on the
// unlabeled images plus a metric loss on an embedding head (fc_embedding) over the labeled and
// already pseudo-labeled images of the batch.
struct DmlplConfig {
  int embedding_dim = 64;                         // width of fc_embedding (L2-normalised output)
  MetricLoss metric_loss = MetricLoss::kTriplet;  // batch-hard triplet | supervised contrastive
  double margin = 0.2;         // triplet margin, on Euclidean distances of unit-length embeddings
  double temperature = 0.1;    // supcon temperature
  double metric_weight = 1.0;  // weight of the metric loss beside FixMatch's
};

struct CrestConfig {
  CrestMode mode = CrestMode::kCrestPlus;
  int generations = 6;
  double alpha = 1.0 / 3.0;
  RateProfile rate_profile = RateProfile::kIdeal;
  double t_min = 0.5;
  TemperatureSchedule t_schedule = TemperatureSchedule::kLinear;
  PModelEstimate p_model = PModelEstimate::kBuffer;
  int p_model_buffer = 128;
  double p_model_momentum = 0.999;
  SelectOn select_on = SelectOn::kLast;
  double val_fraction = 0.1;
  // Unlabeled images without labels: the estimated pseudo-label precision below which a
  // selection is called poor and warned about (selftrain/selection.h PrecisionEstimate).
  double min_pseudo_precision = 0.5;
  // How a generation's pseudo-labels are chosen: confidence (CReST's mu_l, above) | knn (DML-PL:
  // nearest labeled-class clusters in the embedding; selftrain/knn_selection.h). knn
  // accumulates: an image keeps its pseudo-label in every later generation, and the selection
  // made before the last generation labels every image still unlabeled.
  SelectionPolicy selection = SelectionPolicy::kConfidence;
  int knn_clusters = 3;        // k-means clusters per class of the anchors
  int knn_neighbours = 10;     // nearest anchors whose labels vote
  double knn_agreement = 0.6;  // share of them that must carry the cluster's class
  double knn_quota = 0.0;      // share of the pool per round; 0 = auto (spread evenly)
  KnnAnchors knn_anchors = KnnAnchors::kLabeled;  // labeled only | labeled and pseudo-labeled
  KnnOrder knn_order = KnnOrder::kBalanced;       // round-robin over classes | by score alone
  int knn_kmeans_iterations = 20;                 // Lloyd iterations of the spherical k-means
  // Generation g > 0 starts from generation g - 1's final EMA weights instead of afresh (the
  // fine-tuning step of DML-PL; CReST re-initialises).
  bool warm_start = false;
};

// `crest pretrain`: rotation prediction on every training image, labels unused (Gidaris et al.,
// ICLR 2018, as "Rethinking the Value of Labels", Yang and Xu, NeurIPS 2020, runs it:
// pretrain_rot.py and utils.py of their release).
struct PretrainConfig {
  int epochs = 200;
  int steps_per_epoch = 0;  // 0 = one pass over the training images, ceil(N / batch_size)
  int batch_size = 128;     // images per step (each in one rotation, or in all four)
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 2e-4;
  double warmup = 0.025;       // linear warm-up over this share of the steps (5 of 200 epochs)
  double decay_at = 0.8;       // the rate drops to lr * decay_factor after this share (160/200)
  double decay_factor = 0.01;  //
  bool all_rotations = false;  // every image in all four rotations (RotNet) instead of one
};

struct RunConfig {
  std::int64_t seed = 0;
  std::string out_dir = "runs/crest";
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int checkpoint_every = 1024;
  int threads = 0;          // CPU threads for tensor ops; 0 = every core
  bool tensorboard = true;  // TensorBoard event files in RUN/tb/gen_K/ (io/tensorboard.h)
};

struct Config {
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  AcrConfig acr;
  SemiConfig semi;
  DasoConfig daso;
  DmlplConfig dmlpl;
  CrestConfig crest;
  PretrainConfig pretrain;
  RunConfig run;
};

// Parses YAML text. `source` names it in errors (a path, or "<embedded quickstart>").
// Keys not given keep their defaults. Throws ConfigError.
Config parse_config(const std::string& yaml_text, const std::string& source);

// Reads and parses a YAML file; a missing or unreadable file is a ConfigError naming it.
Config load_config_file(const std::string& path);

// Applies one `KEY=VALUE` override with the same type and range rules as the file.
void apply_override(Config& config, const std::string& assignment);

// "KEY=VALUE" for apply_override with VALUE taken literally, not read as YAML: for values that
// are paths or names (--out "runs/exp #3", --device), where '#', ':' or quotes are characters.
std::string literal_override(const std::string& key, const std::string& value);

// Checks rules that involve several keys (e.g. data.image_size with CIFAR). Throws ConfigError.
void validate_config(const Config& config);

// The whole chain the CLI uses: file (or the embedded quickstart when `path` is empty), then
// each override in order, then validate_config.
Config resolve_config(const std::string& path, const std::vector<std::string>& overrides);

// The resolved config as YAML, every key, in documentation order. Parsing it gives back an
// equal config.
std::string config_to_yaml(const Config& config);

// Every key with its default and a comment saying what it means and what it accepts: the text
// of configs/defaults.yaml.
std::string documented_defaults_yaml();

// The keys whose values differ between two configs, in documentation order.
std::vector<std::string> config_differences(const Config& a, const Config& b);

// The value of one key as it would appear in YAML (for messages).
std::string config_value(const Config& config, const std::string& key);

// A folder's own config.yaml for a resume: load_config_file, with a ConfigError turned into an
// InputError "cannot resume: ..." (the folder's file, not the user's, is at fault).
Config load_stored_config(const std::string& path);

// For a refused resume: "N key(s) differ):" and one "\n  KEY: <stored_name> has X, now Y" line
// per key of config_differences(stored, now); "" when they are equal.
std::string config_differences_text(const Config& stored, const Config& now,
                                    const std::string& stored_name);

// All key paths, in documentation order ("data.dataset", ...).
std::vector<std::string> config_keys();

}  // namespace crest
