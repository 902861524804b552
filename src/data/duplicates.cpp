#include "crest/data/duplicates.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "crest/util/error.h"

namespace crest {

namespace {

// An image of a set: its hash, where it is.
struct Entry {
  std::size_t hash;
  std::size_t set;
  std::int64_t row;
};

// The hash of every image of every set, in parallel (std::hash of the bytes: only compared
// within this process, and equal hashes are compared byte for byte).
std::vector<Entry> hash_images(const std::vector<ImageSet>& sets, std::int64_t bytes) {
  std::vector<Entry> entries;
  for (std::size_t s = 0; s < sets.size(); ++s) {
    for (std::int64_t row : sets[s].rows) entries.push_back({0, s, row});
  }
  at::parallel_for(
      0, static_cast<std::int64_t>(entries.size()), 256, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t k = begin; k < end; ++k) {
          Entry& e = entries[static_cast<std::size_t>(k)];
          const auto* data =
              static_cast<const char*>(sets[e.set].dataset->images.data_ptr()) + e.row * bytes;
          e.hash = std::hash<std::string_view>()(
              std::string_view(data, static_cast<std::size_t>(bytes)));
        }
      });
  return entries;
}

const char* pixels(const ImageSet& set, std::int64_t row, std::int64_t bytes) {
  return static_cast<const char*>(set.dataset->images.data_ptr()) + row * bytes;
}

}  // namespace

std::vector<Duplicate> find_duplicates(const std::vector<ImageSet>& sets) {
  if (sets.empty()) return {};
  const at::Tensor& first = sets.front().dataset->images;
  for (const ImageSet& set : sets) {
    if (set.dataset->images.sizes().slice(1) != first.sizes().slice(1)) {
      throw InputError("cannot compare the images of " + sets.front().name + " and " + set.name +
                       ": they have other shapes");
    }
  }
  const std::int64_t bytes = first.numel() / std::max<std::int64_t>(first.size(0), 1);
  std::vector<Entry> entries = hash_images(sets, bytes);
  // Equal hashes together, each run of them in the order of the sets and rows.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.hash, a.set, a.row) < std::tie(b.hash, b.set, b.row);
  });
  std::vector<Duplicate> out;
  for (std::size_t begin = 0; begin < entries.size();) {
    std::size_t end = begin + 1;
    while (end < entries.size() && entries[end].hash == entries[begin].hash) ++end;
    for (std::size_t k = begin + 1; k < end; ++k) {
      const Entry& e = entries[k];
      const char* mine = pixels(sets[e.set], e.row, bytes);
      for (std::size_t j = begin; j < k && entries[j].set < e.set; ++j) {
        const Entry& earlier = entries[j];
        if (std::memcmp(mine, pixels(sets[earlier.set], earlier.row, bytes),
                        static_cast<std::size_t>(bytes)) == 0) {
          out.push_back({earlier.set, earlier.row, e.set, e.row});
          break;
        }
      }
    }
    begin = end;
  }
  std::sort(out.begin(), out.end(), [](const Duplicate& a, const Duplicate& b) {
    return std::tie(a.set, a.row) < std::tie(b.set, b.row);
  });
  return out;
}

std::string image_name(const ImageSet& set, std::int64_t row) {
  const auto& files = set.dataset->files;
  const auto i = static_cast<std::size_t>(row);
  if (i < files.size() && !files[i].empty()) return files[i];
  return set.index_name + " " + std::to_string(row);
}

std::string describe_duplicates(const std::vector<ImageSet>& sets,
                                const std::vector<Duplicate>& duplicates, std::size_t examples) {
  std::map<std::pair<std::size_t, std::size_t>, std::vector<const Duplicate*>> by_pair;
  for (const Duplicate& d : duplicates) by_pair[{d.earlier_set, d.set}].push_back(&d);
  std::string text;
  for (const auto& [pair, list] : by_pair) {
    text += "\n  " + sets[pair.first].name + " and " + sets[pair.second].name + ": " +
            std::to_string(list.size()) + " image(s) in both";
    for (std::size_t k = 0; k < list.size() && k < examples; ++k) {
      text += (k == 0 ? ": " : ", ") + image_name(sets[pair.first], list[k]->earlier_row) + " = " +
              image_name(sets[pair.second], list[k]->row);
    }
    if (list.size() > examples) text += ", ...";
  }
  return text;
}

}  // namespace crest
