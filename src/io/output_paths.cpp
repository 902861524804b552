#include "crest/io/output_paths.h"

#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// Whether `rel` (relative to a crest folder) is `area` or lies below it.
bool within_areas(const fs::path& rel, const std::vector<std::string>& areas) {
  for (const std::string& area : areas) {
    auto r = rel.begin();
    bool inside = true;
    for (const fs::path& part : fs::path(area)) {
      if (r == rel.end() || *r != part) {
        inside = false;
        break;
      }
      ++r;
    }
    if (inside) return true;
  }
  return false;
}

std::string areas_text(const std::vector<std::string>& areas) {
  if (areas.empty()) return "";
  std::string text = " (inside it, this command writes only to ";
  for (std::size_t i = 0; i < areas.size(); ++i) text += (i == 0 ? "" : " or ") + areas[i];
  return text + ")";
}

// InputError when a part of `rel` below `root`, as written, is a symbolic link.
void check_no_links(const fs::path& root, const fs::path& rel, const std::string& what) {
  fs::path p = root;
  for (const fs::path& part : rel) {
    p /= part;
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(p, ec))) {
      throw InputError(what + " goes through " + p.string() +
                       ", a symbolic link inside the crest folder " + root.string() +
                       ": crest does not write through links planted in its folders (they lead "
                       "elsewhere). Remove the link, or write outside that folder");
    }
  }
}

void check_parents_are_folders(const fs::path& abs, const std::string& what) {
  for (fs::path d = abs.parent_path(); !d.empty(); d = d.parent_path()) {
    std::error_code ec;
    const fs::file_status status = fs::status(d, ec);
    if (fs::exists(status)) {
      if (!fs::is_directory(status)) {
        throw InputError(what + ": " + d.string() + " is a file, not a folder");
      }
      return;
    }
    if (d == d.parent_path()) return;
  }
}

}  // namespace

void check_plain_name(const std::string& name, const std::string& where) {
  std::string why;
  if (name.empty()) {
    why = "it is empty";
  } else if (name == "." || name == "..") {
    why = "it names a folder, not an entry in one";
  } else if (name.find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
    why = "it holds a path separator or a NUL byte";
  }
  if (!why.empty()) {
    throw InputError(where + ": '" + visible_text(name) + "' is not a plain folder name (" + why +
                     "); crest writes only plain names there, which never lead outside their "
                     "folder. Restore the file, or delete it and plan again");
  }
}

bool is_crest_folder(const fs::path& dir) {
  for (const char* marker :
       {kConfigFile, kSplitManifestFile, kPretrainRecordFile, kSweepPlanFile, kLockFile}) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir / marker, ec))) return true;
  }
  return false;
}

fs::path enclosing_crest_folder(const fs::path& path, bool resolved) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (resolved) {
    const fs::path canonical = fs::weakly_canonical(p, ec);
    if (!ec) p = canonical;
  }
  while (!p.empty() && p.filename().empty() && p != p.parent_path()) p = p.parent_path();
  for (fs::path d = p; !d.empty(); d = d.parent_path()) {
    if (is_crest_folder(d)) return d;
    if (d == d.parent_path()) break;
  }
  return {};
}

fs::path make_output_folder(const fs::path& root, const fs::path& area) {
  fs::path p = root;
  for (const fs::path& part : area) {
    p /= part;
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(p, ec);
    if (fs::is_symlink(status) || (fs::exists(status) && !fs::is_directory(status))) {
      throw InputError(p.string() + " is " +
                       (fs::is_symlink(status) ? "a symbolic link" : "not a folder") +
                       " inside the crest folder " + root.string() +
                       ", where crest writes its outputs: crest does not write through it. "
                       "Remove or rename it");
    }
    if (!fs::exists(status) && !fs::create_directory(p, ec) && ec) {
      throw WriteError("cannot create the folder " + p.string() + ": " + ec.message());
    }
  }
  return p;
}

void check_output_file(const fs::path& file, const std::string& option,
                       const std::vector<std::string>& areas) {
  const std::string what = option + " " + file.string();
  std::error_code ec;
  const fs::path abs = fs::absolute(file, ec).lexically_normal();
  if (fs::is_directory(abs, ec)) {
    throw InputError(what +
                     " is a folder: give the name of a file to write (a new one, or one "
                     "this command wrote before), e.g. model.pt");
  }
  if (abs.filename().empty()) throw InputError(what + " names a folder: give a file name");
  check_parents_are_folders(abs, what);
  for (const bool resolved : {false, true}) {
    const fs::path root = enclosing_crest_folder(abs, resolved);
    if (root.empty()) continue;
    const fs::path target = resolved ? fs::weakly_canonical(abs, ec) : abs;
    const fs::path rel = target.lexically_relative(root);
    if (!within_areas(rel, areas)) {
      throw InputError(what + (resolved ? " leads into" : " lies inside") + " the crest folder " +
                       root.string() + " (as " + rel.string() +
                       "), whose own files crest never replaces: write it outside that folder" +
                       areas_text(areas));
    }
    if (!resolved) check_no_links(root, rel, what);
  }
  if (abs.has_parent_path() && !fs::exists(abs.parent_path(), ec)) {
    fs::create_directories(abs.parent_path(), ec);
    if (ec) {
      throw WriteError("cannot create the folder " + abs.parent_path().string() + " for " + what +
                       ": " + ec.message());
    }
  }
}

void check_output_folder_outside_crest(const fs::path& dir, const std::string& option) {
  for (const bool resolved : {false, true}) {
    const fs::path root = enclosing_crest_folder(dir, resolved);
    if (!root.empty()) {
      throw InputError(option + " " + dir.string() + (resolved ? " leads into" : " lies inside") +
                       " the crest folder " + root.string() +
                       ", whose files crest owns (a run, pre-training or sweep): choose a folder "
                       "outside it");
    }
  }
}

}  // namespace crest
