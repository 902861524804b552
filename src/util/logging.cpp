#include "crest/util/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace crest {

void setup_logging(Verbosity verbosity) {
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("[%H:%M:%S] %^%l%$ %v");
  switch (verbosity) {
    case Verbosity::kQuiet:
      console->set_level(spdlog::level::warn);
      break;
    case Verbosity::kNormal:
      console->set_level(spdlog::level::info);
      break;
    case Verbosity::kVerbose:
      console->set_level(spdlog::level::debug);
      break;
  }
  auto logger = std::make_shared<spdlog::logger>("crest", console);
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void add_log_file(const std::filesystem::path& file) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string(), false);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  sink->set_level(spdlog::level::debug);
  spdlog::default_logger()->sinks().push_back(sink);
}

void log_to_files(const std::string& message) {
  const auto logger = spdlog::default_logger();
  const spdlog::details::log_msg msg(spdlog::source_loc{}, logger->name(), spdlog::level::info,
                                     message);
  for (const auto& sink : logger->sinks()) {
    if (dynamic_cast<spdlog::sinks::basic_file_sink_mt*>(sink.get()) == nullptr) continue;
    if (!sink->should_log(msg.level)) continue;
    sink->log(msg);
    sink->flush();
  }
}

}  // namespace crest
