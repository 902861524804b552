#include "crest/app/bench.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "crest/data/prepare.h"
#include "crest/models/wrn.h"
#include "crest/selftrain/run_data.h"
#include "crest/ssl/predict.h"
#include "crest/ssl/trainer.h"
#include "crest/util/device.h"
#include "crest/util/error.h"

#ifdef CREST_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace crest {

namespace {

void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Median of `windows` timings of `per_window` calls of `work`, as calls per second.
double median_rate(const at::Device& device, int windows, int per_window,
                   const std::function<void()>& work) {
  std::vector<double> rates;
  for (int w = 0; w < windows; ++w) {
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < per_window; ++i) work();
    synchronize(device);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(per_window / seconds);
  }
  std::sort(rates.begin(), rates.end());
  const std::size_t n = rates.size();
  return n % 2 ? rates[n / 2] : 0.5 * (rates[n / 2 - 1] + rates[n / 2]);
}

std::int64_t peak_memory_bytes(const at::Device& device) {
#ifdef CREST_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    // Index 0 is StatType::AGGREGATE in every LibTorch; the enum itself moved namespace in 2.x
    // (c10::CachingAllocator / c10::CachingDeviceAllocator), so it is not named here.
    return stats.allocated_bytes[0].peak;
  }
#else
  (void)device;
#endif
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

// The process's minor page faults so far (getrusage): memory mapped in, or zero-filled, anew.
std::int64_t minor_page_faults() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_minflt);
}

// The trainer of generation 0 (the labeled set with its true labels), as a run builds it.
GenerationTrainer bench_trainer(const Config& config, const RunData& run, at::Device device) {
  std::vector<std::int64_t> targets;
  for (std::int64_t p : run.labeled_positions) {
    targets.push_back(run.lt_labels[static_cast<std::size_t>(p)]);
  }
  TrainerSettings settings;
  settings.model = config.model;
  settings.train = config.train;
  settings.acr = config.acr;
  settings.semi = config.semi;
  settings.daso = config.daso;
  settings.dmlpl = config.dmlpl;
  settings.seed = config.run.seed;
  settings.label = "bench";
  return GenerationTrainer(settings, device, generation_data(run, run.labeled_positions, targets),
                           std::filesystem::path());
}

// The step rates: (a) the model's share, the same augmented batch each time, already on the
// device; (b) the full step, with the minor page faults a full step costs.
struct StepRates {
  double train_step = 0;
  double full_step = 0;
  double faults_per_step = 0;
};

StepRates time_steps(GenerationTrainer& trainer, at::Device device, const BenchOptions& options,
                     int per_window, double lr) {
  StepRates rates;
  const StepBatch fixed = trainer.draw_batch();
  for (int i = 0; i < options.warmup; ++i) trainer.optimize(fixed, lr);
  rates.train_step =
      median_rate(device, options.windows, per_window, [&] { trainer.optimize(fixed, lr); });
  for (int i = 0; i < options.warmup; ++i) trainer.step(lr);
  const std::int64_t faults_before = minor_page_faults();
  rates.full_step = median_rate(device, options.windows, per_window, [&] { trainer.step(lr); });
  // Per full step, over the timed windows: with an allocator that keeps freed memory, near 0.
  rates.faults_per_step = static_cast<double>(minor_page_faults() - faults_before) /
                          static_cast<double>(options.windows * per_window);
  return rates;
}

// (c) Pseudo-labelling of the unlabeled-only pool (the labeled set when there is none) with the
// EMA model, as at a generation's end, in batches of train.eval_batch_size: pools a second.
double pseudo_label_rate(GenerationTrainer& trainer, const RunData& run, const Config& config,
                         at::Device device, int windows, const std::vector<std::int64_t>& pool) {
  const at::Tensor pool_images = run.images.index_select(0, long_tensor(pool, device));
  auto label_pool = [&] {
    const at::Tensor probs = at::softmax(
        predict_logits(trainer.ema_model(), pool_images, config.train.eval_batch_size), 1);
    (void)probs.max(1);
  };
  label_pool();
  return median_rate(device, windows, 1, label_pool);
}

}  // namespace

