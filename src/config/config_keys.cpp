// The key table of the config (see config_keys.h): every key with its type, rule and
// documentation, section by section.
#include "config_keys.h"

#include <iterator>
#include <regex>

#include "key_rules.h"

namespace crest::config_detail {

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kBool:
      return "true or false";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kString:
      return "a string";
  }
  return "";
}

namespace {

std::string check_device(const std::string& device) {
  static const std::regex kDevice("auto|cpu|cuda|cuda:[0-9]+");
  if (std::regex_match(device, kDevice)) return "";
  return "must be auto, cpu, cuda or cuda:N";
}

// The data keys: the dataset, the long-tailed construction, the split and synthetic data.
std::vector<Field> data_keys() {
  return {
      CREST_KEY("data.dataset", data.dataset,
                "Source dataset: cifar10 | cifar100 | folder (ROOT/train/<class>/* labeled, "
                "optional ROOT/unlabeled/** without labels, ROOT/test/<class>/*, optional "
                "ROOT/val/<class>/*) | synthetic (generated in memory, no files).",
                choice()),
      CREST_KEY("data.root", data.root,
                "Folder holding the dataset (CIFAR binary files or image folders); relative "
                "paths are taken from the working directory. Unused for synthetic.",
                any()),
      CREST_KEY("data.protocol", data.protocol,
                "How the long-tailed labeled/unlabeled split is built: crest (CReST/Cui et al.: "
                "N_c = int(N_max * gamma^(-c/(L-1))), ceil(N_c * beta) labeled) | darp (DARP/"
                "DASO/USB: N_1 labeled and M_1 unlabeled head images, gamma_l and gamma_u, each "
                "class shuffled by the fold) | as_is (the labeled and unlabeled images exactly "
                "as given: no long-tailed cut, no label fraction; the imbalance ratio is "
                "measured) | acr (ACR's and SeMi's train_split: darp's counts, no shuffle: the "
                "first N_c images of each class in the source's order labeled, the next M_c "
                "unlabeled; their unlabeled set also holds the labeled images, which ACR's "
                "estimate skips; data.fold does not change it). A folder dataset uses as_is unless "
                "a config file (or its base) or --set gives data.protocol; the run log says "
                "which.",
                choice()),
      CREST_KEY("data.imbalance_ratio", data.imbalance_ratio,
                "gamma = N_1 / N_L, the imbalance ratio of the training set (crest protocol).",
                at_least(1)),
      CREST_KEY("data.label_fraction", data.label_fraction,
                "beta, the fraction of each class that is labeled (crest protocol).",
                above_at_most(0, 1)),
      CREST_KEY("data.fold", data.fold,
                "Split seed: the labeled/unlabeled split of fold k shuffles each class with "
                "NumPy's legacy RandomState(k), as the reference does; the paper averages "
                "folds 1-5. The acr split takes no fold (the fold still seeds "
                "crest.val_fraction's slice): repeat an acr run with another run.seed instead.",
                between(0, 4294967295.0)),
      CREST_KEY("data.lt_seed", data.lt_seed,
                "Seed of the draw that picks which images of each class the long-tailed set "
                "keeps (RandomState(lt_seed), classes in order; 0 matches the common PyTorch "
                "IMBALANCECIFAR10 construction).",
                between(0, 4294967295.0)),
      CREST_KEY("data.max_per_class", data.max_per_class,
                "N_max, the size of the head class (crest protocol); 0 = the size of the "
                "smallest class of the source (5000 for CIFAR-10, 500 for CIFAR-100).",
                at_least(0)),
      CREST_KEY("data.num_labeled_head", data.num_labeled_head,
                "N_1, labeled images of the head class (darp, acr protocols).", at_least(1)),
      CREST_KEY("data.num_unlabeled_head", data.num_unlabeled_head,
                "M_1, unlabeled images of the head class (darp, acr protocols; of the tail "
                "class when imbalance_ratio_unlabeled is negative).",
                at_least(0)),
      CREST_KEY("data.imbalance_ratio_labeled", data.imbalance_ratio_labeled,
                "gamma_l, imbalance ratio of the labeled set (darp, acr protocols).", at_least(1)),
      CREST_KEY("data.imbalance_ratio_unlabeled", data.imbalance_ratio_unlabeled,
                "gamma_u, imbalance ratio of the unlabeled set (darp, acr protocols); negative "
                "reverses it (the tail class gets M_1 images), |gamma_u| >= 1.",
                any()),
      CREST_KEY("data.image_size", data.image_size,
                "Image side in pixels: image files of another size are fitted to it as "
                "data.resize says (CIFAR is 32). The WRN pools globally, so 32 and 64 both work.",
                between(8, 1024)),
      CREST_KEY("data.resize", data.resize,
                "How an image file of another size than data.image_size is fitted: area (the "
                "whole image resized to a square, area interpolation when shrinking, bilinear "
                "when enlarging) | center_crop (the shorter side resized to data.image_size, "
                "then the centre cropped) | error (refuse it, naming the file).",
                choice()),
      CREST_KEY("data.unlabeled_root", data.unlabeled_root,
                "A folder of unlabeled images (any nesting, any size) added to the unlabeled "
                "pool; '' = none. A folder dataset uses ROOT/unlabeled when it exists.",
                any()),
      CREST_KEY("data.cache", data.cache,
                "Decoded-image cache of image files: run (RUN/cache, reused on --resume) | off | "
                "a folder shared by runs (a changed file is decoded again).",
                any()),
      CREST_KEY("data.duplicates", data.duplicates,
                "Exact duplicate images (the same pixels after decoding and fitting to "
                "data.image_size) across the sets a run keeps apart: test vs val, labeled and "
                "unlabeled; val vs labeled and unlabeled; labeled vs unlabeled. refuse (exit 2 "
                "naming the images) | drop (the copy in the later set of test, val, labeled, "
                "unlabeled is left out; logged and recorded in split_manifest.json).",
                choice()),
      CREST_KEY("data.synthetic.classes", data.synthetic.classes,
                "Synthetic data: number of classes.", between(2, 1000)),
      CREST_KEY("data.synthetic.train_per_class", data.synthetic.train_per_class,
                "Synthetic data: training images per class before the long-tailed cut.",
                between(1, 100000)),
      CREST_KEY("data.synthetic.test_per_class", data.synthetic.test_per_class,
                "Synthetic data: test images per class.", between(1, 100000)),
      CREST_KEY("data.synthetic.seed", data.synthetic.seed,
                "Synthetic data: generator seed (the same seed gives the same images).",
                at_least(0)),
  };
}

// The model keys: the Wide ResNet.
std::vector<Field> model_keys() {
  return {
      CREST_KEY("model.depth", model.depth,
                "Wide ResNet depth; (depth - 4) must be a multiple of 6 (28 = 4 blocks per "
                "stage).",
                between(10, 1000)),
      CREST_KEY("model.width", model.width, "Wide ResNet widening factor (WRN-28-2: 2).",
                between(1, 64)),
      CREST_KEY("model.bn_momentum", model.bn_momentum,
                "BatchNorm running-statistics momentum in PyTorch terms (the reference's Keras "
                "0.999 is 0.001). Schedules of a few hundred steps need more (e.g. 0.01), or "
                "evaluation sees statistics that have barely moved from their initial values.",
                above_at_most(0, 1)),
      CREST_KEY("model.init_from", model.init_from,
                "Pre-trained backbone for every generation's model (the classifier head stays "
                "freshly initialised): DIR/backbone.pt of `crest pretrain`, or a .pt or "
                ".safetensors file of `crest export`. Its depth and width must match model.*. "
                "Empty = random initialisation.",
                any()),
  };
}

// The train keys: FixMatch inside one generation.
std::vector<Field> train_keys() {
  return {
      CREST_KEY("train.batch_size", train.batch_size, "Labeled images per step (B).",
                between(1, 1 << 20)),
      CREST_KEY("train.unlabeled_ratio", train.unlabeled_ratio,
                "Unlabeled images per step as a multiple of batch_size (mu = 7: 448).",
                between(0, 1024)),
      CREST_KEY("train.steps_per_epoch", train.steps_per_epoch,
                "Steps per epoch; the test set is evaluated once an epoch.", at_least(1)),
      CREST_KEY("train.epochs", train.epochs,
                "Epochs per generation (64 x 1024 = 65,536 steps as in the paper).", at_least(1)),
      CREST_KEY("train.threshold", train.threshold,
                "Confidence threshold for FixMatch pseudo-labels (max probability >= tau).",
                between(0, 1)),
      CREST_KEY("train.lambda_u", train.lambda_u, "Weight of the unlabeled loss, in [0, 1e4].",
                between(0, kMaxLossWeight)),
      CREST_KEY("train.lr", train.lr, "Initial SGD learning rate, in [1e-12, 100].",
                between(kMinRate, kMaxRate)),
      CREST_KEY("train.momentum", train.momentum, "SGD momentum.", at_least_below(0, 1)),
      CREST_KEY("train.nesterov", train.nesterov, "Nesterov momentum.", any()),
      CREST_KEY("train.weight_decay", train.weight_decay,
                "Coupled L2 weight decay on all weights but BatchNorm's, in [0, 1].",
                between(0, 1)),
      CREST_KEY("train.lr_level", train.lr_level,
                "halfcos schedule: lr_k = lr * cos(pi * k/K * lr_level/16); 1 as the CReST "
                "reference runs, 7 as FixMatch, 0 keeps lr constant.",
                between(0, 8)),
      CREST_KEY("train.ema_decay", train.ema_decay,
                "Decay of the exponential moving average of the weights (0 = EMA off).",
                at_least_below(0, 1)),
      CREST_KEY("train.labeled_loss", train.labeled_loss,
                "Loss on the labeled batch: ce | cb_softmax, cb_sigmoid, cb_focal (class-balanced "
                "by the effective number of samples, Cui et al. CVPR 2019: weight of class y "
                "(1 - beta) / (1 - beta^n_y), normalised to sum to the number of classes, n_y "
                "counted on the generation's labeled set, pseudo-labels included) | "
                "logit_adjusted (CE on logits + tau * log(prior), Menon et al. ICLR 2021).",
                choice()),
      CREST_KEY("train.cb_beta", train.cb_beta,
                "beta of the class-balanced losses (0 = no re-weighting; 0.9999 in Cui et al.).",
                at_least_below(0, 1)),
      CREST_KEY("train.focal_gamma", train.focal_gamma,
                "gamma of cb_focal: the factor (1 - p_t)^gamma on the sigmoid probabilities.",
                between(0, 10)),
      CREST_KEY("train.la_tau", train.la_tau,
                "tau of logit_adjusted: logits + tau * log(prior) inside the loss only.",
                between(0, 10)),
      CREST_KEY("train.algorithm", train.algorithm,
                "The semi-supervised learner inside each generation: fixmatch (Sohn et al. "
                "2020: threshold on the weak view, CE on the strong view) | mixmatch (Berthelot "
                "et al. 2019 as the CReST reference's mixmatch.py: K weak views, sharpened "
                "average guess, MixUp, soft CE + lambda_u * MSE; uses the mixmatch_* and "
                "mixup_alpha keys, not threshold or lambda_u; MixMatch papers use "
                "unlabeled_ratio 1) | acr (Wei and Gan CVPR 2023 as Gank0078/ACR: a second, "
                "balanced head, evaluated; one weak and two strong views, the adaptive "
                "consistency loss; uses threshold, lambda_u and the acr.* keys).",
                choice()),
      CREST_KEY("train.mixmatch_k", train.mixmatch_k,
                "mixmatch: K, weak views of each unlabeled image; their probabilities are "
                "averaged into the guess (the paper's K = 2).",
                between(1, 64)),
      CREST_KEY("train.mixmatch_temperature", train.mixmatch_temperature,
                "mixmatch: T, sharpening temperature of the guess, q = p^(1/T) / sum_c "
                "p_c^(1/T) (the paper's 0.5; 1 = no sharpening). Any T > 0 stays finite: rows "
                "whose powers underflow are sharpened in log space (docs/methods.md).",
                above_at_most(0, 1)),
      CREST_KEY("train.mixup_alpha", train.mixup_alpha,
                "mixmatch: alpha of MixUp, lambda ~ Beta(alpha, alpha) per row, lambda' = "
                "max(lambda, 1 - lambda) (the paper's 0.75); at most 1000 (larger Gamma draws "
                "overflow, and lambda' is 0.5 long before).",
                above_at_most(0, 1000)),
      CREST_KEY("train.mixmatch_lambda_u", train.mixmatch_lambda_u,
                "mixmatch: lambda_u, weight of the unlabeled MSE loss once ramped up (the "
                "paper's 75 for CIFAR-10); at most 1e4.",
                between(0, kMaxLossWeight)),
      CREST_KEY("train.mixmatch_rampup_steps", train.mixmatch_rampup_steps,
                "mixmatch: steps over which the unlabeled weight rises linearly from 0 to "
                "mixmatch_lambda_u, counted from each generation's start (the paper's 16,000); "
                "0 = constant weight, as the reference release. Runs of a few hundred steps "
                "should ramp over most of a generation: 75 reached early collapses them "
                "(docs/methods.md).",
                at_least(0)),
      CREST_KEY(
          "train.amp", train.amp,
          "Mixed precision of the training step: auto (bf16 autocast on CUDA and on CPUs with "
          "bf16 instructions, AMX or AVX512-BF16; else off) | bf16 | off. Evaluation and "
          "pseudo-labelling stay fp32.",
          choice()),
      CREST_KEY("train.eval_batch_size", train.eval_batch_size,
                "Images per batch when evaluating and pseudo-labelling.", between(1, 1 << 20)),
      CREST_KEY("train.channels_last", train.channels_last,
                "NHWC memory layout for the model and its inputs: auto (on, for CPU and CUDA "
                "alike) | on | off.",
                choice()),
      CREST_KEY("train.cudnn_benchmark", train.cudnn_benchmark,
                "Let cuDNN time its convolution algorithms once per shape and keep the "
                "fastest (CUDA only).",
                any()),
      CREST_KEY("train.sgd", train.sgd,
                "SGD kernels: auto (fused on CUDA with LibTorch >= 2.3, else foreach) | foreach "
                "(multi-tensor) | fused (one CUDA kernel per group) | loop (per parameter, "
                "as torch.optim.SGD without foreach). Same update rule in every case.",
                choice()),
      CREST_KEY("train.cuda_graph", train.cuda_graph,
                "Capture forward, loss, backward, SGD and EMA as one CUDA graph after a few "
                "eager steps and replay it: auto (on for CUDA builds that support it) | on | "
                "off.",
                choice()),
      CREST_KEY("train.sync_bn", train.sync_bn,
                "Runs of several ranks (--nproc, srun, torchrun): BatchNorm in training takes its "
                "batch statistics over every rank's batch, as PyTorch's SyncBatchNorm, so N "
                "ranks compute what one process computes on the global batch. Off: each rank "
                "normalises its own shard, as the CReST reference's multi-GPU runs and DDP "
                "without SyncBatchNorm (two small all-reduces per BatchNorm layer and step "
                "saved). No effect with one rank.",
                any()),
  };
}

// The crest keys: the generation loop, the selection and CReST+ alignment.
std::vector<Field> crest_keys() {
  return {
      CREST_KEY("crest.mode", crest.mode,
                "fixmatch (no self-training) | crest (class-rebalancing selection each "
                "generation) | crest+ (crest plus progressive distribution alignment).",
                choice()),
      CREST_KEY("crest.generations", crest.generations,
                "Generations G; generation 0 is plain FixMatch on the labeled set.",
                between(1, 1000)),
      CREST_KEY("crest.alpha", crest.alpha,
                "Exponent of the selection rate mu_l = (N_{L+1-l} / N_1)^alpha (the paper's "
                "alpha = 1/3; the reference flag alpha=3 means this 1/3).",
                at_least(0)),
      CREST_KEY("crest.rate_profile", crest.rate_profile,
                "Class profile N behind mu_l: ideal (from gamma, as the reference) | labeled "
                "(the labeled counts, for datasets not built from gamma).",
                choice()),
      CREST_KEY("crest.t_min", crest.t_min,
                "CReST+: final alignment temperature; target = normalise(p_data^t_g).",
                above_at_most(0, 1)),
      CREST_KEY("crest.t_schedule", crest.t_schedule,
                "CReST+: linear (t_g from 1 to t_min over the generations) | constant "
                "(t_g = t_min in every generation).",
                choice()),
      CREST_KEY("crest.p_model", crest.p_model,
                "CReST+: estimate of the model's class distribution: buffer (mean of the last "
                "p_model_buffer batch means, as the reference) | ema (USB).",
                choice()),
      CREST_KEY("crest.p_model_buffer", crest.p_model_buffer,
                "CReST+: batch means kept by the buffer estimate.", between(1, 1 << 20)),
      CREST_KEY("crest.p_model_momentum", crest.p_model_momentum,
                "CReST+: momentum of the ema estimate.", at_least_below(0, 1)),
      CREST_KEY("crest.select_on", crest.select_on,
                "How the best generation is chosen, never from the test set: last (the final "
                "generation, as the paper reports) | val (highest mean per-class recall on a "
                "validation slice held out of the labeled set in every generation).",
                choice()),
      CREST_KEY("crest.val_fraction", crest.val_fraction,
                "select_on val: share of each class's labeled images held out, floor(share * "
                "n_c) but at least 1 for classes with 2 or more labeled images (drawn with "
                "RandomState(fold + 1000)).",
                above_at_most(0, 0.5)),
      CREST_KEY("crest.min_pseudo_precision", crest.min_pseudo_precision,
                "Unlabeled images without labels: the pseudo-labels' precision is estimated per "
                "class on held-out labeled images (the validation split, else the labeled "
                "training images, which are trained on and so flatter it); a selection with a "
                "class below this, or below it overall, is warned about (log and "
                "gen_K/selection.json). 0 never warns.",
                between(0, 1)),
      CREST_KEY("crest.selection", crest.selection,
                "How pseudo-labels are chosen after a generation: confidence (CReST: per "
                "predicted class the most confident floor(n_c * mu_c)) | knn (DML-PL, crest's "
                "rules: nearest k-means cluster of the anchors' embeddings, kept when "
                "crest.knn_agreement of the crest.knn_neighbours nearest anchors agree; "
                "pseudo-labels accumulate, and the selection before the last generation labels "
                "every image left).",
                choice()),
      CREST_KEY("crest.knn_clusters", crest.knn_clusters,
                "knn: k-means clusters per class of the anchors' embeddings (at most the class's "
                "anchors).",
                between(1, 1024)),
      CREST_KEY("crest.knn_neighbours", crest.knn_neighbours,
                "knn: nearest anchors (cosine) whose labels vote on each unlabeled image.",
                between(1, 4096)),
      CREST_KEY("crest.knn_agreement", crest.knn_agreement,
                "knn: share of the voting neighbours that must carry the nearest cluster's class "
                "for an image to be labeled before the last round (0 = every image is eligible).",
                between(0, 1)),
      CREST_KEY("crest.knn_quota", crest.knn_quota,
                "knn: share of the unlabeled-only pool labeled per round at most; 0 = auto (what "
                "is left, spread evenly over the rounds left). The round before the last "
                "generation labels everything left either way.",
                between(0, 1)),
      CREST_KEY("crest.knn_anchors", crest.knn_anchors,
                "knn: the images clustered and voting: labeled (the original labeled set only) | "
                "all (also the images pseudo-labeled in earlier rounds).",
                choice()),
      CREST_KEY("crest.knn_order", crest.knn_order,
                "knn: which eligible images a round's quota takes: balanced (round-robin over the "
                "classes, best first in each: rare classes are not crowded out) | global (by "
                "agreement, then closeness to the cluster, over all classes).",
                choice()),
      CREST_KEY("crest.knn_kmeans_iterations", crest.knn_kmeans_iterations,
                "knn: Lloyd iterations of the spherical k-means of each class (0 = the "
                "farthest-point seeds themselves).",
                between(0, 1000)),
      CREST_KEY("crest.warm_start", crest.warm_start,
                "Generation g > 0 starts from generation g - 1's final EMA weights (every head "
                "included) instead of afresh: DML-PL's fine-tuning. The optimiser, schedule and "
                "EMA restart.",
                any()),
  };
}

// The pretrain keys: `crest pretrain` (rotation prediction).
std::vector<Field> pretrain_keys() {
  return {
      CREST_KEY("pretrain.epochs", pretrain.epochs,
                "Epochs of rotation pre-training (Rethinking the Value of Labels: 200).",
                between(1, 1 << 20)),
      CREST_KEY("pretrain.steps_per_epoch", pretrain.steps_per_epoch,
                "Steps per epoch; 0 = one pass over the training images (ceil(N / batch)).",
                between(0, 1 << 24)),
      CREST_KEY("pretrain.batch_size", pretrain.batch_size,
                "Images per step; each is rotated by 0, 90, 180 or 270 degrees (balanced).",
                between(4, 1 << 20)),
      CREST_KEY("pretrain.lr", pretrain.lr, "Peak SGD learning rate, in [1e-12, 100].",
                between(kMinRate, kMaxRate)),
      CREST_KEY("pretrain.momentum", pretrain.momentum, "SGD momentum.", at_least_below(0, 1)),
      CREST_KEY("pretrain.nesterov", pretrain.nesterov, "Nesterov momentum.", any()),
      CREST_KEY("pretrain.weight_decay", pretrain.weight_decay,
                "L2 weight decay (every weight but BatchNorm's), in [0, 1].", between(0, 1)),
      CREST_KEY("pretrain.warmup", pretrain.warmup,
                "Share of the steps over which the rate rises linearly to pretrain.lr.",
                at_least_below(0, 1)),
      CREST_KEY("pretrain.decay_at", pretrain.decay_at,
                "Share of the steps after which the rate is lr * decay_factor.",
                above_at_most(0, 1)),
      CREST_KEY("pretrain.decay_factor", pretrain.decay_factor,
                "Factor of the rate after decay_at.", above_at_most(0, 1)),
      CREST_KEY("pretrain.all_rotations", pretrain.all_rotations,
                "Every image in all four rotations per step (RotNet; 4x the batch) instead of "
                "one rotation each.",
                any()),
  };
}

// The run keys: seeds, outputs, device, checkpoints, threads and TensorBoard.
std::vector<Field> run_keys() {
  return {
      CREST_KEY("run.seed", run.seed, "Seed of model initialisation, sampling and augmentation.",
                at_least(0)),
      CREST_KEY("run.out_dir", run.out_dir,
                "Run folder for outputs (config, split manifest, logs, metrics, checkpoints).",
                not_empty()),
      CREST_KEY("run.device", run.device,
                "auto (the first CUDA device if there is one, else cpu) | cpu | cuda | cuda:N.",
                checked(check_device)),
      CREST_KEY("run.checkpoint_every", run.checkpoint_every,
                "Steps between checkpoints (0 = only at the end of a generation).", at_least(0)),
      CREST_KEY("run.threads", run.threads,
                "CPU threads for tensor operations. 0 = the cores of the affinity mask and cgroup "
                "quota that other processes left free at the start (OMP_NUM_THREADS wins; a "
                "resume keeps the count in RUN/threads.json). Results are bit-identical only "
                "for the same thread count.",
                between(0, 1024)),
      CREST_KEY("run.tensorboard", run.tensorboard,
                "Write TensorBoard event files to RUN/tb/gen_K/ (view with tensorboard --logdir "
                "RUN/tb); a build without Protobuf warns and writes none.",
                any()),
  };
}

#undef CREST_KEY

}  // namespace

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields = [] {
    std::vector<Field> all;
    for (auto* section :
         {data_keys, model_keys, train_keys, method_keys, crest_keys, pretrain_keys, run_keys}) {
      std::vector<Field> keys = section();
      all.insert(all.end(), std::make_move_iterator(keys.begin()),
                 std::make_move_iterator(keys.end()));
    }
    return all;
  }();
  return kFields;
}

