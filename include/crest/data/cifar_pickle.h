// The CIFAR "python version" layout that torchvision downloads (cifar-10-batches-py/:
// data_batch_1..5, test_batch, batches.meta; cifar-100-python/: train, test, meta). Each file is
// a Python 2 pickle (protocol 2) of a dict: b'data' a uint8 numpy array [N, 3072] (rows as in
// the binary layout: 1024 red, 1024 green, 1024 blue bytes), b'labels' (CIFAR-10) or
// b'fine_labels' (CIFAR-100) a list of N ints; the meta file's b'label_names' or
// b'fine_label_names' the class names. https://www.cs.toronto.edu/~kriz/cifar.html
//
// The reader runs no Python: it understands exactly the opcodes such a file uses (dicts, lists,
// tuples, ints, byte strings, and the numpy array and dtype rebuilt through
// numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype, never called), and refuses
// anything else as a DataError naming the file and the byte.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "crest/data/dataset.h"

namespace crest {

// Reads one batch file: images uint8 [N, 3, 32, 32] and labels int64 [N] from `label_key`
// ("labels" or "fine_labels"). DataError naming the file when it is not a protocol-2 pickle of
// that shape, is truncated, holds a label outside 0..num_classes-1 or a count that differs
// between data and labels.
Dataset read_cifar_pickle_batch(const std::filesystem::path& file, const std::string& label_key,
                                int num_classes);

// The class names under `key` ("label_names", "fine_label_names") of a meta file; DataError as
// read_cifar_pickle_batch when it is not a list of byte strings.
std::vector<std::string> read_cifar_pickle_names(const std::filesystem::path& file,
                                                 const std::string& key);

}  // namespace crest