nlohmann::json run_bench(const Config& config, const BenchOptions& options) {
  if (options.steps < 1 || options.windows < 1 || options.warmup < 0) {
    throw InputError("bench needs --steps >= 1, --windows >= 1 and --warmup >= 0");
  }
  const at::Device device = resolve_device(config.run.device);
  set_cpu_threads(config.run.threads);
  const PreparedData prepared = prepare_data(config.data);
  const RunData run = make_run_data(prepared, device);
  GenerationTrainer trainer = bench_trainer(config, run, device);
  const int per_window = std::max(1, options.steps / options.windows);
  const int batch_unlabeled = config.train.batch_size * config.train.unlabeled_ratio;

  // Views of each unlabeled image: FixMatch's weak and strong, MixMatch's K weak ones.
  const int views = trainer.unlabeled_view_count();
  spdlog::info("bench on {}: {}, WRN-{}-{}, {} labeled + {} x {} unlabeled images a step",
               describe_device(device), to_string(config.train.algorithm), config.model.depth,
               config.model.width, config.train.batch_size, views, batch_unlabeled);
  const StepRates rates = time_steps(trainer, device, options, per_window, config.train.lr);
  std::vector<std::int64_t> pool = run.unlabeled_only;
  if (pool.empty()) pool = run.labeled_positions;
  const double pools_per_second =
      pseudo_label_rate(trainer, run, config, device, options.windows, pool);

  nlohmann::json result = {
      {"device", describe_device(device)},
      {"torch", CREST_TORCH_VERSION},
      {"model",
       "WRN-" + std::to_string(config.model.depth) + "-" + std::to_string(config.model.width)},
      {"algorithm", to_string(config.train.algorithm)},
      {"parameters", parameter_count(*trainer.ema_model())},
      {"image_size", run.images.size(-1)},
      {"batch_labeled", config.train.batch_size},
      {"batch_unlabeled", batch_unlabeled},
      {"amp_bf16", use_bf16_autocast(config.train.amp, device)},  // the training step's
      {"steps_per_window", per_window},
      {"windows", options.windows},
      {"train_step_per_sec", rates.train_step},
      {"full_step_per_sec", rates.full_step},
      {"page_faults_per_step", rates.faults_per_step},
      {"pseudo_label_images_per_sec", pools_per_second * static_cast<double>(pool.size())},
      {"pseudo_label_pool", pool.size()},
      {"peak_memory_bytes", peak_memory_bytes(device)},
      {"peak_memory_kind", device.is_cuda() ? "cuda allocator peak" : "process max RSS"}};
  result["fast_path"] = trainer.fast_path();
  return result;
}

std::string bench_table(const nlohmann::json& r) {
  std::string fast_path;
  if (r.contains("fast_path")) {
    const nlohmann::json& f = r["fast_path"];
    fast_path = std::string("sgd ") + f.value("sgd", "?") + ", channels_last " +
                (f.value("channels_last", false) ? "on" : "off") + ", cuda graph " +
                (f.value("cuda_graph", false) ? "on" : "off") + ", cudnn benchmark " +
                (f.value("cudnn_benchmark", false) ? "on" : "off");
  }
  char text[1024];
  std::snprintf(text, sizeof(text),
                "device                     %s\n"
                "model                      %s (%lld parameters), %d + 2 x %d images of "
                "%lldx%lld a step%s\n"
                "step                       %s\n"
                "(a) training step          %.2f steps/s   (inputs on the device)\n"
                "(b) full step              %.2f steps/s   (sampling and augmentation included; "
                "%.0f page faults a step)\n"
                "(c) pseudo-labelling       %.0f images/s  (pool of %d)\n"
                "(d) peak memory            %.1f MiB       (%s)\n",
                r["device"].get<std::string>().c_str(), r["model"].get<std::string>().c_str(),
                static_cast<long long>(r["parameters"].get<std::int64_t>()),
                r["batch_labeled"].get<int>(), r["batch_unlabeled"].get<int>(),
                static_cast<long long>(r["image_size"].get<std::int64_t>()),
                static_cast<long long>(r["image_size"].get<std::int64_t>()),
                r["amp_bf16"].get<bool>() ? ", bf16 autocast" : "", fast_path.c_str(),
                r["train_step_per_sec"].get<double>(), r["full_step_per_sec"].get<double>(),
                r["page_faults_per_step"].get<double>(),
                r["pseudo_label_images_per_sec"].get<double>(), r["pseudo_label_pool"].get<int>(),
                static_cast<double>(r["peak_memory_bytes"].get<std::int64_t>()) / (1024.0 * 1024.0),
                r["peak_memory_kind"].get<std::string>().c_str());
  return text;
}

}  // namespace crest
