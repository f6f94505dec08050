"""The data layer: the four sources, the splits, and the on-device batch pipeline.

Fake CIFAR-100 / ImageNet32 / folder data sets are written to tmp_path. Every fake
image is random (so unique) and carries its label in its first two bytes
(label % 256, label // 256), which lets a test check image/label alignment after any
filtering, splitting or shuffling.
"""

from __future__ import annotations

import math
import pickle
import shutil
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asib_sweeps.config import DataConfig
from asib_sweeps.data import (
    DataBundle,
    DataError,
    Split,
    eval_batches,
    load_data,
    student_subset,
    train_batches,
)
from asib_sweeps.data.loading import channel_stats, resize_bilinear

CIFAR_CLASSES = (0, 3, 7, 42, 99)
IMAGENET_CLASSES = (0, 255, 256, 999)  # 0-based; two-byte tags tell 255 from 256


# ---------------------------------------------------------------- fake data sets


def tagged_rows(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random [N, 3072] uint8 rows whose first two bytes encode the (0-based) label."""
    rows = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    rows[:, 0] = labels % 256
    rows[:, 1] = labels // 256
    return rows


def label_tags(images: torch.Tensor) -> torch.Tensor:
    flat = images.reshape(len(images), -1).to(torch.int64)
    return flat[:, 0] + 256 * flat[:, 1]


def balanced_labels(classes: tuple[int, ...], per_class: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.repeat(np.array(classes, dtype=np.int64), per_class))


def write_fake_cifar100(root: Path, *, train_per_class: int = 20, test_per_class: int = 4) -> Path:
    rng = np.random.default_rng(0)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = balanced_labels(CIFAR_CLASSES, per_class, rng)
        content = {"data": tagged_rows(labels, rng), "fine_labels": labels.tolist(), "coarse_labels": [0] * len(labels)}
        (folder / name).write_bytes(pickle.dumps(content, protocol=2))
    meta = {"fine_label_names": [f"class{index:02d}" for index in range(100)]}
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def write_fake_imagenet32(root: Path, *, file_format: str, per_class: int = 2) -> Path:
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    names = [f"train_data_batch_{index}" for index in range(1, 11)] + ["val_data"]
    for name in names:
        labels = balanced_labels(IMAGENET_CLASSES, per_class, rng)
        content = {"data": tagged_rows(labels, rng), "labels": (labels + 1).tolist()}
        if file_format == "npz":
            np.savez(root / f"{name}.npz", data=content["data"], labels=np.array(content["labels"]))
        else:
            (root / name).write_bytes(pickle.dumps(content, protocol=4))
    return root


FOLDER_COLOURS = {"b_dog": (0, 200, 0), "a_cat": (200, 0, 0), "c_emu": (0, 0, 200)}


def write_fake_folder(root: Path, *, train_per_class: int = 10, test_per_class: int = 2) -> Path:
    """Solid-colour images of mixed sizes and formats, one colour per class."""
    for part, per_class in (("train", train_per_class), ("test", test_per_class)):
        for name, colour in FOLDER_COLOURS.items():
            directory = root / part / name
            directory.mkdir(parents=True)
            for index in range(per_class):
                size = (40, 24) if index % 2 else (20, 30)
                suffix = "png" if index % 3 else "bmp"
                Image.new("RGB", size, colour).save(directory / f"{index}.{suffix}")
    return root


def image_keys(images: torch.Tensor) -> set[bytes]:
    return {image.numpy().tobytes() for image in images}


# ---------------------------------------------------------------- sources


def test_digits_loads_as_three_channel_32px_with_a_stratified_test_split() -> None:
    bundle = load_data(DataConfig(dataset="digits"))
    total = len(bundle.train) + len(bundle.val) + len(bundle.test)
    assert total == 1797
    assert len(bundle.test) == math.ceil(0.3 * 1797)  # scikit-learn rounds the held-out share up
    assert len(bundle.val) == pytest.approx(0.1 * (len(bundle.train) + len(bundle.val)), abs=1)
    for split in (bundle.train, bundle.val, bundle.test):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 32, 32)
        assert split.labels.dtype == torch.int64
        assert set(split.labels.tolist()) == set(range(10))
        assert torch.equal(split.images[:, 0], split.images[:, 2])  # grey replicated
    assert int(bundle.train.images.max()) > 200  # 0..16 scaled up to 0..255
    assert bundle.num_classes == 10 and bundle.class_names == tuple("0123456789")
    test_share = torch.bincount(bundle.test.labels, minlength=10) / len(bundle.test)
    train_share = torch.bincount(bundle.train.labels, minlength=10) / len(bundle.train)
    assert torch.allclose(test_share, train_share, atol=0.01)


def test_digits_follow_image_size() -> None:
    bundle = load_data(DataConfig(dataset="digits", image_size=16))
    assert bundle.train.images.shape[1:] == (3, 16, 16)


def test_cifar100_loads_with_labels_aligned_and_meta_names(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path)
    bundle = load_data(DataConfig(dataset="cifar100", root=str(root), val_fraction=0.2))
    assert bundle.num_classes == 100
    assert bundle.class_names[42] == "class42" and len(bundle.class_names) == 100
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (80, 20, 20)
    for split in (bundle.train, bundle.val, bundle.test):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 32, 32)
        assert split.labels.dtype == torch.int64
        assert torch.equal(label_tags(split.images), split.labels)
        assert set(split.labels.tolist()) == set(CIFAR_CLASSES)


def test_cifar100_keeps_channel_major_layout(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path)
    raw = pickle.loads((root / "cifar-100-python" / "test").read_bytes())
    bundle = load_data(DataConfig(dataset="cifar100", root=str(root), val_fraction=0.2))
    first = torch.from_numpy(raw["data"][0])
    position = [index for index, image in enumerate(bundle.test.images) if torch.equal(image.reshape(-1), first)]
    assert len(position) == 1
    image = bundle.test.images[position[0]]
    # Byte 1024 of a row is the first green pixel: channel 1, row 0, column 0.
    assert int(image[1, 0, 0]) == int(first[1024]) and int(image[0, 0, 1]) == int(first[1])


@pytest.mark.parametrize("file_format", ["pickle", "npz"])
def test_imagenet32_loads_both_file_formats(tmp_path: Path, file_format: str) -> None:
    root = write_fake_imagenet32(tmp_path / "imagenet32", file_format=file_format)
    bundle = load_data(DataConfig(dataset="imagenet32", root=str(root), val_fraction=0.25))
    assert bundle.num_classes == 1000 and len(bundle.class_names) == 1000
    assert len(bundle.train) + len(bundle.val) == 10 * 2 * len(IMAGENET_CLASSES)
    assert len(bundle.test) == 2 * len(IMAGENET_CLASSES)  # val_data is the test split
    for split in (bundle.train, bundle.val, bundle.test):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 32, 32)
        assert torch.equal(label_tags(split.images), split.labels)  # 1..1000 became 0..999
        assert set(split.labels.tolist()) == set(IMAGENET_CLASSES)


def test_folder_loads_resized_with_classes_sorted_by_name(tmp_path: Path) -> None:
    root = write_fake_folder(tmp_path / "folder")
    bundle = load_data(DataConfig(dataset="folder", root=str(root), image_size=16, val_fraction=0.2))
    assert bundle.class_names == ("a_cat", "b_dog", "c_emu") and bundle.num_classes == 3
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (24, 6, 6)
    for split in (bundle.train, bundle.val, bundle.test):
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (3, 16, 16)
        for image, label in zip(split.images, split.labels.tolist()):
            colour = FOLDER_COLOURS[bundle.class_names[label]]
            assert image[:, 8, 8].tolist() == list(colour)


def test_folder_needs_the_same_classes_in_train_and_test(tmp_path: Path) -> None:
    root = write_fake_folder(tmp_path / "folder")
    shutil.rmtree(root / "test" / "c_emu")
    with pytest.raises(DataError, match="only in train: \\['c_emu'\\]"):
        load_data(DataConfig(dataset="folder", root=str(root)))


def test_folder_without_test_dir_names_the_path(tmp_path: Path) -> None:
    root = tmp_path / "folder"
    (root / "train" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match=str(root / "test")):
        load_data(DataConfig(dataset="folder", root=str(root)))


def test_missing_cifar100_names_the_path_and_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_data(DataConfig(dataset="cifar100", root=str(tmp_path)))
    assert str(tmp_path / "cifar-100-python" / "train") in str(caught.value)
    assert "--download" in str(caught.value)


def test_missing_imagenet32_batch_names_the_path(tmp_path: Path) -> None:
    root = write_fake_imagenet32(tmp_path / "imagenet32", file_format="npz")
    (root / "train_data_batch_7.npz").unlink()
    with pytest.raises(DataError, match=str(root / "train_data_batch_7")):
        load_data(DataConfig(dataset="imagenet32", root=str(root)))


def test_file_sources_need_a_root() -> None:
    with pytest.raises(DataError, match="data.root"):
        load_data(DataConfig(dataset="cifar100"))


def test_download_is_refused_where_nothing_can_be_downloaded() -> None:
    with pytest.raises(DataError, match="data.download"):
        load_data(DataConfig(dataset="digits", download=True))


def test_pickles_may_not_name_arbitrary_globals(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path)
    meta = {"fine_label_names": OrderedDict((f"c{index}", index) for index in range(100))}
    (root / "cifar-100-python" / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    with pytest.raises(DataError, match="collections.OrderedDict"):
        load_data(DataConfig(dataset="cifar100", root=str(root)))


# ---------------------------------------------------------------- splits


def test_validation_split_is_stratified_disjoint_and_complete(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path)
    bundle = load_data(DataConfig(dataset="cifar100", root=str(root), val_fraction=0.2))
    assert Counter(bundle.val.labels.tolist()) == {label: 4 for label in CIFAR_CLASSES}
    assert Counter(bundle.train.labels.tolist()) == {label: 16 for label in CIFAR_CLASSES}
    train, val, test = (image_keys(split.images) for split in (bundle.train, bundle.val, bundle.test))
    assert len(train) == 80 and len(val) == 20 and len(test) == 20
    assert not train & val and not train & test and not val & test
    raw = pickle.loads((root / "cifar-100-python" / "train").read_bytes())
    assert train | val == image_keys(torch.from_numpy(raw["data"]).reshape(-1, 3, 32, 32))


def test_validation_split_depends_only_on_split_seed(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path)

    def val_images(split_seed: int) -> set[bytes]:
        config = DataConfig(dataset="cifar100", root=str(root), val_fraction=0.2, split_seed=split_seed)
        return image_keys(load_data(config).val.images)

    assert val_images(3) == val_images(3)
    assert val_images(3) != val_images(4)


def test_impossible_validation_split_names_val_fraction(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path, train_per_class=2)
    with pytest.raises(DataError, match="data.val_fraction=0.1"):
        load_data(DataConfig(dataset="cifar100", root=str(root), val_fraction=0.1))


def test_class_subset_keeps_original_labels_and_label_space(tmp_path: Path) -> None:
    root = write_fake_cifar100(tmp_path)
    bundle = load_data(DataConfig(dataset="cifar100", root=str(root), classes=[42, 3], val_fraction=0.2))
    assert bundle.num_classes == 100
    for split in (bundle.train, bundle.val, bundle.test):
        assert set(split.labels.tolist()) == {3, 42}
        assert torch.equal(label_tags(split.images), split.labels)
    assert len(bundle.test) == 2 * 4 and len(bundle.train) + len(bundle.val) == 2 * 20


@pytest.mark.parametrize(
    ("classes", "message"), [([3, 100], "0..99.*out of range: \\[100\\]"), ([3, 3], "repeat"), ([], "at least one")]
)
def test_bad_class_subset_names_data_classes(tmp_path: Path, classes: list[int], message: str) -> None:
    root = write_fake_cifar100(tmp_path)
    with pytest.raises(DataError, match=f"data.classes.*{message}"):
        load_data(DataConfig(dataset="cifar100", root=str(root), classes=classes))


def test_channel_stats_match_a_float_computation() -> None:
    images = torch.randint(0, 256, (50, 3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    images[:, 1] //= 2
    mean, std = channel_stats(images)
    values = images.double() / 255
    assert mean == pytest.approx(values.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(values.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-12)
    assert mean[1] < mean[0]


def test_bundle_stats_come_from_the_training_images() -> None:
    bundle = load_data(DataConfig(dataset="digits"))
    mean, _ = channel_stats(bundle.train.images)
    assert bundle.mean == mean
    assert channel_stats(bundle.test.images)[0] != mean


def test_student_subset_is_stratified_seeded_and_bounded() -> None:
    labels = torch.arange(10).repeat_interleave(30)
    split = Split(torch.arange(300, dtype=torch.uint8).reshape(300, 1, 1, 1).expand(300, 3, 2, 2), labels)
    subset = student_subset(split, 100, seed=1)
    assert len(subset) == 100
    assert Counter(subset.labels.tolist()) == {label: 10 for label in range(10)}
    assert torch.equal(subset.images, student_subset(split, 100, seed=1).images)
    assert not torch.equal(subset.images, student_subset(split, 100, seed=2).images)
    assert student_subset(split, 300, seed=1) is split
    with pytest.raises(DataError, match="data.student_train_size=301"):
        student_subset(split, 301, seed=1)


# ---------------------------------------------------------------- device pipeline


@pytest.fixture
def small_split() -> Split:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (37, 3, 8, 8), dtype=torch.uint8, generator=generator)  # no zeros: padding shows
    return Split(images, torch.arange(37) % 5)


MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


def normalised(images: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN)[:, None, None]
    std = torch.tensor(STD)[:, None, None]
    return (images.float() / 255 - mean) / std


def one_epoch(
    split: Split, *, seed: int = 0, epoch: int = 0, padding: int = 2, flip: bool = True, batch: int = 8
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    return list(
        train_batches(
            split, batch_size=batch, seed=seed, epoch=epoch, mean=MEAN, std=STD, crop_padding=padding, flip=flip
        )
    )


def test_train_batches_cover_the_split_once_with_matching_labels(small_split: Split) -> None:
    batches = one_epoch(small_split)
    assert [len(x) for x, _, _ in batches] == [8, 8, 8, 8, 5]  # last partial batch kept
    for x, labels, index in batches:
        assert x.dtype == torch.float32 and x.shape[1:] == (3, 8, 8)
        assert torch.equal(labels, small_split.labels[index])
    every_index = torch.cat([index for _, _, index in batches])
    assert sorted(every_index.tolist()) == list(range(37))
    assert every_index.tolist() != list(range(37))  # shuffled


def test_train_batches_are_a_pure_function_of_seed_and_epoch(small_split: Split) -> None:
    rng_before = torch.get_rng_state()
    first, again = one_epoch(small_split, seed=1, epoch=3), one_epoch(small_split, seed=1, epoch=3)
    assert torch.equal(torch.get_rng_state(), rng_before)  # no global RNG consumed
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[2], b[2]) for a, b in zip(first, again))
    for other in (one_epoch(small_split, seed=1, epoch=4), one_epoch(small_split, seed=2, epoch=3)):
        assert not torch.equal(torch.cat([b[2] for b in first]), torch.cat([b[2] for b in other]))


def test_without_augmentation_batches_are_exactly_the_normalised_images(small_split: Split) -> None:
    for x, _, index in one_epoch(small_split, padding=0, flip=False):
        torch.testing.assert_close(x, normalised(small_split.images[index]), rtol=0, atol=1e-6)


def test_random_crop_shifts_content_within_the_padding(small_split: Split) -> None:
    padding = 2
    padded = torch.nn.functional.pad(small_split.images, (padding,) * 4)
    shifts = set()
    for x, _, index in one_epoch(small_split, padding=padding, flip=False):
        for sample, source in zip(x, index.tolist()):
            matches = [
                (dy, dx)
                for dy in range(2 * padding + 1)
                for dx in range(2 * padding + 1)
                if torch.allclose(sample, normalised(padded[source, :, dy : dy + 8, dx : dx + 8]), atol=1e-6)
            ]
            assert len(matches) == 1
            shifts.add(matches[0])
    assert len(shifts) >= 10  # of the 25 offsets, 37 draws hit many


def test_flip_mirrors_about_half_of_the_images(small_split: Split) -> None:
    flipped = 0
    for x, _, index in one_epoch(small_split, padding=0, flip=True):
        original = normalised(small_split.images[index])
        mirrored = original.flip(-1)
        for sample, plain, mirror in zip(x, original, mirrored):
            is_plain, is_mirror = torch.allclose(sample, plain, atol=1e-6), torch.allclose(sample, mirror, atol=1e-6)
            assert is_plain != is_mirror
            flipped += is_mirror
    assert 5 <= flipped <= 32


def test_eval_batches_are_in_order_and_unaugmented(small_split: Split) -> None:
    batches = list(eval_batches(small_split, batch_size=16, mean=MEAN, std=STD))
    assert [len(x) for x, _ in batches] == [16, 16, 5]
    torch.testing.assert_close(torch.cat([x for x, _ in batches]), normalised(small_split.images), rtol=0, atol=1e-6)
    assert torch.equal(torch.cat([labels for _, labels in batches]), small_split.labels)


def test_pipeline_rejects_bad_arguments(small_split: Split) -> None:
    with pytest.raises(ValueError, match="batch_size=0"):
        one_epoch(small_split, batch=0)
    with pytest.raises(ValueError, match="std"):
        list(eval_batches(small_split, batch_size=4, mean=MEAN, std=(0.2, 0.0, 0.3)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_match_cpu_batches(small_split: Split) -> None:
    on_cpu = one_epoch(small_split)
    on_cuda = one_epoch(small_split.to("cuda"))
    for (x_cpu, y_cpu, i_cpu), (x_gpu, y_gpu, i_gpu) in zip(on_cpu, on_cuda):
        assert x_gpu.device.type == "cuda"
        torch.testing.assert_close(x_gpu.cpu(), x_cpu)
        assert torch.equal(y_gpu.cpu(), y_cpu) and torch.equal(i_gpu.cpu(), i_cpu)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_student_subset_of_a_cuda_split_matches_the_cpu_subset() -> None:
    split = load_data(DataConfig(dataset="digits")).train
    on_cpu = student_subset(split, 300, seed=0)
    on_cuda = student_subset(split.to("cuda"), 300, seed=0)
    assert on_cuda.images.device.type == "cuda"
    assert torch.equal(on_cuda.images.cpu(), on_cpu.images) and torch.equal(on_cuda.labels.cpu(), on_cpu.labels)


def test_bundle_moves_to_a_device() -> None:
    bundle: DataBundle = load_data(DataConfig(dataset="digits"))
    moved = bundle.to("meta")
    assert moved.train.images.device.type == "meta" and moved.test.labels.device.type == "meta"


@pytest.mark.parametrize("native_uint8", [True, False], ids=["native-uint8", "float-path"])
@pytest.mark.parametrize("size", [32, 20, 9])
def test_resize_matches_torchvisions_bilinear_antialiased_resize(monkeypatch, native_uint8: bool, size: int) -> None:
    """The loader resizes without torchvision (an import of seconds); the pixels must be torchvision's."""
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2.functional import resize

    capability = "AVX2" if native_uint8 else "DEFAULT"  # both sides read it to choose the uint8 kernel
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    generator = torch.Generator().manual_seed(size)
    for images in (
        torch.randint(0, 256, (5, 3, 14, 17), dtype=torch.uint8, generator=generator),
        torch.rand((2, 3, 8, 8), generator=generator),
    ):
        expected = resize(images, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True)
        got = resize_bilinear(images, size)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert torch.equal(got, expected)
