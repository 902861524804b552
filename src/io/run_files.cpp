#include "crest/io/run_files.h"

#include <algorithm>
#include <regex>
#include <system_error>

namespace crest {

namespace fs = std::filesystem;

std::string generation_folder_name(int generation) { return "gen_" + std::to_string(generation); }

fs::path generation_dir(const fs::path& run_dir, int generation) {
  return run_dir / generation_folder_name(generation);
}

fs::path tensorboard_dir(const fs::path& run_dir, int generation) {
  return run_dir / kTensorBoardDir / generation_folder_name(generation);
}

std::optional<int> parse_generation_folder_name(const std::string& name) {
  static const std::regex kName(R"(gen_(\d{1,6}))");
  std::smatch m;
  if (!std::regex_match(name, m, kName)) return std::nullopt;
  return std::stoi(m[1].str());
}

std::vector<std::pair<int, fs::path>> generation_dirs(const fs::path& run_dir) {
  std::vector<std::pair<int, fs::path>> found;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    if (!entry.is_directory()) continue;
    if (const auto k = parse_generation_folder_name(entry.path().filename().string())) {
      found.emplace_back(*k, entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool is_run_folder(const fs::path& run_dir) {
  std::error_code ec;
  return fs::exists(run_dir / kConfigFile, ec);
}

}  // namespace crest
