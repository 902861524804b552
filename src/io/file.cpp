#include "crest/io/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "crest/util/error.h"
#include "crest/util/hash.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

void create_parent(const fs::path& path) {
  if (!path.has_parent_path()) return;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    throw WriteError("cannot create folder " + path.parent_path().string() + " for " +
                     path.filename().string() + ": " + ec.message());
  }
}

fs::path with_suffix(const fs::path& path, const std::string& suffix) {
  fs::path tmp = path;
  tmp += suffix;
  return tmp;
}

// fsync on a file or folder; a folder that cannot be opened (some file systems) is skipped,
// because the rename itself is what makes the write atomic.
bool sync_path(const fs::path& path, bool folder) {
  const int fd = ::open(path.c_str(), (folder ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return folder;
  const bool ok = ::fsync(fd) == 0 || errno == EINVAL;  // EINVAL: no sync for this file kind
  ::close(fd);
  return ok;
}

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

// Syncs `tmp` and renames it to `path`, then syncs the folder so that the rename survives too.
void commit(const fs::path& tmp, const fs::path& path) {
  if (!sync_path(tmp, /*folder=*/false)) {
    remove_quietly(tmp);
    throw WriteError("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    remove_quietly(tmp);
    throw WriteError("cannot move " + tmp.string() + " to " + path.string() + ": " + ec.message());
  }
  sync_path(path.has_parent_path() ? path.parent_path() : fs::path("."), /*folder=*/true);
}

// Writes `path` through the temporary `tmp` in the same folder.
void write_through(const fs::path& path, const fs::path& tmp,
                   const std::function<void(const fs::path& tmp)>& write) {
  create_parent(path);
  try {
    write(tmp);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
  commit(tmp, path);
}

}  // namespace

void write_file_atomic(const fs::path& path, const std::string& contents) {
  write_bytes_atomic(path, contents.data(), contents.size());
}

void write_bytes_atomic(const fs::path& path, const void* data, std::size_t size) {
  // The pid keeps two processes writing the same file from sharing a temporary.
  const fs::path temporary = with_suffix(path, ".tmp." + std::to_string(::getpid()));
  write_through(path, temporary, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw WriteError("cannot write " + path.string() + ": " + std::strerror(errno));
    }
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.flush();
    if (!out) {
      const int error = errno;
      throw WriteError("cannot write " + path.string() + ": " +
                       (error != 0 ? std::strerror(error) : "disk full?"));
    }
  });
}

void append_line(const fs::path& path, const std::string& line) {
  create_parent(path);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << line << "\n";
  out.flush();
  if (!out) {
    const int error = errno;
    throw WriteError("cannot append to " + path.string() + ": " +
                     (error != 0 ? std::strerror(error) : "disk full?"));
  }
}

bool is_temporary_name(const std::string& name) {
  const std::size_t at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0) return false;
  const std::string rest = name.substr(at + 4);
  if (rest.empty()) return true;  // NAME.tmp
  return rest.size() > 1 && rest[0] == '.' &&
         rest.find_first_not_of("0123456789", 1) == std::string::npos;  // NAME.tmp.PID
}

std::vector<fs::path> remove_stale_temporaries(const fs::path& folder) {
  std::vector<fs::path> removed;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && is_temporary_name(it->path().filename().string())) {
      removed.push_back(it->path());
    }
  }
  for (const fs::path& path : removed) remove_quietly(path);
  return removed;
}

FileFingerprint fingerprint_file(const fs::path& path) {
  const std::string bytes = read_file(path);
  return {static_cast<std::int64_t>(bytes.size()), hex64(fnv1a64(bytes.data(), bytes.size()))};
}

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // An ifstream opens a folder and reads nothing: say what it is instead of "not valid JSON".
    throw DataError("cannot read " + path.string() + ": it is a folder, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw DataError("cannot read " + path.string() + ": " + std::strerror(errno));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::istringstream in(read_file(path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace crest
