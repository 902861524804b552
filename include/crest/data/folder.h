// Image-folder datasets (data.dataset: folder):
//   ROOT/train/<class>/*      labeled training images, one folder per class;
//   ROOT/unlabeled/**         optional: images without labels, any nesting;
//   ROOT/test/<class>/*       test images (every class of test must be a class of train);
//   ROOT/val/<class>/*        optional: a labeled validation set (classes as for test).
// Classes are the train folders in sorted order (the label is the position of the name); files
// are taken in sorted order of their path; hidden entries (a name starting with '.') are
// skipped. Images of any size and mode are decoded to RGB at the configured size (images.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "crest/config/choices.h"
#include "crest/data/dataset.h"

namespace crest {

// True when this build can decode image files.
bool folder_datasets_available();

struct FolderOptions {
  int image_size = 32;
  ResizeMode resize = ResizeMode::kArea;
  std::filesystem::path cache_dir;  // decoded-image cache (images.h); empty = none
};

// The files under a folder, at any depth, by whether they carry an image extension (images.h);
// both lists sorted by path.
struct FolderFiles {
  std::vector<std::filesystem::path> images;
  std::vector<std::filesystem::path> others;  // files without an image extension
};

// Every file under `folder` at any depth, following links to folders; hidden entries (a name
// starting with '.') are skipped, and so is a link back to a folder above it (a loop), which is
// entered once. Folders are never files, whatever their name ("x.png/"). DataError naming the
// path when `folder` is missing or cannot be listed (`what` names its role in messages).
FolderFiles find_files_recursive(const std::filesystem::path& folder, const std::string& what);

// Every image file under `folder`, at any depth, sorted by path; hidden entries skipped.
// DataError naming the path when the folder is missing, holds a file that is not an image, or
// holds no image at all (`what` names the folder's role in messages, e.g. "unlabeled folder").
std::vector<std::filesystem::path> list_images_recursive(const std::filesystem::path& folder,
                                                         const std::string& what);

// Reads the folder dataset. `train` holds the labeled images, then the unlabeled ones with
// kUnknownLabel; `files` name each image relative to `root`. Errors (DataError) name the path:
// missing root, train or test; no class folders; an empty class folder; a test or val class
// that train does not have; an empty unlabeled folder; a file that is not an image or does not
// decode; another size under data.resize: error.
DatasetPair read_image_folder(const std::filesystem::path& root, const FolderOptions& options);

// The test set of read_image_folder alone, decoded as it is there (same cache files): train/ is
// listed for its class names but not decoded. DataError as read_image_folder.
Dataset read_image_folder_test(const std::filesystem::path& root, const FolderOptions& options);

// Images without labels from any folder (data.unlabeled_root): a Dataset of kUnknownLabel
// images named `class_names`, `files` relative to the working directory (root / path).
Dataset read_unlabeled_folder(const std::filesystem::path& root,
                              const std::vector<std::string>& class_names,
                              const FolderOptions& options);

// One labeled folder DIR/<class>/* (e.g. for `crest evaluate --folder`): classes in sorted
// order, files relative to DIR. DataError as read_image_folder.
Dataset read_labeled_folder(const std::filesystem::path& dir, const FolderOptions& options);

// Writes `data` as an image folder dataset of PNG files: ROOT/train/<class>/NNNNNN.png for the
// labeled training images, ROOT/unlabeled/part_K/NNNNNN.png (K = image mod 3, to exercise
// nesting) for the training images with kUnknownLabel, ROOT/test/<class>/NNNNNN.png. Needs
// OpenCV (DataError otherwise); a file that cannot be written is a WriteError naming it.
void write_image_folder(const std::filesystem::path& root, const DatasetPair& data);

}  // namespace crest