const std::map<std::string, std::string>& section_docs() {
  static const std::map<std::string, std::string> kDocs = {
      {"data", "Dataset, long-tailed construction and labeled/unlabeled split."},
      {"data.synthetic", "Procedurally generated images (data.dataset: synthetic)."},
      {"model", "Wide ResNet (pre-activation, leaky ReLU 0.1, BatchNorm)."},
      {"train", "FixMatch inside one generation."},
      {"acr",
       "ACR (train.algorithm: acr; Wei and Gan, CVPR 2023, as Gank0078/ACR train.py): the "
       "balanced head, the adaptive consistency regulariser and its estimate of the unlabeled "
       "class distribution."},
      {"semi",
       "SeMi (train.algorithm: semi; Wang et al. 2025, as pywin/SeMi train_semi.py): on ACR's "
       "two heads, hard-example mining, the class-balanced memory bank and its prototype blend, "
       "feature consistency; it also reads acr.tau12, acr.tau2 and acr.temperature."},
      {"daso",
       "DASO (train.algorithm: daso; Oh, Kim and Kweon, CVPR 2022, as ytaek-oh/daso): FixMatch "
       "with semantic pseudo-labels from a class-wise queue of labeled EMA features, blended "
       "class-adaptively by the pseudo-label distribution, and the semantic alignment loss."},
      {"dmlpl",
       "DML-PL (train.algorithm: dmlpl; Yan, Hui and Li, Information Sciences 2023; no public "
       "code, so every key is crest's choice): FixMatch plus a metric loss on an embedding "
       "head; pair it with crest.selection: knn."},
      {"crest", "The CReST generation loop, its selection and CReST+ alignment."},
      {"pretrain", "Self-supervised rotation pre-training (crest pretrain)."},
      {"run", "Seeds, outputs and device."},
  };
  return kDocs;
}

}  // namespace crest::config_detail
